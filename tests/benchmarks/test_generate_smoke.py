"""The benchmark data generator at a tiny size: the data it makes is data the product can
read, consistent with itself, and covers every status a dashboard page has to show."""

import sqlite3
from pathlib import Path

from sqlmodel import Session, select

from benchmarks.generate import generate
from shared.db import get_engine
from shared.models import (
    CallbackEvent,
    CallbackStatus,
    Invoice,
    InvoiceStatus,
    PaymentAttempt,
    PaymentState,
    ReviewKind,
)

INVOICES = 300


def _scalar(conn: sqlite3.Connection, sql: str) -> int:
    return conn.execute(sql).fetchone()[0]


def _values(conn: sqlite3.Connection, sql: str) -> set[str]:
    return {row[0] for row in conn.execute(sql)}


def test_tiny_generation_is_consistent(isolated_settings: Path) -> None:
    path = isolated_settings / "bench.db"
    db = f"sqlite:///{path}"
    report = generate(db, invoices=INVOICES, batch_size=100)
    conn = sqlite3.connect(path)

    assert report.rows["invoice"] == _scalar(conn, "SELECT COUNT(*) FROM invoice") == INVOICES
    assert report.rows["payment_attempt"] == _scalar(conn, "SELECT COUNT(*) FROM payment_attempt")
    assert 1.5 <= report.rows["payment_attempt"] / INVOICES <= 2.5
    assert 1.5 <= report.rows["callback_event"] / INVOICES <= 2.5
    assert 1 <= report.rows["invoice_line"] / INVOICES <= 3
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    # Credit notes are not generated (yet), so no invoice is credited in full.
    assert _values(conn, "SELECT status FROM invoice") == {
        s.value for s in InvoiceStatus if s != InvoiceStatus.CREDITED
    }
    assert _values(conn, "SELECT state FROM payment_attempt") == {s.value for s in PaymentState}
    assert _values(conn, "SELECT kind FROM review_item") == {k.value for k in ReviewKind}
    assert _values(conn, "SELECT status FROM callback_event") >= {
        s.value for s in CallbackStatus if s != CallbackStatus.PROCESSING
    }
    # Most invoices are paid; some are overdue (derived from the due date).
    assert _scalar(conn, "SELECT COUNT(*) FROM invoice WHERE status = 'paid'") > INVOICES * 0.6
    assert _scalar(
        conn,
        "SELECT COUNT(*) FROM invoice WHERE status IN ('issued', 'sent', 'partially_paid') "
        "AND due_date < date('now')",
    )

    # Money adds up: lines → totals, booked attempts → paid amount, paid + open → total.
    assert not conn.execute(
        "SELECT i.id FROM invoice i JOIN invoice_line l ON l.invoice_id = i.id GROUP BY i.id "
        "HAVING SUM(l.net_minor) != MAX(i.subtotal_minor) "
        "OR SUM(l.gross_minor) != MAX(i.total_minor)"
    ).fetchall()
    assert not conn.execute(
        "SELECT i.id FROM invoice i LEFT JOIN payment_attempt a ON a.invoice_id = i.id "
        "GROUP BY i.id HAVING COALESCE(SUM(a.booked_minor), 0) != MAX(i.paid_minor)"
    ).fetchall()
    # The ledger holds each booking under the key the booking path uses.
    assert not conn.execute(
        "SELECT i.id FROM invoice i LEFT JOIN ledger_entry e ON e.invoice_id = i.id "
        "GROUP BY i.id HAVING COALESCE(SUM(e.amount_minor), 0) != MAX(i.paid_minor)"
    ).fetchall()
    assert not _scalar(
        conn,
        "SELECT COUNT(*) FROM ledger_entry e JOIN payment_attempt a "
        "ON a.id = e.payment_attempt_id WHERE e.entry_key != 'linkpay:' || a.payment_reference "
        "|| ':in'",
    )
    assert not _scalar(
        conn,
        "SELECT COUNT(*) FROM invoice WHERE status NOT IN ('cancelled') "
        "AND paid_minor + open_minor != total_minor",
    )
    # Numbers are gapless per year and the sequence table knows where each year stopped.
    for year, last in conn.execute("SELECT year, last_number FROM invoice_number_sequence"):
        assert (
            conn.execute(
                "SELECT COUNT(*) FROM invoice WHERE number LIKE ?", (f"INV-{year}-%",)
            ).fetchone()[0]
            == last
        )
    conn.close()

    # The product reads the rows back through its own models: timestamps come back aware.
    with Session(get_engine(db)) as session:
        invoice = session.exec(select(Invoice).where(Invoice.status == "paid")).first()
        attempt = session.exec(select(PaymentAttempt)).first()
        callback = session.exec(select(CallbackEvent)).first()
    assert invoice.paid_at is not None and invoice.paid_at.tzinfo is not None
    assert invoice.issue_date <= invoice.paid_at.date()
    assert attempt.last_api_answer["payment_reference"] == attempt.payment_reference
    assert callback.params["payment_reference"] == callback.payment_reference
