"""The dashboard in Latvian shows no English: every text a page shows goes through the
translation function, every text it looks up has a Latvian entry, and a page rendered in
Latvian shows none of the English words a finance screen is made of."""

import ast
import re
import string
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from dashboard import i18n, ui
from shared.db import write_session
from shared.models import CallbackEvent, Company, ReviewItem
from shared.users import set_user_language
from tests.dashboard.conftest import make_attempt, make_user, no_exceptions, texts
from tests.utils.factories import make_channel, make_customer, make_invoice

DASHBOARD = Path(i18n.__file__).resolve().parent
SOURCES = sorted(p for p in DASHBOARD.rglob("*.py") if p.name not in {"i18n.py", "__init__.py"})

# Streamlit elements and LinkPay Desk helpers whose arguments a person reads.
SHOWN_BY = {
    "title",
    "header",
    "subheader",
    "caption",
    "markdown",
    "write",
    "text",
    "info",
    "success",
    "warning",
    "error",
    "toast",
    "button",
    "download_button",
    "form_submit_button",
    "link_button",
    "page_link",
    "text_input",
    "text_area",
    "number_input",
    "selectbox",
    "multiselect",
    "radio",
    "checkbox",
    "toggle",
    "date_input",
    "time_input",
    "file_uploader",
    "expander",
    "tabs",
    "metric",
    "popover",
    "segmented_control",
    "pills",
    "slider",
    "select_slider",
    "dialog",
    "spinner",
    "status",
    "Page",
    "TextColumn",
    "NumberColumn",
    "DateColumn",
    "DatetimeColumn",
    "LinkColumn",
    "CheckboxColumn",
    "SelectboxColumn",
    "ProgressColumn",
    "ListColumn",
    "flash",
    "Flash",
    "show_table",
    "page_action",
    "navigation",
}
SHOWN_KEYWORDS = {
    "label",
    "help",
    "placeholder",
    "body",
    "title",
    "empty",
    "success",
    "caption",
    "text",
    "message",
    "delta",
    "value",
    "options",
    "default",
}
# Names and codes that read the same in both languages.
SAME_IN_BOTH = {
    "LinkPay",
    "Desk",
    "EveryPay",
    "IBAN",
    "BIC",
    "SWIFT",
    "API",
    "URL",
    "CSV",
    "XLSX",
    "PDF",
    "SEPA",
    "RF",
    "Peppol",
    "BIS",
    "camt",
    "FiDAViSta",
    "XML",
    "UBL",
    "QR",
    "EUR",
    "USD",
    "VIES",
    "ID",
    "Callback",
    "Link",
    "Token",
    "username",
    "secret",
    "SMTP",
    "E-Shop",
}
# Words of a finance screen in English: none may be seen on a Latvian page. ("no" and "to"
# are Latvian words too: "Rindas 1–50 no 120", "saglabāto" — they are left out.)
ENGLISH_WORDS = {
    "the",
    "and",
    "of",
    "for",
    "with",
    "not",
    "is",
    "are",
    "has",
    "have",
    "this",
    "your",
    "you",
    "all",
    "new",
    "open",
    "save",
    "add",
    "edit",
    "delete",
    "cancel",
    "download",
    "upload",
    "search",
    "filter",
    "show",
    "invoice",
    "invoices",
    "customer",
    "customers",
    "payment",
    "payments",
    "amount",
    "total",
    "date",
    "due",
    "paid",
    "unpaid",
    "status",
    "state",
    "bank",
    "account",
    "accounts",
    "statement",
    "reference",
    "number",
    "name",
    "company",
    "settings",
    "user",
    "users",
    "export",
    "page",
    "rows",
    "next",
    "previous",
    "send",
    "sent",
    "issued",
    "draft",
    "overdue",
    "refund",
    "credit",
    "note",
    "reminder",
    "create",
    "created",
    "updated",
    "from",
    "by",
    "or",
    "when",
    "none",
    "yes",
    "log",
    "out",
    "overview",
    "money",
    "reports",
    "exceptions",
    "outbox",
    "customer's",
}


def _words(text: str) -> bool:
    """Whether a literal is words a person reads (not a key, code, icon or format)."""
    if not re.search(r"[A-Za-z]", text):
        return False
    if re.fullmatch(r"[a-z0-9_.\-/:]+|[A-Z0-9_]+|:material/[a-z_]+:|%[^ ]*", text.strip()):
        return False
    names = re.findall(r"[A-Za-z][A-Za-z'\-]*", text)
    return not all(name in SAME_IN_BOTH for name in names)


def _literals(node: ast.AST) -> Iterator[str]:
    """The text of a bare literal argument: a string, an f-string's own words, list items."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value
    elif isinstance(node, ast.JoinedStr):
        yield "".join(
            part.value
            for part in node.values
            if isinstance(part, ast.Constant) and isinstance(part.value, str)
        )
    elif isinstance(node, ast.List | ast.Tuple):
        for item in node.elts:
            yield from _literals(item)
    elif isinstance(node, ast.BinOp):
        yield from _literals(node.left)
        yield from _literals(node.right)
    elif isinstance(node, ast.IfExp):
        yield from _literals(node.body)
        yield from _literals(node.orelse)
    elif isinstance(node, ast.Dict):
        for value in node.values:
            yield from _literals(value)


def _called(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def bare_literals(path: Path) -> list[str]:
    """Lines of ``path`` that show a person a literal text without ``t``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call) or _called(node) not in SHOWN_BY:
            continue
        shown = [*node.args, *(k.value for k in node.keywords if k.arg in SHOWN_KEYWORDS)]
        for argument in shown:
            for text in _literals(argument):
                if _words(text):
                    found.append(f"{path.name}:{node.lineno}: {text!r}")
    return found


def translated_literals(path: Path) -> Iterator[tuple[int, str]]:
    """Every ``t("…")`` and ``t_context("context", "…")`` of ``path``: (line, the
    catalogue's key: the English text, after its context where it has one)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call) or _called(node) not in ("t", "t_context"):
            continue
        texts = [a.value for a in node.args if isinstance(a, ast.Constant)]
        if _called(node) == "t" and len(texts) >= 1 and isinstance(texts[0], str):
            yield node.lineno, texts[0]
        elif _called(node) == "t_context" and len(texts) >= 2:
            yield node.lineno, f"{texts[0]}\x04{texts[1]}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(DASHBOARD)))
def test_pages_show_no_text_without_translation(path):
    assert bare_literals(path) == []


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(DASHBOARD)))
def test_every_text_a_page_translates_has_its_latvian(path):
    latvian = i18n.catalogue("lv")
    missing = [
        f"{path.name}:{line}: {text!r}"
        for line, text in translated_literals(path)
        if text not in latvian
    ]
    assert missing == []


def test_the_lint_sees_a_bare_literal_and_passes_a_translated_one(tmp_path):
    page = tmp_path / "page.py"
    page.write_text(
        'st.button("Save invoice")\n'
        'st.caption(f"Rows {n} of {m}")\n'
        'st.button(t("Save invoice"), key="save_invoice", icon=":material/save:")\n'
        'st.selectbox(t("Currency"), ["EUR", "USD"])\n'
        'ui.show_table(table, key="x", empty="No invoices yet.")\n'
    )
    assert [line.split(":")[1] for line in bare_literals(page)] == ["1", "2", "5"]


def test_latvian_entries_keep_the_english_places():
    """A translation that drops or renames a {place} would show a raw brace or fail."""
    formatter = string.Formatter()
    problems = []
    for path in sorted((DASHBOARD / "locale" / "lv").glob("*.po")):
        with path.open("rb") as handle:
            for message in read_po(handle):
                if not message.id or not message.string:
                    continue
                english = {name for _, name, _, _ in formatter.parse(message.id) if name}
                latvian = {name for _, name, _, _ in formatter.parse(message.string) if name}
                if english != latvian:
                    problems.append((path.name, message.id))
    assert problems == []


# --- Every page, rendered in Latvian ----------------------------------------------------------

PAGES = (
    "overview",
    "bank_accounts",
    "bank_statements",
    "customers",
    "invoices",
    "invoice_detail",
    "outbox",
    "payments",
    "callbacks",
    "exceptions",
    "reports",
    "company",
    "numbering",
    "users",
    "audit_log",
)


def _seed() -> str:
    """A small company's day: open, part-paid and draft invoices, a payment, a callback
    and something to review. Returns the open invoice's number."""
    channel = make_channel()
    customer = make_customer(name="SIA Jūrmalas Ēdnīca", email="rekini@ednica.lv")
    open_invoice = make_invoice(channel=channel, customer=customer)
    make_invoice(channel=channel, customer=customer, issue=False)
    attempt = make_attempt(open_invoice, at=datetime(2026, 5, 2, 9, 0, tzinfo=UTC))
    with write_session() as session:
        session.add(
            CallbackEvent(
                channel_id=channel.id,
                payment_reference=attempt.payment_reference,
                order_reference=open_invoice.number,
                event_name="status_updated",
                status="received",
            )
        )
        session.add(
            ReviewItem(
                kind="amount_mismatch",
                dedupe_key=f"amount_mismatch:{attempt.payment_reference}",
                reason="",
                invoice_id=open_invoice.id,
                payment_attempt_id=attempt.id,
                channel_id=channel.id,
                amount_minor=5000,
                currency="EUR",
            )
        )
    return open_invoice.number


def _shown(at) -> str:
    """What a person reads on the page: texts, labels, options, table headings."""
    parts = [texts(at)]
    for kind in (
        "button",
        "checkbox",
        "toggle",
        "selectbox",
        "multiselect",
        "radio",
        "text_input",
        "text_area",
        "number_input",
        "date_input",
        "tabs",
        "expander",
    ):
        for element in getattr(at, kind):
            parts.append(str(getattr(element, "label", "")))
            parts.append(str(getattr(element, "help", "") or ""))
            parts.extend(str(option) for option in getattr(element, "options", ()) or ())
    for table in at.dataframe:
        parts.extend(str(column) for column in table.value.columns)
    return "\n".join(parts)


def english_words(text: str) -> set[str]:
    """The English words of ``text``; whole words with Latvian letters ("Noņemt" is not
    "No"), and addresses, paths and time zones ("Europe/Isle_of_Man") are not words."""
    text = re.sub(r"\S*[/@]\S*", " ", text)
    return {
        word
        for word in re.findall(r"[^\W\d_][^\W\d_']*", text)
        if word.lower() in ENGLISH_WORDS and word not in SAME_IN_BOTH
    }


def _in_latvian(at_page: str, number: str):
    from streamlit.testing.v1 import AppTest

    from tests.dashboard.conftest import APP, LAZY_SECTIONS, TIMEOUT

    user_id = make_user("admin", "ilze")
    with write_session() as session:
        set_user_language(session, user_id=user_id, language="lv")
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.session_state["auth"] = ui.new_session(user_id)
    if at_page == "invoice_detail":
        at.query_params["invoice"] = number
    for key in LAZY_SECTIONS:
        at.session_state[key] = True
    at.run()
    return at.switch_page(f"app_pages/{at_page}.py").run()


@pytest.mark.parametrize("page", PAGES)
def test_a_page_in_latvian_shows_no_english(db, page):
    number = _seed()
    i18n.MISSING.clear()
    at = _in_latvian(page, number)
    no_exceptions(at)
    assert sorted(text for language, text in i18n.MISSING if language == "lv") == []
    assert english_words(_shown(at)) == set()


def test_the_same_page_in_english_is_english(db):
    """The check above can see English: the English page trips it."""
    number = _seed()
    at = _in_latvian("invoices", number)
    at.sidebar.selectbox(key="my_language").set_value("en").run()
    no_exceptions(at)
    assert "Invoices" in english_words(_shown(at))
    assert "Rēķini" not in _shown(at)


def test_the_login_page_speaks_the_companys_language(db):
    from streamlit.testing.v1 import AppTest

    from tests.dashboard.conftest import APP, TIMEOUT

    with write_session() as session:
        session.add(Company(name="SIA Ēdnīca", ui_language="lv"))
    i18n.MISSING.clear()
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    no_exceptions(at)
    assert at.text_input(key="login_username").label == "Lietotājvārds"
    assert english_words(_shown(at)) == set()
    assert not i18n.MISSING


def test_an_english_text_has_one_latvian_across_the_files():
    """The catalogue joins every file; two translations of one text would leave the page
    showing whichever file sorts last. A text that needs other words somewhere takes a
    context (``t_context``)."""
    seen: dict[tuple[str | None, str], tuple[str, str]] = {}
    clashes = []
    for path in sorted((DASHBOARD / "locale" / "lv").glob("*.po")):
        with path.open("rb") as handle:
            for message in read_po(handle):
                if not message.id:
                    continue
                key = (message.context, message.id)
                first = seen.setdefault(key, (path.name, message.string))
                if first[1] != message.string:
                    clashes.append((message.id, first, (path.name, message.string)))
    assert clashes == []
