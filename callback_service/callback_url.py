"""The Callback URL, answered as plain ASGI ahead of FastAPI's routing.

EveryPay calls it for every payment event, in bursts of hundreds a second, and the answer
needs only the path, the query string and (for a POST) the body. Behind FastAPI each call
also went through its exception and exit-stack middleware, the router's walk over every
route, a Request object and dependency solving for the one path parameter: a py-spy
profile of the event loop at 200 callbacks/s put that at a quarter of its busy time, more
than twice the endpoint's own code. ``CallbackUrl`` sits in FastAPI's middleware stack
(inside its error handler, so an unexpected failure is still logged and answered 500) and
answers the Callback URL itself; every other path goes on to the routes.

The OpenAPI document describes the Callback URL as before (``document_callback_url``), so
clients and the property-based schema tests see one contract.
"""

import json
import re
from collections.abc import Callable
from typing import Any, Literal
from urllib.parse import parse_qsl

from fastapi import FastAPI
from pydantic import BaseModel
from starlette.datastructures import Headers
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.callbacks.intake import FIELD_PATTERNS, MAX_PARAMS, REQUIRED, CallbackRequest
from shared.config import get_settings
from shared.log_context import bind_log_context, request_id_from

CALLBACK_PATH = "/callbacks/linkpay/{channel_token}"
# The token is one path segment; a trailing slash is forgiven (a pasted URL may have one).
_CALLBACK_PATH = re.compile(r"/callbacks/linkpay/([^/]+)/?")
REQUEST_ID_HEADER = "X-Request-ID"
_METHODS = ("GET", "POST")


class Received(BaseModel):
    status: Literal["received"]


class Rejected(BaseModel):
    status: Literal["rejected"]
    error: str
    fields: list[str] = []


class NotFound(BaseModel):
    detail: str


class Refused(BaseModel):
    status: Literal["refused", "unavailable"]
    error: str


class MethodNotAllowed(BaseModel):
    detail: str


class _Answer:
    """A JSON answer, encoded as Starlette's JSONResponse does."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, body: dict, status: int, *, retry_after: int | None = None) -> None:
        self.status = status
        self.body = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        self.headers = [(b"content-type", b"application/json")]
        if retry_after is not None:
            self.headers.append((b"retry-after", str(retry_after).encode()))


class _BodyTooLarge(Exception):
    pass


class _ClientGone(Exception):
    pass


class CallbackUrl:
    """ASGI middleware: answers GET and POST on the Callback URL, 405 to other methods
    there, and passes every other request on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _CALLBACK_PATH.fullmatch(scope["path"]) if scope["type"] == "http" else None
        if match is None:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        request_id = _bind_request_id(headers)
        if scope["method"] in _METHODS:
            answer = await _receive(match.group(1), scope, receive, headers, request_id)
        else:
            answer = _Answer({"detail": "Method Not Allowed"}, 405)
            answer.headers.append((b"allow", ", ".join(_METHODS).encode()))
        if answer is None:
            return  # the sender hung up while its body was being read: nobody to answer
        scope["app"].state.callback_answers.count(answer.status)
        # Every answer says which id the request was logged and stored under, so a sender's
        # support question ("what happened to this one?") leads straight to the lines.
        response_headers = [
            *answer.headers,
            (b"content-length", str(len(answer.body)).encode()),
            (REQUEST_ID_HEADER.lower().encode(), request_id.encode()),
        ]
        await send({"type": "http.response.start", "status": answer.status,
                    "headers": response_headers})  # fmt: skip
        await send({"type": "http.response.body", "body": answer.body})


def _bind_request_id(headers: Headers) -> str:
    """The request's id, on every line logged for it from here on (the access line too)."""
    request_id = request_id_from(headers.get(REQUEST_ID_HEADER))
    bind_log_context(request_id=request_id)
    return request_id


async def _receive(
    channel_token: str, scope: Scope, receive: Receive, headers: Headers, request_id: str
) -> _Answer | None:
    settings = get_settings()
    state = scope["app"].state
    query_limit = settings.callback_max_query_bytes
    query_string: bytes = scope.get("query_string", b"")
    if len(query_string) > query_limit:
        return _rejected(f"query string longer than {query_limit} bytes", status=414)
    client = scope.get("client")
    client_host = client[0] if client else None
    address = client_host or "unknown"
    guard = state.intake_guard
    refusal = guard.admit(token=channel_token, address=address)
    if refusal is not None:
        return _Answer(refusal.body, refusal.http_status, retry_after=refusal.retry_after_seconds)
    # Decoded as Starlette decodes a query string; a repeated name keeps its last value.
    params = dict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True))
    # Only a POST's body carries parameters; a GET's (EveryPay sends none) is not read.
    if scope["method"] == "POST":
        body_limit = settings.callback_max_body_bytes
        try:
            body = await _read_body(receive, headers, limit=body_limit)
        except _BodyTooLarge:
            return _rejected(f"body larger than {body_limit} bytes", status=413)
        except _ClientGone:
            return None
        params.update(await _form_fields(headers, body))
    result = await state.intake_writer.submit(
        CallbackRequest(
            channel_token=channel_token,
            params=params,
            http_method=scope["method"],
            remote_addr=client_host,
            request_id=request_id,
        )
    )
    if result.retry_after_seconds is not None:
        return _Answer(result.body, result.http_status, retry_after=result.retry_after_seconds)
    guard.record(token=channel_token, address=address, unknown_url=result.unknown_url)
    return _Answer(result.body, result.http_status)


def _rejected(error: str, *, status: int) -> _Answer:
    return _Answer({"status": "rejected", "error": error, "fields": []}, status)


async def _read_body(receive: Receive, headers: Headers, *, limit: int) -> bytes:
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _BodyTooLarge
    received = bytearray()
    # Counted while streaming: a chunked body has no length to check up front.
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone
        received += message.get("body", b"")
        if len(received) > limit:
            raise _BodyTooLarge
        if not message.get("more_body", False):
            return bytes(received)


async def _form_fields(headers: Headers, body: bytes) -> dict[str, str]:
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/x-www-form-urlencoded":
        pairs = parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)
        return dict(pairs[:MAX_PARAMS])
    if content_type == "multipart/form-data":

        async def single_chunk():
            yield body

        parser = MultiPartParser(headers, single_chunk(), max_files=0, max_fields=MAX_PARAMS)
        try:
            form = await parser.parse()
        except MultiPartException:
            # Unreadable form: the query string may still carry the callback, and if not,
            # intake records it as rejected with "payment_reference missing".
            return {}
        return {key: value for key, value in form.items() if isinstance(value, str)}
    return {}


_FIELD_DOCS = {
    "payment_reference": "EveryPay payment reference (64 hex characters).",
    "order_reference": "The order reference the payment was made for (the invoice number).",
    "event_name": "status_updated, refunded, voided, chargebacked, abandoned, dispute_…",
}
_ANSWERS: dict[int, tuple[type[BaseModel], str]] = {
    200: (Received, "Stored; it is verified with EveryPay afterwards."),
    400: (Rejected, "Malformed parameters (the request is recorded)."),
    404: (NotFound, "No channel has this Callback URL (not stored)."),
    405: (MethodNotAllowed, "Only GET and POST are answered."),
    413: (Rejected, "Body larger than the configured limit."),
    414: (Rejected, "Query string longer than the configured limit."),
    429: (Refused, "Over a rate limit; see Retry-After."),
    503: (Refused, "Could not be stored now; see Retry-After."),
}
# Optional fields may also come empty, which counts as absent.
_FIELD_SCHEMAS = {
    name: {
        "type": "string",
        "pattern": f"^{pattern}$" if name in REQUIRED else f"^(?:{pattern})?$",
        "description": _FIELD_DOCS[name],
    }
    for name, pattern in FIELD_PATTERNS.items()
}
_TOKEN_PARAMETER = {
    "name": "channel_token",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "title": "Channel Token"},
}
_QUERY_PARAMETERS = [
    {"name": name, "in": "query", "required": name in REQUIRED, "schema": schema}
    for name, schema in _FIELD_SCHEMAS.items()
]
# POST also accepts the query string as GET does; documented as a form, the common case.
_FORM_BODY = {
    "required": True,
    "content": {
        "application/x-www-form-urlencoded": {
            "schema": {
                "type": "object",
                "properties": _FIELD_SCHEMAS,
                "required": list(REQUIRED),
            }
        }
    },
}


def _responses(schemas: dict[str, Any]) -> dict[str, Any]:
    responses = {}
    for status, (model, description) in _ANSWERS.items():
        schemas[model.__name__] = model.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        reference = {"$ref": f"#/components/schemas/{model.__name__}"}
        responses[str(status)] = {
            "description": description,
            "content": {"application/json": {"schema": reference}},
        }
    return responses


def document_callback_url(app: FastAPI) -> None:
    """Adds the Callback URL's GET and POST to the app's OpenAPI document."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()  # FastAPI's own document, kept on the app
            schemas = schema.setdefault("components", {}).setdefault("schemas", {})
            responses = _responses(schemas)
            schema["paths"][CALLBACK_PATH] = {
                "get": {
                    "summary": "EveryPay callback notification (GET, as EveryPay sends it)",
                    "operationId": "linkpay_callback_get",
                    "parameters": [_TOKEN_PARAMETER, *_QUERY_PARAMETERS],
                    "responses": responses,
                },
                "post": {
                    "summary": "EveryPay callback notification (POST, form or query parameters)",
                    "operationId": "linkpay_callback_post",
                    "parameters": [_TOKEN_PARAMETER],
                    "requestBody": _FORM_BODY,
                    "responses": responses,
                },
            }
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
