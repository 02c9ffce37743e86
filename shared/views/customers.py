"""Invoicing → Customers: the customer list and pickers, one customer's details, and the
customers holding credit."""

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import Row, Select, func, or_, select

from shared.db import read_session
from shared.exports import Column, Table
from shared.models import Customer, Invoice
from shared.money import from_minor
from shared.text import search_text
from shared.views.common import Window, contains, count, name_contains, page, stream

CUSTOMER_COLUMNS = (
    Column("name", "Name"),
    Column("registration_number", "Registration number"),
    Column("vat_number", "VAT number"),
    Column("email", "E-mail"),
    Column("cc_emails", "CC e-mails"),
    Column("language", "Language"),
    Column("address", "Address"),
)
CREDIT_COLUMNS = (
    Column("customer", "Customer"),
    Column("currency", "Currency"),
    Column("credit", "Credit", "money"),
)


class CustomerRow(NamedTuple):
    name: str
    registration_number: str
    vat_number: str
    email: str
    cc_emails: str
    language: str
    address: str


class CreditRow(NamedTuple):
    customer: str
    currency: str
    credit: Decimal


class CustomerOption(NamedTuple):
    id: int
    name: str


@dataclass(frozen=True)
class CustomerView:
    id: int
    name: str
    registration_number: str
    vat_number: str
    email: str
    cc_emails: str
    address: str
    language: str
    country: str
    peppol_scheme: str
    peppol_id: str
    sending_method: str
    payment_terms_days: int


def _customer_conditions(search: str) -> list:
    search = search_text(search)
    if not search:
        return []
    return [
        or_(
            name_contains(search),
            contains(Customer.email, search),
            Customer.registration_number == search,
            Customer.vat_number == search,
        )
    ]


def _customer_row(row: Row) -> CustomerRow:
    return CustomerRow(
        name=row.name,
        registration_number=row.registration_number,
        vat_number=row.vat_number,
        email=row.email,
        cc_emails=row.cc_emails,
        language=row.language.upper(),
        address=row.address,
    )


def _customer_select(conditions: list) -> Select:
    return (
        select(
            Customer.id,
            Customer.name,
            Customer.registration_number,
            Customer.vat_number,
            Customer.email,
            Customer.cc_emails,
            Customer.language,
            Customer.address,
        )
        .where(*conditions)
        .order_by(Customer.name, Customer.id)
    )


def customer_page(search: str = "", *, offset: int = 0, limit: int = 50) -> Table:
    conditions = _customer_conditions(search)

    def query(session, dialect: str, window: Window):
        return count(session, Customer, conditions), window.apply(_customer_select(conditions))

    return page(CUSTOMER_COLUMNS, query, _customer_row, offset=offset, limit=limit)


def customer_rows(search: str = "") -> Iterator[CustomerRow]:
    """Every row ``customer_page`` pages through, in its order, for an export."""
    return stream(_customer_select(_customer_conditions(search)), _customer_row)


def customer_options(search: str = "", *, limit: int = 100) -> tuple[CustomerOption, ...]:
    """Customers for a picker; a search narrows thousands of customers down."""
    with read_session() as session:
        rows = session.execute(
            select(Customer.id, Customer.name)
            .where(*_customer_conditions(search))
            .order_by(Customer.name, Customer.id)
            .limit(limit)
        ).all()
    return tuple(CustomerOption(id=r.id, name=r.name) for r in rows)


def customer_id_by_link(link: str) -> int | None:
    """The customer a link names: by registration number, else by id."""
    link = link.strip()
    if not link:
        return None
    with read_session() as session:
        found = session.execute(
            select(Customer.id).where(Customer.registration_number == link).limit(1)
        ).scalar_one_or_none()
        if found is None and link.isdigit():
            found = session.execute(
                select(Customer.id).where(Customer.id == int(link))
            ).scalar_one_or_none()
        return found


def customer_view(customer_id: int) -> CustomerView | None:
    with read_session() as session:
        c = session.get(Customer, customer_id)
        if c is None:
            return None
        return CustomerView(
            id=c.id,
            name=c.name,
            registration_number=c.registration_number,
            vat_number=c.vat_number,
            email=c.email,
            cc_emails=c.cc_emails,
            address=c.address,
            language=c.language,
            country=c.country,
            peppol_scheme=c.peppol_scheme,
            peppol_id=c.peppol_id,
            sending_method=c.sending_method,
            payment_terms_days=c.payment_terms_days,
        )


def _credit_row(row: Row) -> CreditRow:
    return CreditRow(
        customer=row.name, currency=row.currency, credit=from_minor(row.credit, row.currency)
    )


def _credit_select() -> Select:
    """Customers holding credit (what their invoices hold below zero), per currency."""
    credit = func.sum(-Invoice.open_minor)
    grouped = (
        select(Invoice.customer_id, Invoice.currency, credit.label("credit"))
        .where(Invoice.open_minor < 0)
        # Currency first: grouped by customer first, SQLite (no ANALYZE) walks every invoice
        # in the customer index for its order — 2 s at 1 M invoices — instead of taking the
        # few below zero from the open_minor index.
        .group_by(Invoice.currency, Invoice.customer_id)
        .subquery()
    )
    return (
        select(
            grouped.c.customer_id.label("id"),
            Customer.name,
            grouped.c.currency,
            grouped.c.credit,
        )
        .join(Customer, Customer.id == grouped.c.customer_id)
        .order_by(Customer.name, Customer.id, grouped.c.currency)
    )


def customer_credit_page(*, offset: int = 0, limit: int = 50) -> Table:
    """Customers holding credit, per currency; ids are the customers'."""

    def query(session, dialect: str, window: Window):
        holders = _credit_select().subquery()
        total = session.execute(select(func.count()).select_from(holders)).scalar_one()
        return total, window.apply(_credit_select())

    return page(CREDIT_COLUMNS, query, _credit_row, offset=offset, limit=limit)


def customer_credit_rows() -> Iterator[CreditRow]:
    """Every row ``customer_credit_page`` pages through, in its order, for an export."""
    return stream(_credit_select(), _credit_row)
