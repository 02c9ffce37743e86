"""The callback service: EveryPay callbacks, health, and the public invoice pages."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from callback_service import public_pages, routes
from callback_service.background import Background


def create_app(*, start_background: bool = True) -> FastAPI:
    """``start_background=False`` serves requests only (tests, or a second front end
    whose callbacks another process's workers apply)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        background = Background() if start_background else None
        app.state.background = background
        if background is not None:
            background.start()
        try:
            yield
        finally:
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
    app.include_router(routes.router)
    app.include_router(public_pages.router)
    return app
