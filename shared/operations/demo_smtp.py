"""A local SMTP server for demos: every message it receives becomes an .eml file in the
Outbox (``<data_dir>/outbox``) instead of going anywhere, and the dashboard shows it.

Run as ``python -m shared.operations.demo_smtp --host 127.0.0.1 --port 8025``.
"""

import argparse
import logging
import os
import secrets
import signal
import sys
import threading
import time
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from shared.config import get_settings
from shared.mail import outbox_dir

logger = logging.getLogger(__name__)


def save_to_outbox(raw: bytes, *, directory: Path) -> Path:
    """Writes atomically (temporary file, then rename): the Outbox never lists half a mail.

    The name starts with the arrival time in nanoseconds, so names sort by time.
    """
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{time.time_ns():020d}-{secrets.token_hex(6)}.eml"
    temporary = directory / f".{name}.tmp"
    # Mails carry invoices and customers' addresses: readable by the owner only.
    with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as handle:
        handle.write(raw)
        handle.flush()
        os.fsync(handle.fileno())
    final = directory / name
    os.replace(temporary, final)
    return final


class OutboxHandler:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        path = save_to_outbox(raw, directory=self.directory)
        logger.info("kept mail for %s as %s", ", ".join(envelope.rcpt_tos), path.name)
        return "250 Message accepted for delivery"


def start_server(*, host: str, port: int, directory: Path) -> Controller:
    controller = Controller(OutboxHandler(directory), hostname=host, port=port)
    controller.start()
    return controller


def main(argv: list[str] | None = None) -> int:
    settings = get_settings()
    parser = argparse.ArgumentParser(
        prog="python -m shared.operations.demo_smtp",
        description="Demo SMTP server: keeps every received mail in the Outbox.",
    )
    parser.add_argument("--host", default=settings.smtp_host)
    parser.add_argument("--port", type=int, default=settings.smtp_port)
    parser.add_argument("--outbox", type=Path, default=outbox_dir())
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # aiosmtpd narrates every SMTP command at INFO; the saved files say what matters.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    controller = start_server(host=args.host, port=args.port, directory=args.outbox)
    print(f"demo-mail: smtp://{args.host}:{args.port} → {args.outbox}", flush=True)
    try:
        stop.wait()
    finally:
        controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
