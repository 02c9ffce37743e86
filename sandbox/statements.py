"""The merchant's bank account as its bank would export it: camt.053.001.08 and FiDAViSta.

The account holds what the sandbox knows reaches it: EveryPay's payouts (from "EveryPay
AS" and its IBAN, the payout reference as remittance text) and the customers' bank
transfers a test or the demo registered. It starts at zero, so the opening balance of a
period is everything booked before it.
"""

from dataclasses import dataclass
from datetime import date, datetime, time

from lxml import etree
from lxml.builder import ElementMaker

from shared.config import EVERYPAY_PAYOUT_IBAN, EVERYPAY_PAYOUT_NAME

from .store import Merchant, SandboxStore, from_minor, utcnow

CAMT053 = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"
FIDAVISTA = "http://www.bankasoc.lv/fidavista/fidavista0101.xsd"
BANK_NAME = "SANDBOX BANK"
# ISO 20022 caps unstructured remittance at 140 characters per line.
_USTRD_MAX = 140


@dataclass(frozen=True)
class Booking:
    booking_date: date
    amount_minor: int
    bank_reference: str
    name: str
    iban: str
    text: str
    creditor_reference: str = ""


@dataclass(frozen=True)
class Statement:
    merchant: Merchant
    iban: str
    start: date
    end: date
    opening_minor: int
    bookings: list[Booking]

    @property
    def closing_minor(self) -> int:
        return self.opening_minor + sum(booking.amount_minor for booking in self.bookings)

    @property
    def statement_id(self) -> str:
        return f"{self.merchant.api_username}-{self.start:%Y%m%d}-{self.end:%Y%m%d}"


def _bookings(store: SandboxStore, api_username: str, *, end: date) -> list[Booking]:
    payouts = [
        Booking(
            booking_date=payout.value_date,
            amount_minor=payout.net_minor,
            bank_reference=f"SBX-PAYOUT-{payout.id}",
            name=EVERYPAY_PAYOUT_NAME,
            iban=EVERYPAY_PAYOUT_IBAN,
            text=payout.reference,
        )
        for payout in store.list_payouts(api_username, end=end)
    ]
    transfers = [
        Booking(
            booking_date=transfer.booking_date,
            amount_minor=transfer.amount_minor,
            bank_reference=f"SBX-TRANSFER-{transfer.id}",
            name=transfer.payer_name,
            iban=transfer.payer_iban,
            text=transfer.remittance,
            creditor_reference=transfer.creditor_reference,
        )
        for transfer in store.list_bank_transfers(api_username, end=end)
    ]
    return sorted(payouts + transfers, key=lambda b: (b.booking_date, b.bank_reference))


def statement_of(store: SandboxStore, merchant: Merchant, *, start: date, end: date) -> Statement:
    """The account's statement for [start, end]; payouts due by ``end`` are made first."""
    store.make_payouts(merchant.api_username, through=end, today=utcnow().date())
    every = _bookings(store, merchant.api_username, end=end)
    return Statement(
        merchant=merchant,
        iban=store.get_payout_terms(merchant.api_username).bank_iban,
        start=start,
        end=end,
        opening_minor=sum(b.amount_minor for b in every if b.booking_date < start),
        bookings=[b for b in every if b.booking_date >= start],
    )


def _amount(minor: int) -> str:
    return f"{from_minor(abs(minor)):.2f}"


def _camt_balance(E, code: str, minor: int, currency: str, day: date):
    return E.Bal(
        E.Tp(E.CdOrPrtry(E.Cd(code))),
        E.Amt(_amount(minor), Ccy=currency),
        E.CdtDbtInd("CRDT" if minor >= 0 else "DBIT"),
        E.Dt(E.Dt(day.isoformat())),
    )


def _camt_entry(E, booking: Booking, currency: str):
    remittance = []
    if booking.text:
        remittance.append(E.Ustrd(booking.text[:_USTRD_MAX]))
    if booking.creditor_reference:
        remittance.append(
            E.Strd(
                E.CdtrRefInf(
                    E.Tp(E.CdOrPrtry(E.Cd("SCOR")), E.Issr("ISO")),
                    E.Ref(booking.creditor_reference),
                )
            )
        )
    details = [
        E.Refs(E.AcctSvcrRef(booking.bank_reference)),
        E.AmtDtls(E.TxAmt(E.Amt(_amount(booking.amount_minor), Ccy=currency))),
        E.RltdPties(E.Dbtr(E.Pty(E.Nm(booking.name))), E.DbtrAcct(E.Id(E.IBAN(booking.iban)))),
    ]
    if remittance:
        details.append(E.RmtInf(*remittance))
    day = booking.booking_date.isoformat()
    return E.Ntry(
        E.Amt(_amount(booking.amount_minor), Ccy=currency),
        E.CdtDbtInd("CRDT"),
        E.Sts(E.Cd("BOOK")),
        E.BookgDt(E.Dt(day)),
        E.ValDt(E.Dt(day)),
        E.AcctSvcrRef(booking.bank_reference),
        E.BkTxCd(E.Domn(E.Cd("PMNT"), E.Fmly(E.Cd("RCDT"), E.SubFmlyCd("ESCT")))),
        E.NtryDtls(E.TxDtls(*details)),
    )


def camt053(statement: Statement) -> bytes:
    E = ElementMaker(namespace=CAMT053, nsmap={None: CAMT053})
    currency = statement.merchant.currency
    created = utcnow().isoformat(timespec="seconds")
    period = E.FrToDt(
        E.FrDtTm(datetime.combine(statement.start, time()).isoformat() + "+00:00"),
        E.ToDtTm(datetime.combine(statement.end, time(23, 59, 59)).isoformat() + "+00:00"),
    )
    document = E.Document(
        E.BkToCstmrStmt(
            E.GrpHdr(E.MsgId(f"MSG-{statement.statement_id}"), E.CreDtTm(created)),
            E.Stmt(
                E.Id(statement.statement_id),
                E.CreDtTm(created),
                period,
                E.Acct(E.Id(E.IBAN(statement.iban)), E.Ccy(currency)),
                _camt_balance(E, "OPBD", statement.opening_minor, currency, statement.start),
                _camt_balance(E, "CLBD", statement.closing_minor, currency, statement.end),
                *[_camt_entry(E, booking, currency) for booking in statement.bookings],
            ),
        )
    )
    return etree.tostring(document, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _signed(minor: int) -> str:
    return f"{'-' if minor < 0 else ''}{_amount(minor)}"


def fidavista(statement: Statement) -> bytes:
    E = ElementMaker(namespace=FIDAVISTA, nsmap={None: FIDAVISTA})
    transactions = []
    for booking in statement.bookings:
        parts = [
            E.TypeCode("INP"),
            E.BookDate(booking.booking_date.isoformat()),
            E.ValueDate(booking.booking_date.isoformat()),
            E.BankRef(booking.bank_reference),
            E.CorD("C"),
            E.AccAmt(_amount(booking.amount_minor)),
            E.PmtInfo(booking.text),
        ]
        if booking.creditor_reference:
            parts.append(E.StrdRef(booking.creditor_reference))
        parts.append(E.CPartySet(E.AccNo(booking.iban), E.AccHolder(E.Name(booking.name))))
        transactions.append(E.TrxSet(*parts))
    now = utcnow()
    document = E.FIDAVISTA(
        E.Header(E.Timestamp(f"{now:%Y%m%d%H%M%S}000"), E.From(BANK_NAME)),
        E.Statement(
            E.Period(
                E.StartDate(statement.start.isoformat()),
                E.EndDate(statement.end.isoformat()),
                E.PrepDate(now.date().isoformat()),
            ),
            E.BankSet(E.Name(BANK_NAME)),
            E.ClientSet(E.Name(statement.merchant.name)),
            E.AccountSet(
                E.AccNo(statement.iban),
                E.CcyStmt(
                    E.Ccy(statement.merchant.currency),
                    E.OpenBal(_signed(statement.opening_minor)),
                    E.CloseBal(_signed(statement.closing_minor)),
                    *transactions,
                ),
            ),
        ),
    )
    return etree.tostring(document, xml_declaration=True, encoding="UTF-8", pretty_print=True)
