"""``python -m callback_service``: serve the callback service with uvicorn."""

import uvicorn

from callback_service.app import create_app
from callback_service.logging_config import log_config
from shared.config import get_settings


def main() -> None:
    settings = get_settings()
    uvicorn.run(
        create_app(),
        host=settings.callback_host,
        port=settings.callback_port,
        log_config=log_config(settings.log_level, settings.log_format),
        server_header=False,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
