"""How documents write amounts for their reader: Latvian "1 234,56 EUR", English
"1 234.56 EUR", amounts in words, payment terms."""

import pytest

from shared.document_format import (
    amount_in_words,
    english_number_in_words,
    format_amount,
    payment_terms,
)
from shared.money import parse_decimal, to_minor

NBSP = "\u00a0"
THIN = "\u202f"


@pytest.mark.parametrize(
    ("minor", "currency", "latvian", "english"),
    [
        (123456789, "EUR", "1 234 567,89", "1 234 567.89"),
        (-123456789, "EUR", "-1 234 567,89", "-1 234 567.89"),
        (31958, "EUR", "319,58", "319.58"),
        (5, "EUR", "0,05", "0.05"),
        (0, "EUR", "0,00", "0.00"),
        (100000, "USD", "1 000,00", "1 000.00"),
        # No decimals in yen, three in dinars: the currency's own exponent.
        (1234567, "JPY", "1 234 567", "1 234 567"),
        (-1234567, "KWD", "-1 234,567", "-1 234.567"),
    ],
)
def test_latvian_documents_write_a_decimal_comma_and_space_grouped_thousands(
    minor: int, currency: str, latvian: str, english: str
) -> None:
    # Grouped by no-break spaces (a thin one in English), so an amount never wraps.
    assert format_amount(minor, currency, language="lv") == (
        f"{latvian.replace(' ', NBSP)} {currency}"
    )
    assert format_amount(minor, currency, language="en") == (
        f"{english.replace(' ', THIN)} {currency}"
    )


def test_a_latvian_amount_reads_back_as_what_was_printed() -> None:
    printed = format_amount(123456789, "EUR", language="lv").removesuffix(" EUR")
    assert to_minor(parse_decimal(printed), "EUR") == 123456789


def test_an_unknown_language_reads_english() -> None:
    assert format_amount(31958, "EUR", language="de") == "319.58 EUR"


@pytest.mark.parametrize(
    ("minor", "latvian", "english"),
    [
        (
            31958,
            "trīs simti deviņpadsmit eiro, 58 centi",
            "three hundred nineteen euros and 58 cents",
        ),
        (100, "viens eiro, 00 centi", "one euro and 00 cents"),
        (2101, "divdesmit viens eiro, 01 cents", "twenty-one euros and 01 cent"),
        (
            123456789,
            "viens miljons divi simti trīsdesmit četri tūkstoši pieci simti sešdesmit septiņi "
            "eiro, 89 centi",
            "one million two hundred thirty-four thousand five hundred sixty-seven euros "
            "and 89 cents",
        ),
        (-1500, "mīnus piecpadsmit eiro, 00 centi", "minus fifteen euros and 00 cents"),
    ],
)
def test_amounts_in_words(minor: int, latvian: str, english: str) -> None:
    assert amount_in_words(minor, "EUR", language="lv") == latvian
    assert amount_in_words(minor, "EUR", language="en") == english


def test_another_currency_is_not_written_in_words() -> None:
    assert amount_in_words(31958, "USD", language="lv") is None
    assert amount_in_words(31958, "USD", language="en") is None


@pytest.mark.parametrize(
    ("number", "words"),
    [
        (0, "zero"),
        (15, "fifteen"),
        (40, "forty"),
        (101, "one hundred one"),
        (1_000_000_001, "one billion one"),
    ],
)
def test_english_numbers(number: int, words: str) -> None:
    assert english_number_in_words(number) == words


@pytest.mark.parametrize(
    ("days", "latvian", "english"),
    [
        (14, "14 dienas", "14 days"),
        (1, "1 diena", "1 day"),
        (21, "21 diena", "21 days"),
        (11, "11 dienas", "11 days"),
        (0, "izrakstīšanas dienā", "on the issue date"),
    ],
)
def test_payment_terms(days: int, latvian: str, english: str) -> None:
    assert payment_terms(days, language="lv") == latvian
    assert payment_terms(days, language="en") == english
