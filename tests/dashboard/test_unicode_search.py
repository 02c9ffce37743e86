"""Searching customers by name ignores case in Latvian (and every other alphabet) on both
backends, and a control character typed into a search box is no database error."""

from datetime import date

import pytest
import sqlalchemy as sa
from alembic import command

from shared.db import get_engine, write_session
from shared.models import Customer
from shared.operations.migrate import alembic_config, upgrade_to_head
from shared.views.audit_log import AuditFilter, audit_page
from shared.views.callbacks import CallbackFilter, callback_page
from shared.views.customers import customer_options, customer_page
from shared.views.invoices import InvoiceFilter, invoice_page
from shared.views.payments import PaymentFilter, payment_page
from tests.utils.factories import make_channel, make_customer, make_invoice

TODAY = date(2026, 5, 20)
TZ = "Europe/Riga"
EDNICA = "SIA Jūrmalas Ēdnīca & Co"


@pytest.fixture
def ednica(any_db):
    channel = make_channel()
    customer = make_customer(name=EDNICA, email="rekini@ednica.example")
    other = make_customer(name="Anna SIA", email="anna@example.lv")
    invoice = make_invoice(channel=channel, customer=customer)
    make_invoice(channel=channel, customer=other)
    return customer, invoice


def _customer_names(search: str) -> list[str]:
    return [row[0] for row in customer_page(search).rows]


def _invoice_numbers(customer: str) -> list[str]:
    table = invoice_page(InvoiceFilter(customer=customer), today=TODAY)
    return [row[0] for row in table.rows]


# The last is typed with combining macrons (E + U+0304), as some keyboards and PDFs give it.
SEARCHES = ["ēdnīca", "ĒDNĪCA", "jūrmalas", "Ēdnīca & co", "E\u0304DNI\u0304CA"]


@pytest.mark.parametrize("search", SEARCHES)
def test_latvian_letters_match_in_any_case(ednica, search):
    _, invoice = ednica
    assert _customer_names(search) == [EDNICA]
    assert [name for _, name in customer_options(search)] == [EDNICA]
    assert _invoice_numbers(search) == [invoice.number]


def test_ascii_search_and_wildcards_still_work(ednica):
    assert _customer_names("anna") == ["Anna SIA"]
    assert _customer_names("SIA") == ["Anna SIA", EDNICA]
    # LIKE's wildcards are searched for literally.
    assert _customer_names("%") == []
    assert _customer_names("_") == []


def test_a_renamed_customer_is_found_by_the_new_name_only(ednica):
    customer, invoice = ednica
    with write_session() as session:
        session.get(Customer, customer.id).name = "SIA Ūdensrozes"
    assert _customer_names("ēdnīca") == []
    assert _customer_names("ŪDENS") == ["SIA Ūdensrozes"]
    assert _invoice_numbers("ūdens") == [invoice.number]


def test_control_characters_in_search_boxes_are_no_database_error(ednica):
    _, invoice = ednica
    typed = "\x00\x07\u2028"
    assert _customer_names(f"ēd{typed}nīca") == [EDNICA]
    assert _invoice_numbers(f"ēd{typed}nīca") == [invoice.number]
    assert invoice_page(InvoiceFilter(number=typed), today=TODAY).total == 2
    number = invoice_page(InvoiceFilter(number=f"{invoice.number}\x00"), today=TODAY)
    assert number.ids == (invoice.id,)
    assert invoice_page(InvoiceFilter(number="0\x00"), today=TODAY).total == 2
    assert payment_page(PaymentFilter(reference=f"x{typed}"), tz=TZ).total == 0
    assert callback_page(CallbackFilter(reference=f"x{typed}"), tz=TZ).total == 0
    audit = audit_page(AuditFilter(actor=f"x{typed}", action=f"x{typed}"), tz=TZ)
    assert audit.total == 0


def test_the_migration_fills_the_search_column_of_existing_customers(any_db):
    with get_engine(any_db).begin() as connection:
        config = alembic_config(any_db)
        config.attributes["connection"] = connection
        command.downgrade(config, "0009")
        connection.execute(
            sa.text(
                "INSERT INTO customer (name, registration_number, vat_number, email, cc_emails,"
                " address, language, created_at, updated_at) VALUES (:name, '', '', '', '', '',"
                " 'lv', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            {"name": EDNICA},
        )
    upgrade_to_head(any_db)
    assert _customer_names("ĒDNĪCA") == [EDNICA]
