"""Money → Bank statements: import statement files, see how each transaction matched its
invoices and why, act on suggestions and unmatched ones, undo a booking, reconcile per
account and period. Managers see everything and change nothing."""

from datetime import date
from decimal import Decimal

import streamlit as st

from dashboard import data, i18n, streamlit_words, ui
from dashboard.i18n import date_input_format, t
from dashboard.stored_texts import stored_text, with_stored_texts
from shared.bank.importing import ImportReport
from shared.bank.matching import (
    MatchSummary,
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
from shared.money import format_plain, from_minor
from shared.states import MATCH_STATE_LABELS
from shared.views.payments import open_invoice_options

user = ui.require("view")
tz = ui.tz()
st.title(t("Bank statements"))

ui.show_flash()


def _act(action, *, permission_action: str, **values) -> None:
    """Runs a write ``action`` for the signed-in user; a refusal shows next to it."""
    ui.page_action(
        lambda session: action(session, actor=user.username, **values),
        permission="edit",
        action=permission_action,
        success=stored_text,
    )


def _decimal(amount: Decimal) -> str:
    """A plain amount ("121.00") with the reader's decimal mark."""
    text = f"{amount:f}"
    return text if i18n.language() == i18n.ENGLISH else text.replace(".", ",")


def _period(start: date | None, end: date | None) -> str:
    return t("{start} to {end}", start=i18n.date_text(start) or "?", end=i18n.date_text(end) or "?")


def _import_lines(report: ImportReport) -> list[str]:
    """What the import did, line by line (ImportReport.lines in the reader's language)."""
    if report.already_imported_at is not None:
        return [
            t(
                "{file}: already imported on {moment} UTC; nothing added.",
                file=report.filename,
                moment=i18n.datetime_text(report.already_imported_at),
            )
        ]
    lines = [f"{report.filename} ({report.message}):"]
    for result in report.statements:
        line = t(
            "{iban} {currency} {period}: entries added {added}, already known {known}",
            iban=result.iban,
            currency=result.currency,
            period=_period(result.period_start, result.period_end),
            added=i18n.number_text(result.entries_added),
            known=i18n.number_text(result.entries_known),
        )
        if result.not_booked:
            line += t(
                ", not booked (information only) {count}",
                count=i18n.number_text(result.not_booked),
            )
        if not result.new_statement:
            line += t("; statement seen before")
        lines.append(f"  {line}")
        lines += [f"    {t('warning: {warning}', warning=stored_text(w))}" for w in result.warnings]
    lines += [f"  {t('warning: {warning}', warning=stored_text(w))}" for w in report.warnings]
    return lines


def _matched_text(summary: MatchSummary) -> str:
    """How the matcher placed the transactions (MatchSummary.describe in the reader's
    language)."""
    if not summary.counts:
        return t("No new transactions to match.")
    order = list(MatchState)
    parts = ", ".join(
        f"{t(MATCH_STATE_LABELS[state]).lower()} {i18n.number_text(count)}"
        for state, count in sorted(summary.counts.items(), key=lambda item: order.index(item[0]))
    )
    total = sum(summary.counts.values())
    template = (
        "Matched {count} transaction: {parts}."
        if total == 1
        else "Matched {count} transactions: {parts}."
    )
    return t(template, count=i18n.number_text(total), parts=parts)


def _transaction_label(view: TransactionView) -> str:
    """One transaction in the picker: day, signed amount, who, what, where it stands."""
    amount = from_minor(view.amount_minor, view.currency)
    sign = "" if view.direction == "credit" else "−"
    return " · ".join(
        part
        for part in (
            i18n.date_text(view.booking_date),
            f"{sign}{_decimal(amount)} {view.currency}",
            view.counterparty,
            view.details[:60],
            t(MATCH_STATE_LABELS.get(view.state, view.state)),
        )
        if part
    )


def _upload_section() -> None:
    with st.expander(t("Import a statement file"), icon=":material/upload_file:", expanded=True):
        st.caption(
            t(
                "camt.053 or camt.054 (Swedbank, SEB) or FiDAViSta (Citadele, Luminor, others). "
                "The same file or bookings seen before are never added twice; transfers are "
                "matched to invoices right after the import."
            )
        )
        upload = streamlit_words.file_uploader(t("Statement file"), type=["xml"], key="bs_upload")
        if (
            st.button(t("Import"), type="primary", key="bs_import", disabled=upload is None)
            and upload is not None
        ):
            imported = ui.page_action(
                lambda: import_and_match(
                    actor=user.username, filename=upload.name, content=upload.getvalue()
                ),
                permission="edit",
                action="bank_statement.import",
                own_transaction=True,
                on_error=lambda error: st.error(
                    t(
                        "{file}: refused, nothing added. {error}",
                        file=upload.name,
                        error=i18n.error_text(error),
                    )
                ),
                success=lambda result: "\n\n".join(
                    [
                        *_import_lines(result[0]),
                        _matched_text(result[1]),
                        *map(stored_text, result[1].payouts),
                    ]
                ),
            )
            if not imported:
                return
        if st.button(t("Match new transactions again"), key="bs_rematch"):
            ui.page_action(
                lambda: run_matching(actor=user.username),
                permission="edit",
                action="bank_statement.match",
                own_transaction=True,
                success=_matched_text,
            )


def _summary_section() -> None:
    st.subheader(t("Reconciliation"))
    today = ui.today()
    left, right = st.columns(2)
    date_from = left.date_input(
        t("From"), value=date(today.year, today.month, 1), key="bs_from", format=date_input_format()
    )
    date_to = right.date_input(t("To"), value=today, key="bs_to", format=date_input_format())
    ui.show_table(
        reconciliation_summary(date_from=date_from, date_to=date_to),
        key="bs_summary",
        empty=t("No statement transactions booked in this period."),
        badge_columns=("Match state",),
    )


def _accept(view: TransactionView) -> None:
    if view.suggested_invoices:
        shares = ", ".join(
            t("{amount} on {number}", amount=_decimal(amount), number=number)
            for number, amount in view.suggested_invoices
        )
        st.markdown(
            t(
                "**Suggested:** {customer} — {shares}",
                customer=view.suggested_customer,
                shares=shares,
            )
        )
    else:
        st.markdown(
            t("**Suggested:** {customer}'s credit paid back", customer=view.suggested_customer)
        )
    if st.button(t("Accept suggestion"), type="primary", key="bs_accept"):
        _act(accept_suggestion, permission_action="bank_statement.accept", transaction_id=view.id)


def _match_by_hand(view: TransactionView) -> None:
    st.markdown(t("**Match by hand**"))
    left, right = st.columns(2)
    search = left.text_input(t("Find customer"), key="bs_find", placeholder=t("Name or e-mail"))
    customers = dict(data.customer_options(search))
    customer_id = right.selectbox(
        t("Customer"),
        list(customers),
        format_func=customers.get,
        index=None,
        key="bs_customer",
        placeholder=t("Choose an option"),
    )
    allocations = []
    if customer_id is not None:
        invoices = open_invoice_options(customer_id, view.currency)
        if invoices:
            st.caption(
                t(
                    "Amount per invoice; left blank, the oldest due are paid first. What is "
                    "left over becomes the customer's credit."
                )
            )
        for invoice in invoices:
            typed = st.text_input(
                t(
                    "{number} · open {amount}",
                    number=invoice.number,
                    amount=ui.money(from_minor(invoice.open_minor, view.currency), view.currency),
                ),
                key=f"bs_alloc_{view.id}_{invoice.id}",
                placeholder=format_plain(min(invoice.open_minor, view.amount_minor), view.currency),
            )
            allocations.append((invoice.id, typed))
    if st.button(t("Book on these invoices"), key="bs_manual"):
        _act(
            match_by_hand,
            permission_action="bank_statement.match_by_hand",
            transaction_id=view.id,
            customer_id=customer_id,
            allocations=allocations,
        )


def _set_aside(view: TransactionView) -> None:
    note = st.text_input(
        t("Not a customer payment — what is it?"), key="bs_note", placeholder=t("Owner's loan")
    )
    if st.button(t("Mark as not a customer payment"), key="bs_not_customer"):
        _act(
            mark_not_customer_payment,
            permission_action="bank_statement.not_customer",
            transaction_id=view.id,
            note=note,
        )


def _undo(view: TransactionView) -> None:
    reason = st.text_input(t("Reason for undoing"), key="bs_undo_reason")
    confirm = st.checkbox(
        t("Take this booking back off its invoices (they ask for the money again)."),
        key="bs_undo_confirm",
    )
    if st.button(t("Undo booking"), key="bs_undo", disabled=not confirm):
        _act(
            undo_booking,
            permission_action="bank_statement.undo",
            transaction_id=view.id,
            reason=reason,
        )


def _actions_section(statement_id: int) -> None:
    st.subheader(t("Act on a transaction"))
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
        st.caption(t("Nothing to act on in this statement."))
        return
    chosen = st.selectbox(
        t("Transaction"),
        list(views),
        format_func=lambda i: _transaction_label(views[i]),
        key="bs_tx",
    )
    view = views[chosen]
    st.markdown(t("**Reason:** {reason}", reason=stored_text(view.reason) or "—"))
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

st.subheader(t("Statements"))
offset, limit = ui.paging("bs_statements", "all")
statements = statement_table(tz=tz, offset=offset, limit=limit)
ui.show_table(
    statements,
    key="bs_statements_table",
    empty=t("No statements imported yet. Import one above.")
    if user.can("edit")
    else t("No statements imported yet."),
)
if statements.total > limit:
    ui.pager("bs_statements", statements)

options = dict(statement_options())
if options:
    statement_id = st.selectbox(
        t("Statement"), list(options), format_func=options.get, key="bs_statement"
    )
    states = st.multiselect(
        t("Match state"),
        list(MATCH_STATE_LABELS),
        format_func=lambda state: t(MATCH_STATE_LABELS[state]),
        key="bs_states",
        placeholder=t("Choose options"),
    )
    offset, limit = ui.paging("bs_entries", (statement_id, states))
    entries = transaction_table(
        statement_id=statement_id, states=tuple(states), offset=offset, limit=limit
    )
    ui.show_table(
        with_stored_texts(entries, "reason"),
        key="bs_entries_table",
        empty=t("No transactions in this statement match the filter."),
        badge_columns=("Match state",),
        label_columns=("In/out",),
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
        label_columns=("Match state", "In/out"),
    )
    if user.can("edit"):
        _actions_section(statement_id)
