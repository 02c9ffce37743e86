"""A non-EUR invoice's exchange rate to EUR: typed in the draft, checked, stored on both
backends, required to issue; its VAT in EUR rounded with the one money rule."""

from decimal import Decimal

import pytest

from shared.db import read_session, write_session
from shared.errors import ValidationError
from shared.invoicing import DraftInput, LineInput, create_draft, issue_invoice, update_draft
from shared.models import Invoice, InvoiceStatus
from shared.money import eur_minor
from tests.utils.factories import make_customer

LINE = LineInput("Consulting", "1", "174.90", "21")  # VAT 36.73


def _draft(**values) -> DraftInput:
    return DraftInput(customer_id=1, lines=[LINE], **values)


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("0", "more than zero"),
        ("-1.05", "more than zero"),
        ("1.0512345", "at most 6 decimals"),
        ("abc", "not a number"),
        ("1e3", "not a number"),
    ],
)
def test_a_bad_rate_is_refused_naming_the_field(typed, message):
    with pytest.raises(ValidationError, match=message) as error:
        _draft(currency="USD", eur_exchange_rate=typed)
    assert error.value.field == "eur_exchange_rate"


def test_a_rate_is_stored_as_typed_up_to_six_decimals():
    assert _draft(currency="USD", eur_exchange_rate=" 1,051200 ").eur_exchange_rate == "1.0512"
    assert _draft(currency="USD", eur_exchange_rate="1.123456").eur_exchange_rate == "1.123456"


def test_a_eur_invoice_has_no_rate():
    assert _draft(currency="EUR").eur_exchange_rate == ""
    with pytest.raises(ValidationError, match="EUR invoice has no exchange rate"):
        _draft(currency="EUR", eur_exchange_rate="1.05")


def test_vat_in_eur_is_the_vat_divided_by_the_rate_rounded_once():
    assert eur_minor(minor=3673, currency="USD", rate=Decimal("1.0512")) == 3494
    # 0.005 rounds half up, as every amount does.
    assert eur_minor(minor=1, currency="USD", rate=Decimal("2")) == 1


def test_a_usd_invoice_is_issued_only_with_its_rate(any_db):
    customer = make_customer()
    with write_session() as session:
        draft = create_draft(
            session,
            actor="t",
            data=DraftInput(customer_id=customer.id, lines=[LINE], currency="USD"),
        )
        draft_id = draft.id
    with write_session() as session, pytest.raises(ValidationError) as error:
        issue_invoice(session, actor="t", invoice_id=draft_id)
    assert "Exchange rate" in str(error.value) and error.value.field == "eur_exchange_rate"
    with write_session() as session:
        update_draft(
            session,
            actor="t",
            invoice_id=draft_id,
            data=DraftInput(
                customer_id=customer.id, lines=[LINE], currency="USD", eur_exchange_rate="1.0512"
            ),
        )
    with write_session() as session:
        issued = issue_invoice(session, actor="t", invoice_id=draft_id)
        assert issued.status == InvoiceStatus.ISSUED
    with read_session() as session:
        assert session.get(Invoice, draft_id).eur_exchange_rate == "1.0512"


def test_a_eur_invoice_is_issued_without_a_rate(any_db):
    customer = make_customer()
    with write_session() as session:
        draft = create_draft(
            session, actor="t", data=DraftInput(customer_id=customer.id, lines=[LINE])
        )
        issued = issue_invoice(session, actor="t", invoice_id=draft.id)
        assert (issued.status, issued.eur_exchange_rate) == (InvoiceStatus.ISSUED, "")
