"""Importing statements into the database: each booking once, a bad file adds nothing."""

import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import func, text
from sqlmodel import select

from shared.bank.importing import ImportReport, import_statement
from shared.channels import create_bank_account
from shared.db import get_engine, read_session, write_session
from shared.errors import ValidationError
from shared.models import (
    AccountType,
    AuditLog,
    BankStatement,
    BankStatementEntry,
    BankStatementFile,
    BankStatementTransaction,
)
from shared.operations.migrate import upgrade_to_head
from tests.bank.builders import (
    COMPANY_IBAN,
    OTHER_IBAN,
    PAYER_IBAN,
    Entry,
    Trx,
    Tx,
    camt053,
    camt054,
    fidavista,
)
from tests.bank.test_parsing import BILLION_LAUGHS, XXE


def add_company_account(iban: str = COMPANY_IBAN) -> int:
    with write_session() as session:
        account = create_bank_account(
            session, actor="test", name="Main account", account_type=AccountType.REGULAR, iban=iban
        )
        return account.id


def run_import(content: bytes, filename: str = "statement.xml") -> ImportReport:
    with write_session() as session:
        return import_statement(session, actor="finance", filename=filename, content=content)


def counts() -> dict[str, int]:
    with read_session() as session:
        return {
            model.__tablename__: session.exec(select(func.count()).select_from(model)).one()
            for model in (
                BankStatementFile,
                BankStatement,
                BankStatementEntry,
                BankStatementTransaction,
            )
        }


def day_one() -> list[Entry]:
    return [
        Entry(
            "121.50", ref="REF-1", txs=[Tx(name="SIA Klients", iban=PAYER_IBAN, rf="RF5600000034")]
        ),
        Entry(
            "300.00",
            ref="REF-2",
            batch=("PMT-1", 2),
            txs=[Tx(amount="100.00", name="SIA Alfa"), Tx(amount="200.00", name="SIA Beta")],
        ),
    ]


def day_two() -> list[Entry]:
    return [Entry("15.00", direction="DBIT", ref="REF-3", booking="2026-11-03")]


def test_import_stores_entries_transactions_and_the_original_file(any_db):
    account_id = add_company_account()
    content = camt053(entries=day_one(), version="08")
    report = run_import(content, "swedbank-2026-11-02.xml")
    assert (report.entries_added, report.entries_known) == (2, 0)
    assert counts() == {
        "bank_statement_file": 1,
        "bank_statement": 1,
        "bank_statement_entry": 2,
        "bank_statement_transaction": 3,
    }
    with read_session() as session:
        stored = session.exec(select(BankStatementFile)).one()
        statement = session.exec(select(BankStatement)).one()
        entries = session.exec(
            select(BankStatementEntry).order_by(BankStatementEntry.amount_minor)
        ).all()
        txs = session.exec(
            select(BankStatementTransaction).order_by(BankStatementTransaction.amount_minor)
        ).all()
        audit = session.exec(
            select(AuditLog).where(AuditLog.action == "bank_statement.import")
        ).one()
    assert stored.content == content
    assert (stored.filename, stored.message) == ("swedbank-2026-11-02.xml", "camt.053.001.08")
    assert (statement.bank_account_id, statement.opening_balance_minor) == (account_id, 100000)
    assert statement.closing_balance_minor == 142150
    assert [(e.amount_minor, e.direction, e.bank_reference) for e in entries] == [
        (12150, "credit", "REF-1"),
        (30000, "credit", "REF-2"),
    ]
    assert [(t.amount_minor, t.counterparty_name, t.creditor_reference) for t in txs] == [
        (10000, "SIA Alfa", ""),
        (12150, "SIA Klients", "RF5600000034"),
        (20000, "SIA Beta", ""),
    ]
    assert audit.actor == "finance"
    assert audit.details["entries_added"] == 2


def test_the_same_file_twice_adds_nothing(any_db):
    add_company_account()
    content = camt053(entries=day_one())
    run_import(content)
    before = counts()
    again = run_import(content)
    assert again.already_imported_at is not None
    assert again.entries_added == 0
    assert "already imported" in str(again)
    assert counts() == before


def test_overlapping_statements_add_each_booking_once(any_db):
    add_company_account()
    run_import(camt053(entries=day_one(), statement_id="S-1"))
    # A re-export covering both days, as another file with another statement id.
    report = run_import(
        camt053(entries=day_one() + day_two(), statement_id="S-1-2", opening="1000.00")
    )
    assert (report.entries_added, report.entries_known) == (1, 2)
    assert counts()["bank_statement_entry"] == 3


def test_credit_notification_detailing_a_statement_booking_adds_nothing_twice(any_db):
    add_company_account()
    run_import(camt053(entries=day_one()))
    report = run_import(camt054(entries=day_one()))
    assert (report.entries_added, report.entries_known) == (0, 2)
    assert counts()["bank_statement_entry"] == 2


def test_fidavista_import_with_padded_account(any_db):
    add_company_account()
    content = fidavista(
        transactions=[Trx("50.00", bank_ref="LV-1", name="SIA Klients", account=PAYER_IBAN)]
    )
    report = run_import(content)
    assert report.message == "FiDAViSta 1.01"
    assert report.entries_added == 1
    with read_session() as session:
        tx = session.exec(select(BankStatementTransaction)).one()
    assert tx.counterparty_iban == PAYER_IBAN


def test_statement_of_an_unknown_account_is_refused_and_names_the_iban(any_db):
    add_company_account()
    content = camt053(entries=day_one(), iban=OTHER_IBAN)
    with pytest.raises(ValidationError) as caught:
        run_import(content)
    assert OTHER_IBAN in str(caught.value)
    assert "Create it under Bank accounts" in str(caught.value)
    assert caught.value.field == "iban"
    assert sum(counts().values()) == 0


def test_a_file_with_one_known_and_one_unknown_account_adds_nothing(any_db):
    add_company_account()
    known = camt053(entries=day_one())
    unknown = camt053(entries=day_two(), iban=OTHER_IBAN, statement_id="OTHER")
    # Two statements in one file: splice the second Stmt into the first document.
    second = unknown[unknown.index(b"<Stmt>") : unknown.index(b"</Stmt>") + len(b"</Stmt>")]
    combined = known.replace(b"</Stmt>", b"</Stmt>" + second, 1)
    with pytest.raises(ValidationError, match=OTHER_IBAN):
        run_import(combined)
    assert sum(counts().values()) == 0


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"<Document><BkToCstmrStmt>", "not well-formed"),
        (XXE, "DTD"),
        (BILLION_LAUGHS, "DTD"),
        (
            camt053(entries=day_one()).replace(b"<AcctSvcrRef>REF-2", b"<Fee/><AcctSvcrRef>REF-2"),
            r"entry 2 \(REF-2\)",
        ),
    ],
    ids=["malformed", "xxe", "billion-laughs", "schema-violation-in-entry-2"],
)
def test_a_bad_file_adds_nothing_and_says_why(any_db, content, expected):
    add_company_account()
    with pytest.raises(ValidationError, match=expected):
        run_import(content)
    assert sum(counts().values()) == 0


def _waiting_for_a_lock(url: str) -> bool:
    with get_engine(url).connect() as connection:
        return bool(
            connection.execute(
                text(
                    "select count(*) from pg_stat_activity "
                    "where wait_event_type = 'Lock' and datname = current_database()"
                )
            ).scalar()
        )


@pytest.mark.postgres
def test_two_imports_of_overlapping_statements_at_once_add_each_booking_once(postgres_url):
    upgrade_to_head(postgres_url)
    add_company_account()
    first_session = write_session()
    session = first_session.__enter__()
    first = import_statement(
        session, actor="a", filename="one.xml", content=camt053(entries=day_one())
    )
    results: dict[str, object] = {}

    def second_import() -> None:
        try:
            results["report"] = run_import(
                camt053(entries=day_one() + day_two(), statement_id="S-2"), "two.xml"
            )
        except Exception as error:  # reported below, not swallowed
            results["error"] = error

    worker = threading.Thread(target=second_import)
    worker.start()
    deadline = time.monotonic() + 10
    while not _waiting_for_a_lock(postgres_url):
        assert time.monotonic() < deadline, "the second import never reached the first's rows"
        assert worker.is_alive(), results
    first_session.__exit__(None, None, None)  # commit: the second import may go on
    worker.join(timeout=30)
    assert "error" not in results, results
    second = results["report"]
    assert first.entries_added == 2
    assert (second.entries_added, second.entries_known) == (1, 2)
    assert counts()["bank_statement_entry"] == 3


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "shared.operations.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_imports_files_reports_each_and_fails_on_a_refused_one(db, tmp_path):
    add_company_account()
    good = tmp_path / "good.xml"
    good.write_bytes(camt053(entries=day_one()))
    foreign = tmp_path / "foreign.xml"
    foreign.write_bytes(camt053(entries=day_two(), iban=OTHER_IBAN))
    result = _cli("import-statement", str(good), str(foreign), str(good))
    assert result.returncode == 1
    assert "entries added 2, already known 0" in result.stdout
    assert "good.xml: already imported" in result.stdout
    assert f"foreign.xml: refused, nothing added: The statement is for account {OTHER_IBAN}" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
    assert counts()["bank_statement_entry"] == 2
    ok = _cli("import-statement", str(good))
    assert ok.returncode == 0
