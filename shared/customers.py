"""Customers: who invoices go to, in which language, to which e-mail addresses."""

import re

from sqlmodel import Session

from shared.audit import record_audit
from shared.company import EMAIL_PATTERN
from shared.errors import ValidationError
from shared.models import Customer, utcnow
from shared.text import clean_multiline, clean_single_line
from shared.users import require_permission

LANGUAGES = {"lv": "Latvian", "en": "English"}
CC_LIMIT = 1000  # Customer.cc_emails


def parse_email(text: str, *, field: str = "email") -> str:
    email = clean_single_line(text, field=field, label="E-mail", max_length=254)
    if email and not EMAIL_PATTERN.fullmatch(email):
        raise ValidationError(f"{email!r} is not an e-mail address.", field=field)
    return email


def parse_cc_emails(text: str) -> str:
    """Comma, semicolon or newline separated; stored as one comma-separated string."""
    text = clean_multiline(text, field="cc_emails", label="CC", max_length=CC_LIMIT)
    emails = [part for part in re.split(r"[,;\s]+", text) if part]
    bad = [email for email in emails if not EMAIL_PATTERN.fullmatch(email)]
    if bad:
        raise ValidationError(
            f"Not an e-mail address: {', '.join(bad)}. Separate addresses with commas.",
            field="cc_emails",
        )
    joined = ", ".join(dict.fromkeys(emails))
    if len(joined) > CC_LIMIT:
        raise ValidationError(
            f"Too many CC addresses ({CC_LIMIT} characters at most).", field="cc_emails"
        )
    return joined


def _apply(
    customer: Customer,
    *,
    name: str,
    registration_number: str,
    vat_number: str,
    email: str,
    cc_emails: str,
    address: str,
    language: str,
) -> None:
    name = clean_single_line(name, field="name", label="Name", max_length=200)
    if not name:
        raise ValidationError("Give the customer's name.", field="name")
    if language not in LANGUAGES:
        raise ValidationError("Language must be LV or EN.", field="language")
    customer.name = name
    customer.registration_number = clean_single_line(
        registration_number,
        field="registration_number",
        label="Registration number",
        max_length=50,
    )
    customer.vat_number = clean_single_line(
        vat_number, field="vat_number", label="VAT number", max_length=50
    )
    customer.email = parse_email(email)
    customer.cc_emails = parse_cc_emails(cc_emails)
    customer.address = clean_multiline(address, field="address", label="Address", max_length=500)
    customer.language = language
    customer.updated_at = utcnow()


def create_customer(
    session: Session,
    *,
    actor: str,
    name: str,
    registration_number: str = "",
    vat_number: str = "",
    email: str = "",
    cc_emails: str = "",
    address: str = "",
    language: str = "lv",
) -> Customer:
    require_permission(session, actor=actor, permission="edit")
    customer = Customer(name=name)
    _apply(
        customer,
        name=name,
        registration_number=registration_number,
        vat_number=vat_number,
        email=email,
        cc_emails=cc_emails,
        address=address,
        language=language,
    )
    session.add(customer)
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="customer.create",
        entity_type="customer",
        entity_id=customer.id,
        details={"name": customer.name},
    )
    return customer


def update_customer(
    session: Session,
    *,
    actor: str,
    customer_id: int,
    name: str,
    registration_number: str = "",
    vat_number: str = "",
    email: str = "",
    cc_emails: str = "",
    address: str = "",
    language: str = "lv",
) -> Customer:
    require_permission(session, actor=actor, permission="edit")
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise ValidationError("That customer does not exist.")
    _apply(
        customer,
        name=name,
        registration_number=registration_number,
        vat_number=vat_number,
        email=email,
        cc_emails=cc_emails,
        address=address,
        language=language,
    )
    session.add(customer)
    record_audit(
        session,
        actor=actor,
        action="customer.update",
        entity_type="customer",
        entity_id=customer.id,
        details={"name": customer.name},
    )
    return customer
