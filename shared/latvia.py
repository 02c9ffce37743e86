"""Latvian specifics: the registration number checksum and amounts written in words.

A Latvian legal entity's registration number (also its VAT number after "LV") has
11 digits, starts with 4 to 9, and its digits weighted 9, 1, 4, 8, 3, 10, 2, 5, 7, 6, 1
add up to 3 modulo 11. Numbers starting with 0 to 3 are personal codes, not companies.

Amounts in words follow Latvian invoice practice: whole euros in words, cents in digits,
nouns agreeing with the number ("21 cents", "58 centi", "viens tūkstotis", "divi simti").
"""

from decimal import Decimal

from shared.errors import ValidationError
from shared.money import round_money

_WEIGHTS = (9, 1, 4, 8, 3, 10, 2, 5, 7, 6, 1)

_ONES = ("", "viens", "divi", "trīs", "četri", "pieci", "seši", "septiņi", "astoņi", "deviņi")
_TEENS = (
    "desmit",
    "vienpadsmit",
    "divpadsmit",
    "trīspadsmit",
    "četrpadsmit",
    "piecpadsmit",
    "sešpadsmit",
    "septiņpadsmit",
    "astoņpadsmit",
    "deviņpadsmit",
)
_TENS_STEMS = ("", "", "div", "trīs", "četr", "piec", "seš", "septiņ", "astoņ", "deviņ")
# (value, singular, plural), largest first
_SCALES = ((1_000_000_000, "miljards", "miljardi"), (1_000_000, "miljons", "miljoni"))


def validate_registration_number(text: str, *, field: str = "registration_number") -> str:
    """The 11 digits of a Latvian company registration number, or a message saying why not."""
    number = "".join(text.split())
    if not (len(number) == 11 and number.isdigit()):
        raise ValidationError("A Latvian registration number has exactly 11 digits.", field=field)
    if number[0] < "4":
        raise ValidationError(
            "This is a personal code, not a company registration number.", field=field
        )
    if sum(weight * int(digit) for weight, digit in zip(_WEIGHTS, number, strict=True)) % 11 != 3:
        raise ValidationError(
            "Registration number {number} has a wrong check digit; please check it.",
            number=number,
            field=field,
        )
    return number


def _takes_singular(number: int) -> bool:
    """Latvian nouns stay singular after numbers ending in 1, except those ending in 11."""
    return number % 10 == 1 and number % 100 != 11


def _below_thousand(number: int) -> list[str]:
    words = []
    hundreds, rest = divmod(number, 100)
    if hundreds:
        words += [_ONES[hundreds], "simts" if hundreds == 1 else "simti"]
    tens, ones = divmod(rest, 10)
    if tens == 1:
        words.append(_TEENS[ones])
    else:
        if tens:
            words.append(f"{_TENS_STEMS[tens]}desmit")
        if ones:
            words.append(_ONES[ones])
    return words


def number_in_words(number: int) -> str:
    """A whole number ≥ 0 in Latvian words: 319 -> 'trīs simti deviņpadsmit'."""
    if number < 0:
        raise ValueError("Only whole numbers from zero up are written in words.")
    if number == 0:
        return "nulle"
    words: list[str] = []
    for scale, singular, plural in _SCALES:
        count, number = divmod(number, scale)
        if count:
            noun = singular if _takes_singular(count) else plural
            words += [number_in_words(count), noun]
    thousands, number = divmod(number, 1000)
    if thousands:
        words += [
            *_below_thousand(thousands),
            "tūkstotis" if _takes_singular(thousands) else "tūkstoši",
        ]
    words += _below_thousand(number)
    return " ".join(words)


def amount_in_words(amount: Decimal) -> str:
    """A euro amount as Latvian invoices write it: 'trīs simti deviņpadsmit eiro, 58 centi'."""
    value = round_money(amount, "EUR")
    sign = "mīnus " if value < 0 else ""
    euros, cents = divmod(int(abs(value) * 100), 100)
    cent_word = "cents" if _takes_singular(cents) else "centi"
    return f"{sign}{number_in_words(euros)} eiro, {cents:02d} {cent_word}"
