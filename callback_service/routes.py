"""HTTP routes of the callback service: parse the request, hand over to shared.callbacks."""

from typing import Literal
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.formparsers import MultiPartException, MultiPartParser

from shared.callbacks.health import check_health
from shared.callbacks.intake import FIELD_PATTERNS, MAX_PARAMS, REQUIRED, CallbackRequest
from shared.config import get_settings
from shared.log_context import bind_log_context, request_id_from

router = APIRouter()

CALLBACK_PATH = "/callbacks/linkpay/{channel_token}"
REQUEST_ID_HEADER = "X-Request-ID"


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


class HealthReport(BaseModel):
    status: Literal["ok", "degraded", "unavailable"]
    database: bool
    worker_alive: bool
    backlog: int | None
    oldest_pending_seconds: float | None
    needs_attention: int | None
    retrying: int | None
    secrets_readable: bool | None


_FIELD_DOCS = {
    "payment_reference": "EveryPay payment reference (64 hex characters).",
    "order_reference": "The order reference the payment was made for (the invoice number).",
    "event_name": "status_updated, refunded, voided, chargebacked, abandoned, dispute_…",
}
_CALLBACK_RESPONSES: dict[int | str, dict] = {
    200: {"model": Received, "description": "Stored; it is verified with EveryPay afterwards."},
    400: {"model": Rejected, "description": "Malformed parameters (the request is recorded)."},
    404: {"model": NotFound, "description": "No channel has this Callback URL (not stored)."},
    413: {"model": Rejected, "description": "Body larger than the configured limit."},
    414: {"model": Rejected, "description": "Query string longer than the configured limit."},
    429: {"model": Refused, "description": "Over a rate limit; see Retry-After."},
    503: {"model": Refused, "description": "Could not be stored now; see Retry-After."},
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


class BodyTooLarge(Exception):
    pass


@router.get(
    CALLBACK_PATH,
    response_model=Received,
    responses=_CALLBACK_RESPONSES,
    openapi_extra={"parameters": _QUERY_PARAMETERS},
    summary="EveryPay callback notification (GET, as EveryPay sends it)",
)
async def linkpay_callback_get(channel_token: str, request: Request) -> JSONResponse:
    request_id = _bind_request_id(request)
    return _counted(request, await _receive(channel_token, request, request_id), request_id)


@router.post(
    CALLBACK_PATH,
    response_model=Received,
    responses=_CALLBACK_RESPONSES,
    openapi_extra={"requestBody": _FORM_BODY},
    summary="EveryPay callback notification (POST, form or query parameters)",
)
async def linkpay_callback_post(channel_token: str, request: Request) -> JSONResponse:
    request_id = _bind_request_id(request)
    return _counted(request, await _receive(channel_token, request, request_id), request_id)


def _bind_request_id(request: Request) -> str:
    """The request's id, on every line logged for it from here on (the access line too)."""
    request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
    bind_log_context(request_id=request_id)
    return request_id


def _counted(request: Request, response: JSONResponse, request_id: str) -> JSONResponse:
    request.app.state.callback_answers.count(response.status_code)
    # Every answer says which id the request was logged and stored under, so a sender's
    # support question ("what happened to this one?") leads straight to the lines.
    response.headers[REQUEST_ID_HEADER] = request_id
    return response


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


async def _receive(channel_token: str, request: Request, request_id: str) -> JSONResponse:
    settings = get_settings()
    query_limit = settings.callback_max_query_bytes
    if len(request.scope.get("query_string", b"")) > query_limit:
        return _rejected(f"query string longer than {query_limit} bytes", status_code=414)
    client_host = request.client.host if request.client else None
    address = client_host or "unknown"
    guard = request.app.state.intake_guard
    refusal = guard.admit(token=channel_token, address=address)
    if refusal is not None:
        return _with_retry_after(refusal.body, refusal.http_status, refusal.retry_after_seconds)
    params = dict(request.query_params)
    # Only a POST's body carries parameters; a GET's (EveryPay sends none) is not read.
    if request.method == "POST":
        body_limit = settings.callback_max_body_bytes
        try:
            body = await _read_body(request, limit=body_limit)
        except BodyTooLarge:
            return _rejected(f"body larger than {body_limit} bytes", status_code=413)
        params.update(await _form_fields(request, body))
    result = await request.app.state.intake_writer.submit(
        CallbackRequest(
            channel_token=channel_token,
            params=params,
            http_method=request.method,
            remote_addr=client_host,
            request_id=request_id,
        )
    )
    if result.retry_after_seconds is not None:
        return _with_retry_after(result.body, result.http_status, result.retry_after_seconds)
    guard.record(token=channel_token, address=address, unknown_url=result.unknown_url)
    return JSONResponse(result.body, status_code=result.http_status)


def _rejected(error: str, *, status_code: int) -> JSONResponse:
    return JSONResponse({"status": "rejected", "error": error, "fields": []}, status_code)


def _with_retry_after(body: dict, status_code: int, seconds: int) -> JSONResponse:
    return JSONResponse(body, status_code, headers={"Retry-After": str(seconds)})


async def _read_body(request: Request, *, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    received = bytearray()
    # Counted while streaming: a chunked body has no length to check up front.
    async for chunk in request.stream():
        received += chunk
        if len(received) > limit:
            raise BodyTooLarge
    return bytes(received)


async def _form_fields(request: Request, body: bytes) -> dict[str, str]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/x-www-form-urlencoded":
        pairs = parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)
        return dict(pairs[:MAX_PARAMS])
    if content_type == "multipart/form-data":

        async def single_chunk():
            yield body

        parser = MultiPartParser(
            request.headers, single_chunk(), max_files=0, max_fields=MAX_PARAMS
        )
        try:
            form = await parser.parse()
        except MultiPartException:
            # Unreadable form: the query string may still carry the callback, and if not,
            # intake records it as rejected with "payment_reference missing".
            return {}
        return {key: value for key, value in form.items() if isinstance(value, str)}
    return {}
