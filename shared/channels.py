"""Bank accounts and LinkPay channels: set-up, credentials, Callback URL, checklist."""

import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, NamedTuple, Self

from pydantic import AfterValidator, Field, model_validator
from sqlalchemy import ColumnElement, String, bindparam, case, func, or_, select
from sqlmodel import Session

from shared.audit import record_audit
from shared.config import get_settings
from shared.db import get_engine, read_session, write_session
from shared.errors import ValidationError
from shared.inputs import FormInput, single_line
from shared.linkpay.client import ChannelCredentials, EveryPayClient, Outcome, api_base_problem
from shared.models import AccountType, BankAccount, Environment, PaymentChannel, utcnow
from shared.money import SUPPORTED_CURRENCIES
from shared.security import (
    decrypt_secret,
    encrypt_secret,
    last_four,
    new_token,
    token_hash,
    tokens_equal,
)
from shared.text import clean_single_line
from shared.users import require_permission

ENVIRONMENT_HOSTS = {
    Environment.DEMO: (
        "https://igw-demo.every-pay.com/lp",
        "https://igw-demo.every-pay.com/api/v4",
    ),
    Environment.LIVE: ("https://pay.every-pay.eu/lp", "https://pay.every-pay.eu/api/v4"),
}
ENVIRONMENT_LABELS = {
    Environment.SANDBOX: "Sandbox (built-in simulator)",
    Environment.DEMO: "EveryPay demo",
    Environment.LIVE: "EveryPay live",
    Environment.CUSTOM: "Custom",
}
URL_CHANGEABLE_FIELDS = (
    "transaction_amount",
    "order_reference",
    "customer_name",
    "customer_email",
    "invoice_number",
    "reference_number",
    "customer_url",
)
REQUIRED_URL_FIELDS = ("transaction_amount", "order_reference")
# ISO 9362: bank code, country code, location code, optional branch code. A location
# starting with 0 or 1, or ending in O, is no BIC a payment can be sent to (test and
# passive codes), and banking apps refuse such a code in the EPC QR code.
_BIC = re.compile(r"[A-Z]{6}[A-Z2-9][A-NP-Z0-9]([A-Z0-9]{3})?")


def _require_setup(session: Session, *, actor: str) -> None:
    require_permission(session, actor=actor, permission="setup")


def normalise_iban(iban: str) -> str:
    return re.sub(r"\s+", "", iban).upper()


def validate_iban(iban: str) -> str:
    """ISO 13616: country, check digits, BBAN; mod-97 of the rearranged number must be 1."""
    compact = normalise_iban(iban)
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", compact):
        raise ValidationError(
            "IBAN must start with a country code and two check digits, e.g. LV80BANK0000435195001.",
            field="iban",
        )
    rearranged = compact[4:] + compact[:4]
    digits = "".join(str(int(ch, 36)) for ch in rearranged)
    if int(digits) % 97 != 1:
        raise ValidationError("IBAN check digits do not match: check for a typo.", field="iban")
    return compact


def validate_bic(bic: str, *, iban: str = "") -> str:
    """ISO 9362: bank (4 letters), country (2), location (2), optional branch (3); letters
    and digits, upper case. The country is the IBAN's, since both name the same account."""
    compact = re.sub(r"\s+", "", bic).upper()
    if not compact:
        return ""
    if len(compact) not in (8, 11) or not compact.isalnum() or not compact.isascii():
        raise ValidationError(
            "BIC '{bic}' must be 8 or 11 letters and digits, e.g. HABALV22.",
            bic=bic.strip(),
            field="bic",
        )
    if not _BIC.fullmatch(compact):
        raise ValidationError(
            "BIC '{bic}' is no ISO 9362 code: four letters for the bank, two for the country, two "
            "letters or digits for the place, e.g. HABALV22.",
            bic=bic.strip(),
            field="bic",
        )
    country = normalise_iban(iban)[:2]
    if country and compact[4:6] != country:
        raise ValidationError(
            "The BIC's country {bic_country} differs from the IBAN's {country}: check both belong "
            "to this account.",
            bic_country=compact[4:6],
            country=country,
            field="bic",
        )
    return compact


def sandbox_hosts() -> tuple[str, str]:
    base = get_settings().resolved_sandbox_public_url.rstrip("/")
    return f"{base}/lp", f"{base}/api/v4"


def channel_hosts(channel: PaymentChannel) -> tuple[str, str]:
    """The channel's LinkPay prefix and API base as they are now. A sandbox channel follows
    the sandbox's current address, so moving the sandbox (LINKPAY_SANDBOX_PORT) never
    leaves "Pay online" pointing at the old port, or at another instance's sandbox."""
    if channel.environment == Environment.SANDBOX:
        return sandbox_hosts()
    return channel.linkpay_prefix, channel.api_base


def hosts_for(environment: str, *, linkpay_prefix: str = "", api_base: str = "") -> tuple[str, str]:
    if environment == Environment.SANDBOX:
        return sandbox_hosts()
    if environment in ENVIRONMENT_HOSTS:
        return ENVIRONMENT_HOSTS[Environment(environment)]
    if not re.match(r"^https?://[^\s/]+", linkpay_prefix or ""):
        raise ValidationError("LinkPay prefix must be a full URL.", field="linkpay_prefix")
    if not re.match(r"^https?://[^\s/]+", api_base or ""):
        raise ValidationError("API base must be a full URL.", field="api_base")
    problem = api_base_problem(api_base)
    if problem:
        raise ValidationError(problem, field="api_base")
    return linkpay_prefix.rstrip("/"), api_base.rstrip("/")


def create_bank_account(
    session: Session,
    *,
    actor: str,
    name: str,
    account_type: str,
    iban: str = "",
    bank_name: str = "",
    currency: str = "EUR",
    bic: str = "",
) -> BankAccount:
    _require_setup(session, actor=actor)
    name = clean_single_line(name, field="name", label="Name", max_length=200)
    bank_name = clean_single_line(bank_name, field="bank_name", label="Bank", max_length=200)
    if not name:
        raise ValidationError("Give the account a name.", field="name")
    if account_type not in (AccountType.REGULAR, AccountType.MERCHANT):
        raise ValidationError("Choose the account type.", field="account_type")
    if currency not in SUPPORTED_CURRENCIES:
        raise ValidationError(
            "Currency {currency} is not supported.", currency=currency, field="currency"
        )
    compact_iban = validate_iban(iban) if iban.strip() else ""
    if account_type == AccountType.REGULAR and not compact_iban:
        raise ValidationError("A regular bank account needs its IBAN.", field="iban")
    compact_bic = validate_bic(bic, iban=compact_iban)
    account = BankAccount(
        name=name,
        account_type=account_type,
        iban=compact_iban,
        bic=compact_bic,
        bank_name=bank_name,
        currency=currency,
    )
    session.add(account)
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="bank_account.create",
        entity_type="bank_account",
        entity_id=account.id,
        details={"name": name, "type": account_type},
    )
    return account


def _new_callback_token() -> tuple[str, str, str]:
    token = new_token(24)
    return token, token_hash(token), encrypt_secret(token)


def _default_name(name: str) -> str:
    return name or "LinkPay"


def _link_token(token: str) -> str:
    if not token:
        raise ValidationError(
            "Link Token is required (EveryPay portal → Links).", field="link_token"
        )
    if not re.fullmatch(r"[A-Za-z0-9_\-]{3,200}", token):
        raise ValidationError("Link Token has characters a token never has.", field="link_token")
    return token


def _required_api_username(username: str) -> str:
    if not username:
        raise ValidationError(
            "API username is required (EveryPay portal → General Settings).", field="api_username"
        )
    return username


def _channel_currency(currency: str) -> str:
    if currency not in SUPPORTED_CURRENCIES:
        raise ValidationError(
            "Currency {currency} is not supported.", currency=currency, field="currency"
        )
    return currency


def _known_environment(environment: str) -> str:
    if environment not in ENVIRONMENT_LABELS:
        raise ValidationError("Choose the environment.", field="environment")
    return environment


def _url_fields(chosen: list[str]) -> list[str]:
    fields = list(dict.fromkeys([*REQUIRED_URL_FIELDS, *chosen]))
    unknown = [f for f in fields if f not in URL_CHANGEABLE_FIELDS]
    if unknown:
        raise ValidationError(
            "Unknown URL field: {fields}.", fields=", ".join(unknown), field="url_fields"
        )
    return fields


class ChannelInput(FormInput):
    """The LinkPay channel form; fields in the order their checks run."""

    name: Annotated[str, single_line("Name", max_length=200), AfterValidator(_default_name)] = (
        "LinkPay"
    )
    # These end up in an HTTP header (Basic auth) and in URLs as well as in the database.
    link_token: Annotated[
        str, single_line("Link Token", max_length=200), AfterValidator(_link_token)
    ]
    api_username: Annotated[
        str, single_line("API username", max_length=200), AfterValidator(_required_api_username)
    ]
    api_secret: Annotated[str, single_line("API secret", max_length=500)] = Field(repr=False)
    linkpay_prefix: Annotated[str, single_line("LinkPay prefix", max_length=500)] = ""
    api_base: Annotated[str, single_line("API base", max_length=500)] = ""
    currency: Annotated[str, AfterValidator(_channel_currency)] = "EUR"
    environment: Annotated[str, AfterValidator(_known_environment)] = Environment.SANDBOX
    url_fields: Annotated[list[str], AfterValidator(_url_fields)] = Field(default_factory=list)

    @model_validator(mode="after")
    def _resolve_hosts(self) -> Self:
        """The prefix and API base the channel will use: fixed ones for a known
        environment, the typed ones (checked) for a custom one."""
        self.linkpay_prefix, self.api_base = hosts_for(
            self.environment, linkpay_prefix=self.linkpay_prefix, api_base=self.api_base
        )
        return self


def save_linkpay_channel(
    session: Session,
    *,
    actor: str,
    bank_account_id: int,
    data: ChannelInput,
    channel_id: int | None = None,
) -> PaymentChannel:
    """Creates or updates the channel; an empty ``api_secret`` keeps the stored one."""
    _require_setup(session, actor=actor)
    account = session.get(BankAccount, bank_account_id)
    if account is None:
        raise ValidationError("That bank account does not exist.", field="bank_account_id")
    if account.account_type != AccountType.MERCHANT:
        raise ValidationError(
            "Online payments need a bank account of type Merchant account.",
            field="bank_account_id",
        )
    channel = session.get(PaymentChannel, channel_id) if channel_id else None
    if not data.api_secret and (channel is None or not channel.api_secret_encrypted):
        raise ValidationError(
            "API secret is required (EveryPay portal → General Settings).", field="api_secret"
        )

    created = channel is None
    if channel is None:
        _, hashed, encrypted = _new_callback_token()
        channel = PaymentChannel(
            bank_account_id=bank_account_id,
            linkpay_prefix=data.linkpay_prefix,
            api_base=data.api_base,
            callback_token_hash=hashed,
            callback_token_encrypted=encrypted,
        )
    credentials_changed = (
        channel.api_username != data.api_username
        or channel.api_base != data.api_base
        or bool(data.api_secret)
    )
    channel.sqlmodel_update(
        {**data.model_dump(exclude={"api_secret"}), "active": True, "updated_at": utcnow()}
    )
    if data.api_secret:
        channel.api_secret_encrypted = encrypt_secret(data.api_secret)
        channel.api_secret_last4 = last_four(data.api_secret)
    if credentials_changed:
        channel.connection_tested_at = None
        channel.connection_test_ok = None
        channel.connection_test_message = ""
    session.add(channel)
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="channel.create" if created else "channel.update",
        entity_type="payment_channel",
        entity_id=channel.id,
        details={
            "environment": data.environment,
            "api_username": data.api_username,
            "secret_changed": bool(data.api_secret),
            "currency": data.currency,
        },
    )
    return channel


def callback_token(channel: PaymentChannel) -> str:
    return decrypt_secret(channel.callback_token_encrypted)


def callback_url(channel: PaymentChannel) -> str:
    base = get_settings().public_base_url.rstrip("/")
    return f"{base}/callbacks/linkpay/{callback_token(channel)}"


def credentials(channel: PaymentChannel) -> ChannelCredentials:
    return ChannelCredentials(
        api_base=channel_hosts(channel)[1],
        api_username=channel.api_username,
        api_secret=decrypt_secret(channel.api_secret_encrypted),
        currency=channel.currency,
    )


# Per database and channel: the channel row's updated_at and the credentials read from it.
_kept_credentials: dict[tuple[object, int], tuple[datetime, ChannelCredentials]] = {}
_kept_credentials_lock = threading.Lock()


def current_credentials(*, channel_id: int, version: datetime | None) -> ChannelCredentials:
    """The channel's credentials as of ``version`` (its row's ``updated_at``, which every
    edit of the channel sets), read and decrypted only when this process has not seen that
    version yet.

    The callback worker asks EveryPay once per callback, and the claim reads the version
    with the event: reading the channel and decrypting its secret each time cost more CPU
    than the API call. An edited secret, username, environment or API base changes the
    version, so the very next call uses the new ones.
    """
    key = (get_engine(), channel_id)
    kept = _kept_credentials.get(key)
    if kept is not None and version is not None and kept[0] == version:
        return kept[1]
    with read_session() as session:
        channel = session.get(PaymentChannel, channel_id)
        if channel is None:
            raise LookupError(f"channel {channel_id} is gone")
        found = (channel.updated_at, credentials(channel))
    with _kept_credentials_lock:
        _kept_credentials[key] = found
    return found[1]


def rotate_callback_token(session: Session, *, actor: str, channel_id: int) -> PaymentChannel:
    """New Callback URL; the old one keeps working for the grace period so no callback
    is lost while the merchant updates the EveryPay portal."""
    _require_setup(session, actor=actor)
    channel = session.get(PaymentChannel, channel_id)
    if channel is None:
        raise ValidationError("That channel does not exist.")
    _, hashed, encrypted = _new_callback_token()
    grace = timedelta(hours=get_settings().callback_token_grace_hours)
    channel.previous_token_hash = channel.callback_token_hash
    channel.previous_token_valid_until = utcnow() + grace
    channel.callback_token_hash = hashed
    channel.callback_token_encrypted = encrypted
    channel.updated_at = utcnow()
    session.add(channel)
    record_audit(
        session,
        actor=actor,
        action="channel.rotate_callback_url",
        entity_type="payment_channel",
        entity_id=channel.id,
        details={"old_url_valid_until": channel.previous_token_valid_until.isoformat()},
    )
    return channel


def set_channel_active(
    session: Session, *, actor: str, channel_id: int, active: bool
) -> PaymentChannel:
    _require_setup(session, actor=actor)
    channel = session.get(PaymentChannel, channel_id)
    if channel is None:
        raise ValidationError("That channel does not exist.")
    channel.active = active
    channel.updated_at = utcnow()
    session.add(channel)
    record_audit(
        session,
        actor=actor,
        action="channel.activate" if active else "channel.deactivate",
        entity_type="payment_channel",
        entity_id=channel.id,
    )
    return channel


class TokenOwner(NamedTuple):
    """The channel a Callback URL token resolves to, as much of it as intake needs."""

    id: int
    first_callback_at: datetime | None


_channel_table = PaymentChannel.__table__
# Built once: putting the statement together took four times as long as running it.
_CHANNELS_BY_TOKEN_HASH = select(
    _channel_table.c.id,
    _channel_table.c.first_callback_at,
    _channel_table.c.callback_token_hash,
    _channel_table.c.previous_token_hash,
    _channel_table.c.previous_token_valid_until,
).where(
    or_(
        _channel_table.c.callback_token_hash == bindparam("hashed"),
        _channel_table.c.previous_token_hash == bindparam("hashed"),
    )
)


def find_channel_by_token(session: Session, token: str) -> TokenOwner | None:
    """The channel a Callback URL token belongs to, current or within its grace period.

    Looked up by the token's hash, then compared in constant time. A deactivated channel
    still resolves: EveryPay may call about payments made before it was switched off.
    One Core query of five columns: intake runs it in every batch's transaction, where
    loading the whole channel through the ORM cost more than storing the callbacks.
    """
    if not token or len(token) > 128:
        return None
    hashed = token_hash(token)
    rows = session.connection().execute(_CHANNELS_BY_TOKEN_HASH, {"hashed": hashed}).all()
    for row in rows:
        if tokens_equal(row.callback_token_hash, hashed):
            return TokenOwner(row.id, row.first_callback_at)
    now = datetime.now(UTC)
    for row in rows:
        if (
            row.previous_token_hash is not None
            and tokens_equal(row.previous_token_hash, hashed)
            and row.previous_token_valid_until is not None
            and row.previous_token_valid_until > now
        ):
            return TokenOwner(row.id, row.first_callback_at)
    return None


# What a connection test found, stored on the channel in English; ``{error}`` is the
# network error of an unreachable EveryPay.
CONNECTION_MESSAGES = {
    Outcome.OK: "Connected: EveryPay accepted the API username and secret.",
    Outcome.AUTH_REFUSED: "EveryPay refused the API username or secret: copy them again "
    "from the portal's General Settings.",
    Outcome.NOT_FOUND: "The API base answered 404: check the environment or API base.",
    Outcome.TRANSIENT: "EveryPay could not be reached ({error}). Try again.",
}


def connection_message_parts(message: str) -> tuple[str, dict[str, str]]:
    """A stored connection-test message as its template and values, for the dashboard to
    word in the reader's language; a message of no known template is its own template."""
    for template in CONNECTION_MESSAGES.values():
        pattern = re.escape(template).replace(re.escape("{error}"), "(?P<error>.*)")
        found = re.fullmatch(pattern, message, flags=re.DOTALL)
        if found:
            return template, found.groupdict()
    return message, {}


@dataclass(frozen=True)
class ChecklistStep:
    label: str
    done: bool
    hint: str


def setup_checklist(channel: PaymentChannel) -> list[ChecklistStep]:
    filled = bool(channel.link_token and channel.api_username and channel.api_secret_encrypted)
    return [
        ChecklistStep(
            "Fields filled",
            filled,
            "Link Token, API username and API secret from the EveryPay portal.",
        ),
        ChecklistStep(
            "Connection tested",
            bool(channel.connection_test_ok),
            "Press Test connection: it checks the API username and secret.",
        ),
        ChecklistStep(
            "Callback URL pasted (first callback received)",
            channel.first_callback_at is not None,
            "Paste the Callback URL into E-Shop settings → Callback Notification URL and "
            "turn on “Additional notifications via callback”: without it EveryPay sends no "
            "refund, void or chargeback callbacks.",
        ),
        ChecklistStep(
            "First payment settled",
            channel.first_settled_at is not None,
            "Send an invoice and pay it (in the sandbox, or a small live payment).",
        ),
    ]


def record_connection_test(
    session: Session, *, actor: str, channel_id: int, ok: bool, message: str
) -> PaymentChannel:
    _require_setup(session, actor=actor)
    channel = session.get(PaymentChannel, channel_id)
    if channel is None:
        raise ValidationError("That channel does not exist.")
    channel.connection_tested_at = utcnow()
    channel.connection_test_ok = ok
    channel.connection_test_message = message[:500]
    session.add(channel)
    record_audit(
        session,
        actor=actor,
        action="channel.test_connection",
        entity_type="payment_channel",
        entity_id=channel.id,
        outcome="ok" if ok else "failed",
        details={"message": message[:200]},
    )
    return channel


def check_connection(*, actor: str, channel_id: int) -> tuple[bool, str]:
    """Asks the EveryPay API whether the channel's credentials work, and records it."""
    with read_session() as session:
        _require_setup(session, actor=actor)
        channel = session.get(PaymentChannel, channel_id)
        if channel is None:
            raise ValidationError("That channel does not exist.")
        channel_credentials = credentials(channel)
    with EveryPayClient(channel_credentials) as client:
        result = client.test_connection()
    message = CONNECTION_MESSAGES[result.outcome].format(error=result.error)
    ok = result.outcome is Outcome.OK
    with write_session() as session:
        record_connection_test(session, actor=actor, channel_id=channel_id, ok=ok, message=message)
    return ok, message


# An IBAN is long; its country, check digits and bank code, then its last four digits,
# tell a company's accounts apart ("LV12HABA…1234").
_IBAN_HEAD = 8
_IBAN_TAIL = 4


def channel_display_name() -> ColumnElement[str]:
    """A channel as tables, reports and charts name it: its name and the account it pays
    into, by shortened IBAN or, for an account without one, by the account's name
    ("LinkPay · LV12HABA…1234", "LinkPay · Merchant EUR"). Every channel is called
    "LinkPay" unless someone renamed it, so the name alone tells two channels apart only
    by luck. A SQL expression, so lists and exports format it in the query; the query
    must join BankAccount on the channel's account."""
    iban = BankAccount.iban
    short_iban = case(
        (
            func.length(iban) > _IBAN_HEAD + _IBAN_TAIL,
            func.substr(iban, 1, _IBAN_HEAD, type_=String)
            + "…"
            + func.substr(iban, func.length(iban) - (_IBAN_TAIL - 1), type_=String),
        ),
        else_=iban,
    )
    where = case((iban == "", BankAccount.name), else_=short_iban)
    return PaymentChannel.name + " · " + where
