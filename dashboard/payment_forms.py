"""Recording a payment received outside LinkPay, shared by the Payments and invoice pages.

Plain widgets rather than ``st.form``: the allocation below the amount follows what is
typed (the oldest-due invoices first), and each amount keys its own allocation inputs so a
new amount starts again from the new suggestion instead of keeping stale numbers.
"""

from datetime import date

import streamlit as st

from dashboard import data, ui
from shared.ledger.received import METHOD_LABELS, LedgerResult, record_received_payment
from shared.money import (
    SUPPORTED_CURRENCIES,
    MoneyError,
    format_money,
    format_plain,
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
        st.caption(f"No open invoice in {currency}: record the payment from the invoice itself.")
        return []
    minor = _typed_minor(amount, currency)
    suggested = suggested_allocation(customer_id, currency, minor) if minor else {}
    st.markdown("**Allocation** (oldest due first; what is left over becomes customer credit)")
    allocations = []
    for invoice in invoices:
        share = suggested.get(invoice.id)
        label = (
            f"{invoice.number} · due {invoice.due_date or '—'} · "
            f"open {format_money(invoice.open_minor, currency)}"
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
        search = left.text_input("Find customer", key=f"{key}_find", placeholder="Name or e-mail")
        customers = dict(data.customer_options(search))
        customer_id = left.selectbox(
            "Customer", list(customers), format_func=customers.get, index=None, key=f"{key}_who"
        )
        currency = right.selectbox("Currency", SUPPORTED_CURRENCIES, key=f"{key}_currency")
    ui.field_error(FORM, "customer")
    methods = list(METHOD_LABELS)
    method = st.radio(
        "Method", methods, format_func=METHOD_LABELS.get, horizontal=True, key=f"{key}_method"
    )
    left, right = st.columns(2)
    received_on = left.date_input("Received on", value=today, key=f"{key}_date")
    typed_amount = right.text_input(
        f"Amount ({currency})", value=amount, key=f"{key}_amount", placeholder="1 234.50"
    )
    with left:
        ui.field_error(FORM, "received_on")
    with right:
        ui.field_error(FORM, "amount")
    payer = left.text_input("Payer", key=f"{key}_payer", placeholder="As on the bank statement")
    reference = right.text_input("Bank reference", key=f"{key}_reference")
    note = st.text_input("Note", key=f"{key}_note")
    if invoice_id is not None:
        allocations = [(invoice_id, typed_amount)]
    elif customer_id is not None:
        allocations = _allocation_inputs(
            key=key, customer_id=customer_id, currency=currency, amount=typed_amount
        )
    else:
        allocations = []
    ui.form_errors(FORM, FIELDS)
    if not st.button("Record payment", type="primary", key=f"{key}_save"):
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
    amount = format_money(result.total_minor, result.currency)
    return f"{METHOD_LABELS[method]} of {amount} recorded: {result.describe()}."
