"""Invoicing → Customers: find, create and edit the people and firms invoices go to."""

import streamlit as st
from sqlmodel import Session

from dashboard import data, ui
from dashboard.customer_statement import statement_section
from dashboard.i18n import date_input_format, t
from dashboard.i18n import language as reader_language
from shared.customers import (
    LANGUAGES,
    MAX_PAYMENT_TERMS_DAYS,
    SENDING_METHODS,
    CustomerInput,
    create_customer,
    duplicate_warning_template,
    update_customer,
)
from shared.einvoice.participants import SCHEMES
from shared.exports import with_totals
from shared.ledger.received import LedgerResult, apply_customer_credit, refund_customer_credit
from shared.money import format_plain, from_minor, to_minor
from shared.tax_numbers import LATVIA, country_names
from shared.vies import ViesOutcome, check_in_vies
from shared.views.customers import (
    CustomerView,
    customer_credit_rows,
    customer_id_by_link,
    customer_rows,
    customer_view,
)
from shared.views.payments import open_invoice_options

FORM = "customer_form"
FIELDS = (
    "name",
    "registration_number",
    "vat_number",
    "email",
    "cc_emails",
    "address",
    "payment_terms_days",
    "language",
    "country",
    "peppol_id",
)

user = ui.require("view")
st.title(t("Customers"))

ui.show_flash()


def _scheme_option(code: str) -> str:
    """A scheme as its code and the translated name of what it identifies."""
    if not code:
        return t("— from the numbers above")
    return f"{code} {t(SCHEMES[code].name)}"


def _saved_with_warning(name: str, warning: tuple[str, dict[str, str]] | None) -> str | ui.Flash:
    if warning is None:
        return t("Customer {name} saved.", name=name)
    template, values = warning
    return ui.Flash(t(template, **values), kind="warning")


def _bookings_text(result: LedgerResult) -> str:
    """What a credit action booked, invoice by invoice, in the reader's language."""
    currency = result.currency
    booked = ", ".join(
        t(
            "{amount} on {number}",
            amount=ui.money(from_minor(booking.amount_minor, currency), currency),
            number=booking.number,
        )
        for booking in result.bookings
    )
    if not result.credit_minor:
        return booked
    return t(
        "{bookings} ({amount} customer credit)",
        bookings=booked,
        amount=ui.money(from_minor(result.credit_minor, currency), currency),
    )


def customer_form(existing: CustomerView | None) -> None:
    key = f"cust_{existing.id if existing else 'new'}"
    with st.form(f"{key}_form"):
        name = st.text_input(t("Name"), value=existing.name if existing else "", key=f"{key}_name")
        ui.field_error(FORM, "name")
        left, right = st.columns(2)
        registration = left.text_input(
            t("Registration number"),
            value=existing.registration_number if existing else "",
            key=f"{key}_reg",
        )
        vat = right.text_input(
            t("VAT number"),
            value=existing.vat_number if existing else "",
            key=f"{key}_vat",
            help=t("With its country code, e.g. LV40003009497."),
        )
        ui.field_error(FORM, "registration_number")
        ui.field_error(FORM, "vat_number")
        # Names made now, in the reader's language: a test may call format_func outside a run.
        countries = country_names(language=reader_language())
        country = st.selectbox(
            t("Country"),
            list(countries),
            index=list(countries).index(existing.country if existing else LATVIA),
            format_func=countries.__getitem__,
            key=f"{key}_country",
            help=t(
                "Where the customer is established. A Latvian customer's registration number is "
                "checked with the Latvian checksum; the e-invoice names this country."
            ),
        )
        ui.field_error(FORM, "country")
        email = st.text_input(
            t("E-mail"), value=existing.email if existing else "", key=f"{key}_email"
        )
        ui.field_error(FORM, "email")
        cc = st.text_input(
            t("CC e-mails"),
            value=existing.cc_emails if existing else "",
            key=f"{key}_cc",
            help=t("Separate several addresses with commas."),
        )
        ui.field_error(FORM, "cc_emails")
        address = st.text_area(
            t("Address"), value=existing.address if existing else "", key=f"{key}_address"
        )
        ui.field_error(FORM, "address")
        terms = st.number_input(
            t("Payment terms (days)"),
            min_value=0,
            max_value=MAX_PAYMENT_TERMS_DAYS,
            step=1,
            value=existing.payment_terms_days if existing else 14,
            key=f"{key}_terms",
            help=t("An invoice without a due date is due this many days after its issue date."),
        )
        ui.field_error(FORM, "payment_terms_days")
        languages = list(LANGUAGES)
        language = st.radio(
            t("Language"),
            languages,
            index=languages.index(existing.language) if existing else 0,
            format_func=lambda code: code.upper(),
            horizontal=True,
            key=f"{key}_language",
            help=t("The language of the invoice, its e-mail and the payment page texts."),
        )
        # Labels made now, in the reader's language: a test may call format_func outside a run.
        schemes = {code: _scheme_option(code) for code in ["", *SCHEMES]}
        left, right = st.columns([2, 3])
        peppol_scheme = left.selectbox(
            t("E-invoice address scheme"),
            list(schemes),
            index=list(schemes).index(existing.peppol_scheme) if existing else 0,
            format_func=schemes.__getitem__,
            key=f"{key}_peppol_scheme",
            help=t(
                "Peppol participant id. Left empty, a Latvian registration number (0218) or "
                "a Latvian or Estonian VAT number (9939, 9931) is used."
            ),
        )
        peppol_id = right.text_input(
            t("E-invoice address (Peppol id)"),
            value=existing.peppol_id if existing else "",
            key=f"{key}_peppol_id",
        )
        ui.field_error(FORM, "peppol_id")
        methods = {method: t(shown) for method, shown in SENDING_METHODS.items()}
        sending_method = st.radio(
            t("Send invoices by"),
            list(methods),
            index=list(methods).index(existing.sending_method) if existing else 0,
            format_func=methods.__getitem__,
            horizontal=True,
            key=f"{key}_sending_method",
            help=t("Preselected on the invoice's Send panel."),
        )
        ui.form_errors(FORM, FIELDS)
        submitted = st.form_submit_button(
            t("Save changes") if existing else t("Create customer"),
            type="primary",
            key=f"{key}_save",
        )
    if not submitted:
        return
    values = {
        "name": name,
        "registration_number": registration,
        "vat_number": vat,
        "email": email,
        "cc_emails": cc,
        "address": address,
        "payment_terms_days": int(terms),
        "language": language,
        "country": country,
        "peppol_scheme": peppol_scheme,
        "peppol_id": peppol_id,
        "sending_method": sending_method,
    }

    def save(session: Session) -> tuple[str, dict[str, str]] | None:
        """Saves; returns the duplicate warning (None when there is none)."""
        if existing:
            customer = update_customer(
                session, actor=user.username, customer_id=existing.id, data=CustomerInput(**values)
            )
        else:
            customer = create_customer(session, actor=user.username, data=CustomerInput(**values))
        return duplicate_warning_template(session, customer=customer)

    ui.page_action(
        save,
        permission="edit",
        action="customer.save",
        form=FORM,
        then=lambda _: st.session_state.update(customer_mode=None),
        success=lambda warning: _saved_with_warning(name.strip(), warning),
    )


def _open_linked_customer() -> None:
    """``?customer=<reg. no. or id>`` (a link, or a click on a row): the list narrowed to
    that customer, their statement and, for finance, their edit form. Once per link, so
    the user may search on from there."""
    link = st.query_params.get("customer")
    if link is None:
        return
    customer_id = customer_id_by_link(link)
    found = customer_view(customer_id) if customer_id is not None else None
    if found is None:
        st.error(t("No customer {link}.", link=link))
        return
    if st.session_state.get("customer_link") == link:
        return
    st.session_state["customer_link"] = link
    st.session_state["customer_search"] = found.registration_number or found.name
    st.session_state["stmt_customer"] = found.id
    if user.can("edit"):
        st.session_state["customer_mode"] = found.id


_open_linked_customer()
search = st.text_input(t("Search"), key="customer_search", placeholder=t("Name, e-mail or number"))
offset, limit = ui.paging("customers", search)
table = data.customer_page(search, offset=offset, limit=limit)

if user.can("edit"):
    new, edit = st.columns(2)
    if new.button(t("Create customer"), key="customer_new", icon=":material/person_add:"):
        st.session_state["customer_mode"] = "new"
        ui.clear_errors(FORM)
    if table.ids:
        names = dict(zip(table.ids, (row.name for row in table.rows), strict=True))
        chosen = edit.selectbox(
            t("Edit customer"),
            list(names),
            format_func=names.get,
            key="customer_pick",
            index=None,
            placeholder=t("Choose an option"),
        )
        if chosen is not None and st.session_state.get("customer_mode") != chosen:
            st.session_state["customer_mode"] = chosen
            ui.clear_errors(FORM)
    mode = st.session_state.get("customer_mode")
    if mode == "new":
        st.subheader(t("New customer"))
        customer_form(None)
    elif isinstance(mode, int):
        existing = customer_view(mode)
        if existing:
            st.subheader(t("Edit {name}", name=existing.name))
            customer_form(existing)
            if st.button(
                t("Check in VIES"),
                key="customer_vies",
                disabled=not existing.vat_number,
                help=t("Asks the EU VIES service about the saved VAT number; never stops a save."),
            ):
                answer = check_in_vies(existing.vat_number)
                shown = {ViesOutcome.VALID: st.success, ViesOutcome.INVALID: st.warning}
                shown.get(answer.outcome, st.info)(t(answer.template, **answer.values))

clicked = ui.show_table(
    table,
    # A selection belongs to the rows it was made on: another list is another table.
    key=f"customers_table_{st.session_state.get('customer_link')}_{search}_{offset}",
    empty=t("No customers found.") if search else t("No customers yet — create one."),
    clickable=True,
)
if clicked is not None and st.query_params.get("customer") != str(table.ids[clicked]):
    st.query_params["customer"] = str(table.ids[clicked])
    st.rerun()
if table.total:
    ui.pager("customers", table)
ui.export_buttons(
    key="customers_export",
    columns=table.columns,
    rows=lambda: customer_rows(search),
    total=table.total,
    file_stem="customers",
    user=user,
)


def _apply_credit(customer_id: int, currency: str, credit_minor: int) -> None:
    invoices = {invoice.id: invoice for invoice in open_invoice_options(customer_id, currency)}
    if not invoices:
        st.caption(t("No open invoice in {currency} to apply the credit to.", currency=currency))
        return
    shown = {
        invoice_id: t(
            "{number} · open {amount}",
            number=invoice.number,
            amount=ui.money(from_minor(invoice.open_minor, currency), currency),
        )
        for invoice_id, invoice in invoices.items()
    }
    target = st.selectbox(
        t("Invoice"),
        list(invoices),
        format_func=shown.__getitem__,
        key=f"credit_target_{customer_id}_{currency}",
    )
    amount = st.text_input(
        t("Amount to apply ({currency})", currency=currency),
        value=format_plain(min(credit_minor, invoices[target].open_minor), currency),
        key=f"credit_amount_{customer_id}_{currency}_{target}_{credit_minor}",
    )
    if st.button(t("Apply credit to invoice"), key="credit_apply", type="primary"):
        ui.page_action(
            lambda session: apply_customer_credit(
                session,
                actor=user.username,
                customer_id=customer_id,
                invoice_id=target,
                amount=amount,
            ),
            permission="edit",
            action="credit.apply",
            success=lambda result: t(
                "Credit applied: {bookings}.", bookings=_bookings_text(result)
            ),
        )


def _refund_credit(customer_id: int, currency: str, credit_minor: int) -> None:
    amount = st.text_input(
        t("Amount paid back ({currency})", currency=currency),
        value=format_plain(credit_minor, currency),
        key=f"refund_amount_{customer_id}_{currency}_{credit_minor}",
    )
    paid_on = st.date_input(
        t("Paid back on"), value=ui.today(), key="refund_date", format=date_input_format()
    )
    note = st.text_input(t("Note"), key="refund_note", placeholder=t("e.g. the account it went to"))
    if st.button(t("Mark credit refunded"), key="credit_refund"):
        ui.page_action(
            lambda session: refund_customer_credit(
                session,
                actor=user.username,
                customer_id=customer_id,
                currency=currency,
                amount=amount,
                paid_on=paid_on,
                note=note,
            ),
            permission="edit",
            action="credit.refund",
            success=lambda result: t(
                "{amount} credit marked as paid back.",
                amount=ui.money(from_minor(result.total_minor, currency), currency),
            ),
        )


def _customer_credit_section() -> None:
    """Customers who paid more than they owe, and what finance can do with that credit."""
    st.subheader(t("Customer credit"))
    offset, limit = ui.paging("credit_holders", None)
    credit = data.customer_credit_page(offset=offset, limit=limit)
    ui.show_table(credit, key="credit_table", empty=t("No customer holds credit."))
    if credit.total:
        ui.pager("credit_holders", credit)
    ui.export_buttons(
        key="credit_export",
        columns=credit.columns,
        rows=lambda: with_totals(credit.columns, customer_credit_rows()),
        total=credit.total,
        file_stem="customer-credit",
        user=user,
    )
    if not credit.rows or not user.can("edit"):
        return
    # A customer holds credit per currency, so the same customer may be on several rows.
    holders = dict(enumerate(credit.rows))
    shown = {
        i: f"{holder.customer} · {ui.money(holder.credit, holder.currency)}"
        for i, holder in holders.items()
    }
    chosen = st.selectbox(
        t("Customer with credit"),
        list(holders),
        format_func=shown.__getitem__,
        key="credit_holder",
    )
    customer_id, holder = credit.ids[chosen], holders[chosen]
    currency, credit_minor = holder.currency, to_minor(holder.credit, holder.currency)
    apply_tab, refund_tab = st.tabs([t("Apply credit to invoice"), t("Mark credit refunded")])
    with apply_tab:
        _apply_credit(customer_id, currency, credit_minor)
    with refund_tab:
        _refund_credit(customer_id, currency, credit_minor)


_customer_credit_section()
statement_section(user, search=search)
