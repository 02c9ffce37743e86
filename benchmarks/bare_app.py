"""The intake baseline: a bare FastAPI endpoint on the Callback URL's path that answers 200
and does nothing else, served with the callback service's own uvicorn settings.

Usage: ``python -m benchmarks.bare_app --port 8001``
"""

import argparse

import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from callback_service.logging_config import log_config
from shared.config import get_settings

app = FastAPI(docs_url=None, redoc_url=None)


@app.get("/callbacks/linkpay/{channel_token}")
async def callback(channel_token: str) -> JSONResponse:
    return JSONResponse({"status": "received"})


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bare_app")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    # Same as callback_service/__main__.py, so only the work behind the endpoint differs.
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        log_config=log_config(get_settings().log_level),
        server_header=False,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
