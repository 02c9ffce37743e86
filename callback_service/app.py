"""The callback service: EveryPay callbacks, health, and the public invoice pages."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from callback_service import metrics, public_pages, routes
from callback_service.background import Background, BackgroundProcess
from callback_service.callback_url import CallbackUrl, document_callback_url
from callback_service.metrics import CallbackAnswers
from shared.callbacks.group_commit import IntakeWriter
from shared.callbacks.ratelimit import IntakeGuard
from shared.config import get_settings


def create_app(*, start_background: bool = True, background_in_process: bool = False) -> FastAPI:
    """``start_background=False`` serves requests only (tests, or a second front end
    whose callbacks another process's workers apply). The background work runs in a
    child process unless ``background_in_process`` (tests that inject faults in-process).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        background: Background | BackgroundProcess | None = None
        if start_background:
            background = Background() if background_in_process else BackgroundProcess()
        app.state.background = background
        if background is not None:
            background.start()
        try:
            yield
        finally:
            await run_in_threadpool(app.state.intake_writer.stop)
            app.state.intake_guard.counts.report()
            if background is not None:
                await run_in_threadpool(background.stop)

    app = FastAPI(
        title="LinkPay Desk callback service",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.background = None
    app.state.intake_writer = IntakeWriter(on_stored=lambda: _wake(app))
    app.state.intake_guard = IntakeGuard(get_settings())
    app.state.callback_answers = CallbackAnswers()
    app.add_middleware(CallbackUrl)
    document_callback_url(app)
    app.include_router(routes.router)
    app.include_router(metrics.router)
    app.include_router(public_pages.router)
    return app


def _wake(app: FastAPI) -> None:
    """Stored callbacks are waiting: the workers look now, not at their next poll."""
    if app.state.background is not None:
        app.state.background.wake()
