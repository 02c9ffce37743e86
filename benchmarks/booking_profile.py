"""What one booking costs: statements and CPU per settled answer recorded, as the callback
worker records them (``record_answer``, a batch of answers per write transaction, each in
its savepoint, as ``AnswerWriter`` does on SQLite).

    .venv/bin/python -m benchmarks.booking_profile                 # SQLite, 300 bookings
    .venv/bin/python -m benchmarks.booking_profile --profile 25    # plus cProfile's top 25
    .venv/bin/python -m benchmarks.booking_profile --url postgresql+psycopg://…/db  # emptied

Each invoice is issued, its callback stored and claimed through the product's own
functions first; only recording the answers is counted and timed (thread CPU time, so a
busy machine slows the figure less than wall time would). Every invoice must end paid.
"""

import argparse
import cProfile
import io
import os
import pstats
import secrets
import tempfile
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import event, text

from shared.linkpay.client import ApiResult, Outcome, parse_payment

API_USERNAME = "bench-booking"


def _prepare(url: str, count: int) -> list:
    from shared.callbacks.intake import receive_callback
    from shared.callbacks.processing import Answer
    from shared.callbacks.queue import claim_event
    from shared.channels import (
        ChannelInput,
        callback_token,
        create_bank_account,
        save_linkpay_channel,
    )
    from shared.db import write_session
    from shared.invoicing import DraftInput, LineInput, create_draft, issue_invoice
    from shared.models import AccountType, Customer, Environment
    from shared.operations.migrate import upgrade_to_head

    upgrade_to_head(url)
    with write_session() as session:
        account = create_bank_account(
            session,
            actor="system",
            name="Merchant EUR",
            account_type=AccountType.MERCHANT,
            currency="EUR",
        )
        channel = save_linkpay_channel(
            session,
            actor="system",
            bank_account_id=account.id,
            data=ChannelInput(
                link_token=secrets.token_hex(4),
                api_username=API_USERNAME,
                api_secret=secrets.token_hex(16),
                environment=Environment.CUSTOM,
                linkpay_prefix="http://127.0.0.1:9/lp",
                api_base="http://127.0.0.1:9/api/v4",
                currency="EUR",
                url_fields=["customer_name"],
            ),
        )
        customer = Customer(name="Baltic Widgets SIA", email="pay@example.lv", language="lv")
        session.add(customer)
        session.flush()
        numbers = []
        for k in range(count):
            draft = create_draft(
                session,
                actor="system",
                data=DraftInput(
                    customer_id=customer.id,
                    channel_id=channel.id,
                    lines=[LineInput("Consulting", "1", f"{100 + k}.00", "21")],
                ),
            )
            invoice = issue_invoice(session, actor="system", invoice_id=draft.id)
            numbers.append((invoice.number, invoice.total_minor))
        token = callback_token(channel)
    answers = []
    for k, (number, total_minor) in enumerate(numbers):
        reference = f"{k:064x}"
        stored = receive_callback(
            channel_token=token,
            params={"payment_reference": reference, "order_reference": number},
            http_method="GET",
            remote_addr="127.0.0.1",
        )
        claimed = claim_event(event_id=stored.event_id, worker="booking-profile")
        amount = f"{total_minor // 100}.{total_minor % 100:02d}"
        body = {
            "api_username": API_USERNAME,
            "order_reference": number,
            "payment_reference": reference,
            "payment_state": "settled",
            "initial_amount": amount,
            "standing_amount": amount,
            "currency": "EUR",
            "payment_method": "card",
            "email": "pay@example.lv",
            "payment_created_at": "2026-05-02T09:14:15.501Z",
            "transaction_time": "2026-05-02T09:14:16.501Z",
            "cc_details": {"last_four_digits": "1002", "type": "master_card"},
        }
        status = parse_payment(body, default_currency="EUR")
        answers.append(
            Answer(
                claimed=claimed,
                result=ApiResult(Outcome.OK, status=status, http_status=200),
                asked_at=claimed.received_at,
                answered_at=claimed.received_at,
            )
        )
    return answers


def _record(answers: list, batch: int, profiler: cProfile.Profile | None) -> float:
    """Records the answers a batch per transaction; returns the thread CPU seconds spent."""
    from shared.callbacks.processing import record_answer
    from shared.db import write_session

    spent = 0.0
    for start in range(0, len(answers), batch):
        began = time.thread_time()
        if profiler:
            profiler.enable()
        with write_session() as session:
            for answer in answers[start : start + batch]:
                with session.begin_nested():
                    record_answer(session, answer=answer)
        if profiler:
            profiler.disable()
        spent += time.thread_time() - began
    return spent


def scratch_database(*, prefix: str, url: str) -> str:
    """A database of the profile's own, made current for the product's code: a new SQLite
    file, or the PostgreSQL database at ``url`` emptied. Returns its URL."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["LINKPAY_DATA_DIR"] = str(work)
    url = url or f"sqlite:///{work / 'linkpay.db'}"
    os.environ["LINKPAY_DATABASE_URL"] = url
    from shared.db import get_engine

    engine = get_engine()
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    return url


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.booking_profile")
    parser.add_argument("--bookings", type=int, default=300)
    parser.add_argument("--batch", type=int, default=10, help="answers per transaction")
    parser.add_argument("--url", default="", help="PostgreSQL database to use (emptied)")
    parser.add_argument("--profile", type=int, default=0, help="print cProfile's top N")
    args = parser.parse_args(argv)

    url = scratch_database(prefix="booking-profile-", url=args.url)
    from shared.db import get_engine

    engine = get_engine()
    answers = _prepare(url, args.bookings)

    statements: Counter[str] = Counter()

    def count(_conn, _cursor, statement, _params, _context, _many) -> None:
        statements[statement.split(None, 1)[0].upper()] += 1

    event.listen(engine, "before_cursor_execute", count)
    profiler = cProfile.Profile() if args.profile else None
    cpu = _record(answers, args.batch, profiler)
    event.remove(engine, "before_cursor_execute", count)

    with engine.connect() as connection:
        paid = connection.execute(
            text("SELECT COUNT(*) FROM invoice WHERE status = 'paid'")
        ).scalar_one()
    n = len(answers)
    per_booking = {kind: round(number / n, 2) for kind, number in statements.most_common()}
    print(f"{engine.dialect.name}: {n} bookings, {paid} invoices paid, batches of {args.batch}")
    print(f"statements per booking: {sum(statements.values()) / n:.2f} {per_booking}")
    print(f"CPU per booking: {cpu / n * 1000:.2f} ms (thread time, transaction included)")
    if paid != n:
        raise SystemExit(f"{n - paid} invoices were not paid")
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(args.profile)
        print(out.getvalue())


if __name__ == "__main__":
    main()
