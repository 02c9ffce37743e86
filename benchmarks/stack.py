"""The running product for the HTTP scenarios: the sandbox playing EveryPay, and the callback
service (background processing on) on the generated database, wired as in production:
the channel's API base and LinkPay prefix point at the sandbox, and the sandbox's merchant
sends its callbacks to the channel's Callback URL."""

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import httpx
from sqlalchemy import text
from sqlmodel import select

from benchmarks.common import VAR_DIR, BenchDatabase, child, free_port, python, use_database
from shared.audit import SYSTEM_ACTOR
from shared.channels import ChannelInput, callback_token, credentials, save_linkpay_channel
from shared.db import get_engine, read_session, write_session
from shared.models import Environment, PaymentChannel


@dataclass(frozen=True)
class Stack:
    sandbox_url: str
    callback_port: int
    callback_path: str  # the Callback URL's path, secret token included
    channel_id: int
    callback_pid: int
    sandbox_pid: int

    @property
    def callback_base(self) -> str:
        return f"http://127.0.0.1:{self.callback_port}"


def _channel() -> PaymentChannel:
    with read_session() as session:
        channel = session.exec(select(PaymentChannel).order_by(PaymentChannel.id)).first()
    if channel is None:
        raise RuntimeError("the benchmark database has no LinkPay channel: generate it first")
    return channel


def _register_merchant(sandbox_url: str, channel: PaymentChannel, callback_url: str) -> dict:
    creds = credentials(channel)
    response = httpx.post(
        f"{sandbox_url}/sandbox/merchants",
        json={
            "name": "Baltic Widgets SIA",
            "currency": channel.currency,
            "api_username": creds.api_username,
            "api_secret": creds.api_secret,
            "link_token": channel.link_token,
            "callback_url": callback_url,
            "url_fields": channel.url_fields,
        },
        timeout=10,
    )
    response.raise_for_status()
    return response.json()


def _point_channel_at(channel: PaymentChannel, merchant: dict) -> None:
    with write_session() as session:
        save_linkpay_channel(
            session,
            actor=SYSTEM_ACTOR,
            bank_account_id=channel.bank_account_id,
            channel_id=channel.id,
            data=ChannelInput(
                link_token=channel.link_token,
                api_username=channel.api_username,
                api_secret="",  # keeps the stored secret
                environment=Environment.CUSTOM,
                currency=channel.currency,
                url_fields=list(channel.url_fields),
                linkpay_prefix=merchant["lp_prefix"],
                api_base=merchant["api_base"],
                name=channel.name,
            ),
        )


def discard_leftover_load(db: BenchDatabase) -> int:
    """Every scenario starts from a drained callback queue, as a healthy service has. What
    an earlier run left waiting (intake's unknown references, payments whose sandbox store
    is gone) would otherwise queue ahead of this run's callbacks."""
    with get_engine(db.url).begin() as connection:
        return connection.execute(
            text(
                "UPDATE callback_event SET status = 'rejected', claimed_by = NULL, "
                "claimed_until = NULL, outcome = 'benchmark load left over, not processed' "
                "WHERE status IN ('pending', 'processing')"
            )
        ).rowcount


@contextmanager
def running_stack(
    db: BenchDatabase, *, service_env: dict[str, str] | None = None
) -> Iterator[Stack]:
    """``service_env``: settings for the callback service beyond the database's, e.g. a
    what-if worker size."""
    use_database(db)
    discard_leftover_load(db)
    sandbox_port, callback_port = free_port(), free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    store = VAR_DIR / f"sandbox-{db.backend}-{db.invoices}.db"
    for path in VAR_DIR.glob(f"{store.name}*"):
        path.unlink()
    quiet = db.env(LINKPAY_LOG_LEVEL="WARNING")
    with ExitStack() as stack:
        sandbox = stack.enter_context(
            child(
                "sandbox",
                python("-m", "sandbox", "--port", str(sandbox_port), "--store", str(store)),
                env=quiet,
                health_url=f"{sandbox_url}/health",
            )
        )
        channel = _channel()
        path = f"/callbacks/linkpay/{callback_token(channel)}"
        merchant = _register_merchant(
            sandbox_url, channel, f"http://127.0.0.1:{callback_port}{path}"
        )
        _point_channel_at(channel, merchant)
        # The product's own entry point and settings; INFO logging as in production.
        service = stack.enter_context(
            child(
                "callback-service",
                python("-m", "callback_service"),
                env=db.env(
                    LINKPAY_CALLBACK_HOST="127.0.0.1",
                    LINKPAY_CALLBACK_PORT=str(callback_port),
                    LINKPAY_PUBLIC_BASE_URL=f"http://127.0.0.1:{callback_port}",
                    LINKPAY_LOG_LEVEL="INFO",
                    # The peak phases measure what intake can store, not its rate limits
                    # (the sustained 200/s passes the defaults).
                    LINKPAY_CALLBACK_URL_RATE="0",
                    LINKPAY_CALLBACK_IP_RATE="0",
                    LINKPAY_CALLBACK_UNKNOWN_RATE="0",
                    **(service_env or {}),
                ),
                health_url=f"http://127.0.0.1:{callback_port}/health",
            )
        )
        yield Stack(
            sandbox_url=sandbox_url,
            callback_port=callback_port,
            callback_path=path,
            channel_id=channel.id,
            callback_pid=service.pid,
            sandbox_pid=sandbox.pid,
        )
