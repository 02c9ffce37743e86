from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.money import (
    MoneyError,
    format_money,
    format_plain,
    from_minor,
    invoice_totals,
    line_amounts,
    parse_amount_minor,
    parse_decimal,
    to_minor,
)


@pytest.mark.parametrize(
    ("amount", "minor"),
    [
        ("2.665", 267),  # half up, where binary floats would give 2.66
        ("2.675", 268),
        ("1.005", 101),
        ("0.004", 0),
        ("0.005", 1),
        ("-2.665", -267),  # half away from zero, symmetric for credit notes
        ("125.5", 12550),
    ],
)
def test_rounding_is_half_up(amount: str, minor: int) -> None:
    assert to_minor(Decimal(amount), "EUR") == minor


def test_currency_exponents() -> None:
    assert to_minor(Decimal("1500.4"), "JPY") == 1500
    assert to_minor(Decimal("1.2345"), "KWD") == 1235
    assert from_minor(12550, "EUR") == Decimal("125.50")


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("1 234,50", "1234.50"), ("1.234,50", "1234.50"), ("1,234.50", "1234.50"), ("12,5", "12.5")],
)
def test_parse_what_people_type(typed: str, expected: str) -> None:
    assert parse_decimal(typed) == Decimal(expected)


@pytest.mark.parametrize("typed", ["", "abc", "12,345.6.7", "NaN", "Infinity"])
def test_parse_refuses_non_numbers_with_a_message(typed: str) -> None:
    with pytest.raises(MoneyError) as error:
        parse_decimal(typed, field="Unit price")
    assert "Unit price" in str(error.value)


def test_floats_are_refused_on_money_paths() -> None:
    with pytest.raises(MoneyError):
        parse_decimal(0.1)  # type: ignore[arg-type]


def test_amount_with_too_many_decimals_is_refused() -> None:
    with pytest.raises(MoneyError, match="more than 2 decimals"):
        parse_amount_minor("10.005", "EUR")
    assert parse_amount_minor("10.05", "EUR") == 1005


def test_formats() -> None:
    assert format_plain(12550, "EUR") == "125.50"
    assert format_plain(1000, "EUR") == "10.00"
    assert format_money(123456789, "EUR") == "1\u202f234\u202f567.89 EUR"
    assert format_money(-550, "EUR") == "-5.50 EUR"


def test_vat_totals_over_many_lines_are_sums_of_rounded_lines() -> None:
    rates = [Decimal("21"), Decimal("12"), Decimal("5"), Decimal("0")] * 25
    lines = [
        line_amounts(
            quantity=Decimal("3.333"), unit_price_minor=1999 + i, vat_rate=rate, currency="EUR"
        )
        for i, rate in enumerate(rates)
    ]
    totals = invoice_totals(lines, rates)
    assert totals.subtotal_minor == sum(line.net_minor for line in lines)
    assert totals.vat_minor == sum(line.vat_minor for line in lines)
    assert totals.total_minor == totals.subtotal_minor + totals.vat_minor
    assert list(totals.vat_breakdown) == ["0", "5", "12", "21"]
    assert sum(vat for _, vat in totals.vat_breakdown.values()) == totals.vat_minor
    # One concrete line checked by hand: 3.333 × 19.99 = 66.62667 → 66.63; 21 % → 13.9923 → 13.99
    first = line_amounts(
        quantity=Decimal("3.333"), unit_price_minor=1999, vat_rate=Decimal("21"), currency="EUR"
    )
    assert (first.net_minor, first.vat_minor, first.gross_minor) == (6663, 1399, 8062)


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_minor_units_round_trip(minor: int) -> None:
    assert to_minor(from_minor(minor, "EUR"), "EUR") == minor
