from decimal import Decimal

import pytest

from shared.errors import ValidationError
from shared.latvia import amount_in_words, number_in_words, validate_registration_number


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        ("319.58", "trīs simti deviņpadsmit eiro, 58 centi"),
        ("0.01", "nulle eiro, 01 cents"),
        ("1.21", "viens eiro, 21 cents"),
        ("11.11", "vienpadsmit eiro, 11 centi"),
        ("100", "viens simts eiro, 00 centi"),
        ("1000.50", "viens tūkstotis eiro, 50 centi"),
        ("2021.00", "divi tūkstoši divdesmit viens eiro, 00 centi"),
        ("21000", "divdesmit viens tūkstotis eiro, 00 centi"),
        ("111000", "viens simts vienpadsmit tūkstoši eiro, 00 centi"),
        (
            "1234567.89",
            "viens miljons divi simti trīsdesmit četri tūkstoši"
            " pieci simti sešdesmit septiņi eiro, 89 centi",
        ),
        ("3000000", "trīs miljoni eiro, 00 centi"),
        ("0.005", "nulle eiro, 01 cents"),  # cents round half up like every amount
        ("-12.30", "mīnus divpadsmit eiro, 30 centi"),
    ],
)
def test_amount_in_latvian_words(amount, words):
    assert amount_in_words(Decimal(amount)) == words


def test_every_number_below_a_hundred_has_its_own_words():
    assert number_in_words(40) == "četrdesmit"
    assert number_in_words(99) == "deviņdesmit deviņi"
    assert number_in_words(17) == "septiņpadsmit"
    assert len({number_in_words(n) for n in range(100)}) == 100


@pytest.mark.parametrize("number", ["40003245752", "4000 352 1600", "40003009497"])
def test_valid_latvian_registration_numbers_pass_without_spaces(number):
    assert validate_registration_number(number) == number.replace(" ", "")


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("40003521601", "wrong check digit"),
        ("4000352160", "exactly 11 digits"),
        ("4000352160A", "exactly 11 digits"),
        ("16117519997", "personal code"),
    ],
)
def test_wrong_registration_numbers_are_refused_with_a_reason(number, message):
    with pytest.raises(ValidationError, match=message) as refused:
        validate_registration_number(number)
    assert refused.value.field == "registration_number"
