"""Recording a payment received outside LinkPay, shared by the Payments and invoice pages.

Plain widgets rather than ``st.form``: the allocation below the amount follows what is
typed (the oldest-due invoices first), and each amount keys its own allocation inputs so a
new amount starts again from the new suggestion instead of keeping stale numbers.
"""

from datetime import date

import streamlit as st

from dashboard import data, ui
from dashboard.i18n import date_input_format, date_text, money_text, t
from shared.ledger.received import METHOD_LABELS, LedgerResult, record_received_payment
from shared.money import (
    SUPPORTED_CURRENCIES,
    MoneyError,
    format_plain,
    from_minor,
    parse_amount_minor,
)
from shared.views.payments import open_invoice_options, suggested_allocation

FORM = "record_payment"
FIELDS = ("customer", "method", "received_on", "amount", "currency", "payer", "bank_reference")


def _typed_minor(text: str, currency: str) -> int | None:
    try:
        minor = parse_amount_minor(text, currency)
    except MoneyError:
        return None
    return minor if minor > 0 else None


def _allocation_inputs(*, key: str, customer_id: int, currency: str, amount: str) -> list:
    """One input per open invoice of the customer, pre-filled with the suggestion."""
    invoices = open_invoice_options(customer_id, currency)
    if not invoices:
        st.caption(
            t(
                "No open invoice in {currency}: record the payment from the invoice itself.",
                currency=currency,
            )
        )
        return []
    minor = _typed_minor(amount, currency)
    suggested = suggested_allocation(customer_id, currency, minor) if minor else {}
    st.markdown(t("**Allocation** (oldest due first; what is left over becomes customer credit)"))
    allocations = []
    for invoice in invoices:
        share = suggested.get(invoice.id)
        label = t(
            "{number} · due {due_date} · open {amount}",
            number=invoice.number,
            due_date=date_text(invoice.due_date) or "—",
            amount=money_text(from_minor(invoice.open_minor, currency), currency),
        )
        typed = st.text_input(
            label,
            value=format_plain(share, currency) if share else "",
            key=f"{key}_alloc_{customer_id}_{currency}_{minor}_{invoice.id}",
        )
        allocations.append((invoice.id, typed))
    return allocations


def record_payment_form(
    *,
    key: str,
    username: str,
    today: date,
    invoice_id: int | None = None,
    customer_id: int | None = None,
    currency: str = "EUR",
    amount: str = "",
) -> None:
    """The form; with ``invoice_id`` it pays that invoice (customer and currency fixed),
    otherwise the person picks the customer and the allocation. What was booked is shown
    at the top of the page (``ui.show_flash``)."""
    if invoice_id is None:
        left, right = st.columns([3, 1])
        search = left.text_input(
            t("Find customer"), key=f"{key}_find", placeholder=t("Name or e-mail")
        )
        customers = dict(data.customer_options(search))
        customer_id = left.selectbox(
            t("Customer"),
            list(customers),
            format_func=customers.get,
            index=None,
            key=f"{key}_who",
            placeholder=t("Choose an option"),
        )
        currency = right.selectbox(t("Currency"), SUPPORTED_CURRENCIES, key=f"{key}_currency")
    ui.field_error(FORM, "customer")
    # Translated here, not in format_func, which may run outside this page's run.
    methods = {code: t(label) for code, label in METHOD_LABELS.items()}
    method = st.radio(
        t("Method"),
        list(methods),
        format_func=methods.__getitem__,
        horizontal=True,
        key=f"{key}_method",
    )
    left, right = st.columns(2)
    received_on = left.date_input(
        t("Received on"), value=today, key=f"{key}_date", format=date_input_format()
    )
    typed_amount = right.text_input(
        t("Amount ({currency})", currency=currency),
        value=amount,
        key=f"{key}_amount",
        placeholder="1 234.50",
    )
    with left:
        ui.field_error(FORM, "received_on")
    with right:
        ui.field_error(FORM, "amount")
    payer = left.text_input(
        t("Payer"), key=f"{key}_payer", placeholder=t("As on the bank statement")
    )
    reference = right.text_input(t("Bank reference"), key=f"{key}_reference")
    note = st.text_input(t("Note"), key=f"{key}_note")
    if invoice_id is not None:
        allocations = [(invoice_id, typed_amount)]
    elif customer_id is not None:
        allocations = _allocation_inputs(
            key=key, customer_id=customer_id, currency=currency, amount=typed_amount
        )
    else:
        allocations = []
    ui.form_errors(FORM, FIELDS)
    if not st.button(t("Record payment"), type="primary", key=f"{key}_save"):
        return

    def forget_typed(_: LedgerResult) -> None:
        for name in [name for name in st.session_state if str(name).startswith(f"{key}_")]:
            del st.session_state[name]

    ui.page_action(
        lambda session: record_received_payment(
            session,
            actor=username,
            customer_id=customer_id,
            method=method,
            received_on=received_on,
            amount=typed_amount,
            currency=currency,
            payer=payer,
            bank_reference=reference,
            note=note,
            allocations=allocations,
        ),
        permission="edit",
        action="payment.record",
        form=FORM,
        then=forget_typed,
        success=lambda result: _booked_message(result, method=method),
    )


def _booked_message(result: LedgerResult, *, method: str) -> str:
    """What was booked where, in the reader's words (``LedgerResult.describe`` is English)."""

    def amount(minor: int) -> str:
        return money_text(from_minor(minor, result.currency), result.currency)

    bookings = ", ".join(
        t("{amount} on {number}", amount=amount(booking.amount_minor), number=booking.number)
        for booking in result.bookings
    )
    if result.credit_minor:
        bookings += " " + t("({amount} customer credit)", amount=amount(result.credit_minor))
    return t(
        "{method} of {amount} recorded: {bookings}.",
        method=t(METHOD_LABELS[method]),
        amount=amount(result.total_minor),
        bookings=bookings,
    )
