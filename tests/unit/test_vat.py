"""VAT categories on invoice lines and the one rounding rule: VAT per (category, rate) group,
allocated back to the lines so they add up to the VAT table."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import inspect
from sqlmodel import select

from shared.db import get_engine, read_session, write_session
from shared.invoicing import (
    DraftInput,
    InvoiceLinesError,
    LineInput,
    build_lines,
    create_draft,
)
from shared.models import Customer, InvoiceLine
from shared.money import allocate_minor
from shared.operations.migrate import downgrade_to, upgrade_to_head
from shared.vat import VAT_CHOICES, VatLine, line_vats, vat_groups
from tests.utils.factories import make_customer, make_invoice


def test_163_49_at_21_percent_is_34_33_and_the_lines_add_up_to_it():
    lines = build_lines(
        [LineInput(f"Service {n}", "1", price, "21") for n, price in enumerate(("54.50",) * 2)]
        + [LineInput("Service 3", "1", "54.49", "21")],
        currency="EUR",
    )
    # Per line: 11.445 → 11.45, 11.445 → 11.45, 11.4429 → 11.44 = 34.34; per group 34.3329.
    assert sum(line.vat_minor for line in lines) == 3433
    assert sorted(line.vat_minor for line in lines) == [1144, 1144, 1145]
    assert all(line.net_minor + line.vat_minor == line.gross_minor for line in lines)
    [group] = vat_groups(
        [VatLine(line.vat_category, Decimal(line.vat_rate), line.net_minor) for line in lines],
        currency="EUR",
    )
    assert (group.category, group.rate, group.net_minor, group.vat_minor) == ("S", 21, 16349, 3433)


def test_half_a_cent_rounds_up_once_per_group_not_once_per_line():
    # 0.10 at 5 % is 0.005: one line rounds to 0.01; two lines are 0.20 → 0.01 together.
    [alone] = build_lines([LineInput("Stamp", "1", "0.10", "5")], currency="EUR")
    assert alone.vat_minor == 1
    pair = build_lines(
        [LineInput("Stamp", "1", "0.10", "5"), LineInput("Stamp", "1", "0.10", "5")],
        currency="EUR",
    )
    assert [line.vat_minor for line in pair] == [1, 0]
    # 0.30 at 5 % is 0.015 → 0.02, shared 2:1 as 0.67 and 1.33 cents: the cent left over
    # goes to the larger remainder, the first line's.
    three = build_lines(
        [LineInput("A", "1", "0.10", "5"), LineInput("B", "1", "0.20", "5")], currency="EUR"
    )
    assert [line.vat_minor for line in three] == [1, 1]


def test_mixed_categories_are_separate_groups_and_only_standard_lines_carry_vat():
    lines = build_lines(
        [
            LineInput("Consulting", "1", "54.50", "21"),
            LineInput("Books", "1", "10.05", "12"),
            LineInput("Export crate", "1", "100.00", "0", vat_category="G"),
            LineInput("Course", "1", "40.00", "0", vat_category="E", vat_exemption="Art. 52"),
            LineInput("Scrap metal", "1", "30.00", "0", vat_category="AE"),
            LineInput("Consulting", "1", "54.50", "21"),
            LineInput("Atlas", "1", "5.00", "0"),
        ],
        currency="EUR",
    )
    assert [(line.vat_category, line.vat_rate, line.vat_minor) for line in lines] == [
        ("S", "21", 1145),  # 109.00 × 21 % = 22.89 = 11.45 + 11.44
        ("S", "12", 121),
        ("G", "0", 0),
        ("E", "0", 0),
        ("AE", "0", 0),
        ("S", "21", 1144),
        ("Z", "0", 0),
    ]
    groups = vat_groups(
        [VatLine(line.vat_category, Decimal(line.vat_rate), line.net_minor) for line in lines],
        currency="EUR",
    )
    assert [(g.category, f"{g.rate}", g.net_minor, g.vat_minor) for g in groups] == [
        ("S", "21", 10900, 2289),
        ("S", "12", 1005, 121),
        ("AE", "0", 3000, 0),
        ("E", "0", 4000, 0),
        ("G", "0", 10000, 0),
        ("Z", "0", 500, 0),
    ]
    assert sum(line.vat_minor for line in lines if line.vat_rate == "21") == 2289
    assert lines[3].vat_exemption_reason == "Art. 52"


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        (LineInput("X", "1", "10", "2.1"), "vat_rate", "2.1 % is not a Latvian rate"),
        (LineInput("X", "1", "10", "9"), "vat_rate", "9 % is not a Latvian rate"),
        (LineInput("X", "1", "10", "21", vat_category="Z"), "vat_rate", "charged at 0 %"),
        (LineInput("X", "1", "10", "0", vat_category="S"), "vat_rate", "not a Latvian rate"),
        (LineInput("X", "1", "10", "0", vat_category="RC"), "vat_category", "not one of"),
        (LineInput("X", "1", "10", "0", vat_category="E"), "vat_exemption", "exemption reason"),
        (
            LineInput("X", "1", "10", "0", vat_category="E", vat_exemption_code="VATEX-EU-999"),
            "vat_exemption",
            "not one of",
        ),
        (
            LineInput("X", "1", "10", "0", vat_category="E", vat_exemption="x" * 301),
            "vat_exemption",
            "at most 300",
        ),
        (
            LineInput("X", "1", "10", "0", vat_category="AE", vat_exemption="Art. 143"),
            "vat_exemption",
            "Only an exempt line",
        ),
    ],
)
def test_a_rate_or_category_the_law_does_not_know_is_refused_with_a_message(line, field, message):
    with pytest.raises(InvoiceLinesError) as error:
        build_lines([line], currency="EUR")
    [found] = error.value.errors
    assert (found.line, found.field) == (1, field)
    assert message in found.message


def test_exempt_lines_on_one_invoice_give_one_reason():
    with pytest.raises(InvoiceLinesError) as error:
        build_lines(
            [
                LineInput("Course", "1", "40", "0", vat_category="E", vat_exemption="Art. 52"),
                LineInput("Loan fee", "1", "5", "0", vat_category="E", vat_exemption="Art. 55"),
            ],
            currency="EUR",
        )
    assert [(e.line, e.field) for e in error.value.errors] == [(2, "vat_exemption")]
    # A VATEX code alone is a reason too.
    [line] = build_lines(
        [LineInput("Loan", "1", "5", "0", vat_category="E", vat_exemption_code="vatex-eu-135")],
        currency="EUR",
    )
    assert (line.vat_exemption_reason, line.vat_exemption_code) == ("", "VATEX-EU-135")


def _customer(vat_number: str) -> Customer:
    customer = make_customer()
    with write_session() as session:
        session.get(Customer, customer.id).vat_number = vat_number
    return customer


@pytest.mark.parametrize(
    ("vat_number", "category", "message"),
    [
        ("", "AE", "Reverse charge (AE) needs the customer's VAT number"),
        ("", "K", "Intra-EU supply (K) needs the customer's VAT number"),
        ("LV40003000001", "K", "VAT number is Latvian"),
    ],
)
def test_reverse_charge_and_intra_eu_supply_need_the_buyers_vat_number(
    db, vat_number, category, message
):
    customer = _customer(vat_number)
    lines = [
        LineInput("Hours", "1", "10", "21"),
        LineInput("Goods", "1", "10", "0", vat_category=category),
    ]
    with pytest.raises(InvoiceLinesError) as error, write_session() as session:
        create_draft(session, actor="t", data=DraftInput(customer_id=customer.id, lines=lines))
    [found] = error.value.errors
    assert (found.line, found.field) == (2, "vat_category")
    assert message in found.message


def test_reverse_charge_to_an_eu_customer_with_a_vat_number_is_saved(db):
    customer = _customer("EE100000001")
    with write_session() as session:
        draft = create_draft(
            session,
            actor="t",
            data=DraftInput(
                customer_id=customer.id,
                lines=[
                    LineInput("Consulting", "1", "500", "0", vat_category="AE"),
                    LineInput("Goods", "1", "200", "0", vat_category="K"),
                ],
            ),
        )
    assert (draft.subtotal_minor, draft.vat_minor, draft.total_minor) == (70000, 0, 70000)


def test_the_editor_choices_are_the_allowed_category_rate_pairs():
    assert [choice.key for choice in VAT_CHOICES] == [
        "S:21", "S:12", "S:5", "Z:0", "E:0", "AE:0", "K:0", "G:0",
    ]  # fmt: skip
    for choice in VAT_CHOICES:
        extra = {"vat_exemption": "Art. 52"} if choice.category == "E" else {}
        [line] = build_lines(
            [LineInput("X", "1", "10", f"{choice.rate}", vat_category=choice.category, **extra)],
            currency="EUR",
        )
        assert (line.vat_category, line.vat_rate) == (choice.category, f"{choice.rate}")


@given(
    st.integers(min_value=0, max_value=10**9),
    st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=20),
)
def test_allocation_adds_up_exactly_and_each_part_is_within_a_cent_of_its_share(total, weights):
    parts = allocate_minor(total, weights)
    assert sum(parts) == total
    whole = sum(weights)
    if whole:
        assert all(
            abs(part * whole - total * w) < whole for part, w in zip(parts, weights, strict=True)
        )


def test_line_vats_allocate_each_group_separately():
    lines = [
        VatLine("S", Decimal(21), 5450),
        VatLine("S", Decimal(12), 1005),
        VatLine("S", Decimal(21), 5450),
        VatLine("S", Decimal(21), 5449),
    ]
    assert line_vats(lines, currency="EUR") == [1145, 121, 1144, 1144]


def test_the_migration_reads_existing_lines_as_standard_above_zero_and_zero_rated_at_zero(any_db):
    invoice = make_invoice(
        channel=None,
        lines=[LineInput("Hours", "1", "10", "21"), LineInput("Atlas", "1", "5", "0")],
    )
    downgrade_to("0020", any_db)
    assert "vat_category" not in {
        c["name"] for c in inspect(get_engine(any_db)).get_columns("invoice_line")
    }
    upgrade_to_head(any_db)
    with read_session() as session:
        lines = session.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id)).all()
    assert sorted(
        (line.vat_rate, line.vat_category, line.vat_exemption_reason) for line in lines
    ) == [
        ("0", "Z", ""),
        ("21", "S", ""),
    ]
