"""Asking the EU VIES service whether a VAT number is registered: a check finance asks
for with a button, never a condition for saving. One try with a short timeout; whatever
goes wrong is reported as "could not reach VIES" and the number stays saved as it is."""

import logging
from dataclasses import dataclass, field
from enum import StrEnum

import httpx

from shared.config import get_settings
from shared.tax_numbers import EU_VAT_PREFIXES

logger = logging.getLogger(__name__)


class ViesOutcome(StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    UNREACHABLE = "unreachable"
    NOT_EU = "not_eu"


@dataclass(frozen=True)
class ViesAnswer:
    """What VIES said, as an English template with its values: the dashboard shows it in
    the reader's language, like a ValidationError."""

    outcome: ViesOutcome
    template: str
    values: dict[str, str] = field(default_factory=dict)

    @property
    def message(self) -> str:
        return self.template.format(**self.values)


def check_in_vies(vat_number: str) -> ViesAnswer:
    """What VIES says about a saved (compact, format-checked) EU VAT number."""
    country, number = vat_number[:2], vat_number[2:]
    if country not in EU_VAT_PREFIXES or not number:
        return ViesAnswer(
            ViesOutcome.NOT_EU,
            "VIES knows EU VAT numbers only, not {vat_number!r}.",
            {"vat_number": vat_number},
        )
    settings = get_settings()
    try:
        response = httpx.post(
            settings.vies_url,
            json={"countryCode": country, "vatNumber": number},
            timeout=settings.vies_timeout_seconds,
        )
        answer = response.json() if response.is_success else {}
    except (httpx.HTTPError, ValueError) as error:
        logger.warning("VIES check of %s failed: %s", vat_number, type(error).__name__)
        answer = {}
    valid = answer.get("valid") if isinstance(answer, dict) else None
    # VIES answers valid: false also when the member state's register does not answer;
    # it then names the problem in userError (MS_UNAVAILABLE, TIMEOUT, ...).
    if not isinstance(valid, bool) or answer.get("userError") not in (None, "VALID", "INVALID"):
        return ViesAnswer(
            ViesOutcome.UNREACHABLE,
            "Could not reach VIES to check {vat_number}; the number is saved anyway.",
            {"vat_number": vat_number},
        )
    if not valid:
        return ViesAnswer(
            ViesOutcome.INVALID,
            "VIES says {vat_number} is not a valid VAT number (saved all the same: "
            "check it with its holder).",
            {"vat_number": vat_number},
        )
    holder = ", ".join(
        part.replace("\n", ", ").strip()
        for part in (answer.get("name"), answer.get("address"))
        if isinstance(part, str) and part.strip() not in ("", "---")
    )
    if not holder:
        return ViesAnswer(
            ViesOutcome.VALID,
            "VIES confirms {vat_number} is a valid VAT number.",
            {"vat_number": vat_number},
        )
    return ViesAnswer(
        ViesOutcome.VALID,
        "VIES confirms {vat_number} is a valid VAT number: {holder}.",
        {"vat_number": vat_number, "holder": holder},
    )
