"""Settings → Numbering: which prefixes a series may have, and what changes once it is used."""

import pytest
from sqlmodel import col, select

from shared.db import read_session, write_session
from shared.errors import ValidationError
from shared.invoicing import DraftInput, LineInput, create_draft, issue_invoice
from shared.models import AuditLog, NumberSeries
from shared.number_series import (
    MAX_DIGITS,
    PREFIX_LIMIT,
    SeriesInput,
    add_series,
    change_series,
    longest_reference,
    set_active,
    set_default,
)
from shared.numbering import CREDIT_NOTE, INVOICE
from tests.utils.factories import make_customer


def _add(prefix: str, *, document_type: str = INVOICE, **shape) -> NumberSeries:
    with write_session() as session:
        return add_series(
            session,
            actor="test",
            data=SeriesInput(document_type=document_type, prefix=prefix, **shape),
        )


def _series(prefix: str) -> NumberSeries:
    with read_session() as session:
        return session.exec(select(NumberSeries).where(NumberSeries.prefix == prefix)).one()


def _draft(*, series: str | None = None) -> int:
    customer = make_customer()
    with write_session() as session:
        return create_draft(
            session,
            actor="test",
            data=DraftInput(customer_id=customer.id, lines=[LineInput("Service", "1", "10", "21")]),
            series=series,
        ).id


@pytest.mark.parametrize(
    ("prefix", "digits", "message"),
    [
        ("", 4, "Type a prefix"),
        ("  ", 4, "Type a prefix"),
        ("INV2", 4, "ends with a letter"),  # INV2-2026-0001 next to INV's numbers
        ("INV-2026", 4, "ends with a letter"),  # without a reset: INV's INV-2026-0001
        ("A-1", 4, "ends with a letter"),  # A-1-0001-2: where does the "-2" begin?
        ("RK-", 4, "ends with a letter"),
        ("R/", 4, "ends with a letter"),
        ("RĒĶ", 4, "only A–Z, 0–9, - and /"),  # fine on paper, refused by EveryPay's rules
        ("INV_B", 4, "only A–Z, 0–9, - and /"),
        ("IN VB", 4, "only A–Z, 0–9, - and /"),
        ("X" * (PREFIX_LIMIT + 1), 4, "at most 20 characters"),
        ("SHOP", 2, "3 to 10 digits"),
        ("SHOP", MAX_DIGITS + 1, "3 to 10 digits"),
        ("KR", 4, "credit note series KR has that prefix already"),  # another type's
        ("inv", 4, "invoice series INV has that prefix already"),  # capitals make it INV
    ],
)
def test_a_prefix_whose_numbers_could_not_be_used_is_refused(db, prefix, digits, message):
    with pytest.raises(ValidationError, match=message):
        _add(prefix, digits=digits)
    with read_session() as session:
        assert len(session.exec(select(NumberSeries)).all()) == 2  # the seeded INV and KR


def test_a_series_is_for_invoices_or_credit_notes(db):
    with pytest.raises(ValidationError, match="Choose invoices or credit notes"):
        _add("SHOP", document_type="receipt")


def test_the_longest_reference_of_the_widest_allowed_series_fits_every_limit(db):
    """The column limits (prefix 20, number 40) leave room for MAX_DIGITS; the longest
    partial-payment reference still passes the callback service and the pay link."""
    from shared.callbacks.intake import validation_errors
    from shared.linkpay.links import REFERENCE_PATTERN

    prefix = "R/" + "X" * (PREFIX_LIMIT - 2)
    series = _add(prefix, digits=MAX_DIGITS)
    reference = longest_reference(prefix=prefix, yearly_reset=True, digits=MAX_DIGITS)
    number = reference.rsplit("-", 1)[0]
    assert len(number) <= 40
    assert REFERENCE_PATTERN.fullmatch(reference)
    assert "order_reference" not in validation_errors(
        {"payment_reference": "a" * 64, "order_reference": reference}
    )
    assert series.prefix == prefix


def test_a_new_series_is_stored_in_capitals_and_audited(db):
    series = _add("r/lv", yearly_reset=False, digits=5)
    assert (series.prefix, series.yearly_reset, series.digits) == ("R/LV", False, 5)
    assert (series.is_default, series.active) == (False, True)
    with read_session() as session:
        audit = session.exec(
            select(AuditLog).where(col(AuditLog.action) == "number_series.add")
        ).one()
    assert audit.details["prefix"] == "R/LV"


def test_one_default_per_type_and_the_default_is_not_deactivated(any_db):
    shop = _add("SHOP")
    with (
        pytest.raises(ValidationError, match="make another series the default first"),
        write_session() as session,
    ):
        set_active(session, actor="test", series_id=_series("INV").id, active=False)
    with write_session() as session:
        set_default(session, actor="test", series_id=shop.id)
    assert (_series("SHOP").is_default, _series("INV").is_default) == (True, False)
    assert _series("KR").is_default  # the credit notes' default is another type's
    with write_session() as session:
        set_active(session, actor="test", series_id=_series("INV").id, active=False)
    assert _draft() and _series("SHOP").is_default
    with pytest.raises(ValidationError, match="series INV is deactivated"):
        _draft(series="INV")
    with (
        pytest.raises(ValidationError, match="deactivated; activate it first"),
        write_session() as session,
    ):
        set_default(session, actor="test", series_id=_series("INV").id)


def test_a_draft_is_issued_in_its_series_unless_that_was_deactivated_meanwhile(db):
    _add("SHOP", yearly_reset=False, digits=5)
    draft_id = _draft(series="SHOP")
    with write_session() as session:
        set_active(session, actor="test", series_id=_series("SHOP").id, active=False)
    with (
        pytest.raises(ValidationError, match="series SHOP is deactivated"),
        write_session() as session,
    ):
        issue_invoice(session, actor="test", invoice_id=draft_id)
    with write_session() as session:
        set_active(session, actor="test", series_id=_series("SHOP").id, active=True)
    with write_session() as session:
        assert issue_invoice(session, actor="test", invoice_id=draft_id).number == "SHOP-00001"


def _change(prefix: str, new_prefix: str, **shape) -> NumberSeries:
    with write_session() as session:
        return change_series(
            session,
            actor="test",
            series_id=_series(prefix).id,
            data=SeriesInput(document_type=INVOICE, prefix=new_prefix, **shape),
        )


def test_an_unused_series_changes_its_prefix_and_format(db):
    _add("SHOP")
    changed = _change("SHOP", "WEB", yearly_reset=False, digits=6)
    assert (changed.prefix, changed.yearly_reset, changed.digits) == ("WEB", False, 6)
    with pytest.raises(ValidationError, match="credit note series KR has that prefix"):
        _change("WEB", "KR")


def test_a_series_with_a_draft_or_an_issued_number_keeps_its_prefix_and_format(db):
    _add("SHOP")
    draft_id = _draft(series="SHOP")
    with pytest.raises(ValidationError, match="Series SHOP has 1 draft: its prefix"):
        _change("SHOP", "WEB")
    with write_session() as session:
        issue_invoice(session, actor="test", invoice_id=draft_id)
    with pytest.raises(ValidationError, match="Series SHOP has issued numbers"):
        _change("SHOP", "SHOP", digits=5)
    with pytest.raises(ValidationError, match="Series KR has issued numbers"):
        _issue_credit_note_and_rename_kr()


def _issue_credit_note_and_rename_kr() -> None:
    from shared.ledger.credit_notes import issue_credit_note
    from tests.utils.factories import make_invoice

    invoice = make_invoice(channel=None)
    with write_session() as session:
        issue_credit_note(session, actor="test", invoice_id=invoice.id, reason="x", full=True)
    with write_session() as session:
        change_series(
            session,
            actor="test",
            series_id=_series("KR").id,
            data=SeriesInput(document_type=CREDIT_NOTE, prefix="CN"),
        )
