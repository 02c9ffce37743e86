"""Sentences LinkPay Desk stores in English with their values written in, shown in the
reader's language: why the matcher placed a bank transfer as it did (shared.bank.matching),
why a payment needs a person (the review items of shared.callbacks), how a person
resolved it (shared.review), what Find payment found and what applying a callback did
(shared.callbacks.lookup, .apply), what a reconciler pass did (shared.callbacks.reconciler) and
what a bank statement import notes (shared.bank).

Each known sentence is listed here as its template; a stored text that a template fits
gives the template's values back, and the page shows ``t(template, **values)``. A value
that is itself such a sentence ("Suggestion accepted: {reason}") is translated in turn.
A text no template fits, a note a person typed for one, shows as stored.
"""

import dataclasses
import re
from decimal import Decimal
from functools import cache

from dashboard.i18n import ENGLISH, FORMATTED_AMOUNT, language, money_text, t
from shared.exports import Table
from shared.states import PAYMENT_STATES, SHOWN_INVOICE_STATUSES

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
# What an action on a bank transaction did, and the EveryPay payouts an import explained
# (shared.bank.matching, shared.bank.payouts).
BANK_ACTIONS = (
    "Booked {amount} as suggested.",
    "Recorded {amount} of credit paid back.",
    "Booked {amount} for {customer}.",
    "Marked as not a customer payment.",
    "Booking of {amount} undone; back to Unmatched.",
    "EveryPay payout {reference}: {net} = {count} payments {gross} - fee {fee}; payments "
    "marked in bank",
    "EveryPay payout {reference}: {net} = {count} payments {gross} - fee {fee}; difference "
    "{difference}, sent to Exceptions",
)
# Why a payment needs a person: the review items' reasons (shared.callbacks.apply, .queue,
# .processing, .lost_payments), in their words.
REVIEW_REASONS = (
    "EveryPay payment {reference} (order {order}) reached this channel's Callback URL but "
    "is not ours: {problem}. Nothing was booked; usually another system's payment on the "
    'same EveryPay account. Others the same day are in the callback log as "not ours".',
    "EveryPay reports payment {reference} for invoice {number} as {state}, a state "
    "LinkPay Desk does not know. Nothing was booked or taken back. LinkPay Desk keeps "
    "asking EveryPay and applies the payment once it reports a state LinkPay Desk knows; "
    "check the payment in the EveryPay portal meanwhile.",
    "EveryPay settled {paid} for invoice {number}, which is in {currency} (channel "
    "currency {channel_currency}). Not booked: refund it or book it by hand.",
    "{paid} was paid at EveryPay for invoice {number}, which is {status}. Not booked: "
    "refund the payer or reissue the invoice.",
    "{paid} was paid for invoice {number}, whose open balance is {open}. Not booked yet: "
    "accept it as a partial payment, or ask the customer for the rest.",
    "{paid} was paid for invoice {number}, whose open balance was {open}. Booked: "
    "{surplus} is now the customer's credit. Apply it to another invoice or refund it "
    "from the customer's page.",
    "Payment for invoice {number} has been {state} since {moment} UTC. Ask EveryPay "
    "support about payment {reference} or contact the payer.",
    "Payment for invoice {number} was refunded at EveryPay; {standing} of {initial} stays "
    "paid. None of the refund was booked on the invoice, so its balance is unchanged; for "
    "information.",
    "{back} of the payment for invoice {number} went back to the payer (refunded at "
    "EveryPay; {standing} of {initial} stays paid). The invoice is open again for {back} "
    "until a credit note is issued for it (proposed: issue a credit note for the refunded "
    "amount, or link one already issued) or finance decides the customer owes it (mark "
    "resolved). Reminders and the pay button are held meanwhile.",
    "The payer disputed the payment for invoice {number} and the card issuer took it "
    "back. None of it was booked on the invoice; for information.",
    "The payer disputed the payment for invoice {number} and the card issuer took {back} "
    "back; the invoice is open again for it. Accept the chargeback with a credit note, or "
    "dispute it if the customer still owes the money. Reminders and the pay button are "
    "held meanwhile.",
    "Callback for payment {reference} could not be verified with EveryPay after {count} "
    "tries: {error}. Check the channel's API username, secret and environment. It keeps "
    "being re-asked every few minutes and is booked as soon as EveryPay answers.",
    "The pay link of invoice {number} ({open} open) was opened {moment} UTC, {hours} hours "
    "ago, and no payment is known since. If the customer paid, every callback about it "
    "was lost: ask them for the payment reference on their receipt, or look it up in the "
    "EveryPay portal (order reference {order}), and use Find payment on this page. "
    "Reminders for this invoice are held until this is resolved.",
    "Callbacks arrived for payment references EveryPay does not know (first: "
    "{reference}). Forged callbacks are harmless and ignored; if real payments show this, "
    "the channel's environment or API base is wrong.",
)
# How a person resolved one (shared.review): with their comment after it, if they wrote one.
RESOLUTIONS = (
    "Accepted as partial payment of {amount}. {comment}",
    "Accepted as partial payment of {amount}.",
    "Credit note {number} issued for {amount}. {comment}",
    "Credit note {number} issued for {amount}.",
    "Refund covered by credit note {number}. {comment}",
    "Refund covered by credit note {number}.",
    "Disputed: the customer still owes {amount}. {comment}",
    "Payment {reference} found by {actor}: {outcome}",
)
# What Find payment found (shared.callbacks.lookup).
FIND_PAYMENT_RESULTS = (
    "Found and applied: {outcome}.",
    "Already known, nothing changed: {outcome}.",
    "Not booked: {outcome}.",
    "EveryPay could not be asked ({problems}). Nothing changed; try again later.",
    "Payment {reference} belongs to EveryPay API user {user}, which is not one of our "
    "channels'. Nothing was booked.",
    "EveryPay knows no payment {reference} for this channel. Check the reference: it is "
    "the payment's, not the order's.",
    "EveryPay knows no payment {reference} for any of the channels. Check the reference: "
    "it is the payment's, not the order's.",
    "Payment {reference} ({state}, order reference {order}) is on {channel}'s EveryPay "
    "account but not for one of its invoices: probably another system's payment. Nothing "
    "was booked.",
)
# What applying a callback did (shared.callbacks.apply, .processing): the Outcome column.
CALLBACK_OUTCOMES = (
    "{number}: payment {state} ({amount}); {booking}",
    "duplicate of callback #{id}: {outcome}",
    "not ours: the channel no longer exists",
    "not ours: {problem}",
    "{state}: a newer answer from EveryPay was already applied",
    "state unknown to LinkPay Desk: nothing booked, sent to review",
    "not paid yet; the reconciler asks again",
    "stuck at EveryPay after 3-D Secure; sent to review",
    "invoice unchanged ({status})",
    "already booked ({status})",
    "nothing to book ({status})",
    "not booked: paid in {currency}, sent to review",
    "not booked: invoice is {status}, sent to review",
    "not booked: the amount-mismatch review decides",
    "not booked: less than the open balance, sent to review",
    "invoice paid ({paid} booked, {surplus} customer credit)",
    "invoice paid ({paid} booked)",
    "invoice partially paid ({paid} booked, {open} open)",
    "already taken back ({status})",
    "{returned} went back to the payer (invoice now {status})",
)
# What a reconciler pass changed or failed, one line each (shared.callbacks.reconciler,
# .lost_payments; shared.views.reconciler adds "failed: ").
RECONCILER_LINES = (
    "failed: {problem}",
    "lost payment flagged: {number}: pay link opened {moment} UTC, no payment since",
    "lost payment resolved: {number}: {resolution}",
    "Invoice {number} is {status} now; nothing is missing.",
    "A payment for invoice {number} is known now; reminders go out again.",
    "payment {reference}…: EveryPay gave no usable answer ({error})",
    "payment {reference}…: {outcome}",
    "callback #{id}: {outcome}",
    "lost-payment check: {error}",
    "payment attempt #{id}: {error}",
    "Payment attempt #{id} does not exist.",
    "Payment attempt #{id} has no channel.",
)
# What a bank statement import accepted but notes (shared.bank.camt, .fidavista, .model),
# and the places in the file they name ({where} above).
BANK_IMPORT_WARNINGS = (
    "{where}: {count} entries carry no bank reference (AcctSvcrRef); they are recognised "
    "again by their content.",
    "{where}: its {count} transaction details do not add up to the entry; kept as one transaction.",
    "No ISO schema for {message} ships with LinkPay Desk: the file was checked field by "
    "field, not against the schema.",
    "The file declares no namespace (no camt version): it was checked field by field, not "
    "against an ISO schema.",
    "{where}: {count} transactions carry no BankRef; they are recognised again by their content.",
    "Statement {statement}: opening balance plus the booked entries differs from the closing "
    "balance by {amount} (entries missing from this file, or balances the bank computed "
    "otherwise).",
    "{where}, entry {position} ({reference})",
    "{where}, entry {position}",
    "statement {index} ({statement})",
    "statement {index}",
    "line {line}, statement {index}",
    "line {line}",
    "account {iban}, currency statement {index}",
)
# In the order they are tried: a sentence before any shorter one its start also fits.
STORED_SENTENCES = (
    MATCH_REASONS
    + BANK_ACTIONS
    + REVIEW_REASONS
    + RESOLUTIONS
    + FIND_PAYMENT_RESULTS
    + CALLBACK_OUTCOMES
    + RECONCILER_LINES
    + BANK_IMPORT_WARNINGS
)
# Places that hold a stored code, not words: {state} an EveryPay payment state, {status}
# an invoice status; shown by their label in the reader's language, lower case as in the
# English sentence (which keeps the code itself).
CODE_LABELS = {"state": PAYMENT_STATES, "status": SHOWN_INVOICE_STATUSES}


@cache
def _patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    """Each template as a pattern: its words literally, each ``{place}`` any text (the
    same text again where a place comes twice)."""
    compiled = []
    for template in STORED_SENTENCES:
        pattern, seen = [], set()
        for index, part in enumerate(re.split(r"\{(\w+)\}", template)):
            if index % 2 == 0:
                pattern.append(re.escape(part))
            elif part in seen:
                pattern.append(f"(?P={part})")
            else:
                seen.add(part)
                pattern.append(f"(?P<{part}>.*?)")
        compiled.append((re.compile("".join(pattern), re.DOTALL), template))
    return tuple(compiled)


def stored_text(text: str) -> str:
    """``text`` in the reader's language when a template fits it, else as stored."""
    for pattern, template in _patterns():
        found = pattern.fullmatch(text)
        if found:
            return t(template, **{name: _value(name, v) for name, v in found.groupdict().items()})
    return text


def _value(name: str, value: str) -> str:
    codes = CODE_LABELS.get(name, {})
    if language() == ENGLISH:
        return stored_text(value)
    if value in codes:
        return t(codes[value].en).lower()
    amount = FORMATTED_AMOUNT.fullmatch(value)
    if amount:
        return money_text(Decimal(amount["number"].replace("\u202f", "")), amount["currency"])
    return stored_text(value)


def with_stored_texts(table: Table, *keys: str) -> Table:
    """``table`` with the cells of the columns ``keys`` (stored sentences) in the reader's
    language, for ``ui.show_table``."""
    at = {index for index, column in enumerate(table.columns) if column.key in keys}
    return dataclasses.replace(
        table,
        rows=tuple(
            tuple(
                stored_text(cell) if index in at and cell else cell
                for index, cell in enumerate(row)
            )
            for row in table.rows
        ),
    )
