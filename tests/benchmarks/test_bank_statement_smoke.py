"""The bank-statement benchmark's file at a tiny size: a statement the product imports
whole, whose RF references and invoice numbers book invoices of the generated data."""

from pathlib import Path

from benchmarks.generate import generate
from benchmarks.scenarios.bank_statement import _baseline, _company_account, write_statement
from shared.bank.matching import import_and_match
from shared.config import get_settings
from shared.models import MatchState

ENTRIES = 40


def test_the_benchmark_statement_pays_invoices_of_the_generated_data(
    isolated_settings: Path,
) -> None:
    generate(get_settings().resolved_database_url, invoices=300, batch_size=100)
    _company_account()
    path = isolated_settings / "statement.xml"
    mix = write_statement(path, entries=ENTRIES)
    assert mix == {"rf": 24, "number": 8, "payer": 4, "none": 4}

    assert _baseline(path)["entries"] == ENTRIES
    report, summary = import_and_match(actor="cli", filename=path.name, content=path.read_bytes())
    assert report.entries_added == ENTRIES
    assert sum(summary.counts.values()) == ENTRIES
    # 300 invoices leave about 30 open: the RF and number transfers to them are booked.
    assert summary.counts[MatchState.BOOKED_AUTO] >= 20
