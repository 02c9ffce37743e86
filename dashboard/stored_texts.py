"""Sentences LinkPay Desk stores in English with their values written in, shown in the
reader's language: why the matcher placed a bank transfer as it did (shared.bank.matching
keeps it with the transaction, and in the audit log).

Each known sentence is listed here as its template; a stored text that a template fits
gives the template's values back, and the page shows ``t(template, **values)``. A value
that is itself such a sentence ("Suggestion accepted: {reason}") is translated in turn.
A text no template fits, a note a person typed for one, shows as stored.
"""

import re
from functools import cache

from dashboard.i18n import t

# shared.bank.matching's reasons, in its words: keep the two in step (the tests render
# the matcher's real reasons in Latvian, tests/dashboard/test_latvian_money.py).
MATCH_REASONS = (
    "RF reference {reference} is not one of our issued invoices.",
    "RF reference {reference} is invoice {number} in {currency}; the transfer is in "
    "{transfer_currency}.",
    "RF reference {reference} of invoice {number}, which has nothing open: booking it "
    "makes the amount the customer's credit.",
    "RF reference {reference} of invoice {number}.",
    "The payment details name invoices {numbers} of different customers.",
    "The payment details name invoice {numbers}, not in {currency}.",
    "The payment details name invoice {numbers}, which has nothing open.",
    "Invoice number {numbers} in the payment details.",
    "Invoice numbers {numbers} in the payment details.",
    "Invoice number {numbers} in the payment details, but {amount} is more than the "
    "{owed} the customer owes: the rest would become credit.",
    "Invoice numbers {numbers} in the payment details, but {amount} is more than the "
    "{owed} the customer owes: the rest would become credit.",
    "{amount} is what is open on invoice {number} (the oldest due of {count}), and the "
    "payer's {how} is {customer}'s.",
    "{amount} is what is open on invoice {number}, and the payer's {how} is {customer}'s.",
    "Paid to {customer} (by {how}), who has {amount} credit: record it as credit paid back.",
    "The bank reversed a booking of {amount}, and {count} earlier bookings fit ({how}): "
    "check which one by hand.",
    "The bank reversed a booking of {amount} that is on no imported statement (same "
    "account, amount and reference or payer): check it by hand.",
    "EveryPay payout: explained by the payouts, not by invoices.",
    "No invoice is in {currency}.",
    "Outgoing payment, to no customer holding credit.",
    "No RF reference or invoice number in the payment details, and no open invoice of "
    "{amount} from this payer.",
    "Not booked automatically: {error}",
    "Suggestion accepted: {reason}",
    "Matched by hand to {customer}.",
    "Booking undone by {actor}: {reason}",
    # How the payer was recognised ({how} above).
    "IBAN {iban}",
    "name",
)


@cache
def _patterns(templates: tuple[str, ...]) -> tuple[tuple[re.Pattern[str], str], ...]:
    """Each template as a pattern: its words literally, each ``{place}`` any text."""
    compiled = []
    for template in templates:
        parts = re.split(r"\{(\w+)\}", template)
        pattern = "".join(
            re.escape(part) if index % 2 == 0 else f"(?P<{part}>.+?)"
            for index, part in enumerate(parts)
        )
        compiled.append((re.compile(pattern, re.DOTALL), template))
    return tuple(compiled)


def stored_text(text: str, templates: tuple[str, ...] = MATCH_REASONS) -> str:
    """``text`` in the reader's language when a template fits it, else as stored."""
    for pattern, template in _patterns(templates):
        found = pattern.fullmatch(text)
        if found:
            values = {
                name: stored_text(value, templates) for name, value in found.groupdict().items()
            }
            return t(template, **values)
    return text
