"""All settings of LinkPay Desk, read from the environment (prefix ``LINKPAY_``) or ``.env``."""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# How EveryPay's payouts show on a bank statement. No public EveryPay source names the
# account it pays out from, so the IBAN is the sandbox's; add the one your statements show.
EVERYPAY_PAYOUT_NAME = "EveryPay AS"
EVERYPAY_PAYOUT_IBAN = "EE352200221012345678"


class Settings(BaseSettings):
    # An empty value (``LINKPAY_SECRET_KEY_FILE=`` as .env.example ships it) means "use the
    # default", not an empty path, which would name the current directory.
    model_config = SettingsConfigDict(
        env_prefix="LINKPAY_",
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
    )

    data_dir: Path = Field(
        default=PROJECT_ROOT / "var",
        description="Where the SQLite file, the secret key and generated files live.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; empty means a SQLite file linkpay.db under DATA_DIR.",
    )
    secret_key_file: Path | None = Field(
        default=None,
        description="Key that encrypts API secrets at rest; created 0600 on first use.",
    )
    public_base_url: str = Field(
        default="",
        description=(
            "The callback service as EveryPay and customers reach it; empty means "
            "http://CALLBACK_HOST:CALLBACK_PORT, so moving the port moves every link with it."
        ),
    )
    dashboard_base_url: str | None = None

    dashboard_host: str = "127.0.0.1"
    dashboard_port: int = 8501
    callback_host: str = "127.0.0.1"
    callback_port: int = 8000
    sandbox_host: str = "127.0.0.1"
    sandbox_port: int = 8020
    sandbox_public_url: str | None = Field(
        default=None, description="The sandbox as browsers reach it; default from host and port."
    )

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_security: str = Field(default="none", description="none, starttls or ssl")
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_timeout_seconds: float = 10.0
    mail_from: str = "LinkPay Desk <invoices@localhost>"
    demo_smtp: bool = Field(
        default=False, description="Start a local SMTP server that keeps mail for the Outbox."
    )

    session_timeout_minutes: int = 30
    session_max_hours: int = Field(
        default=12,
        ge=1,
        description="Dashboard sessions end this long after logging in, however active.",
    )
    login_max_failures: int = 5
    login_lockout_minutes: int = 15

    callback_token_grace_hours: int = 72
    callback_max_body_bytes: int = Field(
        default=16_384, ge=256, description="Longer callback bodies are answered 413."
    )
    callback_max_query_bytes: int = Field(
        default=2_048,
        ge=256,
        description="Longer callback query strings are answered 414 (EveryPay's take ~200).",
    )
    # Token buckets per callback service process (two processes admit twice as much).
    # A rate of 0 switches that limit off.
    callback_url_rate: float = Field(
        default=500.0,
        ge=0,
        description="Callbacks per second one Callback URL may receive before 429.",
    )
    callback_url_burst: int = Field(
        default=1_000, ge=1, description="Callbacks one Callback URL may receive at once."
    )
    callback_ip_rate: float = Field(
        default=500.0,
        ge=0,
        description="Callback requests per second one client address may send before 429.",
    )
    callback_ip_burst: int = Field(
        default=1_000, ge=1, description="Callback requests one client address may send at once."
    )
    callback_unknown_rate: float = Field(
        default=1.0,
        ge=0,
        description=(
            "Requests per second to unknown Callback URLs one client address may send; past "
            "it, that address's requests to URLs not recently seen valid get 429."
        ),
    )
    callback_unknown_burst: int = Field(
        default=30,
        ge=1,
        description="Requests to unknown Callback URLs one address may send at once.",
    )
    database_wait_seconds: float = Field(
        default=5.0,
        gt=0,
        description=(
            "Longest wait for the database to take a callback (writer lock, locks, connection) "
            "before intake answers 503 with Retry-After."
        ),
    )
    callback_retention_days: int = Field(
        default=90,
        ge=0,
        description=(
            "Finished callbacks (done, not ours, rejected) older than this are deleted; 0 keeps "
            "them for ever. Unfinished ones and those a review points to are always kept."
        ),
    )
    callback_retention_interval_seconds: int = Field(
        default=3600, ge=60, description="How often the service deletes old callbacks."
    )
    worker_poll_seconds: float = 0.5
    # Worker threads per callback service; 0 picks by backend (see shared/callbacks/worker.py).
    worker_threads: int = Field(default=0, ge=0, le=64)
    worker_api_calls: int = Field(
        default=100,
        ge=1,
        le=500,
        description=(
            "EveryPay API calls the callback worker keeps in flight at once. A slow gateway "
            "(3 s per answer) needs 60 of them to verify 20 payments a second; the database "
            "work around each call stays on WORKER_THREADS."
        ),
    )
    worker_lease_seconds: int = 60
    background_nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description=(
            "How much lower the CPU priority of the callback service's background process "
            "(callback workers, reminders) is than the service's own (Unix nice). With a "
            "backlog on PostgreSQL, 10 kept the acknowledgement p99 at 200/s at 20 ms instead "
            "of 91 ms; 0 gives both the same share."
        ),
    )
    callback_max_attempts: int = Field(
        default=12, ge=1, description="Tries before a callback is also shown to a person."
    )
    callback_give_up_hours: int = Field(
        default=24, ge=1, description="Age at which an unverified callback is shown to a person."
    )
    callback_retry_cap_seconds: float = Field(
        default=300.0,
        ge=1.0,
        le=300.0,
        description=(
            "Longest wait between two tries of an unverified callback, also after it was "
            "shown to a person: a payment made during an outage is booked at most this long "
            "after EveryPay answers again."
        ),
    )
    reconcile_interval_seconds: int = 60
    reminder_interval_seconds: int = 3600
    lost_payment_after_hours: float = Field(
        default=24,
        gt=0,
        description=(
            "Hours after a customer opened an invoice's pay link with no payment known since, "
            "after which the invoice goes on the exceptions queue and its reminders are held."
        ),
    )

    everypay_payout_ibans: list[str] = Field(
        default=[EVERYPAY_PAYOUT_IBAN],
        description="Counterparty IBANs whose credits are EveryPay payouts (a JSON list).",
    )
    # EveryPay's company is registered as AS Maksekeskus; banks print either name.
    everypay_payout_names: list[str] = Field(
        default=[EVERYPAY_PAYOUT_NAME, "AS EveryPay", "AS Maksekeskus", "Maksekeskus AS"],
        description="Counterparty names whose credits are EveryPay payouts (a JSON list).",
    )
    everypay_payout_pattern: str = Field(
        default=r"\bEVERY\s?PAY\b.*\bPAYOUT\b",
        description="Regular expression (any case) for the remittance text of a payout.",
    )

    api_connect_timeout_seconds: float = 3.0
    api_total_timeout_seconds: float = 10.0
    vies_url: str = Field(
        default="https://ec.europa.eu/taxation_customs/vies/rest-api/check-vat-number",
        description='The EU VIES service that "Check in VIES" asks about a VAT number.',
    )
    vies_timeout_seconds: float = Field(
        default=5.0, gt=0, le=30, description='How long "Check in VIES" waits for an answer.'
    )

    company_timezone: str = "Europe/Riga"
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = Field(
        default="text",
        description=(
            "text: plain lines; json: one JSON object per line (time, level, logger, message, "
            "request_id and callback_id where a line is about a callback), for log collectors."
        ),
    )

    @model_validator(mode="after")
    def _public_base_url_from_callback_address(self) -> "Settings":
        # One source of truth: a callback service moved with CALLBACK_PORT alone must not
        # leave Callback URLs and invoice links pointing at the old port, where EveryPay's
        # callbacks would be lost.
        if not self.public_base_url:
            self.public_base_url = f"http://{self.callback_host}:{self.callback_port}"
        return self

    @field_validator("data_dir", mode="after")
    @classmethod
    def _absolute_data_dir(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'linkpay.db'}"

    @property
    def resolved_secret_key_file(self) -> Path:
        return (self.secret_key_file or self.data_dir / "secret.key").expanduser().resolve()

    @property
    def resolved_sandbox_public_url(self) -> str:
        return self.sandbox_public_url or f"http://{self.sandbox_host}:{self.sandbox_port}"

    @property
    def resolved_dashboard_base_url(self) -> str:
        return self.dashboard_base_url or f"http://{self.dashboard_host}:{self.dashboard_port}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
