"""How a payment was made, as people read it: EveryPay reports a method as a code
("card", "apple_pay", "seb_ob_lv"); tables and exports show "Card", "Apple Pay",
"SEB (Latvia) bank link"."""

import re

WALLET_AND_CARD_LABELS = {
    "card": "Card",
    "apple_pay": "Apple Pay",
    "google_pay": "Google Pay",
}
# Open-banking methods are "<bank>_ob_<country>": the bank link of that bank in that country.
BANK_NAMES = {
    "swedbank": "Swedbank",
    "seb": "SEB",
    "lhv": "LHV",
    "citadele": "Citadele",
    "luminor": "Luminor",
}
COUNTRY_NAMES = {
    "lv": "Latvia",
    "ee": "Estonia",
    "lt": "Lithuania",
    "fi": "Finland",
}
_BANK_LINK = re.compile(r"(?P<bank>[a-z0-9]+(?:_[a-z0-9]+)*?)_ob_(?P<country>[a-z]{2})")


def payment_method_label(code: str | None) -> str:
    """``code`` as people read it. A code this list does not know still reads as words
    ("klarna_pay_later": "Klarna pay later"), never as a raw code."""
    if not code:
        return ""
    key = code.strip().lower()
    if key in WALLET_AND_CARD_LABELS:
        return WALLET_AND_CARD_LABELS[key]
    bank_link = _BANK_LINK.fullmatch(key)
    if bank_link:
        bank = BANK_NAMES.get(bank_link["bank"], _words(bank_link["bank"]))
        country = COUNTRY_NAMES.get(bank_link["country"], bank_link["country"].upper())
        return f"{bank} ({country}) bank link"
    return _words(key)


def _words(code: str) -> str:
    return code.replace("_", " ").strip().capitalize()
