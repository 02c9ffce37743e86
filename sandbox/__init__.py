"""EveryPay-compatible simulator: merchant portal, hosted LinkPay page, API v4, callbacks."""
