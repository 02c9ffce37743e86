"""Exact money: Decimal in code, integer minor units in the database, one rounding rule.

Every conversion from a Decimal amount to minor units goes through ``to_minor``, which
rounds half up (2.665 -> 2.67), the rule Baltic invoices and VAT returns use.
"""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from types import MappingProxyType

ROUNDING = ROUND_HALF_UP

# ISO 4217 exponents that differ from 2; every other code has two decimals.
_EXPONENTS = {"JPY": 0, "KRW": 0, "ISK": 0, "HUF": 2, "BHD": 3, "KWD": 3, "TND": 3}
# Read-only, for code that formats amounts elsewhere (the database, in CSV exports).
CURRENCY_EXPONENT_EXCEPTIONS = MappingProxyType(_EXPONENTS)
SUPPORTED_CURRENCIES = ("EUR", "USD", "GBP", "SEK", "NOK", "DKK", "PLN", "CHF")


class MoneyError(ValueError):
    """A money value that cannot be used, with a message fit for the person who typed it."""


def exponent(currency: str) -> int:
    return _EXPONENTS.get(currency.upper(), 2)


def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-exponent(currency))


def parse_decimal(text: str | int | Decimal, *, field: str = "Amount") -> Decimal:
    """Parse what a person typed ("1 234,50", "1234.5") into a Decimal, never via float."""
    if isinstance(text, Decimal):
        value = text
    elif isinstance(text, int) and not isinstance(text, bool):
        value = Decimal(text)
    elif isinstance(text, str):
        cleaned = text.strip().replace("\u00a0", "").replace(" ", "").replace("'", "")
        if not cleaned:
            raise MoneyError(f"{field} is empty.")
        if "," in cleaned and "." in cleaned:
            # The last separator is the decimal one: "1.234,50" or "1,234.50".
            if cleaned.rfind(",") > cleaned.rfind("."):
                cleaned = cleaned.replace(".", "").replace(",", ".")
            else:
                cleaned = cleaned.replace(",", "")
        else:
            cleaned = cleaned.replace(",", ".")
        try:
            value = Decimal(cleaned)
        except InvalidOperation:
            raise MoneyError(f"{field} '{text}' is not a number.") from None
    else:
        raise MoneyError(f"{field} must be typed as text, not {type(text).__name__}.")
    if not value.is_finite():
        raise MoneyError(f"{field} '{text}' is not a number.")
    return value


def round_money(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(quantum(currency), rounding=ROUNDING)


def to_minor(amount: Decimal | str | int, currency: str) -> int:
    value = parse_decimal(amount) if not isinstance(amount, Decimal) else amount
    return int(round_money(value, currency).scaleb(exponent(currency)))


def from_minor(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-exponent(currency)).quantize(quantum(currency))


def format_plain(minor: int, currency: str) -> str:
    """'125.50' — the form EveryPay's transaction_amount wants: dot, no grouping, no symbol."""
    return f"{from_minor(minor, currency):f}"


def format_money(minor: int, currency: str) -> str:
    """'1 234.50 EUR' — grouped with a thin space, the way Baltic invoices print amounts."""
    value = from_minor(minor, currency)
    sign = "-" if value < 0 else ""
    whole, _, fraction = f"{abs(value):f}".partition(".")
    groups = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    grouped = "\u202f".join(groups)
    return f"{sign}{grouped}{'.' + fraction if fraction else ''} {currency}"


@dataclass(frozen=True)
class LineAmounts:
    net_minor: int
    vat_minor: int
    gross_minor: int


def line_amounts(
    *, quantity: Decimal, unit_price_minor: int, vat_rate: Decimal, currency: str
) -> LineAmounts:
    """Net rounded per line, VAT rounded per line on the rounded net."""
    unit_price = from_minor(unit_price_minor, currency)
    net = round_money(quantity * unit_price, currency)
    vat = round_money(net * vat_rate / Decimal(100), currency)
    net_minor = to_minor(net, currency)
    vat_minor = to_minor(vat, currency)
    return LineAmounts(net_minor=net_minor, vat_minor=vat_minor, gross_minor=net_minor + vat_minor)


@dataclass(frozen=True)
class Totals:
    subtotal_minor: int
    vat_minor: int
    total_minor: int
    vat_breakdown: dict[str, tuple[int, int]]  # rate -> (net, vat)


def invoice_totals(lines: list[LineAmounts], rates: list[Decimal]) -> Totals:
    breakdown: dict[str, tuple[int, int]] = {}
    for amounts, rate in zip(lines, rates, strict=True):
        key = f"{rate.normalize():f}"
        net, vat = breakdown.get(key, (0, 0))
        breakdown[key] = (net + amounts.net_minor, vat + amounts.vat_minor)
    subtotal = sum(a.net_minor for a in lines)
    vat_total = sum(a.vat_minor for a in lines)
    return Totals(
        subtotal_minor=subtotal,
        vat_minor=vat_total,
        total_minor=subtotal + vat_total,
        vat_breakdown=dict(sorted(breakdown.items(), key=lambda item: Decimal(item[0]))),
    )


def parse_quantity(text: str | Decimal) -> Decimal:
    value = parse_decimal(text, field="Quantity")
    if value <= 0:
        raise MoneyError("Quantity must be more than zero.")
    if value.as_tuple().exponent < -3:  # type: ignore[operator]
        raise MoneyError("Quantity can have at most three decimals.")
    return value


def parse_vat_rate(text: str | Decimal) -> Decimal:
    value = parse_decimal(text, field="VAT rate")
    if value < 0 or value > 100:
        raise MoneyError("VAT rate must be between 0 and 100 percent.")
    return value


def parse_amount_minor(text: str, currency: str, *, field: str = "Amount") -> int:
    """A typed amount to minor units; refuses more decimals than the currency has."""
    value = parse_decimal(text, field=field)
    if value.as_tuple().exponent < -exponent(currency):  # type: ignore[operator]
        raise MoneyError(f"{field} '{text}' has more than {exponent(currency)} decimals.")
    return to_minor(value, currency)
