"""The ledger's totals have one writer: ``shared.ledger.posting``.

A second writer (a page, a review action, a seed script setting ``paid_minor`` by hand) is
how balances stop matching their entries; this test finds one in the application's code
before it ships."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LEDGER_TOTALS = {"paid_minor", "credited_minor", "returned_minor", "booked_minor"}
THE_WRITER = ROOT / "shared" / "ledger" / "posting.py"
APPLICATION = ("shared", "dashboard", "callback_service", "sandbox")


def writes_of_ledger_totals(source: str) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(source)):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            if isinstance(target, ast.Attribute) and target.attr in LEDGER_TOTALS:
                found.append((node.lineno, f"assigns .{target.attr}"))
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg in LEDGER_TOTALS:
                    found.append((node.lineno, f"passes {keyword.arg}= to a call"))
    return found


def application_modules() -> list[Path]:
    modules = []
    for package in APPLICATION:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts and path != THE_WRITER:
                modules.append(path)
    return modules


def test_only_the_posting_module_writes_ledger_totals() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {what}"
        for path in application_modules()
        for line, what in writes_of_ledger_totals(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_the_scan_sees_each_way_of_writing_a_total() -> None:
    source = (
        "invoice.paid_minor = 1\n"
        "attempt.booked_minor += 2\n"
        "session.exec(update(PaymentAttempt).values(booked_minor=3))\n"
        "Invoice(credited_minor=4)\n"
    )
    assert sorted(line for line, _ in writes_of_ledger_totals(source)) == [1, 2, 3, 4]
    assert THE_WRITER.is_file() and writes_of_ledger_totals(THE_WRITER.read_text())
