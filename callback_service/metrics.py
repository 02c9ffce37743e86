"""``GET /metrics``: the numbers ``/health`` has, in the text format Prometheus and most
monitoring tools read, plus this process's callback answers by HTTP status.

The callback figures (backlog, oldest waiting, retrying, needs a person) come from the
database and so describe the whole installation, whichever replica is asked; the request
counters are this process's own since it started, as Prometheus counters are. The workers'
counters (callbacks finished, EveryPay calls and their time, bookings) are each live worker
process's own, labelled ``worker="host:pid"``: workers run in other processes, and write
them beside their heartbeat.
"""

from collections import Counter
from collections.abc import Sequence

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse

from shared.callbacks.health import Health, WorkerReport, check_health, live_worker_counters

router = APIRouter()

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


class CallbackAnswers:
    """Callback requests answered by this process, by HTTP status. Counted on the event
    loop's thread only, so a plain Counter needs no lock."""

    def __init__(self) -> None:
        self.by_status: Counter[int] = Counter()

    def count(self, status: int) -> None:
        self.by_status[status] += 1


def _gauge(name: str, help_text: str, value: float | int | None) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
    if value is not None:
        lines.append(f"{name} {value}")
    return lines


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _counter(
    name: str, help_text: str, samples: list[tuple[dict[str, str], float | int]]
) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} counter"]
    for labels, value in samples:
        text = ",".join(f'{key}="{_label(label)}"' for key, label in labels.items())
        lines.append(f"{name}{{{text}}} {value}")
    return lines


def _worker_lines(workers: Sequence[WorkerReport]) -> list[str]:
    def each(key: str) -> list[tuple[dict[str, str], float | int]]:
        return [({"worker": report.worker}, report.counters.get(key, 0)) for report in workers]

    def by(key: str, label: str) -> list[tuple[dict[str, str], float | int]]:
        return [
            ({"worker": report.worker, label: name}, count)
            for report in workers
            for name, count in sorted(report.counters.get(key, {}).items())
        ]

    return [
        *_counter(
            "linkpay_worker_callbacks_total",
            "Callbacks each live worker process finished since it started, by result.",
            by("callbacks", "result"),
        ),
        *_counter(
            "linkpay_worker_bookings_total",
            "EveryPay answers a worker process (callbacks, reconciler) applied that moved money.",
            each("bookings"),
        ),
        *_counter(
            "linkpay_everypay_api_calls_total",
            "Payment look-ups a worker process (callbacks, reconciler) asked EveryPay, by outcome.",
            by("api_calls", "outcome"),
        ),
        *_counter(
            "linkpay_everypay_api_seconds_total",
            "Time a worker process waited for EveryPay's API; over the calls, the mean latency.",
            each("api_seconds"),
        ),
    ]


def render_metrics(
    *, health: Health, answers: CallbackAnswers, workers: Sequence[WorkerReport] = ()
) -> str:
    lines = [
        "# HELP linkpay_callback_requests_total Callback requests this process answered, "
        "by HTTP status.",
        "# TYPE linkpay_callback_requests_total counter",
        *(
            f'linkpay_callback_requests_total{{status="{status}"}} {count}'
            for status, count in sorted(answers.by_status.items())
        ),
        *_gauge("linkpay_database_up", "1 when the database answers.", int(health.database)),
        *_gauge(
            "linkpay_worker_alive",
            "1 when a callback worker has reported in lately.",
            int(health.worker_alive),
        ),
        *_gauge(
            "linkpay_callback_backlog",
            "Stored callbacks not yet applied (pending or being processed).",
            health.backlog,
        ),
        *_gauge(
            "linkpay_callback_oldest_pending_seconds",
            "Age of the oldest callback not yet applied (0 when none waits).",
            (health.oldest_pending_seconds or 0) if health.database else None,
        ),
        *_gauge(
            "linkpay_callback_retrying",
            "Callbacks waiting for another try after EveryPay gave no usable answer.",
            health.retrying,
        ),
        *_gauge(
            "linkpay_callback_needs_attention",
            "Callbacks retries could not settle; a person should look (Exceptions page).",
            health.needs_attention,
        ),
        *_gauge(
            "linkpay_secrets_readable",
            "1 when the key file opens the channels' API secrets.",
            None if health.secrets_readable is None else int(health.secrets_readable),
        ),
        *_gauge(
            "linkpay_degraded",
            "1 while payments wait on a failing gateway or a person (/health's degraded).",
            int(
                bool(health.retrying or health.needs_attention or health.secrets_readable is False)
            ),
        ),
        *_worker_lines(workers),
    ]
    return "\n".join(lines) + "\n"


@router.get("/metrics", response_class=PlainTextResponse, include_in_schema=False)
async def metrics(request: Request) -> PlainTextResponse:
    background = request.app.state.background
    health = await run_in_threadpool(
        check_health, local_worker_alive=background.alive if background else None
    )
    workers = await run_in_threadpool(live_worker_counters) if health.database else []
    text = render_metrics(
        health=health, answers=request.app.state.callback_answers, workers=workers
    )
    return PlainTextResponse(text, media_type=PROMETHEUS_TEXT)
