"""Logging for the callback service: plain lines, and no URL token ever written out.

The Callback URL's last path segment is the channel's secret, and a public invoice link's
token is a bearer secret too; uvicorn's access log would print both. Every handler's
formatter redacts them from the finished line, tracebacks included.
"""

import logging
import re
from typing import Any

from uvicorn.logging import AccessFormatter

_SECRET_PATHS = re.compile(r"(/callbacks/linkpay/|/i/)[^/\s?#\"']+")


def redact(text: str) -> str:
    return _SECRET_PATHS.sub(r"\1***", text)


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class RedactingAccessFormatter(AccessFormatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def log_config(level: str = "INFO") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` dict, given to uvicorn as its ``log_config``."""
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "default": {
                "()": f"{__name__}.RedactingFormatter",
                "fmt": "%(asctime)s %(levelname)s %(name)s: %(message)s",
            },
            "access": {
                "()": f"{__name__}.RedactingAccessFormatter",
                "fmt": '%(asctime)s %(levelname)s access: %(client_addr)s - "%(request_line)s" '
                "%(status_code)s",
                "use_colors": False,
            },
        },
        "handlers": {
            "default": {
                "formatter": "default",
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
            },
            "access": {
                "formatter": "access",
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
            },
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": ["access"], "level": level, "propagate": False},
        },
        "root": {"handlers": ["default"], "level": level},
    }
