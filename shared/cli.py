"""The ``linkpay-desk`` command: run the product, manage the database, users and channels."""

import argparse
import getpass
import logging
import sys
from collections.abc import Callable

from shared.config import get_settings


def _cmd_init_db(_args: argparse.Namespace) -> int:
    from shared.migrate import upgrade_to_head

    upgrade_to_head()
    print(f"Database is at the latest schema: {_safe_url()}")
    return 0


def _safe_url() -> str:
    from sqlalchemy.engine import make_url

    return make_url(get_settings().resolved_database_url).render_as_string(hide_password=True)


def _cmd_demo(_args: argparse.Namespace) -> int:
    from shared.demo import seed_demo
    from shared.migrate import upgrade_to_head

    upgrade_to_head()
    report = seed_demo()
    print(report)
    return 0


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat password: "):
        raise SystemExit("Passwords do not match.")
    return first


def _cmd_create_user(args: argparse.Namespace) -> int:
    from shared.channels import ValidationError
    from shared.db import write_session
    from shared.migrate import upgrade_to_head
    from shared.users import create_user

    upgrade_to_head()
    password = _read_password(args)
    try:
        with write_session() as session:
            user = create_user(
                session,
                actor="cli",
                username=args.username,
                password=password,
                role=args.role,
                full_name=args.full_name or "",
            )
    except ValidationError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"Created user {user.username} with role {user.role}.")
    return 0


def _cmd_channels(_args: argparse.Namespace) -> int:
    from sqlmodel import select

    from shared.channels import ENVIRONMENT_LABELS, callback_url, setup_checklist
    from shared.db import read_session
    from shared.migrate import upgrade_to_head
    from shared.models import BankAccount, PaymentChannel

    upgrade_to_head()
    with read_session() as session:
        rows = session.exec(
            select(PaymentChannel, BankAccount).join(
                BankAccount, BankAccount.id == PaymentChannel.bank_account_id
            )
        ).all()
        if not rows:
            print(
                "No channels yet. Create a merchant account and activate LinkPay in the dashboard."
            )
            return 0
        for channel, account in rows:
            steps = setup_checklist(channel)
            done = sum(step.done for step in steps)
            state = "active" if channel.active else "deactivated"
            print(
                f"#{channel.id} {channel.name} on {account.name} — {state}, "
                f"{ENVIRONMENT_LABELS.get(channel.environment, channel.environment)}, "
                f"{channel.currency}, set-up {done}/{len(steps)}"
            )
            print(f"    Callback URL: {callback_url(channel)}")
    return 0


def _cmd_reconcile(_args: argparse.Namespace) -> int:
    from shared.callbacks.reconciler import reconcile_once
    from shared.migrate import upgrade_to_head

    upgrade_to_head()
    report = reconcile_once()
    print(report)
    return 0


def _cmd_send_reminders(_args: argparse.Namespace) -> int:
    from shared.migrate import upgrade_to_head
    from shared.reminders import send_due_reminders

    upgrade_to_head()
    print(send_due_reminders())
    return 0


def _cmd_rotate_key(_args: argparse.Namespace) -> int:
    from shared.key_rotation import RotationBusyError, rotate_key
    from shared.migrate import upgrade_to_head
    from shared.security import SecretKeyError

    upgrade_to_head()
    try:
        print(rotate_key())
    except (RotationBusyError, SecretKeyError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from shared.launcher import run_all

    return run_all(seed_demo=not args.no_demo)


def _cmd_dashboard(_args: argparse.Namespace) -> int:
    from shared.launcher import run_single

    return run_single("dashboard")


def _cmd_callback_service(_args: argparse.Namespace) -> int:
    from shared.launcher import run_single

    return run_single("callback-service")


def _cmd_sandbox(_args: argparse.Namespace) -> int:
    from shared.launcher import run_single

    return run_single("sandbox")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="linkpay-desk",
        description="LinkPay Desk: get invoices paid online through EveryPay LinkPay.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands: list[tuple[str, str, Callable[[argparse.Namespace], int]]] = [
        (
            "run",
            "start dashboard, callback service and sandbox together (Ctrl-C stops all)",
            _cmd_run,
        ),
        ("dashboard", "start the Streamlit dashboard only", _cmd_dashboard),
        (
            "callback-service",
            "start the callback service (callbacks, public invoice pages)",
            _cmd_callback_service,
        ),
        ("sandbox", "start the EveryPay sandbox (simulator)", _cmd_sandbox),
        ("init-db", "apply database migrations up to the latest schema", _cmd_init_db),
        ("demo", "seed demo data (idempotent)", _cmd_demo),
        ("create-user", "create a dashboard user", _cmd_create_user),
        ("channels", "list payment channels with their state and Callback URL", _cmd_channels),
        (
            "reconcile",
            "ask EveryPay about every unfinished payment once, print changes",
            _cmd_reconcile,
        ),
        ("send-reminders", "send the payment reminders due today, once", _cmd_send_reminders),
        (
            "rotate-key",
            "new secret key; re-encrypts every stored secret under it (safe to re-run)",
            _cmd_rotate_key,
        ),
    ]
    for name, help_text, handler in commands:
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(handler=handler)
        if name == "run":
            command.add_argument("--no-demo", action="store_true", help="do not seed demo data")
        if name == "create-user":
            command.add_argument("username")
            command.add_argument("--role", required=True, choices=["admin", "finance", "manager"])
            command.add_argument("--full-name", default="")
            command.add_argument(
                "--password-stdin",
                action="store_true",
                help="read the password from standard input",
            )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=get_settings().log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
