"""The sandbox's payouts and its export of the merchant's bank account, and the three-way
match they make possible: sandbox payments, payout and statement, explained by the app."""

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal

import httpx
import pytest
from lxml import etree
from sqlmodel import select

from shared.bank.camt import schema_for
from shared.bank.importing import import_statement
from shared.bank.parse import parse_statement_file
from shared.bank.payouts import explain_payouts, set_payout_fee_terms
from shared.config import EVERYPAY_PAYOUT_IBAN, EVERYPAY_PAYOUT_NAME
from shared.db import read_session, write_session
from shared.models import PaymentAttempt, PayoutStatus
from tests.bank.builders import COMPANY_IBAN, PAYER_IBAN
from tests.bank.test_importing import add_company_account
from tests.sandbox.test_sandbox import input_value, pay_link
from tests.utils.factories import make_channel
from tests.utils.sandbox_server import SandboxHandle, running_sandbox

pytestmark = pytest.mark.slow

RF = "RF18539007547034"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxHandle]:
    with running_sandbox(tmp_path_factory.mktemp("sandbox-payouts")) as handle:
        yield handle


def call(sandbox: SandboxHandle, method: str, path: str, **kwargs) -> httpx.Response:
    return httpx.request(method, f"{sandbox.base_url}{path}", timeout=10.0, **kwargs)


def as_json(response: httpx.Response):
    assert response.status_code == 200, response.text
    return json.loads(response.text, parse_float=Decimal)


@pytest.fixture
def merchant(sandbox: SandboxHandle) -> dict:
    """A merchant paid 100.00, 50.00 (20.00 of it refunded) and declined 10.00 today."""
    created = sandbox.create_merchant(name="Baltic Widgets SIA")
    user = created["api_username"]
    terms = as_json(
        call(
            sandbox,
            "POST",
            f"/sandbox/merchants/{user}/payout-terms",
            json={"fee_percent": "1.5", "fee_fixed": "0.10", "bank_iban": COMPANY_IBAN},
        )
    )
    assert terms == {"fee_percent": "1.5", "fee_fixed": Decimal("0.1"), "bank_iban": COMPANY_IBAN}
    first = sandbox.pay(pay_link(created, "INV-2026-0001", "100.00"))["payment_reference"]
    second = sandbox.pay(pay_link(created, "INV-2026-0002", "50.00"))["payment_reference"]
    as_json(call(sandbox, "POST", f"/sandbox/payments/{second}/refund", json={"amount": "20.00"}))
    sandbox.pay(pay_link(created, "INV-2026-0003", "10.00"), outcome="decline")
    return {**created, "paid": sorted([first, second])}


def close_today(sandbox: SandboxHandle, user: str) -> list[dict]:
    return as_json(call(sandbox, "POST", f"/sandbox/merchants/{user}/payouts", json={}))


def test_a_days_payout_is_its_settled_payments_less_refunds_and_the_fee(sandbox, merchant):
    user = merchant["api_username"]
    [payout] = close_today(sandbox, user)
    today = datetime.now(UTC).date().isoformat()
    # 100.00 and the 30.00 left of 50.00; fee 1.5 % + 0.10 each: 1.60 + 0.55.
    assert (payout["gross"], payout["fee"], payout["net"]) == (
        Decimal("130.0"),
        Decimal("2.15"),
        Decimal("127.85"),
    )
    assert payout["payment_references"] == merchant["paid"]
    assert payout["reference"] == f"EVERYPAY PAYOUT {user} {today} {payout['id']}"
    assert payout["value_date"] == today
    assert close_today(sandbox, user) == [], "a payment is paid out once"
    assert as_json(call(sandbox, "GET", f"/sandbox/merchants/{user}/payouts")) == [payout]


def test_the_bank_statement_holds_payouts_and_transfers_in_camt053_and_fidavista(sandbox, merchant):
    user = merchant["api_username"]
    [payout] = close_today(sandbox, user)
    transfer = as_json(
        call(
            sandbox,
            "POST",
            f"/sandbox/merchants/{user}/bank-transfers",
            json={
                "amount": "121.50",
                "payer_name": "SIA Klients",
                "payer_iban": PAYER_IBAN,
                "remittance": "Rēķins INV-2026-0004",
                "creditor_reference": RF,
            },
        )
    )
    assert transfer["amount"] == Decimal("121.5")
    camt = call(sandbox, "GET", f"/sandbox/merchants/{user}/statements/camt053")
    assert camt.status_code == 200, camt.text
    assert "attachment" in camt.headers["content-disposition"]
    schema = schema_for("camt.053.001.08")
    assert schema.validate(etree.ElementTree(etree.fromstring(camt.content))), schema.error_log
    fidavista = call(sandbox, "GET", f"/sandbox/merchants/{user}/statements/fidavista")
    for content, message in (
        (camt.content, "camt.053.001.08"),
        (fidavista.content, "FiDAViSta 1.01"),
    ):
        parsed = parse_statement_file(content)
        assert parsed.message == message
        [statement] = parsed.statements
        assert statement.iban == COMPANY_IBAN
        assert statement.warnings == [], "the balances add up"
        by_amount = {entry.amount_minor: entry.transactions[0] for entry in statement.entries}
        assert sorted(by_amount) == [12150, 12785]
        paid_out = by_amount[12785]
        assert (paid_out.counterparty_name, paid_out.counterparty_iban) == (
            EVERYPAY_PAYOUT_NAME,
            EVERYPAY_PAYOUT_IBAN,
        )
        assert paid_out.remittance_text == payout["reference"]
        paid_in = by_amount[12150]
        assert (paid_in.counterparty_iban, paid_in.creditor_reference) == (PAYER_IBAN, RF)


def test_a_period_before_the_payouts_holds_them_in_no_entry_but_later_opening_balances(
    sandbox, merchant
):
    user = merchant["api_username"]
    close_today(sandbox, user)
    today = datetime.now(UTC).date()
    earlier = call(
        sandbox,
        "GET",
        f"/sandbox/merchants/{user}/statements/camt053",
        params={"from": "2026-01-01", "to": "2026-01-31"},
    )
    [statement] = parse_statement_file(earlier.content).statements
    assert statement.entries == []
    tomorrow = date.fromordinal(today.toordinal() + 1).isoformat()
    later = call(
        sandbox,
        "GET",
        f"/sandbox/merchants/{user}/statements/fidavista",
        params={"from": tomorrow, "to": tomorrow},
    )
    [statement] = parse_statement_file(later.content).statements
    assert (statement.opening_balance_minor, statement.entries) == (12785, [])


def test_sandbox_payments_payout_and_statement_make_the_three_way_match(db, sandbox, merchant):
    user = merchant["api_username"]
    close_today(sandbox, user)
    add_company_account(COMPANY_IBAN)
    channel = make_channel(api_username=user)
    with write_session() as session:
        set_payout_fee_terms(
            session, actor="finance", channel_id=channel.id, percent="1.5", fixed="0.10"
        )
        # The payments as the app knows them from EveryPay's API answers.
        for reference in merchant["paid"]:
            answer = as_json(
                httpx.get(
                    f"{merchant['api_base']}/payments/{reference}",
                    params={"api_username": user},
                    auth=(user, merchant["api_secret"]),
                    timeout=10.0,
                )
            )
            session.add(
                PaymentAttempt(
                    payment_reference=reference,
                    channel_id=channel.id,
                    order_reference=answer["order_reference"],
                    state=answer["payment_state"],
                    is_final=True,
                    initial_amount_minor=int(answer["initial_amount"] * 100),
                    standing_amount_minor=int(answer["standing_amount"] * 100),
                    transaction_time=datetime.fromisoformat(answer["transaction_time"]),
                )
            )
    statement = call(sandbox, "GET", f"/sandbox/merchants/{user}/statements/camt053").content
    with write_session() as session:
        report = import_statement(session, actor="finance", filename="s.xml", content=statement)
        [result] = explain_payouts(session, statement_id=report.statements[0].bank_statement_id)
    assert (result.status, result.fee_minor, result.payment_count) == (
        PayoutStatus.EXPLAINED,
        215,
        2,
    )
    with read_session() as session:
        marked = session.exec(select(PaymentAttempt)).all()
    assert all(attempt.payout_id == result.payout_id for attempt in marked)


def test_portal_sets_payout_terms_shows_payouts_and_links_the_statement(sandbox, merchant):
    user = merchant["api_username"]
    with sandbox.client(follow_redirects=True) as client:
        page = client.post(f"/portal/{user}/payouts")
        assert "1 payout(s) made." in page.text
        [payout] = as_json(call(sandbox, "GET", f"/sandbox/merchants/{user}/payouts"))
        assert payout["reference"] in page.text
        assert re.search(rf'id="payout_net-{payout["id"]}">127\.85 EUR<', page.text)
        link = re.search(r'id="download_statement_camt053" href="([^"]+)"', page.text)
        assert link, "no Download bank statement link"
        download = client.get(link.group(1).replace("&amp;", "&"))
        assert parse_statement_file(download.content).statements[0].entries
        page = client.post(
            f"/portal/{user}/payout-terms",
            data={
                "fee_percent": "2",
                "fee_fixed": "0.25",
                "bank_iban": "LV80 BANK 0000 4351 9500 1",
            },
        )
        assert input_value(page.text, "fee_percent") == "2"
        assert input_value(page.text, "fee_fixed") == "0.25"
        assert input_value(page.text, "bank_iban") == COMPANY_IBAN
        page = client.post(f"/portal/{user}/payout-terms", data={"bank_iban": "LV00BANK"})
        assert "bank_iban" in page.text
        assert input_value(page.text, "bank_iban") == COMPANY_IBAN


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"amount": "10.00", "payer_name": "SIA X", "payer_iban": "LV00BANK1"}, "payer_iban"),
        ({"amount": "-1", "payer_name": "SIA X", "payer_iban": PAYER_IBAN}, "amount"),
    ],
    ids=["bad-iban", "bad-amount"],
)
def test_a_bank_transfer_with_bad_values_is_refused(sandbox, merchant, body, message):
    response = call(
        sandbox, "POST", f"/sandbox/merchants/{merchant['api_username']}/bank-transfers", json=body
    )
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]


def test_unknown_merchant_has_no_payouts(sandbox):
    assert call(sandbox, "GET", "/sandbox/merchants/nobody/payouts").status_code == 404
