"""A list's rows are named tuples whose fields are its column keys, and pages read them by
name: a column added, moved or dropped cannot silently show one value under another's
label."""

import ast
from pathlib import Path

import pytest

from shared.views.audit_log import AUDIT_COLUMNS, AuditRow
from shared.views.callbacks import CALLBACK_COLUMNS, CallbackRow
from shared.views.customers import CREDIT_COLUMNS, CUSTOMER_COLUMNS, CreditRow, CustomerRow
from shared.views.exceptions import REVIEW_COLUMNS, ReviewRow
from shared.views.invoice_detail import LEDGER_COLUMNS, LINE_COLUMNS, LedgerRow, LineRow
from shared.views.invoices import INVOICE_COLUMNS, InvoiceRow
from shared.views.outbox import OUTBOX_COLUMNS, OutboxRow
from shared.views.payments import ATTEMPT_COLUMNS, PAYMENT_COLUMNS, AttemptRow, PaymentRow
from shared.views.reconciler import RUN_COLUMNS, RunRow
from shared.views.users import USER_COLUMNS, UserRow

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard"
# Names pages give a row of a list (or a picker's option) when they loop over one.
ROW_NAMES = {"row", "r", "c", "option", "holder"}
# ... and the dicts that hold them by id or index.
ROWS_BY_KEY = {"rows", "channels", "holders"}


@pytest.mark.parametrize(
    ("columns", "row_type"),
    [
        (INVOICE_COLUMNS, InvoiceRow),
        (LINE_COLUMNS, LineRow),
        (LEDGER_COLUMNS, LedgerRow),
        (ATTEMPT_COLUMNS, AttemptRow),
        (PAYMENT_COLUMNS, PaymentRow),
        (CALLBACK_COLUMNS, CallbackRow),
        (REVIEW_COLUMNS, ReviewRow),
        (CUSTOMER_COLUMNS, CustomerRow),
        (CREDIT_COLUMNS, CreditRow),
        (USER_COLUMNS, UserRow),
        (AUDIT_COLUMNS, AuditRow),
        (OUTBOX_COLUMNS, OutboxRow),
        (RUN_COLUMNS, RunRow),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)
def test_each_row_field_is_its_column_key_in_column_order(columns, row_type) -> None:
    assert row_type._fields == tuple(column.key for column in columns)


def _reads_a_row_by_position(node: ast.AST) -> bool:
    if not (
        isinstance(node, ast.Subscript)
        and isinstance(node.slice, ast.Constant)
        and isinstance(node.slice.value, int)
    ):
        return False
    target = node.value
    if isinstance(target, ast.Name):
        return target.id in ROW_NAMES
    # table.rows[i][2], rows[chosen][0], channels[channel_id][2]
    return isinstance(target, ast.Subscript) and (
        (isinstance(target.value, ast.Attribute) and target.value.attr == "rows")
        or (isinstance(target.value, ast.Name) and target.value.id in ROWS_BY_KEY)
    )


def test_no_page_reads_a_row_by_position() -> None:
    found = [
        f"{path.relative_to(DASHBOARD.parent)}:{node.lineno}: {ast.unparse(node)}"
        for path in sorted(DASHBOARD.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if _reads_a_row_by_position(node)
        or (isinstance(node, ast.alias) and node.name == "itemgetter")
    ]
    assert found == []
