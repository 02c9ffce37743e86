"""All settings of LinkPay Desk, read from the environment (prefix ``LINKPAY_``) or ``.env``."""

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LINKPAY_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
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
        default="http://127.0.0.1:8000",
        description="The callback service as EveryPay and customers reach it.",
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
    login_max_failures: int = 5
    login_lockout_minutes: int = 15

    callback_token_grace_hours: int = 72
    callback_max_body_bytes: int = 16_384
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

    api_connect_timeout_seconds: float = 3.0
    api_total_timeout_seconds: float = 10.0

    company_timezone: str = "Europe/Riga"
    log_level: str = "INFO"

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
