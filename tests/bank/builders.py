"""Generators of valid statement files: camt.053 (.02, .08), camt.054 (.04), FiDAViSta 1.01.

Each test describes the entries it needs; the builders put them in the element order the
ISO schemas require (checked against the shipped XSDs in the tests) and compute the
closing balance unless a test asks for one that does not add up.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from lxml import etree
from lxml.builder import ElementMaker

COMPANY_IBAN = "LV80BANK0000435195001"
OTHER_IBAN = "LV97HABA0012345678910"
PAYER_IBAN = "EE382200221020145685"


@dataclass
class Tx:
    amount: str | None = None
    name: str = ""
    iban: str = ""
    bank_ref: str = ""
    end_to_end: str = ""
    rf: str = ""
    text: str = ""
    instructed: tuple[str, str] | None = None  # (amount, currency) before conversion


@dataclass
class Entry:
    amount: str
    direction: str = "CRDT"
    ref: str = ""
    status: str = "BOOK"
    booking: str = "2026-11-02"
    value: str = "2026-11-02"
    reversal: bool = False
    currency: str = "EUR"
    batch: tuple[str, int] | None = None  # (payment information id, number of transactions)
    txs: list[Tx] = field(default_factory=list)
    info: str = ""
    code: tuple[str, str, str] = ("PMNT", "RCDT", "ESCT")


def _signed(entries: list[Entry]) -> Decimal:
    total = Decimal(0)
    for entry in entries:
        if entry.status == "BOOK":
            amount = Decimal(entry.amount)
            total += amount if entry.direction == "CRDT" else -amount
    return total


def _balance(E, code: str, amount: Decimal, currency: str, day: str, credit_line: str | None):
    parts = [E.Tp(E.CdOrPrtry(E.Cd(code)))]
    if credit_line:
        parts.append(E.CdtLine(E.Incl("false"), E.Amt(credit_line, Ccy=currency)))
    parts += [
        E.Amt(f"{abs(amount):.2f}", Ccy=currency),
        E.CdtDbtInd("CRDT" if amount >= 0 else "DBIT"),
        E.Dt(E.Dt(day)),
    ]
    return E.Bal(*parts)


def _party(E, tag: str, name: str, v8: bool):
    return getattr(E, tag)(E.Pty(E.Nm(name)) if v8 else E.Nm(name))


def _tx(E, tx: Tx, entry: Entry, version: int):
    v8 = version >= 8
    parts = []
    refs = []
    if tx.bank_ref:
        refs.append(E.AcctSvcrRef(tx.bank_ref))
    if tx.end_to_end:
        refs.append(E.EndToEndId(tx.end_to_end))
    if refs:
        parts.append(E.Refs(*refs))
    if version == 4:  # .04 requires the transaction's own amount; later versions made it optional
        parts.append(E.Amt(tx.amount or entry.amount, Ccy=entry.currency))
        parts.append(E.CdtDbtInd(entry.direction))
    amounts = []
    if tx.instructed:
        amounts.append(E.InstdAmt(E.Amt(tx.instructed[0], Ccy=tx.instructed[1])))
    if tx.amount is not None:
        amounts.append(E.TxAmt(E.Amt(tx.amount, Ccy=entry.currency)))
    if amounts:
        parts.append(E.AmtDtls(*amounts))
    payer = (entry.direction == "CRDT") != entry.reversal
    role = "Dbtr" if payer else "Cdtr"
    related = []
    if tx.name:
        related.append(_party(E, role, tx.name, v8))
    if tx.iban:
        related.append(getattr(E, f"{role}Acct")(E.Id(E.IBAN(tx.iban))))
    if related:
        parts.append(E.RltdPties(*related))
    if tx.rf or tx.text:
        remittance = []
        if tx.text:
            remittance.append(E.Ustrd(tx.text))
        if tx.rf:
            remittance.append(
                E.Strd(E.CdtrRefInf(E.Tp(E.CdOrPrtry(E.Cd("SCOR")), E.Issr("ISO")), E.Ref(tx.rf)))
            )
        parts.append(E.RmtInf(*remittance))
    return E.TxDtls(*parts)


def _entry(E, entry: Entry, version: int):
    v8 = version >= 8
    parts = [E.Amt(entry.amount, Ccy=entry.currency), E.CdtDbtInd(entry.direction)]
    if entry.reversal:
        parts.append(E.RvslInd("true"))
    parts.append(E.Sts(E.Cd(entry.status)) if v8 else E.Sts(entry.status))
    parts += [E.BookgDt(E.Dt(entry.booking)), E.ValDt(E.Dt(entry.value))]
    if entry.ref:
        parts.append(E.AcctSvcrRef(entry.ref))
    domain, family, sub = entry.code
    parts.append(E.BkTxCd(E.Domn(E.Cd(domain), E.Fmly(E.Cd(family), E.SubFmlyCd(sub)))))
    details = []
    if entry.batch:
        details.append(E.Btch(E.PmtInfId(entry.batch[0]), E.NbOfTxs(str(entry.batch[1]))))
    details += [_tx(E, tx, entry, version) for tx in entry.txs]
    if details:
        parts.append(E.NtryDtls(*details))
    if entry.info:
        parts.append(E.AddtlNtryInf(entry.info))
    return E.Ntry(*parts)


def camt053(
    *,
    entries: list[Entry],
    version: str = "02",
    iban: str = COMPANY_IBAN,
    currency: str = "EUR",
    statement_id: str = "STMT-2026-11-02",
    opening: str = "1000.00",
    closing: str | None = None,
    credit_line: str | None = None,
    namespace: bool = True,
    padded_iban: bool = False,
) -> bytes:
    ns = f"urn:iso:std:iso:20022:tech:xsd:camt.053.001.{version}" if namespace else None
    E = ElementMaker(namespace=ns, nsmap={None: ns} if ns else None)
    opening_amount = Decimal(opening)
    closing_amount = Decimal(closing) if closing is not None else opening_amount + _signed(entries)
    account = E.Acct(E.Id(E.IBAN(f" {iban} " if padded_iban else iban)), E.Ccy(currency))
    statement = E.Stmt(
        E.Id(statement_id),
        E.CreDtTm("2026-11-03T06:00:00+02:00"),
        E.FrToDt(E.FrDtTm("2026-11-02T00:00:00+02:00"), E.ToDtTm("2026-11-02T23:59:59+02:00")),
        account,
        _balance(E, "OPBD", opening_amount, currency, "2026-11-02", credit_line),
        _balance(E, "CLBD", closing_amount, currency, "2026-11-02", credit_line),
        *[_entry(E, entry, int(version)) for entry in entries],
    )
    document = E.Document(
        E.BkToCstmrStmt(
            E.GrpHdr(E.MsgId(f"MSG-{statement_id}"), E.CreDtTm("2026-11-03T06:00:00+02:00")),
            statement,
        )
    )
    return etree.tostring(document, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def camt054(
    *, entries: list[Entry], iban: str = COMPANY_IBAN, notification_id: str = "NTFCTN-1"
) -> bytes:
    ns = "urn:iso:std:iso:20022:tech:xsd:camt.054.001.04"
    E = ElementMaker(namespace=ns, nsmap={None: ns})
    document = E.Document(
        E.BkToCstmrDbtCdtNtfctn(
            E.GrpHdr(E.MsgId(f"MSG-{notification_id}"), E.CreDtTm("2026-11-02T21:00:00+02:00")),
            E.Ntfctn(
                E.Id(notification_id),
                E.CreDtTm("2026-11-02T21:00:00+02:00"),
                E.Acct(E.Id(E.IBAN(iban)), E.Ccy("EUR")),
                *[_entry(E, entry, 4) for entry in entries],
            ),
        )
    )
    return etree.tostring(document, xml_declaration=True, encoding="UTF-8", pretty_print=True)


@dataclass
class Trx:
    amount: str
    direction: str = "C"
    bank_ref: str = ""
    book_date: str = "2026-11-02"
    text: str = ""
    name: str = ""
    account: str = ""
    structured_ref: str = ""


def fidavista(
    *,
    transactions: list[Trx],
    iban: str = COMPANY_IBAN,
    currency: str = "EUR",
    opening: str = "500.00",
    closing: str | None = None,
    padded: bool = True,
) -> bytes:
    ns = "http://www.bankasoc.lv/fidavista/fidavista0101.xsd"
    E = ElementMaker(namespace=ns, nsmap={None: ns})
    total = Decimal(opening)
    for trx in transactions:
        total += Decimal(trx.amount) if trx.direction == "C" else -Decimal(trx.amount)
    sets = []
    for trx in transactions:
        parts = [E.TypeCode("INP" if trx.direction == "C" else "OUTP"), E.BookDate(trx.book_date)]
        if trx.bank_ref:
            parts.append(E.BankRef(trx.bank_ref))
        parts += [E.CorD(trx.direction), E.AccAmt(trx.amount), E.PmtInfo(trx.text)]
        if trx.structured_ref:
            parts.append(E.StrdRef(trx.structured_ref))
        if trx.name or trx.account:
            party = []
            if trx.account:
                party.append(E.AccNo(f" {trx.account} " if padded else trx.account))
            party.append(E.AccHolder(E.Name(trx.name)))
            parts.append(E.CPartySet(*party))
        sets.append(E.TrxSet(*parts))
    document = E.FIDAVISTA(
        E.Header(E.Timestamp("20261103060000000"), E.From("TEST BANK")),
        E.Statement(
            E.Period(E.StartDate("2026-11-01"), E.EndDate("2026-11-02"), E.PrepDate("2026-11-03")),
            E.BankSet(E.Name("TEST BANK")),
            E.ClientSet(E.Name("SIA Piemērs")),
            E.AccountSet(
                E.AccNo(f" {iban} " if padded else iban),
                E.CcyStmt(
                    E.Ccy(currency),
                    E.OpenBal(opening),
                    E.CloseBal(closing if closing is not None else f"{total:.2f}"),
                    *sets,
                ),
            ),
        ),
    )
    return etree.tostring(document, xml_declaration=True, encoding="UTF-8", pretty_print=True)
