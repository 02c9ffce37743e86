"""EveryPay LinkPay: signed pay links and the API v4 client."""

from shared.linkpay.signing import signed_link_url

__all__ = ["signed_link_url"]
