"""Every action the code base writes to the audit log has a label, so the Audit log page
shows what happened in words (the dashboard in the reader's language), never a bare code."""

import ast
from pathlib import Path

from shared import audit
from shared.audit import ACTION_LABELS, action_label
from shared.models import MessageChannel

ROOT = Path(audit.__file__).resolve().parent.parent
# Keywords that name an audited action: record_audit's, and the dashboard's permission guard
# (a refused action is audited under its code).
ACTION_KEYWORDS = {"action", "permission_action"}
# The sending panel's action is "invoice.send_" + the channel.
SENT_PREFIX = "invoice.send_"


def _written_actions() -> tuple[set[str], set[str]]:
    """Action codes given as text in shared/ and dashboard/, and the starts of those built
    with an f-string."""
    codes: set[str] = set()
    prefixes: set[str] = set()
    for folder in ("shared", "dashboard"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for call in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(call, ast.Call):
                    continue
                if isinstance(call.func, ast.Attribute) and call.func.attr == "add_argument":
                    continue  # argparse's action="store_true"
                for keyword in call.keywords:
                    if keyword.arg not in ACTION_KEYWORDS:
                        continue
                    if isinstance(keyword.value, ast.JoinedStr):
                        first = keyword.value.values[0]
                        prefixes.add(first.value if isinstance(first, ast.Constant) else "")
                        continue
                    codes |= {
                        node.value
                        for node in ast.walk(keyword.value)
                        if isinstance(node, ast.Constant) and isinstance(node.value, str)
                    }
    return codes, prefixes


def test_the_scan_finds_the_actions():
    codes, prefixes = _written_actions()
    assert {"invoice.issue", "login", "logout", "user.deactivate", "bank_statement.undo"} <= codes
    assert prefixes == {SENT_PREFIX}


def test_every_action_written_has_a_label():
    codes, _ = _written_actions()
    assert sorted(code for code in codes if code not in ACTION_LABELS) == []


def test_every_sending_channel_has_a_label():
    assert [
        channel.value
        for channel in MessageChannel
        if f"{SENT_PREFIX}{channel.value}" not in ACTION_LABELS
    ] == []


def test_no_two_actions_share_a_label():
    assert len(set(ACTION_LABELS.values())) == len(ACTION_LABELS)


def test_an_old_code_without_a_label_shows_as_it_is():
    assert action_label("invoice.issue") == "Invoice issued"
    assert action_label("invoice.renamed_long_ago") == "invoice.renamed_long_ago"
