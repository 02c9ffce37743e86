"""The customer statement: opening balance, lines in date order with a running balance,
closing balance, per currency; its PDF and e-mail in the customer's language."""

import io
from datetime import date

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from shared.config import get_settings
from shared.db import read_session, write_session
from shared.errors import ValidationError
from shared.invoicing import cancel_invoice
from shared.ledger.statement import INVOICE_LINE, customer_statement
from shared.models import AuditLog, Invoice, LedgerEntryKind, LedgerSource
from shared.statements import build_statement_pdf, send_statement_email, statement_pdf
from tests.ledger.conftest import invoice_on, make_company, post
from tests.utils.factories import make_customer, make_invoice

PAYMENT, CREDIT, BACK = (
    LedgerEntryKind.PAYMENT,
    LedgerEntryKind.CREDIT_NOTE,
    LedgerEntryKind.MONEY_BACK,
)
FROM, TO = date(2026, 2, 1), date(2026, 3, 31)


def _statement(customer_id: int, date_from: date = FROM, date_to: date = TO):
    with read_session() as session:
        return customer_statement(
            session, customer_id=customer_id, date_from=date_from, date_to=date_to
        )


def _history():
    """Anna: A (121.00, January) half paid before the period, the rest paid inside it;
    B (200.00) issued inside, credited 21.00, 10.00 of A's payment refunded, a wrong 5.00
    payment on B booked and reversed; C issued after the period, paid after it. Plus
    what must stay off her statement: a draft, a cancelled invoice, Bob's invoice."""
    anna, bob = make_customer(name="Anna SIA"), make_customer(name="Bob OÜ", language="en")
    a = invoice_on(anna, date(2026, 1, 10), "121.00")
    b = invoice_on(anna, date(2026, 2, 15), "200.00")
    c = invoice_on(anna, date(2026, 4, 5), "50.00")
    post(a, PAYMENT, 5000, date(2026, 1, 20), reference="RF18 JAN")
    post(a, PAYMENT, 7100, date(2026, 2, 10), reference="RF18 FEB")
    post(b, CREDIT, 2100, date(2026, 3, 1), source=LedgerSource.CREDIT_NOTE, reference="KR-1")
    post(a, BACK, 1000, date(2026, 3, 15), source=LedgerSource.REFUND)
    post(b, PAYMENT, 500, date(2026, 3, 20))
    post(b, PAYMENT, -500, date(2026, 3, 21), source=LedgerSource.REVERSAL)
    post(c, PAYMENT, 5000, date(2026, 4, 10))
    invoice_on(anna, date(2026, 2, 20), "999.00", issue=False)
    cancelled = invoice_on(anna, date(2026, 2, 21), "888.00")
    with write_session() as session:
        cancel_invoice(session, actor="test", invoice_id=cancelled.id, reason="Wrong buyer")
    invoice_on(bob, date(2026, 2, 22), "777.00")
    return anna, a, b


def test_opening_lines_and_closing_add_up_with_entries_before_inside_and_after(any_db):
    anna, a, b = _history()

    [eur] = _statement(anna.id).currencies

    assert eur.currency == "EUR"
    assert eur.opening_minor == 12100 - 5000  # issued before 1 Feb minus paid before it
    assert [
        (
            line.day,
            line.kind,
            line.document,
            line.debit_minor,
            line.credit_minor,
            line.balance_minor,
        )
        for line in eur.lines
    ] == [
        (date(2026, 2, 10), PAYMENT, a.number, 0, 7100, 0),
        (date(2026, 2, 15), INVOICE_LINE, b.number, 20000, 0, 20000),
        (date(2026, 3, 1), CREDIT, b.number, 0, 2100, 17900),
        (date(2026, 3, 15), BACK, a.number, 1000, 0, 18900),
        (date(2026, 3, 20), PAYMENT, b.number, 0, 500, 18400),
        (date(2026, 3, 21), PAYMENT, b.number, 500, 0, 18900),
    ]
    assert (eur.debit_minor, eur.credit_minor, eur.closing_minor) == (21500, 9700, 18900)


def test_closing_balance_after_every_movement_is_the_sum_of_open_balances(any_db):
    anna, _, _ = _history()

    [eur] = _statement(anna.id, date(2026, 1, 1), date(2030, 12, 31)).currencies

    with read_session() as session:
        open_sum = session.execute(
            select(func.sum(Invoice.open_minor)).where(
                Invoice.customer_id == anna.id, Invoice.status.not_in(("draft", "cancelled"))
            )
        ).scalar_one()
    assert eur.opening_minor == 0
    assert eur.closing_minor == open_sum == 12100 - 12100 + 1000 + 20000 - 2100 + 0 + 0


def test_each_currency_has_its_own_balance_and_a_credit_shows_below_zero(any_db):
    anna = make_customer(name="Anna SIA")
    eur = invoice_on(anna, date(2026, 2, 2), "10.00")
    usd = invoice_on(anna, date(2026, 2, 3), "30.00", currency="USD")
    post(eur, PAYMENT, 1500, date(2026, 2, 4))  # 5.00 more than owed: the customer's credit

    statement = _statement(anna.id)

    assert [(c.currency, c.opening_minor, c.closing_minor) for c in statement.currencies] == [
        ("EUR", 0, -500),
        ("USD", 0, 3000),
    ]
    assert usd.currency == "USD"


def test_an_invoice_and_its_payment_on_the_same_day_read_in_that_order(any_db):
    anna = make_customer()
    paid = invoice_on(anna, date(2026, 2, 5), "40.00")
    post(paid, PAYMENT, 4000, date(2026, 2, 5))

    [eur] = _statement(anna.id).currencies

    assert [(line.kind, line.balance_minor) for line in eur.lines] == [
        (INVOICE_LINE, 4000),
        (PAYMENT, 0),
    ]


def test_a_period_ending_before_it_starts_is_refused(db):
    anna = make_customer()
    with pytest.raises(ValidationError, match="on or before"):
        _statement(anna.id, date(2026, 3, 1), date(2026, 2, 1))


def _pdf_text(pdf: bytes) -> str:
    """The PDF's words, wrapped lines joined again."""
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    return " ".join(text.split())


def test_latvian_pdf_names_the_act_the_parties_the_figures_and_asks_for_a_signature(db):
    make_company()
    anna, a, b = _history()

    text = _pdf_text(
        statement_pdf(customer_id=anna.id, date_from=FROM, date_to=TO, actor="finance")
    )

    assert "Salīdzināšanās akts" in text
    assert "par periodu no 01.02.2026 līdz 31.03.2026" in text
    assert "Baltic Widgets SIA" in text and "Anna SIA" in text
    assert "Sākuma atlikums uz 01.02.2026" in text and "71,00 EUR" in text
    assert "Beigu atlikums uz 31.03.2026" in text and "189,00 EUR" in text
    assert a.number in text and b.number in text and "Kredītrēķins KR-1" in text
    assert "Maksājuma atcelšana" in text and "Atmaksa" in text
    assert "Jūsu parāds uzņēmumam Baltic Widgets SIA ir 189,00 EUR" in text
    assert "Paraksts" in text and "Apstiprinām norādīto atlikumu" in text
    with read_session() as session:
        audit = session.execute(
            select(AuditLog).where(AuditLog.action == "customer.statement_pdf")
        ).scalar_one()
    assert (audit.actor, audit.entity_id) == ("finance", str(anna.id))


def test_english_pdf_says_the_company_owes_a_customer_in_credit(db):
    make_company()
    bob = make_customer(name="Bob Ltd", language="en")
    overpaid = invoice_on(bob, date(2026, 2, 2), "10.00")
    post(overpaid, PAYMENT, 1250, date(2026, 2, 3))

    with read_session() as session:
        statement = customer_statement(session, customer_id=bob.id, date_from=FROM, date_to=TO)
    text = _pdf_text(build_statement_pdf(statement, today=date(2026, 4, 1)))

    assert "Statement of account" in text
    assert "Baltic Widgets SIA owes you 2.50 EUR (your credit)" in text


def test_statement_email_goes_to_the_customer_in_latvian_with_the_pdf(smtp_inbox, monkeypatch):
    monkeypatch.setenv("LINKPAY_MAIL_FROM", "Baltic Widgets <invoices@balticwidgets.lv>")
    get_settings.cache_clear()
    make_company()
    anna, _, _ = _history()

    sent = send_statement_email(customer_id=anna.id, date_from=FROM, date_to=TO, actor="finance")

    assert sent.error is None and sent.recipients == "anna@example.lv"
    [message] = smtp_inbox.messages
    assert (
        message["Subject"] == "Salīdzināšanās akts no Baltic Widgets SIA par 01.02.2026–31.03.2026"
    )
    assert message["To"] == "anna@example.lv"
    assert message["Reply-To"] == "billing@balticwidgets.lv"
    assert message["Message-ID"].endswith("@balticwidgets.lv>")  # not the machine's name
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "Beigu atlikums uz 31.03.2026: 189,00 EUR" in body
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "Salīdzināšanās akts" in html and "189,00 EUR" in html
    assert html.lstrip().startswith("<!DOCTYPE html>") and "billing@balticwidgets.lv" in html
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == f"statement-{anna.id}-{FROM}-{TO}.pdf"
    assert "Salīdzināšanās akts" in _pdf_text(attachment.get_payload(decode=True))


def test_statement_email_refused_by_the_server_is_reported_and_audited(smtp_inbox):
    anna = make_customer()
    make_invoice(channel=None, customer=anna, issue_date=date(2026, 2, 2))
    smtp_inbox.reject = "550 mailbox unavailable"

    sent = send_statement_email(customer_id=anna.id, date_from=FROM, date_to=TO, actor="finance")

    assert sent.error and "550" in sent.error
    with read_session() as session:
        audit = session.execute(
            select(AuditLog).where(AuditLog.action == "customer.statement_email")
        ).scalar_one()
    assert audit.outcome == "failed"


def test_a_customer_without_an_address_needs_a_recipient(db):
    nobody = make_customer(email="")
    with pytest.raises(ValidationError, match="no e-mail address"):
        send_statement_email(customer_id=nobody.id, date_from=FROM, date_to=TO, actor="finance")
