"""Registration and VAT numbers of the company and its customers, checked before they are
printed on an invoice.

A VAT number is written with its country code. An EU one (the VAT Information Exchange
System's prefixes: "EL" for Greece, "XI" for Northern Ireland) is checked by its country's
format and check digits (python-stdnum); one from outside the EU is kept as typed.

A registration number is checked with the Latvian checksum (``shared.latvia``) when it is
a Latvian one: a customer's is when the customer's country is Latvia. The company has no
country field; its number counts as Latvian when its VAT number is, or when the number has
the shape only a Latvian company number has (11 digits starting with 4 to 9; Estonian and
Lithuanian company codes have 8 and 9 digits). Any other registration number is kept as
typed.
"""

import unicodedata

from babel import Locale
from stdnum import exceptions as stdnum_errors
from stdnum.eu import vat
from stdnum.util import clean

from shared.errors import ValidationError
from shared.latvia import validate_registration_number

EU_VAT_PREFIXES = frozenset({code.upper() for code in vat.MEMBER_STATES if code != "gr"} | {"EL"})
LATVIA = "LV"
# ISO 3166-1 alpha-2: the two-letter territories of the CLDR less the codes ISO reserves
# for other uses (EU, UN, ZZ, ...) and the ones CLDR adds (Kosovo's XK, Canary Islands' IC).
COUNTRIES = frozenset(
    code
    for code in Locale("en").territories
    if len(code) == 2
    and code.isalpha()
    and code not in {"AC", "CP", "CQ", "DG", "EA", "EU", "EZ", "IC", "QO", "TA", "UN", "ZZ"}
    and not code.startswith("X")
)


def parse_country(code: str, *, field: str = "country") -> str:
    """An ISO 3166-1 alpha-2 country code ("lv" -> "LV"), or a message saying it is none."""
    country = code.strip().upper()
    if country not in COUNTRIES:
        raise ValidationError("{code} is not a country code.", code=code.strip(), field=field)
    return country


def country_names(*, language: str) -> dict[str, str]:
    """Every country code with its name in ``language``, in the order of the names
    ("Ēģipte" among the E names, not after "Zviedrija")."""
    names = Locale(language).territories
    return dict(
        sorted(
            ((code, names[code]) for code in COUNTRIES),
            key=lambda item: unicodedata.normalize("NFD", item[1]).casefold(),
        )
    )


def parse_vat_number(text: str, *, field: str = "vat_number") -> str:
    """'' or the VAT number in its compact form ("LV 4000 3009 497" -> "LV40003009497")."""
    if not text.strip():
        return ""
    number = clean(text, " -./,:").upper().strip()
    if not number[:2].isalpha():
        raise ValidationError(
            "Write the VAT number {number} with its country code, e.g. LV40003009497.",
            number=text.strip(),
            field=field,
        )
    if number[:2] not in EU_VAT_PREFIXES:
        return number
    try:
        return vat.validate(number)
    except stdnum_errors.InvalidChecksum:
        raise ValidationError(
            "VAT number {number} has a wrong check digit; please check it.",
            number=number,
            field=field,
        ) from None
    except stdnum_errors.ValidationError:
        raise ValidationError(
            "VAT number {number} is not in the format of {country} VAT numbers.",
            number=number,
            country=number[:2],
            field=field,
        ) from None


def is_latvian(registration_number: str, vat_number: str) -> bool:
    digits = "".join(registration_number.split())
    shaped = len(digits) == 11 and digits.isdigit() and digits[0] >= "4"
    return vat_number.upper().startswith("LV") or shaped


def parse_registration_number(
    text: str, *, latvian: bool, field: str = "registration_number"
) -> str:
    """'' or the registration number: a Latvian one as its 11 digits, checksum checked."""
    number = text.strip()
    if number and latvian:
        return validate_registration_number(number, field=field)
    return number
