"""FiDAViSta 1.x, the Latvian banks' statement XML (Citadele, Luminor and others).

No usable XSD is published, so the file is checked element by element with messages that
name the account, the transaction and the field. What is accepted and refused:

- Root ``FIDAVISTA`` in any FiDAViSta namespace (``…/fidavista0101.xsd``, ``…/v1-2``) or in
  none. ``Statement/Period`` gives the period; each ``AccountSet/CcyStmt`` becomes one
  statement of that account and currency.
- ``AccNo`` must be an IBAN; banks pad it with spaces, which are dropped. ``Ccy`` must
  come before the transactions it prices.
- ``OpenBal``/``CloseBal`` may be negative (an overdrawn account). Balances that do not add
  up with the transactions are imported with a warning naming the difference.
- Each ``TrxSet`` is one booking: ``BookDate``, ``CorD`` (C or D) and a positive ``AccAmt``
  are required; ``BankRef`` is the bank's reference used to recognise the booking again
  (a booking without one is recognised by its content). ``PmtInfo`` is the free text,
  ``StrdRef`` the structured (creditor) reference, ``CPartySet`` the other party; a
  ``CPartySet/Amt`` in another currency is kept as the original amount.
- FiDAViSta has no "for information" entries and no reversal flag: every ``TrxSet`` is money.
"""

import re

from lxml import etree

from shared.bank.model import (
    CREDIT,
    DEBIT,
    ParsedEntry,
    ParsedFile,
    ParsedStatement,
    ParsedTransaction,
    StatementFileError,
    assign_dedupe_keys,
    check_balances,
    clean_text,
    compact_account,
    parse_amount,
    parse_currency,
    parse_date,
)
from shared.bank.safexml import Root, iterate, release, split_tag
from shared.channels import validate_iban
from shared.errors import ValidationError

ROOT = "FIDAVISTA"


def is_fidavista(root: Root) -> bool:
    return root.name.upper() == ROOT and (
        not root.namespace or "fidavista" in root.namespace.lower()
    )


def version_of(root: Root) -> str:
    found = re.search(r"fidavista0?(\d)(\d\d)\.xsd$|v(\d+)-(\d+)$", root.namespace, re.IGNORECASE)
    if not found:
        return "1.x"
    major, minor = (found.group(1), found.group(2)) if found.group(1) else found.group(3, 4)
    return f"{major}.{minor}"


def _child_text(element: etree._Element, name: str) -> str:
    for child in element:
        if split_tag(child.tag)[1] == name:
            return clean_text(child.text)
    return ""


def _child(element: etree._Element, name: str) -> etree._Element | None:
    for child in element:
        if split_tag(child.tag)[1] == name:
            return child
    return None


def _signed_amount(text: str, currency: str, *, where: str, field_name: str) -> int:
    negative = text.startswith("-")
    minor = parse_amount(text.lstrip("-"), currency, where=where, field_name=field_name)
    return -minor if negative else minor


class _CurrencyStatement:
    def __init__(self, *, message: str, index: int, iban: str, period) -> None:
        self.message = message
        self.where = f"account {iban}, currency statement {index}"
        self.iban = iban
        self.period = period
        self.currency = ""
        self.opening: int | None = None
        self.closing: int | None = None
        self.pending_balances: dict[str, str] = {}
        self.entries: list[ParsedEntry] = []

    def field(self, name: str, text: str) -> None:
        if name == "Ccy":
            self.currency = parse_currency(text, where=self.where, field_name="Ccy")
        elif name in ("OpenBal", "CloseBal"):
            self.pending_balances[name] = text

    def transaction(self, trx: etree._Element) -> None:
        position = len(self.entries) + 1
        reference = _child_text(trx, "BankRef")
        where = f"{self.where}, transaction {position}" + (f" ({reference})" if reference else "")
        if not self.currency:
            raise StatementFileError(
                f"{where}: Ccy must come before the transactions.", field="Ccy"
            )
        indicator = _child_text(trx, "CorD").upper()
        if indicator not in ("C", "D"):
            raise StatementFileError(
                f"{where}: CorD is '{indicator}' (C or D expected).", field="CorD"
            )
        amount_text = _child_text(trx, "AccAmt")
        if not amount_text:
            raise StatementFileError(f"{where}: the amount (AccAmt) is missing.", field="AccAmt")
        minor = parse_amount(amount_text, self.currency, where=where, field_name="AccAmt")
        booking = parse_date(_child_text(trx, "BookDate"), where=where, field_name="BookDate")
        if booking is None:
            raise StatementFileError(
                f"{where}: the booking date (BookDate) is missing.", field="BookDate"
            )
        tx = ParsedTransaction(
            amount_minor=minor,
            remittance_text=_child_text(trx, "PmtInfo"),
            creditor_reference=_child_text(trx, "StrdRef").upper().replace(" ", ""),
            bank_reference=reference,
            end_to_end_id=_child_text(trx, "EndToEndId"),
            transaction_id=_child_text(trx, "ExtId"),
            additional_info=_child_text(trx, "TypeName"),
        )
        party = _child(trx, "CPartySet")
        if party is not None:
            holder = _child(party, "AccHolder")
            tx.counterparty_name = _child_text(holder, "Name") if holder is not None else ""
            tx.counterparty_iban = compact_account(_child_text(party, "AccNo"))
            tx.counterparty_bic = compact_account(_child_text(party, "BankCode"))
            original_currency = _child_text(party, "Ccy").upper()
            original_amount = _child_text(party, "Amt")
            if original_currency and original_amount and original_currency != self.currency:
                tx.original_currency = parse_currency(
                    original_currency, where=where, field_name="CPartySet/Ccy"
                )
                tx.original_amount_minor = parse_amount(
                    original_amount, tx.original_currency, where=where, field_name="CPartySet/Amt"
                )
        self.entries.append(
            ParsedEntry(
                position=position,
                amount_minor=minor,
                currency=self.currency,
                direction=CREDIT if indicator == "C" else DEBIT,
                booking_date=booking,
                value_date=parse_date(
                    _child_text(trx, "ValueDate"), where=where, field_name="ValueDate"
                ),
                bank_reference=reference,
                bank_transaction_code=_child_text(trx, "TypeCode"),
                transactions=[tx],
            )
        )

    def build(self) -> ParsedStatement:
        if not self.currency:
            raise StatementFileError(f"{self.where}: the currency (Ccy) is missing.", field="Ccy")
        for name in ("OpenBal", "CloseBal"):
            if not self.pending_balances.get(name):
                raise StatementFileError(f"{self.where}: {name} is missing.", field=name)
        start, end = self.period
        statement = ParsedStatement(
            message=self.message,
            statement_id=f"{self.iban} {self.currency} {start}..{end}",
            iban=self.iban,
            currency=self.currency,
            period_start=start,
            period_end=end,
            opening_balance_minor=_signed_amount(
                self.pending_balances["OpenBal"],
                self.currency,
                where=self.where,
                field_name="OpenBal",
            ),
            closing_balance_minor=_signed_amount(
                self.pending_balances["CloseBal"],
                self.currency,
                where=self.where,
                field_name="CloseBal",
            ),
            entries=self.entries,
        )
        check_balances(statement)
        unreferenced = assign_dedupe_keys(statement)
        if unreferenced:
            statement.warnings.append(
                f"{self.where}: {unreferenced} transactions carry no BankRef; they are "
                "recognised again by their content."
            )
        return statement


def parse_fidavista(content: bytes, *, root: Root) -> ParsedFile:
    message = f"FiDAViSta {version_of(root)}"
    statements: list[ParsedStatement] = []
    period: tuple = (None, None)
    iban = ""
    current: _CurrencyStatement | None = None
    seen_statement = False
    for event, element in iterate(content):
        if event == "start":
            name = split_tag(element.tag)[1]
            if name == "Statement":
                seen_statement = True
            elif name == "CcyStmt":
                if not iban:
                    raise StatementFileError(
                        "An AccountSet has no AccNo before its CcyStmt.", field="AccNo"
                    )
                current = _CurrencyStatement(
                    message=message, index=len(statements) + 1, iban=iban, period=period
                )
            continue
        name = split_tag(element.tag)[1]
        parent = element.getparent()
        parent_name = split_tag(parent.tag)[1] if parent is not None else ""
        if name == "Period" and parent_name == "Statement":
            period = (
                parse_date(
                    _child_text(element, "StartDate"), where="Period", field_name="StartDate"
                ),
                parse_date(_child_text(element, "EndDate"), where="Period", field_name="EndDate"),
            )
            if None in period:
                raise StatementFileError(
                    "Statement/Period needs both StartDate and EndDate.", field="Period"
                )
        elif name == "AccNo" and parent_name == "AccountSet":
            raw = clean_text(element.text)
            try:
                iban = validate_iban(compact_account(raw))
            except ValidationError:
                raise StatementFileError(
                    f"AccountSet/AccNo '{raw}' is not a valid IBAN; LinkPay Desk imports "
                    "statements of IBAN accounts only.",
                    field="iban",
                ) from None
        elif current is not None and parent_name == "CcyStmt":
            if name == "TrxSet":
                current.transaction(element)
                release(element)
            else:
                current.field(name, clean_text(element.text))
        elif name == "CcyStmt" and current is not None:
            statements.append(current.build())
            current = None
            release(element)
        elif name == "AccountSet":
            iban = ""
    if not seen_statement:
        raise StatementFileError("The FiDAViSta file has no Statement element.", field="file")
    if period == (None, None):
        raise StatementFileError("The FiDAViSta file has no Statement/Period.", field="Period")
    if not statements:
        raise StatementFileError("The FiDAViSta file has no AccountSet/CcyStmt.", field="CcyStmt")
    return ParsedFile(message=message, statements=statements)
