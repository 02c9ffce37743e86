"""The LinkPay pre-filled link signature (everypay.md §1).

Keys and values are percent-encoded from their UTF-8 bytes keeping only ``A-Z a-z 0-9 - _ .``
(a space becomes ``%20``, never ``+``; hex escapes are upper-case), joined as ``k=v`` with
``&`` in the given order, and signed with HMAC-SHA256 under the API secret. ``hmac`` goes
last and is not itself signed.
"""

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from urllib.parse import quote, unquote

_SAFE = "-_."  # quote() always keeps A-Z a-z 0-9 and these; "~" must be escaped too.

Params = Mapping[str, object] | Iterable[tuple[str, object]]


def encode_component(text: str) -> str:
    return quote(str(text), safe=_SAFE, encoding="utf-8").replace("~", "%7E")


def decode_component(text: str) -> str:
    return unquote(text, encoding="utf-8", errors="strict")


def _pairs(params: Params) -> list[tuple[str, str]]:
    items = params.items() if isinstance(params, Mapping) else params
    return [(str(key), "" if value is None else str(value)) for key, value in items]


def canonical_query(params: Params) -> str:
    return "&".join(f"{encode_component(k)}={encode_component(v)}" for k, v in _pairs(params))


def sign_query(query: str, api_secret: str) -> str:
    return hmac.new(api_secret.encode("utf-8"), query.encode("utf-8"), hashlib.sha256).hexdigest()


def signed_link_url(prefix: str, api_secret: str, params: Params) -> str:
    """The full pay link: ``prefix?k=v&...&hmac=<hex>``, parameters in the order given."""
    pairs = _pairs(params)
    if not any(key == "linkpay_token" for key, _ in pairs):
        raise ValueError("params must include linkpay_token")
    if any(key == "hmac" for key, _ in pairs):
        raise ValueError("params must not include hmac; it is added here")
    query = canonical_query(pairs)
    return f"{prefix}?{query}&hmac={sign_query(query, api_secret)}"


def split_signed_query(raw_query: str) -> tuple[str, str | None]:
    """The signed part of a received query string as it arrived, and its ``hmac`` value.

    EveryPay verifies the string as received, so the signed part is kept byte for byte.
    """
    parts = raw_query.split("&") if raw_query else []
    signature = None
    kept = []
    for part in parts:
        if part.startswith("hmac="):
            signature = part[len("hmac=") :]
        else:
            kept.append(part)
    return "&".join(kept), signature


def verify_query(raw_query: str, api_secret: str) -> bool:
    signed, signature = split_signed_query(raw_query)
    if not signature:
        return False
    return hmac.compare_digest(sign_query(signed, api_secret), signature.lower())


def parse_query(raw_query: str) -> dict[str, str]:
    result: dict[str, str] = {}
    for part in raw_query.split("&") if raw_query else []:
        key, _, value = part.partition("=")
        result[decode_component(key)] = decode_component(value)
    return result
