"""Settings → Numbering, the series pickers and the back-dated issue from the dashboard."""

from datetime import date

import streamlit as st
from sqlmodel import select

from shared.db import read_session, write_session
from shared.models import AuditLog, CreditNote, Invoice, NumberSeries
from shared.number_series import SeriesInput, add_series
from tests.dashboard.conftest import app_as, no_exceptions, open_page, texts
from tests.utils.factories import make_channel, make_customer, make_invoice


def _series() -> dict[str, NumberSeries]:
    with read_session() as session:
        return {s.prefix: s for s in session.exec(select(NumberSeries)).all()}


def _add(prefix: str, document_type: str = "invoice") -> None:
    with write_session() as session:
        add_series(
            session, actor="test", data=SeriesInput(document_type=document_type, prefix=prefix)
        )


def test_an_admin_adds_a_series_makes_it_the_default_and_deactivates_the_old_one(db):
    at = open_page(app_as("admin"), "numbering")
    no_exceptions(at)
    at.text_input(key="ns_new_prefix").input("INV2")
    at.button(key="ns_add").click().run()
    assert any("ends with a letter" in e.value for e in at.error)

    at.text_input(key="ns_new_prefix").input("web")
    at.checkbox(key="ns_new_yearly").uncheck()
    at.number_input(key="ns_new_digits").set_value(5)
    at.button(key="ns_add").click().run()
    no_exceptions(at)
    assert "Series WEB added." in texts(at)
    web = _series()["WEB"]
    assert (web.yearly_reset, web.digits, web.is_default) == (False, 5, False)
    assert "WEB-00001" in at.dataframe[0].value["First number this year"].tolist()

    at.selectbox(key="ns_pick").set_value(web.id).run()
    at.button(key="ns_default").click().run()
    at.selectbox(key="ns_pick").set_value(_series()["INV"].id).run()
    at.button(key="ns_toggle").click().run()
    no_exceptions(at)
    series = _series()
    assert (series["WEB"].is_default, series["INV"].is_default, series["INV"].active) == (
        True,
        False,
        False,
    )


def test_a_series_that_issued_numbers_offers_no_prefix_change(db):
    make_invoice(channel=None)
    at = open_page(app_as("finance"), "numbering")
    at.selectbox(key="ns_pick").set_value(_series()["INV"].id).run()
    assert "INV has issued numbers" in texts(at)
    assert "ns_change" not in {b.key for b in at.button}


def test_the_draft_editor_offers_the_series_only_when_there_is_a_choice(db):
    make_customer()
    at = open_page(app_as("finance"), "invoices")
    at.button(key="invoice_new").click().run()
    assert "new_invoice_series" not in {s.key for s in at.selectbox}

    _add("WEB")
    st.cache_data.clear()  # the series pickers are cached like every list
    at = open_page(app_as("admin"), "invoices")
    at.button(key="invoice_new").click().run()
    picker = at.selectbox(key="new_invoice_series")
    assert (picker.value, picker.options) == ("INV", ["INV", "WEB"])  # the default first
    picker.set_value("WEB").run()
    at.text_input(key="new_invoice_desc_0").input("Consulting")
    at.text_input(key="new_invoice_qty_0").input("1")
    at.text_input(key="new_invoice_price_0").input("10")
    at.button(key="new_invoice_save").click().run()
    no_exceptions(at)
    with read_session() as session:
        assert session.exec(select(Invoice.series)).one() == "WEB"


def test_a_back_dated_invoice_is_issued_after_the_person_confirms(db):
    make_invoice(channel=None, issue_date=date(2026, 11, 30))
    draft = make_invoice(channel=None, issue=False, issue_date=date(2026, 1, 15))
    at = app_as("finance")
    at.query_params["invoice"] = str(draft.id)
    at = open_page(at, "invoice_detail")

    at.button(key="detail_issue").click().run()
    no_exceptions(at)
    assert [w.value for w in at.warning] == [
        "INV-2026-0001 is dated 30.11.2026; this invoice, dated 15.01.2026, would get "
        "INV-2026-0002 after it. Issue anyway?"
    ]
    with read_session() as session:
        assert session.get(Invoice, draft.id).number is None

    at.button(key="detail_issue_anyway").click().run()
    no_exceptions(at)
    assert "Invoice INV-2026-0002 issued." in texts(at)
    with read_session() as session:
        audit = session.exec(
            select(AuditLog).where(
                AuditLog.action == "invoice.issue", AuditLog.entity_id == str(draft.id)
            )
        ).one()
    assert audit.actor == "finance"
    assert audit.details["confirmed_after"] == "INV-2026-0001"


def test_a_back_dated_issue_can_be_left_undone(db):
    make_invoice(channel=None, issue_date=date(2026, 11, 30))
    draft = make_invoice(channel=None, issue=False, issue_date=date(2026, 1, 15))
    at = app_as("finance")
    at.query_params["invoice"] = str(draft.id)
    at = open_page(at, "invoice_detail")
    at.button(key="detail_issue").click().run()
    at.button(key="detail_issue_not").click().run()
    no_exceptions(at)
    assert not at.warning
    with read_session() as session:
        assert session.get(Invoice, draft.id).number is None


def test_the_credit_note_form_numbers_in_the_chosen_series(db):
    invoice = make_invoice(channel=make_channel())
    _add("KRW", document_type="credit_note")
    at = app_as("finance")
    at.query_params["invoice"] = str(invoice.id)
    at = open_page(at, "invoice_detail")
    assert at.selectbox(key="cn_series").options == ["KR", "KRW"]
    at.selectbox(key="cn_series").set_value("KRW")
    at.text_input(key="cn_reason").input("Ordered by mistake")
    at.button(key="cn_issue").click().run()
    no_exceptions(at)
    with read_session() as session:
        note = session.exec(select(CreditNote)).one()
    assert (note.number, note.series) == (f"KRW-{date.today().year}-0001", "KRW")
