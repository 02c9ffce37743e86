"""Money → Bank statements: import statement files, see how each transaction matched its
invoices and why, act on suggestions and unmatched ones, undo a booking, reconcile per
account and period. Managers see everything and change nothing."""

from datetime import date

import streamlit as st

from dashboard import data, ui
from shared.bank.matching import (
    accept_suggestion,
    import_and_match,
    mark_not_customer_payment,
    match_by_hand,
    run_matching,
    undo_booking,
)
from shared.bank.statements import (
    TRANSACTION_COLUMNS,
    TransactionView,
    reconciliation_summary,
    statement_options,
    statement_table,
    transaction_rows,
    transaction_table,
    transaction_views,
)
from shared.models import MatchState
from shared.money import format_money, format_plain
from shared.states import MATCH_STATE_LABELS
from shared.views.payments import open_invoice_options

user = ui.require("view")
tz = ui.tz()
st.title("Bank statements")

ui.show_flash()


def _act(action, *, permission_action: str, **values) -> None:
    """Runs a write ``action`` for the signed-in user; a refusal shows next to it."""
    ui.page_action(
        lambda session: action(session, actor=user.username, **values),
        permission="edit",
        action=permission_action,
        success=lambda message: message,
    )


def _upload_section() -> None:
    with st.expander("Import a statement file", icon=":material/upload_file:", expanded=True):
        st.caption(
            "camt.053 or camt.054 (Swedbank, SEB) or FiDAViSta (Citadele, Luminor, others). "
            "The same file or bookings seen before are never added twice; transfers are "
            "matched to invoices right after the import."
        )
        upload = st.file_uploader("Statement file", type=["xml"], key="bs_upload")
        if (
            st.button("Import", type="primary", key="bs_import", disabled=upload is None)
            and upload is not None
        ):
            imported = ui.page_action(
                lambda: import_and_match(
                    actor=user.username, filename=upload.name, content=upload.getvalue()
                ),
                permission="edit",
                action="bank_statement.import",
                own_transaction=True,
                on_error=lambda error: st.error(f"{upload.name}: refused, nothing added. {error}"),
                success=lambda result: "\n\n".join(
                    [*result[0].lines(), result[1].describe(), *result[1].payouts]
                ),
            )
            if not imported:
                return
        if st.button("Match new transactions again", key="bs_rematch"):
            ui.page_action(
                lambda: run_matching(actor=user.username),
                permission="edit",
                action="bank_statement.match",
                own_transaction=True,
                success=lambda matched: matched.describe(),
            )


def _summary_section() -> None:
    st.subheader("Reconciliation")
    today = ui.today()
    left, right = st.columns(2)
    date_from = left.date_input("From", value=date(today.year, today.month, 1), key="bs_from")
    date_to = right.date_input("To", value=today, key="bs_to")
    ui.show_table(
        reconciliation_summary(date_from=date_from, date_to=date_to),
        key="bs_summary",
        empty="No statement transactions booked in this period.",
        badge_columns=("Match state",),
    )


def _accept(view: TransactionView) -> None:
    if view.suggested_invoices:
        shares = ", ".join(f"{amount} on {number}" for number, amount in view.suggested_invoices)
        st.markdown(f"**Suggested:** {view.suggested_customer} — {shares}")
    else:
        st.markdown(f"**Suggested:** {view.suggested_customer}'s credit paid back")
    if st.button("Accept suggestion", type="primary", key="bs_accept"):
        _act(accept_suggestion, permission_action="bank_statement.accept", transaction_id=view.id)


def _match_by_hand(view: TransactionView) -> None:
    st.markdown("**Match by hand**")
    left, right = st.columns(2)
    search = left.text_input("Find customer", key="bs_find", placeholder="Name or e-mail")
    customers = dict(data.customer_options(search))
    customer_id = right.selectbox(
        "Customer", list(customers), format_func=customers.get, index=None, key="bs_customer"
    )
    allocations = []
    if customer_id is not None:
        invoices = open_invoice_options(customer_id, view.currency)
        if invoices:
            st.caption(
                "Amount per invoice; left blank, the oldest due are paid first. What is "
                "left over becomes the customer's credit."
            )
        for invoice in invoices:
            typed = st.text_input(
                f"{invoice.number} · open {format_money(invoice.open_minor, view.currency)}",
                key=f"bs_alloc_{view.id}_{invoice.id}",
                placeholder=format_plain(min(invoice.open_minor, view.amount_minor), view.currency),
            )
            allocations.append((invoice.id, typed))
    if st.button("Book on these invoices", key="bs_manual"):
        _act(
            match_by_hand,
            permission_action="bank_statement.match_by_hand",
            transaction_id=view.id,
            customer_id=customer_id,
            allocations=allocations,
        )


def _set_aside(view: TransactionView) -> None:
    note = st.text_input(
        "Not a customer payment — what is it?", key="bs_note", placeholder="Owner's loan"
    )
    if st.button("Mark as not a customer payment", key="bs_not_customer"):
        _act(
            mark_not_customer_payment,
            permission_action="bank_statement.not_customer",
            transaction_id=view.id,
            note=note,
        )


def _undo(view: TransactionView) -> None:
    reason = st.text_input("Reason for undoing", key="bs_undo_reason")
    confirm = st.checkbox(
        "Take this booking back off its invoices (they ask for the money again).",
        key="bs_undo_confirm",
    )
    if st.button("Undo booking", key="bs_undo", disabled=not confirm):
        _act(
            undo_booking,
            permission_action="bank_statement.undo",
            transaction_id=view.id,
            reason=reason,
        )


def _actions_section(statement_id: int) -> None:
    st.subheader("Act on a transaction")
    actionable = (
        MatchState.SUGGESTED,
        MatchState.UNMATCHED,
        MatchState.NEW,
        MatchState.OUTGOING,
        MatchState.BOOKED_AUTO,
        MatchState.BOOKED_MANUAL,
    )
    views = {
        view.id: view for view in transaction_views(statement_id=statement_id, states=actionable)
    }
    if not views:
        st.caption("Nothing to act on in this statement.")
        return
    chosen = st.selectbox(
        "Transaction", list(views), format_func=lambda i: views[i].label, key="bs_tx"
    )
    view = views[chosen]
    st.markdown(f"**Reason:** {view.reason or '—'}")
    if view.state == MatchState.SUGGESTED:
        _accept(view)
    if view.state in (MatchState.SUGGESTED, MatchState.UNMATCHED, MatchState.NEW):
        if view.direction == "credit":
            _match_by_hand(view)
        _set_aside(view)
    elif view.state == MatchState.OUTGOING:
        _set_aside(view)
    else:
        _undo(view)


if user.can("edit"):
    _upload_section()

_summary_section()

st.subheader("Statements")
offset, limit = ui.paging("bs_statements", "all")
statements = statement_table(tz=tz, offset=offset, limit=limit)
ui.show_table(
    statements,
    key="bs_statements_table",
    empty="No statements imported yet." + (" Import one above." if user.can("edit") else ""),
)
if statements.total > limit:
    ui.pager("bs_statements", statements)

options = dict(statement_options())
if options:
    statement_id = st.selectbox(
        "Statement", list(options), format_func=options.get, key="bs_statement"
    )
    states = st.multiselect(
        "Match state",
        list(MATCH_STATE_LABELS),
        format_func=MATCH_STATE_LABELS.get,
        key="bs_states",
    )
    offset, limit = ui.paging("bs_entries", (statement_id, states))
    entries = transaction_table(
        statement_id=statement_id, states=tuple(states), offset=offset, limit=limit
    )
    ui.show_table(
        entries,
        key="bs_entries_table",
        empty="No transactions in this statement match the filter.",
        badge_columns=("Match state",),
    )
    if entries.total:
        ui.pager("bs_entries", entries)
    ui.export_buttons(
        key="bs_export",
        columns=TRANSACTION_COLUMNS,
        rows=lambda: transaction_rows(statement_id=statement_id, states=tuple(states)),
        total=entries.total,
        file_stem=f"bank-statement-{statement_id}",
        user=user,
    )
    if user.can("edit"):
        _actions_section(statement_id)
