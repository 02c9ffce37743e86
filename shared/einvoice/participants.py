"""Peppol participant ids customers can be given: the schemes LinkPay Desk's buyers use.

A participant id is an Electronic Address Scheme (EAS) code from the Peppol code list and
the id within it. The list here is short on purpose: the Baltic registers and VAT numbers,
the GS1 location number, and the Nordic registers Peppol started with. Each id is checked
for its format and, where Peppol checks one (PEPPOL-COMMON-R040, R041, R043, R049), for its
check digits, so a typing error is caught on the Customers page instead of by the receiving
access point; whether the buyer is registered in the Peppol network under it is for the
access point to tell.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass

from shared.errors import ValidationError


@dataclass(frozen=True)
class Scheme:
    code: str
    name: str
    pattern: re.Pattern[str]
    example: str


SCHEMES: dict[str, Scheme] = {
    scheme.code: scheme
    for scheme in (
        Scheme("0218", "Latvian company register", re.compile(r"\d{11}"), "40003245752"),
        Scheme("9939", "Latvian VAT number", re.compile(r"LV\d{11}"), "LV40003245752"),
        Scheme("0200", "Lithuanian legal entity code", re.compile(r"\d{9}"), "302334567"),
        Scheme("0191", "Estonian company register", re.compile(r"\d{8}"), "10137025"),
        Scheme("9931", "Estonian VAT number", re.compile(r"EE\d{9}"), "EE100247019"),
        Scheme("0088", "GS1 Global Location Number (GLN)", re.compile(r"\d{13}"), "4750000000017"),
        Scheme("0007", "Swedish organisation number", re.compile(r"\d{10}"), "5560360793"),
        Scheme("0192", "Norwegian organisation number", re.compile(r"\d{9}"), "987654325"),
        Scheme("0208", "Belgian enterprise number", re.compile(r"\d{10}"), "0123456749"),
        Scheme("9930", "German VAT number", re.compile(r"DE\d{9}"), "DE123456789"),
    )
}


def scheme_label(code: str) -> str:
    scheme = SCHEMES.get(code)
    return f"{code} {scheme.name}" if scheme else code


def gln_ok(value: str) -> bool:
    """GS1 check digit: from the right, the digits before it weigh 3, 1, 3, ..."""
    if not value.isdigit() or len(value) < 2:
        return False
    body = reversed(value[:-1])
    weighted = sum(int(digit) * (3 if index % 2 == 0 else 1) for index, digit in enumerate(body))
    return (10 - weighted % 10) % 10 == int(value[-1])


def norwegian_organisation_number_ok(value: str) -> bool:
    """Nine digits, modulus 11 with weights 2..7 from the right (Brønnøysund)."""
    if len(value) != 9 or not value.isdigit() or int(value) == 0:
        return False
    body = reversed(value[:-1])
    weighted = sum(int(digit) * (index % 6 + 2) for index, digit in enumerate(body))
    return (11 - weighted % 11) % 11 == int(value[-1])


def belgian_enterprise_number_ok(value: str) -> bool:
    """Ten digits, the last two being 97 minus the first eight modulo 97."""
    if len(value) != 10 or not value.isdigit():
        return False
    return int(value[8:]) == 97 - int(value[:8]) % 97


def swedish_organisation_number_ok(value: str) -> bool:
    """Ten digits, the last a Luhn check digit over the first nine."""
    if len(value) != 10 or not value.isdigit():
        return False
    total = 0
    for index, digit in enumerate(reversed(value[:9])):
        doubled = int(digit) * (2 if index % 2 == 0 else 1)
        total += doubled // 10 + doubled % 10
    return (10 - total % 10) % 10 == int(value[9])


# The schemes whose ids Peppol BIS checks beyond their format, and how.
CHECK_DIGITS: dict[str, Callable[[str], bool]] = {
    "0088": gln_ok,
    "0192": norwegian_organisation_number_ok,
    "0208": belgian_enterprise_number_ok,
    "0007": swedish_organisation_number_ok,
}


MAX_ID_LENGTH = 50  # Customer.peppol_id


def parse_participant_id(*, scheme: str, value: str) -> tuple[str, str]:
    """(scheme, id) cleaned of spaces and in capitals, or ("", "") when neither is given."""
    scheme = scheme.strip()
    value = re.sub(r"[\s.-]", "", value).upper()
    if not scheme and not value:
        return "", ""
    if len(value) > MAX_ID_LENGTH:
        raise ValidationError(
            "The e-invoice address can be at most {limit} characters.",
            limit=MAX_ID_LENGTH,
            field="peppol_id",
        )
    if scheme not in SCHEMES:
        raise ValidationError(
            "Choose the e-invoice address scheme from the list.", field="peppol_scheme"
        )
    known = SCHEMES[scheme]
    if not value:
        raise ValidationError(
            "Give the customer's {scheme_name} as their e-invoice address.",
            scheme_name=known.name,
            field="peppol_id",
        )
    check_digits = CHECK_DIGITS.get(scheme, lambda _: True)
    if not known.pattern.fullmatch(value) or not check_digits(value):
        raise ValidationError(
            "'{value}' is not a {scheme_name} (scheme {scheme}, e.g. {example}).",
            value=value,
            scheme_name=known.name,
            scheme=scheme,
            example=known.example,
            field="peppol_id",
        )
    return scheme, value
