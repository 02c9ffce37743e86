"""Jinja templates shared by the merchant portal and the hosted payment page."""

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from fastapi.templating import Jinja2Templates

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def money(amount: Decimal, currency: str) -> str:
    return f"{amount:.2f} {currency}"


def utc_time(moment: datetime | None) -> str:
    return "" if moment is None else f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


templates.env.filters["money"] = money
templates.env.filters["utc_time"] = utc_time
