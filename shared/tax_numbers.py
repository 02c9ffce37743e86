"""Registration and VAT numbers of the company and its customers, checked before they are
printed on an invoice.

A VAT number is written with its country code. An EU one (the VAT Information Exchange
System's prefixes: "EL" for Greece, "XI" for Northern Ireland) is checked by its country's
format and check digits (python-stdnum); one from outside the EU is kept as typed.

A registration number is checked with the Latvian checksum (``shared.latvia``) when it is
a Latvian one: the VAT number is Latvian, or the number has the shape only a Latvian
company number has (11 digits starting with 4 to 9; Estonian and Lithuanian company codes
have 8 and 9 digits). Any other registration number is kept as typed.
"""

from stdnum import exceptions as stdnum_errors
from stdnum.eu import vat
from stdnum.util import clean

from shared.errors import ValidationError
from shared.latvia import validate_registration_number

EU_VAT_PREFIXES = frozenset({code.upper() for code in vat.MEMBER_STATES if code != "gr"} | {"EL"})


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
    text: str, *, vat_number: str, field: str = "registration_number"
) -> str:
    """'' or the registration number: a Latvian one as its 11 digits, checksum checked."""
    number = text.strip()
    if number and is_latvian(number, vat_number):
        return validate_registration_number(number, field=field)
    return number
