"""Run the sandbox with uvicorn: ``python -m sandbox --host 127.0.0.1 --port 8020``."""

import argparse
from pathlib import Path

import uvicorn

from callback_service.logging_config import log_config as service_log_config
from shared.config import get_settings

from .app import create_app, default_store_path


def serve(
    *,
    host: str,
    port: int,
    store_path: Path | None = None,
    callback_schedule: tuple[float, ...] | None = None,
    bank_settle_seconds: float | None = None,
    public_url: str | None = None,
) -> None:
    """Serve until interrupted (blocking)."""
    app = create_app(
        store_path,
        callback_schedule=callback_schedule,
        public_url=public_url,
        bank_settle_seconds=bank_settle_seconds,
    )
    settings = get_settings()
    # Text keeps uvicorn's own lines, as the sandbox always printed them; JSON uses the
    # services' format so one collector reads every process.
    log_config = (
        service_log_config(settings.log_level, settings.log_format)
        if settings.log_format == "json"
        else uvicorn.config.LOGGING_CONFIG
    )
    uvicorn.run(
        app, host=host, port=port, log_level=settings.log_level.lower(), log_config=log_config
    )


def _schedule(text: str) -> tuple[float, ...]:
    """``"1,2,5"`` → ``(1.0, 2.0, 5.0)``; an empty string means no redelivery."""
    try:
        delays = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a comma-separated list of seconds: {text!r}"
        ) from None
    if any(delay < 0 for delay in delays):
        raise argparse.ArgumentTypeError("delays cannot be negative")
    return delays


def main(argv: list[str] | None = None) -> None:
    settings = get_settings()
    parser = argparse.ArgumentParser(
        prog="python -m sandbox", description="EveryPay-compatible sandbox (LinkPay + API v4)."
    )
    parser.add_argument("--host", default=settings.sandbox_host)
    parser.add_argument("--port", type=int, default=settings.sandbox_port)
    parser.add_argument(
        "--store", type=Path, default=None, help=f"SQLite file (default {default_store_path()})"
    )
    parser.add_argument(
        "--callback-schedule",
        type=_schedule,
        default=None,
        help="seconds between callback redeliveries, e.g. 1,2,5,10,30 (the default)",
    )
    parser.add_argument(
        "--bank-settle-seconds",
        type=float,
        default=None,
        help="how long a bank payment stays sent_for_processing (default 3)",
    )
    parser.add_argument(
        "--public-url", default=None, help="the sandbox as browsers reach it (default: as asked)"
    )
    args = parser.parse_args(argv)
    serve(
        host=args.host,
        port=args.port,
        store_path=args.store,
        callback_schedule=args.callback_schedule,
        bank_settle_seconds=args.bank_settle_seconds,
        public_url=args.public_url,
    )
