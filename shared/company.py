"""The company's own details: what invoices, e-mails and the payment page show about it."""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import AfterValidator, model_validator
from sqlmodel import Session, select

from shared.audit import record_audit
from shared.config import get_settings
from shared.errors import ValidationError
from shared.i18n import LANGUAGES
from shared.inputs import FormInput, multiline, single_line
from shared.models import Company, utcnow
from shared.money import SUPPORTED_CURRENCIES
from shared.tax_numbers import is_latvian, parse_registration_number, parse_vat_number
from shared.text import clean_single_line
from shared.users import require_permission

MAX_LOGO_BYTES = 1024 * 1024
_LOGO_SIGNATURES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}
EMAIL_PATTERN = re.compile(r"[^@\s,;]+@[^@\s,;]+\.[A-Za-z]{2,}")


@dataclass(frozen=True)
class CompanySettings:
    """A plain copy of the company row, safe to cache and to keep between reruns."""

    name: str
    registration_number: str
    vat_number: str
    address: str
    email: str
    timezone: str
    default_currency: str
    logo_mime: str | None
    has_logo: bool
    amount_in_words: bool = False
    ui_language: str = "en"


def default_settings() -> CompanySettings:
    return CompanySettings(
        name="",
        registration_number="",
        vat_number="",
        address="",
        email="",
        timezone=get_settings().company_timezone,
        default_currency="EUR",
        logo_mime=None,
        has_logo=False,
    )


def get_company(session: Session) -> Company | None:
    return session.exec(select(Company).order_by(Company.id)).first()


def company_settings(session: Session) -> CompanySettings:
    company = get_company(session)
    if company is None:
        return default_settings()
    return CompanySettings(
        name=company.name,
        registration_number=company.registration_number,
        vat_number=company.vat_number,
        address=company.address,
        email=company.email,
        timezone=company.timezone,
        default_currency=company.default_currency,
        logo_mime=company.logo_mime,
        has_logo=company.logo is not None,
        amount_in_words=company.amount_in_words,
        ui_language=company.ui_language,
    )


_TIMEZONE = select(Company.timezone).order_by(Company.id).limit(1)


def company_timezone(session: Session) -> str:
    """The company's time zone alone: what booking a payment needs, without the logo.

    Read once per session: the callback worker books a batch of payments in one short
    transaction, and asking for each cost a statement per payment."""
    timezone = session.info.get("company_timezone")
    if timezone is None:
        found = session.exec(_TIMEZONE).first()
        timezone = get_settings().company_timezone if found is None else found
        session.info["company_timezone"] = timezone
    return timezone


def company_logo(session: Session) -> bytes | None:
    company = get_company(session)
    return company.logo if company else None


def parse_email(text: str, *, field: str = "email") -> str:
    email = clean_single_line(text, field=field, label="E-mail", max_length=254)
    if email and not EMAIL_PATTERN.fullmatch(email):
        raise ValidationError("{email!r} is not an e-mail address.", email=email, field=field)
    return email


def logo_mime_type(data: bytes) -> str:
    """PNG or JPEG by their magic bytes, whatever the file name or browser claims."""
    if len(data) > MAX_LOGO_BYTES:
        raise ValidationError("The logo must be 1 MB or smaller.", field="logo")
    for signature, mime in _LOGO_SIGNATURES.items():
        if data.startswith(signature):
            return mime
    raise ValidationError("The logo must be a PNG or JPEG image.", field="logo")


def validate_timezone(name: str) -> str:
    name = name.strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError("Unknown time zone {name!r}.", name=name, field="timezone") from None
    return name


def timezone_choices() -> list[str]:
    return sorted(available_timezones())


def _dashboard_language(code: str) -> str:
    if code not in LANGUAGES:
        raise ValidationError("Unknown language {code}.", field="ui_language", code=code)
    return code


def _required_name(name: str) -> str:
    if not name:
        raise ValidationError("Give the company's name.", field="name")
    return name


def _supported_currency(currency: str) -> str:
    if currency not in SUPPORTED_CURRENCIES:
        raise ValidationError(
            "Currency {currency} is not supported.", currency=currency, field="default_currency"
        )
    return currency


class CompanyInput(FormInput):
    """The company form's details; fields in the order their checks run."""

    name: Annotated[str, single_line("Name", max_length=200), AfterValidator(_required_name)]
    registration_number: Annotated[str, single_line("Registration number", max_length=50)] = ""
    vat_number: Annotated[
        str, single_line("VAT number", max_length=50), AfterValidator(parse_vat_number)
    ] = ""
    address: Annotated[str, multiline("Legal address", max_length=500)] = ""
    email: Annotated[str, AfterValidator(parse_email)] = ""
    default_currency: Annotated[str, AfterValidator(_supported_currency)] = "EUR"
    timezone: Annotated[str, AfterValidator(validate_timezone)] = "Europe/Riga"
    amount_in_words: bool = False
    ui_language: Annotated[str, AfterValidator(_dashboard_language)] = "en"

    @model_validator(mode="after")
    def _registration_number(self) -> Self:
        self.registration_number = parse_registration_number(
            self.registration_number,
            latvian=is_latvian(self.registration_number, self.vat_number),
        )
        return self


def save_company(
    session: Session,
    *,
    actor: str,
    data: CompanyInput,
    logo: bytes | None = None,
    remove_logo: bool = False,
) -> Company:
    """Creates or updates the one company row; ``logo=None`` keeps the stored logo."""
    require_permission(session, actor=actor, permission="setup")
    mime = logo_mime_type(logo) if logo is not None else None
    company = get_company(session) or Company(name=data.name)
    company.sqlmodel_update({**data.model_dump(), "updated_at": utcnow()})
    if logo is not None:
        company.logo, company.logo_mime = logo, mime
    elif remove_logo:
        company.logo, company.logo_mime = None, None
    session.add(company)
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="company.update",
        entity_type="company",
        entity_id=company.id,
        details={"logo": "replaced" if logo is not None else "removed" if remove_logo else "kept"},
    )
    return company


def local_now(timezone: str) -> datetime:
    return datetime.now(UTC).astimezone(ZoneInfo(timezone))


def local_today(timezone: str) -> date:
    return local_now(timezone).date()


def to_local(value: datetime | None, timezone: str) -> datetime | None:
    """A stored UTC time as the company's wall-clock time (naive, for tables and files)."""
    if value is None:
        return None
    return value.astimezone(ZoneInfo(timezone)).replace(tzinfo=None)


def local_day_start_utc(day: date, timezone: str) -> datetime:
    """Midnight of ``day`` in the company's zone, in UTC: the bound for "on or after day"."""
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(timezone)).astimezone(UTC)
