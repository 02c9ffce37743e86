"""Download links of the dashboard's exports: short-lived, signed, good for one file.

A link's token says which prepared export it fetches (the table with the filter, sort and
language the page showed), in which format, for which user and sign-in, and until when. It
is signed with an HMAC key derived from the secret key file, so it cannot be altered or
made up; and it is only half of the permission: the download route also wants the
browser's session cookie of that same sign-in, so a link copied elsewhere fetches nothing.
"""

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import asdict, dataclass

from shared.security import signing_keys

# Long enough to click a link on a page left open for a while; a link in a browser history
# or a proxy log is useless soon after.
LINK_MINUTES = 15
FORMATS = ("csv", "xlsx")
_PURPOSE = b"linkpay-desk dashboard export link"


class LinkRefused(ValueError):
    """The token is not one the dashboard signed; ``str`` says so to the user."""


class LinkExpired(LinkRefused):
    """The token was signed by the dashboard, and its minutes are over."""

    def __init__(self, message: str, *, language: str) -> None:
        super().__init__(message)
        self.language = language


@dataclass(frozen=True)
class DownloadGrant:
    export_id: str  # the prepared export: table, filter, sort and language as shown
    export_key: str  # the table, as the page names its export
    file_format: str  # one of FORMATS
    language: str
    user_id: int
    login_session_id: int
    expires_at: int  # seconds since the epoch


def _signature(key: bytes, payload: str) -> str:
    digest = hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def sign_grant(grant: DownloadGrant) -> str:
    """The URL-safe token of ``grant``."""
    body = json.dumps(asdict(grant), separators=(",", ":"), sort_keys=True)
    payload = base64.urlsafe_b64encode(body.encode("utf-8")).decode("ascii").rstrip("=")
    return f"{payload}.{_signature(signing_keys(_PURPOSE)[0], payload)}"


def read_grant(token: str, *, now: float) -> DownloadGrant:
    """The grant ``token`` carries; LinkRefused when it was altered, made up or expired."""
    payload, _, signature = token.partition(".")
    if (
        not payload.isascii()
        or not signature.isascii()
        or not any(
            hmac.compare_digest(signature, _signature(key, payload))
            for key in signing_keys(_PURPOSE)
        )
    ):
        raise LinkRefused("This download link is not valid.")
    try:
        fields = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        grant = DownloadGrant(**fields)
    except (binascii.Error, ValueError, TypeError):
        # Signed by us, so only an older link layout gets here.
        raise LinkRefused("This download link is not valid.") from None
    if grant.file_format not in FORMATS:
        raise LinkRefused("This download link is not valid.")
    if now >= grant.expires_at:
        raise LinkExpired(
            "This download link has expired. Reload the page and download again.",
            language=grant.language,
        )
    return grant
