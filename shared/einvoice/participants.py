"""Peppol participant ids customers can be given: the schemes LinkPay Desk's buyers use.

A participant id is an Electronic Address Scheme (EAS) code from the Peppol code list and
the id within it. The list here is short on purpose: the Baltic registers and VAT numbers,
the GS1 location number, and the Nordic registers Peppol started with. Each id is checked
for its format (and the GLN for its check digit); whether the buyer is registered in the
Peppol network under it is for the access point to tell.
"""

import re
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


def _gln_check_digit_ok(value: str) -> bool:
    weighted = sum(int(digit) * (3 if index % 2 else 1) for index, digit in enumerate(value[:12]))
    return (10 - weighted % 10) % 10 == int(value[12])


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
    if not known.pattern.fullmatch(value) or (scheme == "0088" and not _gln_check_digit_ok(value)):
        raise ValidationError(
            "'{value}' is not a {scheme_name} (scheme {scheme}, e.g. {example}).",
            value=value,
            scheme_name=known.name,
            scheme=scheme,
            example=known.example,
            field="peppol_id",
        )
    return scheme, value
