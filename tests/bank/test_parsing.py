"""Parsing statement files into the normalised form: what a finance user relies on."""

from datetime import date
from pathlib import Path

import pytest
from lxml import etree

from shared.bank.camt import schema_for
from shared.bank.model import CREDIT, DEBIT, StatementFileError
from shared.bank.parse import parse_statement_file
from tests.bank.builders import (
    COMPANY_IBAN,
    PAYER_IBAN,
    Entry,
    Trx,
    Tx,
    camt053,
    camt054,
    fidavista,
)

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples"

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE Document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>
<GrpHdr><MsgId>&xxe;</MsgId></GrpHdr></BkToCstmrStmt></Document>"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<FIDAVISTA><Statement><Period><StartDate>&lol9;</StartDate></Period></Statement></FIDAVISTA>"""


def customer_payment() -> Entry:
    return Entry(
        "121.50",
        ref="BANKREF-1",
        txs=[Tx(name="SIA Klients", iban=PAYER_IBAN, rf="RF5600000034", end_to_end="E2E-1")],
    )


def only_statement(content: bytes):
    parsed = parse_statement_file(content)
    assert len(parsed.statements) == 1
    return parsed, parsed.statements[0]


@pytest.mark.parametrize(
    ("message", "content"),
    [
        ("camt.053.001.02", camt053(entries=[customer_payment()], version="02")),
        ("camt.053.001.04", camt053(entries=[customer_payment()], version="04")),
        ("camt.053.001.08", camt053(entries=[customer_payment()], version="08")),
        ("camt.054.001.04", camt054(entries=[customer_payment()])),
    ],
)
def test_generated_files_follow_the_iso_schema_and_parse_the_same(message, content):
    schema = schema_for(message)
    assert schema.validate(etree.ElementTree(etree.fromstring(content))), schema.error_log
    parsed, statement = only_statement(content)
    assert parsed.message == message
    assert parsed.warnings == []
    assert statement.iban == COMPANY_IBAN
    [entry] = statement.entries
    assert (entry.amount_minor, entry.currency, entry.direction) == (12150, "EUR", CREDIT)
    assert entry.booking_date == date(2026, 11, 2)
    assert entry.bank_reference == "BANKREF-1"
    [tx] = entry.transactions
    assert tx.counterparty_name == "SIA Klients"
    assert tx.counterparty_iban == PAYER_IBAN
    assert tx.creditor_reference == "RF5600000034"
    assert tx.end_to_end_id == "E2E-1"


@pytest.mark.parametrize("version", ["02", "08"])
def test_statement_balances_and_period(version):
    content = camt053(
        entries=[customer_payment(), Entry("21.50", direction="DBIT", ref="FEE-1")],
        version=version,
        opening="1000.00",
    )
    _, statement = only_statement(content)
    assert statement.statement_id == "STMT-2026-11-02"
    assert (statement.period_start, statement.period_end) == (date(2026, 11, 2), date(2026, 11, 2))
    assert statement.opening_balance_minor == 100000
    assert statement.closing_balance_minor == 110000
    assert statement.balance_difference_minor == 0
    assert statement.warnings == []


def test_batch_booking_is_split_into_its_transactions():
    batch = Entry(
        "300.00",
        ref="BATCH-1",
        batch=("PMTINF-7", 2),
        txs=[
            Tx(amount="100.00", name="SIA Alfa", bank_ref="T-1", text="INV-2026-0001"),
            Tx(amount="200.00", name="SIA Beta", bank_ref="T-2", rf="RF5600000034"),
        ],
    )
    _, statement = only_statement(camt053(entries=[batch], version="08"))
    [entry] = statement.entries
    assert entry.amount_minor == 30000
    assert (entry.batch_reference, entry.batch_size) == ("PMTINF-7", 2)
    assert [(tx.amount_minor, tx.counterparty_name) for tx in entry.transactions] == [
        (10000, "SIA Alfa"),
        (20000, "SIA Beta"),
    ]
    assert entry.transactions[0].remittance_text == "INV-2026-0001"
    assert entry.transactions[1].creditor_reference == "RF5600000034"


def test_batch_whose_details_do_not_add_up_stays_one_transaction_with_a_warning():
    batch = Entry(
        "300.00",
        ref="BATCH-2",
        txs=[Tx(amount="100.00", name="SIA Alfa"), Tx(amount="150.00", name="SIA Alfa")],
    )
    _, statement = only_statement(camt053(entries=[batch]))
    [entry] = statement.entries
    assert [(tx.amount_minor, tx.counterparty_name) for tx in entry.transactions] == [
        (30000, "SIA Alfa")
    ]
    assert any("do not add up to the entry" in warning for warning in statement.warnings)


def test_two_entries_with_one_bank_reference_stay_two_entries():
    # A transfer and its fee, both under the payment's reference; and the same amount twice.
    entries = [
        Entry("100.00", ref="SAME"),
        Entry("0.50", direction="DBIT", ref="SAME"),
        Entry("100.00", ref="SAME"),
    ]
    _, statement = only_statement(camt053(entries=entries))
    keys = [entry.dedupe_key for entry in statement.entries]
    assert len(set(keys)) == 3


def test_reversal_keeps_the_booked_direction_and_is_flagged():
    reversal = Entry(
        "40.00", direction="DBIT", ref="RVSL-1", reversal=True, txs=[Tx(name="SIA Klients")]
    )
    _, statement = only_statement(camt053(entries=[customer_payment(), reversal]))
    entry = statement.entries[1]
    assert (entry.direction, entry.reversal, entry.signed_minor) == (DEBIT, True, -4000)
    assert entry.transactions[0].counterparty_name == "SIA Klients"
    assert statement.balance_difference_minor == 0


def test_foreign_currency_payment_keeps_its_instructed_amount():
    entry = Entry("92.10", ref="FX-1", txs=[Tx(name="US Buyer Inc", instructed=("100.00", "USD"))])
    _, statement = only_statement(camt053(entries=[entry], version="08"))
    [tx] = statement.entries[0].transactions
    assert tx.amount_minor == 9210
    assert (tx.original_amount_minor, tx.original_currency) == (10000, "USD")


def test_structured_unstructured_and_missing_remittance():
    entries = [
        Entry("10.00", ref="A", txs=[Tx(rf="RF56 0000 0034")]),
        Entry("20.00", ref="B", txs=[Tx(text="Rēķins   INV-2026-0034")]),
        Entry("30.00", ref="C"),
    ]
    _, statement = only_statement(camt053(entries=entries))
    structured, unstructured, missing = (entry.transactions[0] for entry in statement.entries)
    assert (structured.creditor_reference, structured.remittance_text) == ("RF5600000034", "")
    assert (unstructured.creditor_reference, unstructured.remittance_text) == (
        "",
        "Rēķins INV-2026-0034",
    )
    assert (missing.creditor_reference, missing.remittance_text, missing.amount_minor) == (
        "",
        "",
        3000,
    )


def test_entries_for_information_are_not_money():
    entries = [customer_payment(), Entry("999.00", ref="PENDING", status="PDNG")]
    _, statement = only_statement(camt053(entries=entries))
    assert [entry.bank_reference for entry in statement.entries] == ["BANKREF-1"]
    assert statement.not_booked == 1
    assert statement.balance_difference_minor == 0


def test_credit_line_amount_before_the_balance_is_not_taken_for_the_balance():
    content = camt053(entries=[customer_payment()], opening="10.00", credit_line="5000.00")
    _, statement = only_statement(content)
    assert statement.opening_balance_minor == 1000
    assert statement.closing_balance_minor == 13150


def test_balances_that_do_not_add_up_are_imported_with_a_warning():
    content = camt053(entries=[customer_payment()], opening="10.00", closing="100.00")
    _, statement = only_statement(content)
    assert statement.balance_difference_minor == -3150
    assert any("−31.50 EUR" in w or "-31.50 EUR" in w for w in statement.warnings)


def test_padded_iban_and_missing_namespace_are_accepted_with_a_note():
    content = camt053(entries=[customer_payment()], namespace=False, padded_iban=True)
    parsed, statement = only_statement(content)
    assert parsed.message == "camt.053"
    assert statement.iban == COMPANY_IBAN
    assert any("no namespace" in warning for warning in parsed.warnings)


def test_an_entry_in_another_currency_than_the_statement_is_refused():
    content = camt053(entries=[customer_payment(), Entry("5.00", ref="X", currency="USD")])
    with pytest.raises(StatementFileError, match=r"entry 2 \(X\).*USD on a EUR statement"):
        parse_statement_file(content)


def test_schema_violation_names_the_line_entry_and_field():
    entries = [customer_payment(), Entry("7.00", ref="BAD"), Entry("8.00", ref="GOOD")]
    content = camt053(entries=entries, version="02")
    broken = content.replace(
        b"<AcctSvcrRef>BAD</AcctSvcrRef>", b"<AcctSvcrRef>BAD</AcctSvcrRef><Fee>1</Fee>"
    )
    with pytest.raises(StatementFileError) as caught:
        parse_statement_file(broken)
    message = str(caught.value)
    line = next(n for n, text in enumerate(broken.splitlines(), 1) if b"<Fee>" in text)
    assert f"ISO 20022 schema (line {line}, statement 1, entry 2 (BAD))" in message
    assert "Element 'Fee': This element is not expected" in message


def test_without_schema_a_wrong_field_is_named_with_its_entry():
    content = camt053(entries=[customer_payment(), Entry("7.00", ref="BAD")], namespace=False)
    broken = content.replace(b'<Amt Ccy="EUR">7.00</Amt>', b'<Amt Ccy="EUR">-7.00</Amt>')
    with pytest.raises(StatementFileError, match=r"entry 2 \(BAD\): Amt '-7.00' is not an amount"):
        parse_statement_file(broken)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "empty"),
        (b"<Document><BkToCstmrStmt>", "not well-formed"),
        (b"<html><body>statement</body></html>", "not a bank statement"),
        (XXE, "DTD"),
        (BILLION_LAUGHS, "DTD"),
    ],
    ids=["empty", "malformed", "not-a-statement", "xxe", "billion-laughs"],
)
def test_bad_files_are_refused_with_a_clear_message(content, expected):
    with pytest.raises(StatementFileError, match=expected) as caught:
        parse_statement_file(content)
    assert "root:" not in str(caught.value)  # nothing from /etc/passwd leaks into a message


def test_fidavista_with_padded_accounts():
    content = fidavista(
        transactions=[
            Trx("121.50", bank_ref="B-1", name="SIA Klients", account=PAYER_IBAN, text="INV 34"),
            Trx("20.00", direction="D", bank_ref="B-2", structured_ref="RF5600000034"),
        ],
        opening="-10.00",
    )
    parsed, statement = only_statement(content)
    assert parsed.message == "FiDAViSta 1.01"
    assert statement.iban == COMPANY_IBAN
    assert (statement.opening_balance_minor, statement.closing_balance_minor) == (-1000, 9150)
    assert (statement.period_start, statement.period_end) == (date(2026, 11, 1), date(2026, 11, 2))
    first, second = statement.entries
    assert (first.direction, first.amount_minor, first.bank_reference) == (CREDIT, 12150, "B-1")
    assert first.transactions[0].counterparty_iban == PAYER_IBAN
    assert first.transactions[0].remittance_text == "INV 34"
    assert (second.direction, second.transactions[0].creditor_reference) == (DEBIT, "RF5600000034")


def test_fidavista_structural_errors_name_the_transaction_and_field():
    content = fidavista(transactions=[Trx("1.00", bank_ref="OK"), Trx("2.00", bank_ref="B-2")])
    head, _, tail = content.rpartition(b"<CorD>C</CorD>")
    broken = head + b"<CorD>X</CorD>" + tail
    with pytest.raises(StatementFileError, match=r"transaction 2 \(B-2\): CorD is 'X'"):
        parse_statement_file(broken)
    no_account = content.replace(f"<AccNo> {COMPANY_IBAN} </AccNo>".encode(), b"")
    with pytest.raises(StatementFileError, match="AccNo"):
        parse_statement_file(no_account)


SAMPLE_FILES = sorted(SAMPLES.glob("camt/*.xml")) + sorted(SAMPLES.glob("fidavista/*.xml"))


@pytest.mark.skipif(not SAMPLE_FILES, reason="../shared/samples is not present in this checkout")
@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda path: path.name)
def test_real_public_sample_parses(path):
    parsed = parse_statement_file(path.read_bytes())
    for statement in parsed.statements:
        assert statement.iban
        assert statement.entries
        for entry in statement.entries:
            assert entry.amount_minor > 0
            assert sum(tx.amount_minor for tx in entry.transactions) == entry.amount_minor
        assert len({entry.dedupe_key for entry in statement.entries}) == len(statement.entries)


def test_a_truncated_file_is_refused_not_read_in_part():
    content = camt053(entries=[customer_payment(), Entry("2.00", ref="CUT")], version="02")
    truncated = content[: content.index(b"<AcctSvcrRef>CUT") + 20]
    with pytest.raises(StatementFileError, match=r"not well-formed XML at line \d+.*entry 2"):
        parse_statement_file(truncated)


def test_a_file_broken_inside_an_entry_is_refused_with_its_line_and_entry():
    # The schema pass reports such a file without a line; the message still has one.
    content = camt053(entries=[customer_payment(), Entry("2.00", ref="BROKEN")], version="02")
    broken = content.replace(b"<AcctSvcrRef>BROKEN</AcctSvcrRef>", b"<AcctSvcrRef>BROKEN</Ref>")
    with pytest.raises(StatementFileError, match=r"not well-formed XML at line \d+.*entry 2"):
        parse_statement_file(broken)
