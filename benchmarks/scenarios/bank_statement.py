"""Scenario 7 — a bank statement of 10,000 entries imported and matched the way the
``import-statement`` command does it (``shared.bank.matching.import_and_match``), in a
process of its own so that its wall time and peak memory are the import's; the baseline
is lxml's ``iterparse`` reading the same file and nothing more, also in its own process.
The statement reader alone (``parse_statement_file``: the camt fields read and the file
validated against its ISO schema) is measured against the same baseline, the part of the
import no database work hides.

The camt.053 file pays invoices of the benchmark database: ~60 % quote an invoice's RF
creditor reference, ~20 % write its number in the payment details, ~10 % pay exactly what
is open on an invoice under its customer's name (a suggestion), ~10 % match nothing. Open
invoices are taken first, oldest first; a database with fewer open invoices than that
(~10 % are open) fills the rest with paid ones, whose transfers become suggestions or
stay unmatched: the same rules run, fewer bookings are made. Every run pays what it
matched, so a later run on the same database finds other invoices open.

    python -m benchmarks.scenarios.bank_statement --worker product FILE   # one measurement
    python -m benchmarks.scenarios.bank_statement --worker parse FILE     # the reader alone
"""

import argparse
import json
import os
import random
import subprocess
import time
from datetime import date
from pathlib import Path
from xml.sax.saxutils import escape

from benchmarks.common import VAR_DIR, BenchDatabase, Figure, Results, python, rss_mb, use_database

SCENARIO = "7 bank statement"
ENTRIES = 10_000
MIX = (("rf", 0.6), ("number", 0.2), ("payer", 0.1), ("none", 0.1))
TARGET_RATIO = 3.0
TARGET_PEAK_MB = 300.0
COMPANY_IBAN = "LV80BANK0000435195001"
NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"
ACTOR = "cli"


# --- the statement -------------------------------------------------------------------------


def _company_account() -> None:
    """The regular account the statement is for, made once by the product's own function."""
    from sqlmodel import select

    from shared.channels import create_bank_account
    from shared.db import write_session
    from shared.models import AccountType, BankAccount

    with write_session() as session:
        if session.exec(select(BankAccount).where(BankAccount.iban == COMPANY_IBAN)).first():
            return
        create_bank_account(
            session,
            actor=ACTOR,
            name="Swedbank current account",
            account_type=AccountType.REGULAR,
            bank_name="Swedbank",
            iban=COMPANY_IBAN,
            bic="HABALV22",
        )


def _invoices(count: int) -> list[tuple[int, str, int, str]]:
    """(id, number, open amount, customer name) of ``count`` issued EUR invoices, the open
    ones first."""
    from sqlmodel import col, select

    from shared.db import read_session
    from shared.models import Customer, Invoice, InvoiceStatus
    from shared.states import OPEN_STATUSES

    def query(*conditions):
        return (
            select(Invoice.id, Invoice.number, Invoice.open_minor, Customer.name)
            .join(Customer, col(Customer.id) == col(Invoice.customer_id))
            .where(col(Invoice.currency) == "EUR", col(Invoice.number).is_not(None), *conditions)
            .order_by(col(Invoice.id))
            .limit(count)
        )

    with read_session() as session:
        rows = list(
            session.exec(
                query(col(Invoice.status).in_(OPEN_STATUSES), col(Invoice.open_minor) > 0)
            ).all()
        )
        if len(rows) < count:
            rows += session.exec(query(col(Invoice.status) == InvoiceStatus.PAID)).all()
    return [tuple(row) for row in rows[:count]]


def _amount(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


def _entry(index: int, tag: str, amount_minor: int, name: str, remittance: str) -> str:
    day = "2026-11-02"
    return (
        f'<Ntry><Amt Ccy="EUR">{_amount(amount_minor)}</Amt><CdtDbtInd>CRDT</CdtDbtInd>'
        f"<Sts>BOOK</Sts><BookgDt><Dt>{day}</Dt></BookgDt><ValDt><Dt>{day}</Dt></ValDt>"
        f"<AcctSvcrRef>BENCH-{tag}-{index}</AcctSvcrRef>"
        "<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly>"
        "</Domn></BkTxCd><NtryDtls><TxDtls>"
        f"<Refs><EndToEndId>E2E-{tag}-{index}</EndToEndId></Refs>"
        f"<RltdPties><Dbtr><Nm>{escape(name[:140])}</Nm></Dbtr></RltdPties>"
        f"<RmtInf>{remittance}</RmtInf></TxDtls></NtryDtls></Ntry>"
    )


def write_statement(path: Path, *, entries: int = ENTRIES, seed: int = 7) -> dict[str, int]:
    """A camt.053.001.02 file of ``entries`` credits in the mix above; returns the mix."""
    from shared.bank.references import creditor_reference

    rng = random.Random(seed)
    kinds = [kind for kind, share in MIX for _ in range(round(entries * share))][:entries]
    kinds += ["none"] * (entries - len(kinds))
    rng.shuffle(kinds)
    wanted = sum(1 for kind in kinds if kind != "none")
    pool = iter(_invoices(wanted))
    tag = str(time.time_ns())  # new bank references each run: nothing is a re-import
    parts, total = [], 0
    for index, kind in enumerate(kinds):
        row = next(pool, None) if kind != "none" else None
        if row is None:
            kind = "none"
        if kind == "none":
            minor = rng.randrange(100, 99_999)
            name, remittance = f"Unknown payer {index}", f"<Ustrd>Transfer {index}</Ustrd>"
        else:
            invoice_id, number, open_minor, customer = row
            minor = open_minor if open_minor > 0 else rng.randrange(100, 99_999)
            name = customer
            if kind == "rf":
                remittance = (
                    "<Strd><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry><Issr>ISO</Issr>"
                    f"</Tp><Ref>{creditor_reference(invoice_id=invoice_id)}</Ref></CdtrRefInf>"
                    "</Strd>"
                )
            elif kind == "number":
                name = f"Payer {index}"
                remittance = f"<Ustrd>Rēķins Nr. {escape(number)}</Ustrd>"
            else:
                remittance = "<Ustrd>Payment</Ustrd>"
        total += minor
        parts.append(_entry(index, tag, minor, name, remittance))
    day = date(2026, 11, 2).isoformat()
    head = (
        f'<?xml version="1.0" encoding="UTF-8"?><Document xmlns="{NAMESPACE}"><BkToCstmrStmt>'
        f"<GrpHdr><MsgId>MSG-{tag}</MsgId><CreDtTm>{day}T06:00:00+02:00</CreDtTm></GrpHdr>"
        f"<Stmt><Id>BENCH-{tag}</Id><CreDtTm>{day}T06:00:00+02:00</CreDtTm>"
        f"<FrToDt><FrDtTm>{day}T00:00:00+02:00</FrDtTm><ToDtTm>{day}T23:59:59+02:00</ToDtTm>"
        f"</FrToDt><Acct><Id><IBAN>{COMPANY_IBAN}</IBAN></Id><Ccy>EUR</Ccy></Acct>"
        + _balance("OPBD", 0, day)
        + _balance("CLBD", total, day)
    )
    with path.open("w", encoding="utf-8") as out:
        out.write(head)
        out.writelines(parts)
        out.write("</Stmt></BkToCstmrStmt></Document>\n")
    mix: dict[str, int] = {}
    for kind in kinds:
        mix[kind] = mix.get(kind, 0) + 1
    return mix


def _balance(code: str, minor: int, day: str) -> str:
    return (
        f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp>"
        f'<Amt Ccy="EUR">{_amount(minor)}</Amt><CdtDbtInd>CRDT</CdtDbtInd>'
        f"<Dt><Dt>{day}</Dt></Dt></Bal>"
    )


# --- the measurements, each in its own process -------------------------------------------------


def _product(path: Path) -> dict:
    from shared.bank.matching import import_and_match

    content = path.read_bytes()
    before = rss_mb(os.getpid())[1]
    started = time.perf_counter()
    report, summary = import_and_match(actor=ACTOR, filename=path.name, content=content)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "peak_rss_mb": rss_mb(os.getpid())[1],
        "rss_before_mb": before,
        "entries": report.entries_added,
        "summary": summary.describe(),
    }


def _parse(path: Path) -> dict:
    from shared.bank.parse import parse_statement_file

    content = path.read_bytes()
    before = rss_mb(os.getpid())[1]
    started = time.perf_counter()
    parsed = parse_statement_file(content)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "peak_rss_mb": rss_mb(os.getpid())[1],
        "rss_before_mb": before,
        "entries": sum(len(statement.entries) for statement in parsed.statements),
    }


def _baseline(path: Path) -> dict:
    from lxml import etree

    before = rss_mb(os.getpid())[1]
    started = time.perf_counter()
    entries = 0
    for _, element in etree.iterparse(str(path), events=("end",), tag=f"{{{NAMESPACE}}}Ntry"):
        entries += 1
        element.clear()
        while element.getprevious() is not None:
            del element.getparent()[0]
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "peak_rss_mb": rss_mb(os.getpid())[1],
        "rss_before_mb": before,
        "entries": entries,
    }


def _measure(db: BenchDatabase, kind: str, path: Path) -> dict:
    finished = subprocess.run(
        python("-m", "benchmarks.scenarios.bank_statement", "--worker", kind, str(path)),
        env=db.env(LINKPAY_LOG_LEVEL="WARNING"),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(finished.stdout.strip().splitlines()[-1])


def run(db: BenchDatabase, results: Results, *, entries: int = ENTRIES) -> None:
    use_database(db)
    _company_account()
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    path = VAR_DIR / f"bank-statement-{db.backend}-{db.invoices}.xml"
    mix = write_statement(path, entries=entries)
    # The baseline twice, the first untimed, so neither side reads the file cold.
    _measure(db, "baseline", path)
    baseline = _measure(db, "baseline", path)
    parse = _measure(db, "parse", path)
    product = _measure(db, "product", path)
    path.unlink()
    mix_note = ", ".join(f"{kind} {count:,}" for kind, count in mix.items())
    results.add(
        Figure(
            SCENARIO,
            f"import and match, {product['entries']:,} entries",
            product["seconds"],
            "s",
            baseline=baseline["seconds"],
            target=f"≤ {TARGET_RATIO:.0f}× lxml iterparse",
            met=product["seconds"] <= TARGET_RATIO * baseline["seconds"],
            note=f"file mix: {mix_note}. {product['summary']}",
        )
    )
    results.add(
        Figure(
            SCENARIO,
            f"statement reader alone, {parse['entries']:,} entries",
            parse["seconds"],
            "s",
            baseline=baseline["seconds"],
            note="parse_statement_file: the fields the import keeps, checked against the "
            "ISO schema in the same streaming pass; no target of its own",
        )
    )
    results.add(
        Figure(
            SCENARIO,
            "peak memory of the import process",
            product["peak_rss_mb"],
            "MB",
            baseline=baseline["peak_rss_mb"],
            target=f"≤ {TARGET_PEAK_MB:.0f} MB",
            met=product["peak_rss_mb"] <= TARGET_PEAK_MB,
            note=f"{product['rss_before_mb']:.0f} MB after imports, before the import; "
            f"baseline: the iterparse process",
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scenarios.bank_statement")
    parser.add_argument("--worker", choices=("product", "parse", "baseline"), required=True)
    parser.add_argument("file", type=Path)
    args = parser.parse_args()
    measure = {"product": _product, "parse": _parse, "baseline": _baseline}[args.worker]
    print(json.dumps(measure(args.file)))


if __name__ == "__main__":
    main()
