"""The ``linkpay-desk`` command: run the product, manage the database, users and channels."""

import argparse
import getpass
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

from shared.config import get_settings

EXIT_ENVIRONMENT = 3


def _cmd_init_db(_args: argparse.Namespace) -> int:
    from shared.operations.backup import create_backup
    from shared.operations.migrate import (
        database_revision,
        head_revision,
        is_known_revision,
        upgrade_to_head,
    )

    current = database_revision()
    if current is not None and current != head_revision() and is_known_revision(current):
        # An upgrade rewrites tables; the data as it was comes first.
        manifest = create_backup(destination=get_settings().data_dir / "backups")
        print(f"Backed up schema {current} to {manifest.path} before upgrading.")
    upgrade_to_head()
    print(f"Database is at the latest schema: {_safe_url()}")
    return 0


def _safe_url() -> str:
    from sqlalchemy.engine import make_url

    return make_url(get_settings().resolved_database_url).render_as_string(hide_password=True)


def _cmd_demo(_args: argparse.Namespace) -> int:
    from shared.operations.demo import seed_demo
    from shared.operations.migrate import upgrade_to_head

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
    from shared.db import write_session
    from shared.errors import ValidationError
    from shared.operations.migrate import upgrade_to_head
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
    from shared.models import BankAccount, PaymentChannel
    from shared.operations.migrate import upgrade_to_head

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


def _cmd_reconcile(args: argparse.Namespace) -> int:
    from shared.callbacks.reconciler import reconcile_once
    from shared.operations.migrate import upgrade_to_head

    upgrade_to_head()
    report = reconcile_once(due_only=args.due_only)
    print(report)
    # Scripts and schedulers read the exit code: a payment or callback EveryPay could not
    # tell us about is a failed run, to be looked at or retried.
    return 1 if report.problems else 0


def _cmd_find_payment(args: argparse.Namespace) -> int:
    from shared.callbacks.lookup import Found, find_payment
    from shared.errors import ValidationError
    from shared.operations.migrate import upgrade_to_head

    upgrade_to_head()
    try:
        result = find_payment(
            actor="cli", channel_id=args.channel, payment_reference=args.reference
        )
    except ValidationError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(result.message)
    # Not found or not ours is an answer; only "ask again later" is a failed run.
    return 1 if result.found is Found.UNREACHABLE else 0


def _cmd_purge_callbacks(_args: argparse.Namespace) -> int:
    from shared.callbacks.retention import purge_old_callbacks
    from shared.operations.migrate import upgrade_to_head

    upgrade_to_head()
    days = get_settings().callback_retention_days
    if days <= 0:
        print("Callback retention is off (CALLBACK_RETENTION_DAYS = 0); nothing deleted.")
        return 0
    deleted = purge_old_callbacks()
    print(f"Deleted {deleted} finished callbacks older than {days} days.")
    return 0


def _cmd_send_reminders(_args: argparse.Namespace) -> int:
    from shared.operations.migrate import upgrade_to_head
    from shared.reminders import send_due_reminders

    upgrade_to_head()
    report = send_due_reminders()
    print(report)
    return 1 if report.failed else 0


def _cmd_backup(args: argparse.Namespace) -> int:
    from shared.operations.backup import BackupError, create_backup

    try:
        manifest = create_backup(destination=args.destination)
    except BackupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    counts = ", ".join(f"{count} {table}" for table, count in manifest.row_counts.items())
    print(f"Backed up to {manifest.path} (schema {manifest.schema_revision}; {counts}).")
    return 0


def _cmd_restore(args: argparse.Namespace) -> int:
    from shared.operations.backup import BackupError, restore_backup

    try:
        result = restore_backup(source=args.source)
    except BackupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"Restored the backup of {result.restored.created_at} from {result.restored.path}.")
    if result.previous is not None:
        print(f"The data it replaced is kept in {result.previous.path}.")
    return 0


def _cmd_doctor(_args: argparse.Namespace) -> int:
    from shared.operations.doctor import Verdict, run_checks

    findings = run_checks()
    for finding in findings:
        print(finding)
    failed = sum(finding.verdict is Verdict.FAILED for finding in findings)
    print(f"\n{failed} problem(s) found." if failed else "\nNo problems found.")
    return 1 if failed else 0


def _cmd_import_statement(args: argparse.Namespace) -> int:
    from shared.bank.matching import import_and_match
    from shared.errors import ValidationError
    from shared.operations.migrate import upgrade_to_head

    upgrade_to_head()
    refused = 0
    for name in args.files:
        path = Path(name)
        try:
            content = path.read_bytes()
        except OSError as error:
            print(f"{name}: refused: cannot read the file ({error.strerror}).", file=sys.stderr)
            refused += 1
            continue
        try:
            report, matched = import_and_match(actor="cli", filename=path.name, content=content)
        except ValidationError as error:
            print(f"{name}: refused, nothing added: {error}", file=sys.stderr)
            refused += 1
            continue
        print(report)
        print(f"  {matched.describe()}")
        for line in matched.payouts:
            print(f"  {line}")
    return 1 if refused else 0


def _cmd_rotate_key(_args: argparse.Namespace) -> int:
    from shared.operations.key_rotation import RotationBusyError, rotate_key
    from shared.operations.migrate import upgrade_to_head
    from shared.security import SecretKeyError

    upgrade_to_head()
    try:
        print(rotate_key())
    except (RotationBusyError, SecretKeyError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def _cmd_reset_secrets(args: argparse.Namespace) -> int:
    from shared.operations.key_recovery import NothingToReset, reset_secrets
    from shared.operations.migrate import upgrade_to_head

    if not args.yes:
        print(
            "reset-secrets replaces every secret the key file cannot open: API secrets are "
            "cleared (enter them again), Callback URLs and invoice links get new tokens. "
            "Restoring the key file from a backup is better. Run again with --yes to go on.",
            file=sys.stderr,
        )
        return 1
    upgrade_to_head()
    try:
        print(reset_secrets(actor="cli"))
    except NothingToReset as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from shared.operations.launcher import run_all

    return run_all(seed_demo=not args.no_demo)


def _cmd_dashboard(_args: argparse.Namespace) -> int:
    from shared.operations.launcher import run_single

    return run_single("dashboard")


def _cmd_callback_service(_args: argparse.Namespace) -> int:
    from shared.operations.launcher import run_single

    return run_single("callback-service")


def _cmd_sandbox(_args: argparse.Namespace) -> int:
    from shared.operations.launcher import run_single

    return run_single("sandbox")


NOISY_LIBRARY_LOGGERS = ("alembic", "fontTools", "PIL", "httpx", "httpcore", "fpdf")

# Settings every command reads, and those particular to some; each --help ends with them.
COMMON_SETTINGS = ("DATA_DIR", "DATABASE_URL", "SECRET_KEY_FILE", "LOG_LEVEL")
SERVICE_SETTINGS = {
    "dashboard": ("DASHBOARD_HOST", "DASHBOARD_PORT", "SESSION_TIMEOUT_MINUTES"),
    "callback-service": (
        "CALLBACK_HOST",
        "CALLBACK_PORT",
        "PUBLIC_BASE_URL",
        "WORKER_THREADS",
        "RECONCILE_INTERVAL_SECONDS",
    ),
    "sandbox": ("SANDBOX_HOST", "SANDBOX_PORT", "SANDBOX_PUBLIC_URL"),
}
MAIL_SETTINGS = ("SMTP_HOST", "SMTP_PORT", "SMTP_SECURITY", "MAIL_FROM")
COMMAND_SETTINGS = {
    **SERVICE_SETTINGS,
    "run": (
        *(name for names in SERVICE_SETTINGS.values() for name in names),
        "DEMO_SMTP",
        *MAIL_SETTINGS,
    ),
    "channels": ("PUBLIC_BASE_URL",),
    "send-reminders": (*MAIL_SETTINGS, "PUBLIC_BASE_URL"),
    "reconcile": ("LOST_PAYMENT_AFTER_HOURS",),
    "import-statement": (
        "EVERYPAY_PAYOUT_IBANS",
        "EVERYPAY_PAYOUT_NAMES",
        "EVERYPAY_PAYOUT_PATTERN",
    ),
}
# --port on a service command, --X-port on run: which setting each flag sets.
SERVICE_PREFIX = {"dashboard": "DASHBOARD", "callback-service": "CALLBACK", "sandbox": "SANDBOX"}
RUN_PORT_FLAGS = {
    "dashboard_port": "DASHBOARD_PORT",
    "callback_port": "CALLBACK_PORT",
    "sandbox_port": "SANDBOX_PORT",
    "smtp_port": "SMTP_PORT",
}


def _settings_epilog(command: str) -> str:
    names = (*COMMON_SETTINGS, *COMMAND_SETTINGS.get(command, ()))
    return "settings read (environment or .env): " + ", ".join(f"LINKPAY_{n}" for n in names)


def _apply_flags(args: argparse.Namespace) -> None:
    """Flags are settings given on the command line: they go into the environment, so the
    child processes that `run` starts read the same values."""
    overrides = {"DATA_DIR": args.data_dir, "DATABASE_URL": args.database_url}
    if args.command in SERVICE_PREFIX:
        prefix = SERVICE_PREFIX[args.command]
        overrides |= {f"{prefix}_HOST": args.host, f"{prefix}_PORT": args.port}
    if args.command == "run":
        overrides |= {setting: getattr(args, flag) for flag, setting in RUN_PORT_FLAGS.items()}
    changed = False
    for setting, value in overrides.items():
        if value is not None:
            os.environ[f"LINKPAY_{setting}"] = str(value)
            changed = True
    if changed:
        get_settings.cache_clear()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="linkpay-desk",
        description="LinkPay Desk: get invoices paid online through EveryPay LinkPay.",
        epilog="Exit codes: 0 done, 1 failed, 2 wrong usage, 3 environment (port, database, "
        "files). " + _settings_epilog(""),
    )
    parser.add_argument("--data-dir", help="folder for the SQLite file, key and sandbox store")
    parser.add_argument("--database-url", help="SQLAlchemy URL, e.g. postgresql+psycopg://…")
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
            "ask EveryPay about every unfinished payment once, run the lost-payment check, "
            "print what changed",
            _cmd_reconcile,
        ),
        (
            "find-payment",
            "ask EveryPay about one payment reference (from the portal or a receipt) and "
            "book it if it is for one of our invoices",
            _cmd_find_payment,
        ),
        ("send-reminders", "send the payment reminders due today, once", _cmd_send_reminders),
        (
            "doctor",
            "check settings, database, key, addresses, mail and EveryPay; say how to fix",
            _cmd_doctor,
        ),
        (
            "backup",
            "back the database and key file up into a new folder under DESTINATION",
            _cmd_backup,
        ),
        (
            "restore",
            "replace the database and key file with a backup (stop the services first)",
            _cmd_restore,
        ),
        (
            "import-statement",
            "import bank statement files (camt.053, camt.054, FiDAViSta) once each, and match them",
            _cmd_import_statement,
        ),
        (
            "purge-callbacks",
            "delete finished callbacks older than the retention period, once",
            _cmd_purge_callbacks,
        ),
        (
            "rotate-key",
            "new secret key; re-encrypts every stored secret under it (safe to re-run)",
            _cmd_rotate_key,
        ),
        (
            "reset-secrets",
            "after a lost key file: new key, clear the secrets it opened (needs --yes)",
            _cmd_reset_secrets,
        ),
    ]
    for name, help_text, handler in commands:
        command = sub.add_parser(
            name, help=help_text, description=help_text, epilog=_settings_epilog(name)
        )
        command.set_defaults(handler=handler)
        if name in SERVICE_PREFIX:
            command.add_argument("--host", help="address to listen on")
            command.add_argument("--port", type=int, help="port to listen on")
        if name == "run":
            command.add_argument("--no-demo", action="store_true", help="do not seed demo data")
            for flag in RUN_PORT_FLAGS:
                command.add_argument(f"--{flag.replace('_', '-')}", type=int, metavar="PORT")
        if name == "reconcile":
            command.add_argument(
                "--due-only",
                action="store_true",
                help="only payments whose next scheduled check has come (as the service's "
                "timer does)",
            )
        if name == "find-payment":
            command.add_argument(
                "reference", metavar="REFERENCE", help="EveryPay payment reference"
            )
            command.add_argument(
                "--channel",
                type=int,
                metavar="ID",
                help="the channel to ask (see `channels`); default: every active channel",
            )
        if name == "reset-secrets":
            command.add_argument("--yes", action="store_true", help="really replace them")
        if name == "import-statement":
            command.add_argument("files", nargs="+", metavar="FILE")
        if name == "create-user":
            command.add_argument("username")
            command.add_argument("--role", required=True, choices=["admin", "finance", "manager"])
            command.add_argument("--full-name", default="")
            command.add_argument(
                "--password-stdin",
                action="store_true",
                help="read the password from standard input",
            )
        if name == "backup":
            command.add_argument("destination", type=Path, metavar="DESTINATION")
        if name == "restore":
            command.add_argument("source", type=Path, metavar="BACKUP_FOLDER")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _apply_flags(args)
    try:
        _configure_logging()
        # Libraries that narrate their routine work at INFO (font subsetting alone printed
        # hundreds of lines per reminder run); their warnings and errors still show.
        for noisy in NOISY_LIBRARY_LOGGERS:
            logging.getLogger(noisy).setLevel(logging.WARNING)
        return args.handler(args)
    except Exception as error:
        problem = explain_environment_error(error)
        if problem is None:
            raise
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_ENVIRONMENT


def _configure_logging() -> None:
    # The services' formatters: the same text lines as before, or JSON, secrets redacted.
    from callback_service.logging_config import formatter
    from shared.log_context import ContextFilter

    settings = get_settings()
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(settings.log_format))
    handler.addFilter(ContextFilter())
    # basicConfig leaves logging alone where it is set up already (a test's capture).
    logging.basicConfig(level=settings.log_level.upper(), handlers=[handler])


def explain_environment_error(error: Exception) -> str | None:
    """The one line a person needs for an error of the machine or the settings, or None
    for an error of the code, whose traceback a developer needs."""
    from pydantic import ValidationError as SettingsError
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

    from shared.operations.migrate import SchemaTooNew
    from shared.security import SecretKeyError

    if isinstance(error, SchemaTooNew):
        return str(error)
    if isinstance(error, SettingsError):
        wrong = "; ".join(
            f"LINKPAY_{'_'.join(map(str, item['loc'])).upper()}: {item['msg']}"
            for item in error.errors()
        )
        return f"A setting is wrong ({wrong}): correct it in the environment or .env."
    settings = get_settings()
    if isinstance(error, ArgumentError | NoSuchModuleError):
        return (
            f"LINKPAY_DATABASE_URL is not a database URL LinkPay Desk can use ({error}); "
            "use sqlite:////path/to/linkpay.db or postgresql+psycopg://user@host:5432/dbname."
        )
    if isinstance(error, ModuleNotFoundError) and error.name and error.name.startswith("psycopg"):
        return (
            "PostgreSQL support is not installed: pip install 'linkpay-desk[postgres]' "
            "(scripts/bootstrap does it)."
        )
    if isinstance(error, OperationalError):
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        return (
            f"The database {_safe_url()} cannot be reached: {reason}. Check that the server "
            "runs and that LINKPAY_DATABASE_URL names it (user, host, port, database)."
        )
    if isinstance(error, SecretKeyError):
        return f"{error} (LINKPAY_SECRET_KEY_FILE: {settings.resolved_secret_key_file})"
    if isinstance(error, OSError) and error.filename:
        return (
            f"Cannot use {error.filename}: {error.strerror}. Check that the folder exists and "
            f"is writable (LINKPAY_DATA_DIR is {settings.data_dir})."
        )
    return None


if __name__ == "__main__":
    sys.exit(main())
