"""HTTP routes of the callback service besides the Callback URL (``callback_url``)."""

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from shared.callbacks.health import check_health

router = APIRouter()


class HealthReport(BaseModel):
    status: Literal["ok", "degraded", "unavailable"]
    database: bool
    worker_alive: bool
    backlog: int | None
    oldest_pending_seconds: float | None
    needs_attention: int | None
    retrying: int | None
    secrets_readable: bool | None


@router.get(
    "/health",
    response_model=HealthReport,
    responses={503: {"model": HealthReport, "description": "Database or worker down."}},
)
async def health(request: Request) -> JSONResponse:
    background = request.app.state.background
    report = await run_in_threadpool(
        check_health, local_worker_alive=background.alive if background else None
    )
    return JSONResponse(report.as_dict(), status_code=200 if report.ok else 503)
