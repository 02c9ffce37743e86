"""Exact money: Decimal in code, integer minor units in the database, one rounding rule.

Every conversion from a Decimal amount to minor units goes through ``to_minor``, which
rounds half up (2.665 -> 2.67), the rule Baltic invoices and VAT returns use.
"""

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType

from shared.errors import ValidationError

ROUNDING = ROUND_HALF_UP

# ISO 4217 exponents that differ from 2; every other code has two decimals.
_EXPONENTS = {"JPY": 0, "KRW": 0, "ISK": 0, "HUF": 2, "BHD": 3, "KWD": 3, "TND": 3}
# Read-only, for code that formats amounts elsewhere (the database, in CSV exports).
CURRENCY_EXPONENT_EXCEPTIONS = MappingProxyType(_EXPONENTS)
SUPPORTED_CURRENCIES = ("EUR", "USD", "GBP", "SEK", "NOK", "DKK", "PLN", "CHF")


class MoneyError(ValidationError):
    """A money value that cannot be used, with a message fit for the person who typed it.

    ``label`` is the English name of what was typed ("Amount", "Unit price"), so the
    dashboard tells the whole sentence in the user's language.
    """


def exponent(currency: str) -> int:
    return _EXPONENTS.get(currency.upper(), 2)


def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-exponent(currency))


# The largest amount a line, an invoice or a payment may carry, in minor units: 999 999 999
# 999.99 EUR. Far above any real invoice, and far inside 64 bits (9.2e18): an invoice total
# is a sum of lines each held to this bound and is held to it itself, and 92 000 invoices or
# payments at the bound still sum without overflow (SQLite's SUM raises on overflow). It also
# keeps quantity × unit price inside Decimal's 28 digits, so no rounding happens there.
MAX_AMOUNT_MINOR = 10**14 - 1
MAX_QUANTITY = Decimal("999999999.999")
QUANTITY_DECIMALS = 3
VAT_RATE_DECIMALS = 2
EXCHANGE_RATE_DECIMALS = 6
MAX_EXCHANGE_RATE = Decimal(1_000_000)
# Longer than any bounded value written with grouping spaces.
_MAX_TYPED_LENGTH = 40
_GROUP_SPACES = " \u00a0\u202f"  # space, no-break space, narrow no-break space
# ASCII digits only ([0-9], never \d, which takes Arabic-Indic or full-width digits too).
_TYPED_NUMBER = re.compile(
    rf"(?P<sign>-?)(?P<whole>[0-9]{{1,3}}(?:[{_GROUP_SPACES}][0-9]{{3}})+|[0-9]+)"
    r"(?:(?P<separator>[.,])(?P<fraction>[0-9]+))?"
)


def parse_decimal(text: str | int | Decimal, *, field: str = "Amount") -> Decimal:
    """Parse what a person typed into a Decimal, never via float.

    Accepted: ASCII digits, an optional leading minus, one decimal separator (``.`` or
    ``,``), and spaces (also no-break and narrow no-break, as this app prints amounts)
    grouping the whole part in threes: "1 234,50", "1234.5". Refused with a message:
    other digits, exponents ("1E2"), underscores, a second separator ("1.234,50"), and a
    comma followed by exactly three digits after one to three digits ("1,000", "12,500"),
    which means a thousand to an English reader and one to a Latvian one.
    """
    if isinstance(text, Decimal):
        value = text
    elif isinstance(text, int) and not isinstance(text, bool):
        value = Decimal(text)
    elif isinstance(text, str):
        value = _parse_typed(text, field=field)
    else:
        raise MoneyError(
            "{label} must be typed as text, not {kind}.", label=field, kind=type(text).__name__
        )
    if not value.is_finite():
        raise MoneyError("{label} '{typed}' is not a number.", label=field, typed=str(text))
    return value


def _parse_typed(text: str, *, field: str) -> Decimal:
    typed = text.strip()
    if not typed:
        raise MoneyError("{label} is empty.", label=field)
    if len(typed) > _MAX_TYPED_LENGTH:
        raise MoneyError("{label} is too long to be a number.", label=field)
    match = _TYPED_NUMBER.fullmatch(typed)
    if match is None:
        raise MoneyError("{label} '{typed}' is not a number.", label=field, typed=typed)
    whole = re.sub(f"[{_GROUP_SPACES}]", "", match["whole"])
    fraction = match["fraction"] or ""
    if (
        match["separator"] == ","
        and len(fraction) == 3
        and len(match["whole"]) <= 3
        and not whole.startswith("0")
    ):
        raise MoneyError(
            "{label} '{typed}' is ambiguous (a thousand separator or a decimal comma?): "
            "write {thousands} or {decimal}.",
            label=field,
            typed=typed,
            thousands=f"{whole}{fraction}",
            decimal=f"{whole}.{fraction}",
        )
    return Decimal(f"{match['sign']}{whole}{'.' if fraction else ''}{fraction}")


def max_amount(currency: str) -> Decimal:
    return from_minor(MAX_AMOUNT_MINOR, currency)


def check_amount_bound(amount: Decimal, currency: str, *, field: str = "Amount") -> None:
    """Refuses an amount beyond MAX_AMOUNT_MINOR, naming the bound in the currency."""
    if abs(amount) > max_amount(currency):
        raise MoneyError(
            "{label} can be at most {maximum}.",
            label=field,
            maximum=format_money(MAX_AMOUNT_MINOR, currency),
        )


def fits_currency(amount: Decimal, currency: str) -> bool:
    """Whether the amount needs no rounding in the currency (0.005 EUR does)."""
    return amount == round_money(amount, currency)


def decimals(value: Decimal) -> int:
    """Decimals the value needs: 1.50 needs one, 100 none."""
    exponent = value.normalize().as_tuple().exponent
    return max(-exponent, 0)  # type: ignore[operator]


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


def format_money(
    minor: int, currency: str, *, decimal_mark: str = ".", group: str = "\u202f"
) -> str:
    """'1 234.50 EUR' — grouped with a thin space, the way Baltic invoices print amounts;
    ``decimal_mark`` and ``group`` for a language that writes them otherwise."""
    value = from_minor(minor, currency)
    return f"{format_decimal(value, decimal_mark=decimal_mark, group=group)} {currency}"


def format_decimal(value: Decimal, *, decimal_mark: str = ".", group: str = "\u202f") -> str:
    """``value`` with its digits as given, thousands grouped: '1 234.5'."""
    sign = "-" if value < 0 else ""
    whole, _, fraction = f"{abs(value):f}".partition(".")
    groups = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    grouped = group.join(groups)
    return f"{sign}{grouped}{decimal_mark + fraction if fraction else ''}"


@dataclass(frozen=True)
class LineAmounts:
    net_minor: int
    vat_minor: int
    gross_minor: int


def line_net_minor(*, quantity: Decimal, unit_price_minor: int, currency: str) -> int:
    """Quantity × unit price, rounded to the currency once per line."""
    return to_minor(quantity * from_minor(unit_price_minor, currency), currency)


def line_amounts(
    *, quantity: Decimal, unit_price_minor: int, vat_rate: Decimal, currency: str
) -> LineAmounts:
    """A line alone in its VAT group: net rounded, VAT rounded on the rounded net. Lines
    sharing a group get their VAT from ``shared.vat.line_vats`` instead."""
    net_minor = line_net_minor(
        quantity=quantity, unit_price_minor=unit_price_minor, currency=currency
    )
    vat_minor = to_minor(from_minor(net_minor, currency) * vat_rate / Decimal(100), currency)
    return LineAmounts(net_minor=net_minor, vat_minor=vat_minor, gross_minor=net_minor + vat_minor)


def allocate_minor(total: int, weights: list[int]) -> list[int]:
    """``total`` split over non-negative ``weights`` in proportion, by largest remainder:
    the parts add up to ``total`` exactly; ties go to the earlier weight."""
    whole = sum(weights)
    if whole == 0:
        return [total] + [0] * (len(weights) - 1) if weights else []
    parts = [total * weight // whole for weight in weights]
    by_remainder = sorted(range(len(weights)), key=lambda i: -(total * weights[i] % whole))
    for index in by_remainder[: total - sum(parts)]:
        parts[index] += 1
    return parts


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
    if value > MAX_QUANTITY:
        raise MoneyError("Quantity can be at most {maximum}.", maximum=MAX_QUANTITY)
    if decimals(value) > QUANTITY_DECIMALS:
        raise MoneyError(
            "Quantity can have at most {decimals} decimals.", decimals=QUANTITY_DECIMALS
        )
    return value


def parse_vat_rate(text: str | Decimal) -> Decimal:
    value = parse_decimal(text, field="VAT rate")
    if value < 0 or value > 100:
        raise MoneyError("VAT rate must be between 0 and 100 percent.")
    if decimals(value) > VAT_RATE_DECIMALS:
        raise MoneyError(
            "VAT rate can have at most {decimals} decimals.", decimals=VAT_RATE_DECIMALS
        )
    return value


def parse_exchange_rate(text: str | Decimal) -> Decimal:
    """An exchange rate as document currency units per 1 EUR (1.0512 USD = 1 EUR)."""
    value = parse_decimal(text, field="Exchange rate")
    if value <= 0:
        raise MoneyError("Exchange rate must be more than zero.")
    if value > MAX_EXCHANGE_RATE:
        raise MoneyError("Exchange rate can be at most {maximum}.", maximum=MAX_EXCHANGE_RATE)
    if decimals(value) > EXCHANGE_RATE_DECIMALS:
        raise MoneyError(
            "Exchange rate can have at most {decimals} decimals.", decimals=EXCHANGE_RATE_DECIMALS
        )
    return value


def eur_minor(*, minor: int, currency: str, rate: Decimal) -> int:
    """``minor`` of ``currency`` in EUR cents at ``rate`` (currency units per 1 EUR),
    rounded once with the one rule."""
    return to_minor(from_minor(minor, currency) / rate, "EUR")


def parse_amount_minor(text: str, currency: str, *, field: str = "Amount") -> int:
    """A typed amount to minor units; refuses more decimals than the currency has, and
    amounts beyond MAX_AMOUNT_MINOR."""
    value = parse_decimal(text, field=field)
    if decimals(value) > exponent(currency):
        raise MoneyError(
            "{label} '{typed}' has more than {decimals} decimals.",
            label=field,
            typed=text,
            decimals=exponent(currency),
        )
    check_amount_bound(value, currency, field=field)
    return to_minor(value, currency)
