"""``GET /metrics``: the numbers ``/health`` has, in the text format Prometheus and most
monitoring tools read, plus this process's callback answers by HTTP status.

The callback figures (backlog, oldest waiting, retrying, needs a person) come from the
database and so describe the whole installation, whichever replica is asked; the request
counters are this process's own since it started, as Prometheus counters are.
"""

from collections import Counter

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse

from shared.callbacks.health import Health, check_health

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


def render_metrics(*, health: Health, answers: CallbackAnswers) -> str:
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
    ]
    return "\n".join(lines) + "\n"


@router.get("/metrics", response_class=PlainTextResponse, include_in_schema=False)
async def metrics(request: Request) -> PlainTextResponse:
    background = request.app.state.background
    health = await run_in_threadpool(
        check_health, local_worker_alive=background.alive if background else None
    )
    text = render_metrics(health=health, answers=request.app.state.callback_answers)
    return PlainTextResponse(text, media_type=PROMETHEUS_TEXT)
