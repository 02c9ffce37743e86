"""The Customers page's Statement section: a customer's statement (salīdzināšanās akts)
for a period as a table, its PDF, sending it by e-mail, and the customer's aging."""

from datetime import date

import streamlit as st

from dashboard import data, ui
from dashboard.i18n import date_input_format, date_text, error_text, language, t, t_context
from shared import reports
from shared.money import from_minor
from shared.statements import (
    StatementSent,
    load_statement,
    send_statement_email,
    statement_file_name,
    statement_pdf,
    statement_table,
)
from shared.users import can

_statement = st.cache_data(ttl=data.LIST_TTL, show_spinner=False)(load_statement)
_aging = st.cache_data(ttl=data.REPORT_TTL, show_spinner=False)(reports.customer_aging)


def statement_section(user: ui.SessionUser, *, search: str) -> None:
    st.subheader(t("Statement"))
    st.caption(
        t(
            "What the customer owed at the start of the period, every invoice, payment, "
            "credit note and refund in it, and what they owe at its end: the salīdzināšanās "
            "akts they sign and send back."
        )
    )
    names = dict(data.customer_options(search))
    if not names:
        st.info(t("No customers to show a statement for."))
        return
    customer_id = st.selectbox(
        t("Customer"),
        list(names),
        format_func=names.get,
        index=None,
        placeholder=t("Choose a customer"),
        help=t("Lists the customers matching the search above, the first 100 by name."),
        key="stmt_customer",
    )
    if customer_id is None:
        return
    today = ui.today()
    left, right = st.columns(2)
    date_from = left.date_input(
        t("From"), value=date(today.year, 1, 1), key="stmt_from", format=date_input_format()
    )
    date_to = right.date_input(t("To"), value=today, key="stmt_to", format=date_input_format())
    if date_from > date_to:
        st.error(t("“From” must be on or before “To”."))
        return

    st.markdown(t("**Aging today**"))
    ui.show_table(
        _aging(customer_id=customer_id, today=today),
        key="stmt_aging",
        empty=t("Nothing outstanding."),
    )

    statement = _statement(customer_id=customer_id, date_from=date_from, date_to=date_to)
    st.markdown(
        t(
            "**Statement {date_from} – {date_to}**",
            date_from=date_text(date_from),
            date_to=date_text(date_to),
        )
    )
    ui.show_table(
        statement_table(statement, language=language(), wording=t),
        key="stmt_table",
        empty=t("No invoices or payments for this customer up to the end of the period."),
    )
    for figures in statement.currencies:
        owed = figures.closing_minor
        st.metric(
            t(
                "Closing balance on {day} ({currency})",
                day=date_text(date_to),
                currency=figures.currency,
            ),
            ui.money(from_minor(owed, figures.currency), figures.currency),
            help=t("Below zero: the customer's credit, what the company owes them."),
        )
    _pdf_download(user, customer_id=customer_id, date_from=date_from, date_to=date_to)
    if user.can("edit"):
        _send_form(
            statement.email,
            statement.cc_emails,
            customer_id,
            date_from,
            date_to,
            username=user.username,
        )


def _pdf_download(
    user: ui.SessionUser, *, customer_id: int, date_from: date, date_to: date
) -> None:
    username, role = user.username, user.role

    def pdf_bytes() -> bytes:
        # Runs on its own thread when clicked, where Streamlit calls are ignored, so the
        # role is checked here as well.
        if not can(role, "view"):
            raise PermissionError("role may not see statements")
        return statement_pdf(
            customer_id=customer_id, date_from=date_from, date_to=date_to, actor=username
        )

    st.download_button(
        t("Download PDF"),
        data=pdf_bytes,
        file_name=statement_file_name(
            customer_id=customer_id, date_from=date_from, date_to=date_to
        ),
        mime="application/pdf",
        icon=":material/download:",
        key="stmt_pdf",
    )


def _send_form(
    to: str, cc: str, customer_id: int, date_from: date, date_to: date, *, username: str
) -> None:
    with st.form("stmt_send"):
        st.markdown(t("**Send by e-mail**"))
        to = st.text_input(t_context("e-mail", "To"), value=to, key=f"stmt_to_{customer_id}")
        cc = st.text_input(t("CC"), value=cc, key=f"stmt_cc_{customer_id}")
        submitted = st.form_submit_button(t("Send by e-mail"), icon=":material/send:")
    if not submitted:
        return

    def send() -> StatementSent:
        with st.spinner(t("Sending…")):
            return send_statement_email(
                customer_id=customer_id,
                date_from=date_from,
                date_to=date_to,
                actor=username,
                to=to,
                cc=cc,
            )

    ui.page_action(
        send,
        permission="edit",
        action="customer.statement_email",
        own_transaction=True,
        on_error=lambda error: st.error(error_text(error), icon=":material/error:"),
        rerun=False,
        success=lambda sent: (
            ui.Flash(
                t("The statement was not sent: {error}", error=sent.error),
                "error",
                ":material/error:",
            )
            if sent.error
            else t("Statement sent to {recipients}.", recipients=sent.recipients)
        ),
    )
