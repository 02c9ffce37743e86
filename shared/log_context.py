"""What a log line is about (the callback request, the stored callback), without passing it.

A callback crosses three places: the HTTP handler, the intake writer thread and, later,
a worker thread in another process. Each sets the context it knows with ``log_context``
and every line logged inside carries it: ``ContextFilter``, attached to the handlers,
copies the fields onto the record, and the JSON format writes them out. Context
variables follow the code path (a thread or an asyncio task each see their own), so
shared code logs as usual and never hands an id to the logger itself.
"""

import logging
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any

# The fields a line may carry, in the order the JSON format writes them.
CONTEXT_FIELDS = ("request_id", "callback_id")

_context: ContextVar[MappingProxyType[str, Any]] = ContextVar(
    "linkpay_log_context", default=MappingProxyType({})
)

# Ids from a client are kept only when they are short and plain: they are written into
# log lines and the database, where newlines or quotes could forge or break a line.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def request_id_from(header: str | None) -> str:
    """The client's ``X-Request-ID`` when it is a sane token, else a new id."""
    if header is not None and _SANE_REQUEST_ID.fullmatch(header):
        return header
    return secrets.token_hex(16)


def _with(fields: dict[str, Any]) -> MappingProxyType[str, Any]:
    merged = dict(_context.get())
    merged.update({name: value for name, value in fields.items() if value is not None})
    return MappingProxyType(merged)


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Lines logged inside carry ``fields`` (None values are left out)."""
    token = _context.set(_with(fields))
    try:
        yield
    finally:
        _context.reset(token)


def bind_log_context(**fields: Any) -> None:
    """Like ``log_context`` for the rest of the current task or thread: for an HTTP request,
    whose context ends with the request, including the access log line written after it."""
    _context.set(_with(fields))


class ContextFilter(logging.Filter):
    """Copies the current context onto each record passing the handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in _context.get().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True
