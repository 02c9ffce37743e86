"""What the callback worker's background path costs per callback: the claim (batches of
``--batch``, as the worker claims them), the API call (answered by respx, so EveryPay's
latency is not in it) and the booking, each answer in a transaction of its own.

    .venv/bin/python -m benchmarks.worker_profile                  # SQLite, 300 callbacks
    .venv/bin/python -m benchmarks.worker_profile --profile 30     # plus cProfile's top 30
    .venv/bin/python -m benchmarks.worker_profile --url postgresql+psycopg://…/db  # emptied

Invoices, callbacks and answers are made as ``booking_profile`` makes them; only the worker's
part is counted: process CPU time (all threads) ÷ callbacks, so a busy machine slows the
figure less than wall time would. Every invoice must end paid.
"""

import argparse
import cProfile
import io
import pstats
import time

from sqlalchemy import text

from benchmarks.booking_profile import API_USERNAME, scratch_database


def _answer_body(answer) -> dict:
    status = answer.result.status
    return {
        "api_username": API_USERNAME,
        "order_reference": status.order_reference,
        "payment_reference": status.payment_reference,
        "payment_state": "settled",
        "initial_amount": str(status.initial_amount),
        "standing_amount": str(status.standing_amount),
        "currency": "EUR",
        "payment_method": "card",
        "email": "pay@example.lv",
        "payment_created_at": "2026-05-02T09:14:15.501Z",
        "transaction_time": "2026-05-02T09:14:16.501Z",
        "cc_details": {"last_four_digits": "1002", "type": "master_card"},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.worker_profile")
    parser.add_argument("--callbacks", type=int, default=300)
    parser.add_argument("--batch", type=int, default=20, help="events per claim")
    parser.add_argument("--url", default="", help="PostgreSQL database to use (emptied)")
    parser.add_argument("--profile", type=int, default=0, help="print cProfile's top N")
    args = parser.parse_args(argv)

    url = scratch_database(prefix="worker-profile-", url=args.url)
    import httpx
    import respx

    from benchmarks.booking_profile import _prepare
    from shared.callbacks.processing import run_claimed_event
    from shared.callbacks.queue import claim_due_events, worker_name
    from shared.db import get_engine

    engine = get_engine()
    # Made as booking_profile makes them (it claims each); given back to the queue unclaimed.
    bodies = {}
    for answer in _prepare(url, args.callbacks):
        bodies[answer.result.status.payment_reference] = _answer_body(answer)
    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE callback_event SET status = 'pending', claimed_by = NULL, "
                "claimed_until = NULL, attempts = 0"
            )
        )

    profiler = cProfile.Profile() if args.profile else None
    done = 0
    with respx.mock(assert_all_called=False) as api:
        api.get(url__regex=r"/payments/(?P<reference>[0-9a-f]+)").mock(
            side_effect=lambda request, reference: httpx.Response(200, json=bodies[reference])
        )
        claimant = worker_name("worker-profile")
        began = time.process_time()
        if profiler:
            profiler.enable()
        while batch := claim_due_events(worker=claimant, limit=args.batch):
            for claimed in batch:
                run_claimed_event(claimed)
                done += 1
        if profiler:
            profiler.disable()
        cpu = time.process_time() - began

    with engine.connect() as connection:
        paid = connection.execute(
            text("SELECT COUNT(*) FROM invoice WHERE status = 'paid'")
        ).scalar_one()
    print(f"{engine.dialect.name}: {done} callbacks, {paid} invoices paid, claims of {args.batch}")
    print(f"CPU per callback: {cpu / max(done, 1) * 1000:.2f} ms (claim, API call, booking)")
    if paid != args.callbacks:
        raise SystemExit(f"{args.callbacks - paid} invoices were not paid")
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(args.profile)
        print(out.getvalue())


if __name__ == "__main__":
    main()
