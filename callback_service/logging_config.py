"""Logging for LinkPay Desk's processes: plain lines or JSON, and no URL token written out.

The Callback URL's last path segment is the channel's secret, and a public invoice link's
token is a bearer secret too; uvicorn's access log would print both. Every handler's
formatter redacts them from the finished line (tracebacks included), in either format.

``LINKPAY_LOG_FORMAT=json`` writes one JSON object per line, for log collectors: time
(UTC, ISO 8601), level, logger, message, and the context a line was logged in (the
callback's request id and number, see ``shared.log_context``). Text lines carry the same
context at their end, `` [request_id=… callback_id=…]``, so a support person can follow one
callback with grep through intake, worker and booking without switching formats.
"""

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

from uvicorn.logging import AccessFormatter

from shared.log_context import CONTEXT_FIELDS, ContextFilter

_SECRET_PATHS = re.compile(r"(/callbacks/linkpay/|/i/)[^/\s?#\"']+")

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def redact(text: str) -> str:
    return _SECRET_PATHS.sub(r"\1***", text)


def _context_suffix(record: logging.LogRecord) -> str:
    fields = [
        f"{name}={value}"
        for name in CONTEXT_FIELDS
        if (value := getattr(record, name, None)) is not None
    ]
    return f" [{' '.join(fields)}]" if fields else ""


def _with_context(line: str, record: logging.LogRecord) -> str:
    """The context goes after the message's first line, before any traceback."""
    suffix = _context_suffix(record)
    if not suffix:
        return line
    first, newline, rest = line.partition("\n")
    return f"{first}{suffix}{newline}{rest}"


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(_with_context(super().format(record), record))


class RedactingAccessFormatter(AccessFormatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(_with_context(super().format(record), record))


class JsonFormatter(logging.Formatter):
    """One JSON object per record; secrets redacted in every text it carries."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            line["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(line, ensure_ascii=False, default=str)


def formatter(log_format: str) -> logging.Formatter:
    """The formatter of a plain (non-access) handler for ``LINKPAY_LOG_FORMAT``."""
    return JsonFormatter() if log_format == "json" else RedactingFormatter(TEXT_FORMAT)


def log_config(level: str = "INFO", log_format: str = "text") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` dict, given to uvicorn as its ``log_config``."""
    level = level.upper()
    json_lines = log_format == "json"
    text = {"()": f"{__name__}.RedactingFormatter", "fmt": TEXT_FORMAT}
    access_text = {
        "()": f"{__name__}.RedactingAccessFormatter",
        "fmt": '%(asctime)s %(levelname)s access: %(client_addr)s - "%(request_line)s" '
        "%(status_code)s",
        "use_colors": False,
    }
    json_formatter = {"()": f"{__name__}.JsonFormatter"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": ContextFilter}},
        "formatters": {
            "default": json_formatter if json_lines else text,
            "access": json_formatter if json_lines else access_text,
        },
        "handlers": {
            "default": {
                "formatter": "default",
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "filters": ["context"],
            },
            "access": {
                "formatter": "access",
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "filters": ["context"],
            },
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": ["access"], "level": level, "propagate": False},
            # httpx writes a line per EveryPay call at INFO: the worker's own line about
            # the callback already says what the answer did, and in a busy worker process
            # the duplicate cost a formatted, redacted line per callback (DEBUG keeps it).
            "httpx": {"level": "WARNING" if level.upper() == "INFO" else level},
        },
        "root": {"handlers": ["default"], "level": level},
    }
