"""The sandbox as one FastAPI app: portal, hosted page, API v4, scripting API, callbacks."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI

from shared.config import get_settings

from . import api, hosted, portal, scripting
from .callbacks import CallbackDispatcher
from .service import DEFAULT_BANK_SETTLE_SECONDS, DEFAULT_CALLBACK_SCHEDULE, Sandbox, SandboxError
from .store import SandboxStore


def default_store_path() -> Path:
    return get_settings().data_dir / "sandbox.db"


def create_app(
    store_path: Path | None = None,
    *,
    callback_schedule: tuple[float, ...] | None = None,
    public_url: str | None = None,
    bank_settle_seconds: float | None = None,
) -> FastAPI:
    """``public_url`` None: ``LINKPAY_SANDBOX_PUBLIC_URL`` if set, else each request's host."""
    sandbox = Sandbox(
        SandboxStore(store_path or default_store_path()),
        callback_schedule=(
            DEFAULT_CALLBACK_SCHEDULE if callback_schedule is None else callback_schedule
        ),
        bank_settle_seconds=(
            DEFAULT_BANK_SETTLE_SECONDS if bank_settle_seconds is None else bank_settle_seconds
        ),
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(CallbackDispatcher(sandbox).run())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    app = FastAPI(title="EveryPay sandbox", lifespan=lifespan)
    app.state.sandbox = sandbox
    app.state.public_url = (public_url or get_settings().sandbox_public_url or "").rstrip("/")
    app.add_exception_handler(api.ApiError, api.api_error_response)
    app.add_exception_handler(SandboxError, scripting.sandbox_error_response)
    for module in (portal, hosted, api, scripting):
        app.include_router(module.router)

    @app.get("/health", tags=["health"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
