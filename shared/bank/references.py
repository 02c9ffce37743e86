"""The references a customer's bank transfer carries back to its invoice.

- ``creditor_reference``: an ISO 11649 creditor reference ("RF" + two check digits + up to
  21 characters) per invoice. It is built from the invoice's id, digits only: unique for
  ever, the same every time it is printed, accepted by every banking app (some refuse
  letters in a reference), and read back by ``invoice_id_from_reference`` without a
  lookup table. The check digits catch a mistyped reference before it matches anything.
- ``epc_qr_payload``: the text of a SEPA credit-transfer QR code (EPC069-12, version 002,
  UTF-8), which a banking app scans to fill in beneficiary, IBAN, amount and reference.
"""

import re
from functools import lru_cache

from stdnum import iso11649
from stdnum.iso7064 import mod_97_10

from shared.channels import validate_bic, validate_iban
from shared.errors import ValidationError
from shared.money import format_plain

# Room for ids up to 21 digits; zero-padded so references of young ledgers look alike.
REFERENCE_DIGITS = 8

EPC_SERVICE_TAG = "BCD"
EPC_VERSION = "002"
EPC_CHARACTER_SET_UTF8 = "1"
EPC_IDENTIFICATION = "SCT"
EPC_MAX_BYTES = 331
EPC_MAX_NAME = 70
EPC_MAX_REFERENCE = 35
EPC_MAX_TEXT = 140
EPC_MAX_INFORMATION = 70
EPC_MIN_AMOUNT_MINOR = 1
EPC_MAX_AMOUNT_MINOR = 99_999_999_999  # 999 999 999.99 EUR


def creditor_reference(*, invoice_id: int) -> str:
    """ "RF47 0000 0034"-style reference of an invoice, compact ("RF4700000034")."""
    if invoice_id <= 0:
        raise ValueError("an invoice needs its id before it gets a creditor reference")
    body = str(invoice_id).zfill(REFERENCE_DIGITS)
    check = mod_97_10.calc_check_digits(body + "RF")
    return f"RF{check}{body}"


# A reference already compact (what python-stdnum's ``compact`` would return unchanged),
# and one of ours in that form: "RF", two check digits, digits only.
_COMPACT = re.compile(r"[0-9A-Z]*")
_OURS = re.compile(rf"RF([0-9]{{2}})([0-9]{{{REFERENCE_DIGITS},21}})")


def _compact(text: str) -> str:
    """python-stdnum's compact form; a statement's references mostly are in it already,
    and checking that is many times cheaper than the general clean-up."""
    return text if _COMPACT.fullmatch(text) else iso11649.compact(text)


def format_creditor_reference(reference: str) -> str:
    """In groups of four, the way it is printed on an invoice."""
    compact = _compact(reference)
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


@lru_cache(maxsize=65536)  # a statement's matching asks about each reference several times
def invoice_id_from_reference(text: str) -> int | None:
    """The invoice id a creditor reference points to, or None when the text is not a valid
    reference of ours (wrong check digits, letters, another creditor's reference)."""
    compact = _compact(text or "")
    ours = _OURS.fullmatch(compact)
    if ours is not None:
        # ISO 7064 MOD 97-10 over body + "RF" + check digits, R and F as 27 and 15: what
        # python-stdnum computes, without its per-character conversion.
        check, body = ours.groups()
        if int(f"{body}2715{check}") % 97 != 1:
            return None
        return int(body) or None
    if not iso11649.is_valid(compact):
        return None
    body = compact[4:]
    if not body.isdigit() or len(body) < REFERENCE_DIGITS:
        return None
    invoice_id = int(body)
    return invoice_id if invoice_id > 0 else None


def _single_line(value: str, *, field: str, label: str, limit: int) -> str:
    cleaned = value.strip()
    if "\n" in cleaned or "\r" in cleaned:
        raise ValidationError("{label} must be on one line.", label=label, field=field)
    if len(cleaned) > limit:
        raise ValidationError(
            "{label} is {length} characters; the EPC QR code allows {limit}.",
            label=label,
            length=len(cleaned),
            limit=limit,
            field=field,
        )
    return cleaned


def epc_qr_payload(
    *,
    beneficiary_name: str,
    iban: str,
    bic: str = "",
    amount_minor: int | None = None,
    currency: str = "EUR",
    creditor_reference: str = "",
    remittance_text: str = "",
    purpose: str = "",
    information: str = "",
) -> str:
    """The EPC069-12 version 002 payload; raises ``ValidationError`` naming the field that
    breaks the standard's rules (SEPA is euro only, one kind of remittance, lengths)."""
    if currency != "EUR":
        raise ValidationError(
            "A SEPA QR code can only ask for euros, not {currency}.",
            currency=currency,
            field="currency",
        )
    name = _single_line(
        beneficiary_name, field="beneficiary_name", label="Beneficiary name", limit=EPC_MAX_NAME
    )
    if not name:
        raise ValidationError("The beneficiary name is required.", field="beneficiary_name")
    compact_iban = validate_iban(iban)
    compact_bic = validate_bic(bic)
    amount = ""
    if amount_minor is not None:
        if not EPC_MIN_AMOUNT_MINOR <= amount_minor <= EPC_MAX_AMOUNT_MINOR:
            raise ValidationError(
                "The amount must be between 0.01 and 999 999 999.99 EUR.", field="amount"
            )
        amount = f"EUR{format_plain(amount_minor, 'EUR')}"
    reference = ""
    if creditor_reference:
        reference = iso11649.compact(creditor_reference)
        if not iso11649.is_valid(reference) or len(reference) > EPC_MAX_REFERENCE:
            raise ValidationError(
                "'{reference}' is not an ISO 11649 creditor reference (RF…).",
                reference=creditor_reference,
                field="creditor_reference",
            )
    text = _single_line(
        remittance_text, field="remittance_text", label="Payment details", limit=EPC_MAX_TEXT
    )
    if reference and text:
        raise ValidationError(
            "The EPC QR code carries either the creditor reference or free text, not both.",
            field="remittance_text",
        )
    purpose_code = purpose.strip().upper()
    if purpose_code and not re.fullmatch(r"[A-Z]{4}", purpose_code):
        raise ValidationError("The purpose code is four letters (e.g. GDDS).", field="purpose")
    note = _single_line(
        information, field="information", label="Note to payer", limit=EPC_MAX_INFORMATION
    )
    lines = [
        EPC_SERVICE_TAG,
        EPC_VERSION,
        EPC_CHARACTER_SET_UTF8,
        EPC_IDENTIFICATION,
        compact_bic,
        name,
        compact_iban,
        amount,
        purpose_code,
        reference,
        text,
        note,
    ]
    # Elements after the last one used are left out, with their separators.
    while lines[-1] == "":
        lines.pop()
    payload = "\n".join(lines)
    if len(payload.encode("utf-8")) > EPC_MAX_BYTES:
        raise ValidationError(
            "The QR code text is {size} bytes; the standard allows {limit}. Shorten the payment "
            "details or the name.",
            size=len(payload.encode("utf-8")),
            limit=EPC_MAX_BYTES,
            field="remittance_text",
        )
    return payload
