"""Customers: who invoices go to, in which language, to which e-mail addresses."""

import re
from typing import Annotated, Self

from pydantic import AfterValidator, model_validator
from sqlmodel import Session, col, select

from shared.audit import record_audit
from shared.company import EMAIL_PATTERN, parse_email
from shared.einvoice.participants import parse_participant_id
from shared.errors import ValidationError
from shared.inputs import FormInput, multiline, single_line
from shared.models import Customer, SendingMethod, utcnow
from shared.tax_numbers import LATVIA, parse_country, parse_registration_number, parse_vat_number
from shared.text import clean_multiline
from shared.users import require_permission

LANGUAGES = {"lv": "Latvian", "en": "English"}
CC_LIMIT = 1000  # Customer.cc_emails
MAX_PAYMENT_TERMS_DAYS = 365


def parse_cc_emails(text: str) -> str:
    """Comma, semicolon or newline separated; stored as one comma-separated string."""
    text = clean_multiline(text, field="cc_emails", label="CC", max_length=CC_LIMIT)
    emails = [part for part in re.split(r"[,;\s]+", text) if part]
    bad = [email for email in emails if not EMAIL_PATTERN.fullmatch(email)]
    if bad:
        raise ValidationError(
            "Not an e-mail address: {addresses}. Separate addresses with commas.",
            addresses=", ".join(bad),
            field="cc_emails",
        )
    joined = ", ".join(dict.fromkeys(emails))
    if len(joined) > CC_LIMIT:
        raise ValidationError(
            "Too many CC addresses ({limit} characters at most).", limit=CC_LIMIT, field="cc_emails"
        )
    return joined


def _required_name(name: str) -> str:
    if not name:
        raise ValidationError("Give the customer's name.", field="name")
    return name


SENDING_METHODS = {
    SendingMethod.EMAIL: "E-mail with PDF",
    SendingMethod.EMAIL_EINVOICE: "E-mail with PDF + e-invoice (XML)",
    SendingMethod.EINVOICE: "E-invoice (XML) download",
}


def _known_sending_method(method: str) -> str:
    if method not in SENDING_METHODS:
        raise ValidationError("Choose a sending method from the list.", field="sending_method")
    return method


def _payment_terms(days: int) -> int:
    if not 0 <= days <= MAX_PAYMENT_TERMS_DAYS:
        raise ValidationError(
            "Payment terms are 0 to {days} days.",
            days=MAX_PAYMENT_TERMS_DAYS,
            field="payment_terms_days",
        )
    return days


def _known_language(language: str) -> str:
    if language not in LANGUAGES:
        raise ValidationError("Language must be LV or EN.", field="language")
    return language


class CustomerInput(FormInput):
    """The customer form; fields in the order their checks run."""

    name: Annotated[str, single_line("Name", max_length=200), AfterValidator(_required_name)]
    language: Annotated[str, AfterValidator(_known_language)] = "lv"
    country: Annotated[str, AfterValidator(parse_country)] = LATVIA
    registration_number: Annotated[str, single_line("Registration number", max_length=50)] = ""
    vat_number: Annotated[
        str, single_line("VAT number", max_length=50), AfterValidator(parse_vat_number)
    ] = ""
    email: Annotated[str, AfterValidator(parse_email)] = ""
    cc_emails: Annotated[str, AfterValidator(parse_cc_emails)] = ""
    address: Annotated[str, multiline("Address", max_length=500)] = ""
    payment_terms_days: Annotated[int, AfterValidator(_payment_terms)] = 14
    peppol_scheme: str = ""
    peppol_id: str = ""
    sending_method: Annotated[str, AfterValidator(_known_sending_method)] = SendingMethod.EMAIL

    @model_validator(mode="after")
    def _participant_id(self) -> Self:
        self.peppol_scheme, self.peppol_id = parse_participant_id(
            scheme=self.peppol_scheme, value=self.peppol_id
        )
        return self

    @model_validator(mode="after")
    def _registration_number(self) -> Self:
        self.registration_number = parse_registration_number(
            self.registration_number, latvian=self.country == LATVIA
        )
        return self


def same_registration_number(
    session: Session, *, registration_number: str, customer_id: int | None
) -> list[str]:
    """Names of the other customers with this registration number: most likely the same
    firm entered twice, which finance is told about (not stopped: a group may invoice
    its branches separately)."""
    if not registration_number:
        return []
    query = select(Customer.name).where(col(Customer.registration_number) == registration_number)
    if customer_id is not None:
        query = query.where(col(Customer.id) != customer_id)
    return list(session.exec(query.order_by(col(Customer.name)).limit(5)).all())


DUPLICATE_WARNINGS = {
    "one": "Saved, but {names} has the same registration number {number}: "
    "is this the same customer twice?",
    "several": "Saved, but {names} have the same registration number {number}: "
    "is this the same customer twice?",
}


def duplicate_warning_template(
    session: Session, *, customer: Customer
) -> tuple[str, dict[str, str]] | None:
    """The warning that other customers have the same registration number, as its English
    template and values (the dashboard shows it translated); None if there are none."""
    others = same_registration_number(
        session, registration_number=customer.registration_number, customer_id=customer.id
    )
    if not others:
        return None
    template = DUPLICATE_WARNINGS["one" if len(others) == 1 else "several"]
    return template, {"names": ", ".join(others), "number": customer.registration_number}


def duplicate_warning(session: Session, *, customer: Customer) -> str:
    """The warning that other customers have the same registration number ("" if none)."""
    found = duplicate_warning_template(session, customer=customer)
    if found is None:
        return ""
    template, values = found
    return template.format(**values)


def create_customer(session: Session, *, actor: str, data: CustomerInput) -> Customer:
    require_permission(session, actor=actor, permission="edit")
    customer = Customer(**data.model_dump())
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
    session: Session, *, actor: str, customer_id: int, data: CustomerInput
) -> Customer:
    require_permission(session, actor=actor, permission="edit")
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise ValidationError("That customer does not exist.")
    customer.sqlmodel_update({**data.model_dump(), "updated_at": utcnow()})
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
