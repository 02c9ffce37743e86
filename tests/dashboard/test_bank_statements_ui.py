"""Money → Bank statements: import with the importer's report, entries with match state
and reason, actions on unmatched and booked transactions, reconciliation, export; a
manager sees it all and can change nothing."""

from datetime import date

from sqlmodel import col, select

from shared.bank.references import creditor_reference
from shared.db import read_session
from shared.models import BankStatementTransaction, Invoice, InvoiceStatus, MatchState
from tests.bank.builders import OTHER_IBAN, Entry, Tx, camt053
from tests.bank.test_importing import add_company_account
from tests.dashboard.conftest import app_as, download_links, no_exceptions, open_page, texts
from tests.utils.factories import make_invoice


def _statement(invoice: Invoice, *, iban: str | None = None) -> bytes:
    entries = [
        Entry(
            "121.00",
            ref="B-1",
            txs=[Tx(name="Anna Bērziņa", rf=creditor_reference(invoice_id=invoice.id))],
        ),
        Entry("40.00", ref="B-2", txs=[Tx(name="Owner", text="Capital")]),
    ]
    return camt053(entries=entries, **({"iban": iban} if iban else {}))


def _transactions() -> list[BankStatementTransaction]:
    with read_session() as session:
        return list(
            session.exec(
                select(BankStatementTransaction).order_by(col(BankStatementTransaction.id))
            ).all()
        )


def _import(at, content: bytes, name: str = "day.xml"):
    _statement_month(at)
    at.file_uploader(key="bs_upload").upload(name, content, "text/xml").run()
    return at.button(key="bs_import").click().run()


def _statement_month(at):
    """The reconciliation's period set to the statements' month (November 2026): its
    default, the current month, moves on with the clock. Takes effect at the next run."""
    at.date_input(key="bs_from").set_value(date(2026, 11, 1))
    return at.date_input(key="bs_to").set_value(date(2026, 11, 30))


def test_finance_imports_sees_the_matches_and_acts_on_them(db):
    add_company_account()
    invoice = make_invoice(channel=None)
    at = open_page(app_as("finance"), "bank_statements")
    no_exceptions(at)
    assert "No statements imported yet. Import one above." in texts(at)
    at = _import(at, _statement(invoice))
    no_exceptions(at)
    page = texts(at)
    assert "entries added 2, already known 0" in page
    assert "Matched 2 transactions: booked automatically 1, unmatched 1." in page
    with read_session() as session:
        assert session.get(Invoice, invoice.id).status == InvoiceStatus.PAID
    entries = at.dataframe[2].value
    assert list(entries["Match state"]) == ["Booked automatically", "Unmatched"]
    assert entries["Reason"].iloc[0].startswith("RF reference RF")
    summary = at.dataframe[0].value
    assert list(summary["Match state"]) == ["Booked automatically", "Unmatched"]
    assert [label for label, _ in download_links(at)] == ["Download CSV", "Download XLSX"]

    booked, unmatched = _transactions()
    at.selectbox(key="bs_tx").set_value(unmatched.id).run()
    at.text_input(key="bs_note").input("Capital from the owner")
    at.button(key="bs_not_customer").click().run()
    no_exceptions(at)
    assert "Marked as not a customer payment." in texts(at)
    assert _transactions()[1].match_state == MatchState.NOT_CUSTOMER

    at.selectbox(key="bs_tx").set_value(booked.id).run()
    at.text_input(key="bs_undo_reason").input("Paid by the wrong customer")
    at.checkbox(key="bs_undo_confirm").check().run()
    at.button(key="bs_undo").click().run()
    no_exceptions(at)
    assert "undone; back to Unmatched" in texts(at)
    with read_session() as session:
        assert session.get(Invoice, invoice.id).status == InvoiceStatus.ISSUED
    assert _transactions()[0].match_state == MatchState.UNMATCHED


def test_a_refused_file_says_why_and_adds_nothing(db):
    add_company_account()
    invoice = make_invoice(channel=None)
    at = _import(
        open_page(app_as("finance"), "bank_statements"), _statement(invoice, iban=OTHER_IBAN)
    )
    no_exceptions(at)
    [error] = [e.value for e in at.error]
    assert error.startswith(
        f"day.xml: refused, nothing added. The statement is for account {OTHER_IBAN}"
    )
    assert _transactions() == []


def test_a_manager_sees_statements_but_no_write_controls(db):
    add_company_account()
    invoice = make_invoice(channel=None)
    at = _import(open_page(app_as("finance"), "bank_statements"), _statement(invoice))
    at = _statement_month(open_page(app_as("manager"), "bank_statements")).run()
    no_exceptions(at)
    assert list(at.dataframe[2].value["Match state"]) == ["Booked automatically", "Unmatched"]
    keys = {widget.key for widget in (*at.button, *at.get("file_uploader"))}
    assert not keys & {"bs_import", "bs_rematch", "bs_upload", "bs_undo", "bs_not_customer"}
    assert not [s for s in at.selectbox if s.key == "bs_tx"]


def test_the_invoice_page_tells_finance_why_there_is_no_sepa_qr_code(db):
    invoice = make_invoice(channel=None)
    at = app_as("finance")
    at.query_params["invoice"] = str(invoice.id)
    at = open_page(at, "invoice_detail")
    no_exceptions(at)
    assert "No SEPA QR code on this invoice's PDF and page" in texts(at)
    add_company_account()
    at = at.run()
    assert "No SEPA QR code" not in texts(at)
    assert "Bank transfer reference (RF): **RF" in texts(at)


def test_a_suggestion_is_accepted_with_one_click(db):
    add_company_account()
    invoice = make_invoice(channel=None)  # customer "Anna Bērziņa SIA"
    content = camt053(entries=[Entry("121.00", ref="B-1", txs=[Tx(name="ANNA BERZINA SIA")])])
    at = _import(open_page(app_as("finance"), "bank_statements"), content)
    [tx] = _transactions()
    assert tx.match_state == MatchState.SUGGESTED
    assert f"**Suggested:** Anna Bērziņa SIA — 121.00 on {invoice.number}" in texts(at)
    at.button(key="bs_accept").click().run()
    no_exceptions(at)
    assert "Booked 121.00 EUR as suggested." in texts(at)
    with read_session() as session:
        assert session.get(Invoice, invoice.id).status == InvoiceStatus.PAID
