"""How a document writes numbers for its reader: money, payment terms, amounts in words.

Every amount an invoice, credit note, statement or their e-mails print goes through
``format_amount``: Latvian documents write "1 234,56 EUR" (a decimal comma, thousands
grouped by a no-break space, as the Latvian CLDR locale does), English ones "1 234.56 EUR".
Quantities follow the same marks: "1,5" and "1 200" on a Latvian document.
"""

from decimal import Decimal

from shared.i18n import language_for, text
from shared.latvia import amount_in_words as latvian_amount_in_words
from shared.money import format_decimal, format_money, from_minor

_LATVIAN_GROUP = "\u00a0"  # no-break space: an amount never breaks across two lines

_EN_ONES = (
    "",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
)
_EN_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_EN_SCALES = ((1_000_000_000, "billion"), (1_000_000, "million"), (1_000, "thousand"))


def format_amount(minor: int, currency: str, *, language: str) -> str:
    """An amount as a document in ``language`` prints it."""
    if language_for(language) == "lv":
        return format_money(minor, currency, decimal_mark=",", group=_LATVIAN_GROUP)
    return format_money(minor, currency)


def format_quantity(quantity: str, *, language: str) -> str:
    """A line's quantity, stored as text ("1.5"), as a document in ``language`` prints it."""
    value = Decimal(quantity)
    if language_for(language) == "lv":
        return format_decimal(value, decimal_mark=",", group=_LATVIAN_GROUP)
    return format_decimal(value)


def _english_below_thousand(number: int) -> list[str]:
    words = []
    hundreds, rest = divmod(number, 100)
    if hundreds:
        words += [_EN_ONES[hundreds], "hundred"]
    if rest >= 20:
        tens, ones = divmod(rest, 10)
        words.append(f"{_EN_TENS[tens]}-{_EN_ONES[ones]}" if ones else _EN_TENS[tens])
    elif rest:
        words.append(_EN_ONES[rest])
    return words


def english_number_in_words(number: int) -> str:
    """A whole number ≥ 0 in English words: 319 -> 'three hundred nineteen'."""
    if number < 0:
        raise ValueError("Only whole numbers from zero up are written in words.")
    if number == 0:
        return "zero"
    words: list[str] = []
    for scale, name in _EN_SCALES:
        count, number = divmod(number, scale)
        if count:
            words += [english_number_in_words(count), name]
    return " ".join(words + _english_below_thousand(number))


def amount_in_words(minor: int, currency: str, *, language: str) -> str | None:
    """Euros in words and cents in digits, in the document's language ("trīs simti
    deviņpadsmit eiro, 58 centi"); None for another currency, whose amount is printed as
    a number only."""
    if currency != "EUR":
        return None
    if language_for(language) == "lv":
        return latvian_amount_in_words(from_minor(minor, currency))
    sign = "minus " if minor < 0 else ""
    euros, cents = divmod(abs(minor), 100)
    euro_word = "euro" if euros == 1 else "euros"
    cent_word = "cent" if cents == 1 else "cents"
    return f"{sign}{english_number_in_words(euros)} {euro_word} and {cents:02d} {cent_word}"


def payment_terms(days: int, *, language: str) -> str:
    """The payment terms as the document states them: "14 days", "21 diena"."""
    if days <= 0:
        return text(language, "terms_on_issue")
    if language_for(language) == "lv":
        singular = days % 10 == 1 and days % 100 != 11
        return text(language, "terms_day" if singular else "terms_days", days=days)
    return text(language, "terms_day" if days == 1 else "terms_days", days=days)
