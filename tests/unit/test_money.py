import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.money import (
    MAX_AMOUNT_MINOR,
    MoneyError,
    format_money,
    format_plain,
    from_minor,
    invoice_totals,
    line_amounts,
    parse_amount_minor,
    parse_decimal,
    parse_quantity,
    parse_vat_rate,
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
    [
        ("1 234,50", "1234.50"),
        ("1\u00a0234.5", "1234.5"),  # no-break space, as spreadsheets copy it
        ("1\u202f234\u202f567.89", "1234567.89"),  # as this app prints amounts
        ("12,5", "12.5"),
        (" 7 ", "7"),
        ("0,125", "0.125"),  # nobody writes a thousand as 0,125
        ("1234,500", "1234.500"),  # a thousands comma would have been 1,234,500
        ("1 000,500", "1000.500"),  # spaces group, so the comma is the decimal one
    ],
)
def test_parse_what_people_type(typed: str, expected: str) -> None:
    assert parse_decimal(typed) == Decimal(expected)


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "abc",
        "12,345.6.7",
        "NaN",
        "Infinity",
        "1e27",
        "1e309",
        "1E2",
        "1e-30",
        "1_000",
        "\u0661\u0662\u0663",  # Arabic-Indic digits
        "\uff11\uff12\uff13",  # full-width digits
        "1.234,50",  # two separators: one decimal separator only
        "1,234.50",
        "12 34",  # spaces group in threes only
        "+5",
        ".5",
        "1\x00",
        "9" * 41,
    ],
)
def test_parse_refuses_non_numbers_with_a_message(typed: str) -> None:
    with pytest.raises(MoneyError) as error:
        parse_decimal(typed, field="Unit price")
    assert "Unit price" in str(error.value)


@pytest.mark.parametrize("typed", ["1,000", "12,500", "-1,000"])
def test_a_comma_before_three_digits_is_ambiguous_and_refused(typed: str) -> None:
    with pytest.raises(MoneyError, match="ambiguous") as error:
        parse_quantity(typed)
    assert "1000 or 1.000" in str(error.value) or "12500 or 12.500" in str(error.value)


def test_quantity_bounds() -> None:
    assert parse_quantity("999 999 999,999") == Decimal("999999999.999")
    assert parse_quantity("1.5000") == Decimal("1.5")  # trailing zeros are not decimals
    with pytest.raises(MoneyError, match=re.escape("at most 999999999.999")):
        parse_quantity("1 000 000 000")
    with pytest.raises(MoneyError, match="at most 3 decimals"):
        parse_quantity("0.0001")


def test_vat_rate_bounds() -> None:
    assert parse_vat_rate("21") == Decimal("21")
    assert parse_vat_rate("5,5") == Decimal("5.5")
    with pytest.raises(MoneyError, match="at most 2 decimals"):
        parse_vat_rate("0.000000000000000000000000000001")
    with pytest.raises(MoneyError, match="between 0 and 100"):
        parse_vat_rate("100.01")


def test_amounts_are_bounded_with_the_limit_in_the_message() -> None:
    assert parse_amount_minor("999 999 999 999.99", "EUR") == MAX_AMOUNT_MINOR
    with pytest.raises(
        MoneyError, match=re.escape("at most 999\u202f999\u202f999\u202f999.99 EUR")
    ):
        parse_amount_minor("1000000000000", "EUR")
    with pytest.raises(MoneyError, match="at most"):
        parse_amount_minor("9" * 40, "EUR")  # beyond Decimal's 28 digits: no crash
    assert parse_amount_minor("99 999 999 999 999", "JPY") == MAX_AMOUNT_MINOR
    # Sums of bounded amounts stay far inside 64 bits.
    assert MAX_AMOUNT_MINOR * 90_000 < 2**63


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
