"""The EveryPay sandbox as the product sees it: a real server, real HTTP, real callbacks."""

import base64
import html
import io
import json
import re
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from PIL import Image

from sandbox.store import SandboxStore
from shared.linkpay.signing import signed_link_url
from tests.utils.sandbox_server import (
    CallbackReceiver,
    SandboxHandle,
    callback_receiver,
    running_sandbox,
    wait_until,
)

pytestmark = pytest.mark.slow

HEX64 = re.compile(r"[0-9a-f]{64}")
ISO_MILLIS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


@pytest.fixture(scope="module")
def receiver() -> Iterator[CallbackReceiver]:
    with callback_receiver() as running:
        yield running


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxHandle]:
    with running_sandbox(tmp_path_factory.mktemp("sandbox")) as handle:
        yield handle


@pytest.fixture(autouse=True)
def _faults_off(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "sandbox" in request.fixturenames:
        request.getfixturevalue("sandbox").reset_faults()


@pytest.fixture
def callback_path() -> str:
    return f"/cb/{uuid.uuid4().hex}"


@pytest.fixture
def merchant(sandbox: SandboxHandle, receiver: CallbackReceiver, callback_path: str) -> dict:
    return sandbox.create_merchant(
        name="Baltic Widgets SIA", callback_url=receiver.url(callback_path)
    )


def pay_link(merchant: dict, order_reference: str, amount: str = "125.50", **extra: str) -> str:
    params = {
        "transaction_amount": amount,
        "order_reference": order_reference,
        "customer_name": "Anna Bērziņa",
        "customer_email": "anna@example.lv",
        **extra,
        "linkpay_token": merchant["link_token"],
    }
    return signed_link_url(merchant["lp_prefix"], merchant["api_secret"], params)


def api_get(
    merchant: dict, path: str, *, secret: str | None = None, timeout: float = 10.0
) -> httpx.Response:
    return httpx.get(
        f"{merchant['api_base']}{path}",
        params={"api_username": merchant["api_username"]},
        auth=(merchant["api_username"], secret or merchant["api_secret"]),
        timeout=timeout,
    )


def payment_json(merchant: dict, payment_reference: str) -> dict[str, Any]:
    response = api_get(merchant, f"/payments/{payment_reference}")
    assert response.status_code == 200, response.text
    return json.loads(response.text, parse_float=Decimal)


def input_value(page: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*value="([^"]*)"', page)
    assert match, f"no input #{element_id} on the page"
    return html.unescape(match.group(1))


def element_text(page: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>([^<]*)<', page)
    assert match, f"no element #{element_id} on the page"
    return html.unescape(match.group(1)).strip()


def png_logo() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (11, 95, 255)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_portal_creates_merchant_and_shows_credentials_link_token_and_callback_url(
    sandbox: SandboxHandle,
) -> None:
    logo = png_logo()
    with sandbox.client(follow_redirects=True) as client:
        page = client.post(
            "/portal/merchants",
            data={"name": "Rīgas Ziedi SIA", "currency": "EUR"},
            files={"logo": ("logo.png", logo, "image/png")},
        )
        assert page.status_code == 200
        username = input_value(page.text, "api_username")
        secret = input_value(page.text, "api_secret")
        assert re.fullmatch(r"[0-9a-f]{8}", username)
        assert len(secret) >= 32
        assert "General Settings" in page.text
        assert sandbox.store.get_merchant(username).api_secret == secret

        logo_response = client.get(f"/logo/{username}")
        assert logo_response.content == logo
        assert logo_response.headers["content-type"] == "image/png"

        fields = ["transaction_amount", "order_reference", "customer_name", "customer_email"]
        page = client.post(
            f"/portal/{username}/links", data={"link_name": "Invoice Payment", "url_fields": fields}
        )
        token = input_value(page.text, "link_token")
        assert sandbox.store.get_link(token).url_fields == tuple(fields)

        page = client.post(
            f"/portal/{username}/callback-url",
            data={"callback_url": "https://desk.example.lv/callbacks/everypay/abc"},
        )
        assert (
            input_value(page.text, "callback_url")
            == "https://desk.example.lv/callbacks/everypay/abc"
        )

        refused = client.post(
            "/portal/merchants",
            data={"name": "No Logo SIA", "currency": "EUR"},
            files={"logo": ("logo.png", b"not an image", "image/png")},
        )
        assert refused.status_code == 400
        assert "PNG or JPEG" in element_text(refused.text, "portal_error")

    shops = httpx.get(
        f"{sandbox.base_url}/api/v4/shops",
        params={"api_username": username},
        auth=(username, secret),
    )
    assert shops.status_code == 200
    assert shops.json()["shops"][0]["name"] == "Rīgas Ziedi SIA"


def test_hosted_page_shows_company_logo_amount_and_invoice_number(sandbox: SandboxHandle) -> None:
    # Registered straight in the store, as the product's demo data does.
    merchant = sandbox.store.create_merchant(
        name="Demo Furniture SIA", logo=png_logo(), logo_mime="image/png", currency="EUR"
    )
    link = sandbox.store.add_link(
        api_username=merchant.api_username,
        url_fields=["transaction_amount", "order_reference", "customer_name", "invoice_number"],
    )
    url = signed_link_url(
        f"{sandbox.base_url}/lp",
        merchant.api_secret,
        {
            "transaction_amount": "1250.05",
            "order_reference": "INV-2026-0042",
            "invoice_number": "INV-2026/0042",
            "customer_name": "Jānis Kalniņš",
            "linkpay_token": link.link_token,
        },
    )

    page = httpx.get(url)

    assert page.status_code == 200
    assert element_text(page.text, "merchant_name") == "Demo Furniture SIA"
    assert f'src="/logo/{merchant.api_username}"' in page.text
    assert element_text(page.text, "amount") == "1250.05 EUR"
    assert element_text(page.text, "invoice_number") == "INV-2026/0042"
    assert element_text(page.text, "customer_name") == "Jānis Kalniņš"
    for method in ("Visa", "Apple Pay", "Google Pay", "Swedbank", "SEB", "LHV", "Citadele"):
        assert method in page.text


def test_changed_incomplete_or_invalid_links_are_refused(
    sandbox: SandboxHandle, merchant: dict
) -> None:
    url = pay_link(merchant, "INV-7", amount="125.50")
    tampered = url.replace("transaction_amount=125.50", "transaction_amount=1.00")
    unsigned = url.split("&hmac=")[0]

    for bad in (tampered, unsigned):
        page = httpx.get(bad)
        assert page.status_code == 400
        assert "has been changed or is incomplete" in page.text

    scripted = httpx.post(
        f"{sandbox.base_url}/sandbox/pay", json={"url": tampered, "outcome": "pay"}
    )
    assert scripted.status_code == 400
    assert "changed or is incomplete" in scripted.json()["error"]["message"]

    for amount in ("12.345", "-5", "0", "1,50", "12.5e2"):
        assert httpx.get(pay_link(merchant, "INV-7", amount=amount)).status_code == 400
    assert httpx.get(pay_link(merchant, "INV 7")).status_code == 400
    assert httpx.get(pay_link(merchant, "X" * 121)).status_code == 400
    not_changeable = httpx.get(pay_link(merchant, "INV-7", invoice_number="7"))
    assert not_changeable.status_code == 400
    assert "invoice_number" in not_changeable.text

    assert sandbox.store.list_payments(merchant["api_username"]) == []


def test_unknown_link_token_is_refused(sandbox: SandboxHandle) -> None:
    url = signed_link_url(
        f"{sandbox.base_url}/lp",
        "whatever-secret",
        {"transaction_amount": "10.00", "order_reference": "A1", "linkpay_token": "nosuchtoken"},
    )

    page = httpx.get(url)

    assert page.status_code == 404
    assert "does not exist" in element_text(page.text, "error_message")


@pytest.mark.parametrize(
    ("outcome", "state", "event_name"),
    [
        ("pay", "settled", "status_updated"),
        ("decline", "failed", "status_updated"),
        ("abandon", "abandoned", "abandoned"),
        ("preauth", "authorised", "status_updated"),
    ],
)
def test_each_outcome_gives_its_api_state_and_callback(
    sandbox: SandboxHandle,
    receiver: CallbackReceiver,
    merchant: dict,
    outcome: str,
    state: str,
    event_name: str,
) -> None:
    attempt = sandbox.pay(pay_link(merchant, f"INV-{outcome}"), outcome)

    assert attempt["payment_state"] == state
    body = payment_json(merchant, attempt["payment_reference"])
    assert body["payment_state"] == state
    assert body["order_reference"] == f"INV-{outcome}"
    assert body["payment_method"] == "card"
    assert body["cc_details"]["type"] in ("visa", "master_card")
    assert (body["processing_error"]["code"] is not None) == (state == "failed")
    [callback] = receiver.wait_for(attempt["payment_reference"])
    assert callback.params["event_name"] == event_name


def test_bank_payment_is_pending_then_settled_with_a_callback_for_each(
    sandbox: SandboxHandle, receiver: CallbackReceiver, merchant: dict
) -> None:
    attempt = sandbox.pay(pay_link(merchant, "INV-BANK"), "bank_pending", method="seb_ob_lv")
    reference = attempt["payment_reference"]

    assert payment_json(merchant, reference)["payment_state"] == "sent_for_processing"
    settled = wait_until(
        lambda: (body := payment_json(merchant, reference))["payment_state"] == "settled" and body
    )
    assert settled["payment_method"] == "seb_ob_lv"
    assert settled["ob_details"]["debtor_iban"].startswith("LV")
    assert "cc_details" not in settled
    callbacks = receiver.wait_for(reference, count=2)
    assert [c.params["event_name"] for c in callbacks] == ["status_updated", "status_updated"]


def test_only_one_settled_payment_per_order_reference(
    sandbox: SandboxHandle, merchant: dict
) -> None:
    url = pay_link(merchant, "INV-2026-0042")
    query = url.split("?", 1)[1]
    with sandbox.client() as client:
        declined = client.post(f"/lp?{query}", data={"outcome": "decline", "method": "card"})
        assert declined.status_code == 303
        assert "Payment declined" in client.get(declined.headers["location"]).text

        paid = client.post(f"/lp?{query}", data={"outcome": "pay", "method": "apple_pay"})
        assert "Payment successful" in client.get(paid.headers["location"]).text

        reopened = client.get(f"/lp?{query}")
        assert reopened.status_code == 409
        assert "This order has already been paid" in reopened.text
        again = client.post(f"/lp?{query}", data={"outcome": "pay", "method": "card"})
        assert "This order has already been paid" in again.text

    scripted = httpx.post(f"{sandbox.base_url}/sandbox/pay", json={"url": url, "outcome": "pay"})
    assert scripted.status_code == 409
    states = [p.state for p in sandbox.store.list_payments(merchant["api_username"])]
    assert sorted(states) == ["failed", "settled"]
    assert sandbox.pay(pay_link(merchant, "INV-2026-0042-2"))["payment_state"] == "settled"


def test_callback_is_a_get_with_references_appended_to_the_url(
    sandbox: SandboxHandle, receiver: CallbackReceiver, callback_path: str
) -> None:
    merchant = sandbox.create_merchant(
        name="Query SIA", callback_url=f"{receiver.url(callback_path)}?channel=7"
    )
    attempt = sandbox.pay(pay_link(merchant, "INV-CB-1"))

    [callback] = receiver.wait_for(attempt["payment_reference"])

    assert callback.method == "GET"
    assert callback.path == callback_path
    assert HEX64.fullmatch(callback.params["payment_reference"])
    assert callback.params == {
        "channel": "7",
        "payment_reference": attempt["payment_reference"],
        "order_reference": "INV-CB-1",
        "event_name": "status_updated",
    }


def test_callback_is_redelivered_after_errors(
    sandbox: SandboxHandle, receiver: CallbackReceiver, merchant: dict, callback_path: str
) -> None:
    receiver.fail(callback_path, times=2, status=500)

    attempt = sandbox.pay(pay_link(merchant, "INV-RETRY"))

    hits = receiver.wait_for(attempt["payment_reference"], count=3)
    assert [hit.status for hit in hits] == [500, 500, 200]
    deliveries = wait_until(
        lambda: (
            (d := sandbox.deliveries(attempt["payment_reference"]))
            and d[0]["callback_status"] == "delivered"
            and d
        )
    )
    assert [(d["attempt"], d["status_code"]) for d in reversed(deliveries)] == [
        (1, 500),
        (2, 500),
        (3, 200),
    ]
    assert all(d["url"].startswith(receiver.url(callback_path) + "?") for d in deliveries)


def test_api_refuses_bad_credentials_and_unknown_payments(
    sandbox: SandboxHandle, merchant: dict
) -> None:
    other = sandbox.create_merchant(name="Other SIA")
    reference = sandbox.pay(pay_link(merchant, "INV-API"))["payment_reference"]
    theirs = sandbox.pay(pay_link(other, "INV-API"))["payment_reference"]

    wrong = api_get(merchant, f"/payments/{reference}", secret="wrong-secret")
    assert (wrong.status_code, wrong.content) == (401, b"")
    anonymous = httpx.get(f"{merchant['api_base']}/payments/{reference}")
    assert (anonymous.status_code, anonymous.content) == (401, b"")
    for unknown in ("0" * 64, theirs):
        missing = api_get(merchant, f"/payments/{unknown}")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == 4004

    token = base64.b64encode(f"{merchant['api_username']}:{merchant['api_secret']}".encode())
    answered = httpx.get(
        f"{merchant['api_base']}/payments/{reference}",
        params={"api_username": merchant["api_username"]},
        headers={"Authorization": f"Basic {token.decode()}", "Accept": "application/json"},
    )
    assert answered.status_code == 200
    assert api_get(merchant, f"/processing_accounts/{merchant['account_name']}").status_code == 200
    assert api_get(merchant, "/processing_accounts/USD3D1").status_code == 404
    assert api_get(merchant, "/shops").status_code == 200
    assert api_get(merchant, "/shops", secret="nope").content == b""


def test_api_amounts_are_exact_json_numbers_and_times_have_milliseconds(
    sandbox: SandboxHandle, merchant: dict
) -> None:
    reference = sandbox.pay(pay_link(merchant, "INV-BIG", amount="1234567.89"))["payment_reference"]

    response = api_get(merchant, f"/payments/{reference}")

    assert '"initial_amount": 1234567.89' in response.text
    body = json.loads(response.text, parse_float=Decimal)
    assert body["initial_amount"] == body["standing_amount"] == Decimal("1234567.89")
    assert body["currency"] == "EUR"
    assert body["account_name"] == "EUR3D1"
    assert body["api_username"] == merchant["api_username"]
    assert body["email"] == "anna@example.lv"
    assert ISO_MILLIS.fullmatch(body["payment_created_at"])
    assert ISO_MILLIS.fullmatch(body["transaction_time"])
    small = sandbox.pay(pay_link(merchant, "INV-SMALL", amount="125.50"))["payment_reference"]
    assert '"standing_amount": 125.5,' in api_get(merchant, f"/payments/{small}").text


def test_refund_and_chargeback_change_state_and_send_callbacks(
    sandbox: SandboxHandle, receiver: CallbackReceiver, merchant: dict
) -> None:
    reference = sandbox.pay(pay_link(merchant, "INV-REFUND"))["payment_reference"]
    with sandbox.client() as client:
        refunded = client.post(f"/sandbox/payments/{reference}/refund", json={"amount": "25.50"})
        assert refunded.status_code == 200
        too_much = client.post(f"/sandbox/payments/{reference}/refund", json={"amount": "100.01"})
        assert too_much.status_code == 409
        # The rest through the merchant portal's Refund button (empty amount: all of it).
        portal = client.post(
            f"/portal/{merchant['api_username']}/payments/{reference}/refund", data={"amount": ""}
        )
        assert portal.status_code == 303

    body = payment_json(merchant, reference)
    assert body["payment_state"] == "refunded"
    assert body["initial_amount"] == Decimal("125.5")
    assert body["standing_amount"] == Decimal("0.0")
    events = [c.params["event_name"] for c in receiver.wait_for(reference, count=3)]
    assert events == ["status_updated", "refunded", "refunded"]

    disputed = sandbox.pay(pay_link(merchant, "INV-DISPUTE"))["payment_reference"]
    response = httpx.post(f"{sandbox.base_url}/sandbox/payments/{disputed}/chargeback")
    assert response.json()["payment_state"] == "chargebacked"
    events = [c.params["event_name"] for c in receiver.wait_for(disputed, count=2)]
    assert events == ["status_updated", "chargebacked"]


def test_api_fault_switches(sandbox: SandboxHandle, merchant: dict) -> None:
    reference = sandbox.pay(pay_link(merchant, "INV-FAULT"))["payment_reference"]

    sandbox.set_faults(api_status=503)
    failing = api_get(merchant, f"/payments/{reference}")
    assert failing.status_code == 503
    assert "error" in failing.json()
    assert httpx.get(f"{sandbox.base_url}/sandbox/faults").json()["api_status"] == 503

    sandbox.set_faults(api_status=None, api_delay_seconds=1.0)
    with pytest.raises(httpx.ReadTimeout):
        api_get(merchant, f"/payments/{reference}", timeout=0.3)

    sandbox.reset_faults()
    assert api_get(merchant, f"/payments/{reference}").status_code == 200


def test_callback_fault_switches_drop_and_duplicate(
    sandbox: SandboxHandle, receiver: CallbackReceiver, merchant: dict
) -> None:
    sandbox.set_faults(callbacks="drop")
    dropped = sandbox.pay(pay_link(merchant, "INV-DROP"))

    assert dropped["payment_state"] == "settled"
    [record] = sandbox.deliveries(dropped["payment_reference"])
    assert record["callback_status"] == "dropped"

    sandbox.set_faults(callbacks="duplicate", duplicate_count=3)
    doubled = sandbox.pay(pay_link(merchant, "INV-DUP"))

    hits = receiver.wait_for(doubled["payment_reference"], count=3)
    assert {hit.query for hit in hits} == {hits[0].query}
    # Callbacks are sent at once, so the dropped one would have arrived before these.
    assert receiver.for_payment(dropped["payment_reference"]) == []


def test_restart_keeps_merchants_payments_and_pending_callbacks(
    tmp_path: Path, receiver: CallbackReceiver, callback_path: str
) -> None:
    store_path = tmp_path / "sandbox-restart.db"
    store = SandboxStore(store_path)
    merchant = store.create_merchant(
        name="Demo SIA", api_username="demo1234", api_secret="demo-secret-0123456789abcdef0123"
    )
    store.add_link(api_username="demo1234", link_token="demo-link-token")
    store.set_callback_url(api_username="demo1234", url=receiver.url(callback_path))
    history = store.record_payment(
        link_token="demo-link-token",
        order_reference="INV-2025-0001",
        amount=Decimal("99.90"),
        state="settled",
        customer_name="Anna Bērziņa",
    )
    creds = {
        "api_username": merchant.api_username,
        "api_secret": merchant.api_secret,
        "link_token": "demo-link-token",
    }
    receiver.fail(callback_path, times=1)

    with running_sandbox(tmp_path, store_path=store_path, callback_schedule=(2.0,)) as first:
        links = {**creds, "lp_prefix": f"{first.base_url}/lp"}
        reference = first.pay(pay_link(links, "INV-2026-0001"))["payment_reference"]
        wait_until(lambda: first.deliveries(reference))

    with running_sandbox(tmp_path, store_path=store_path, callback_schedule=(2.0,)) as second:
        api = {**creds, "api_base": f"{second.base_url}/api/v4"}
        assert api_get(api, "/shops").status_code == 200
        old = payment_json(api, history)
        assert (old["payment_state"], old["standing_amount"]) == ("settled", Decimal("99.9"))
        hits = receiver.wait_for(reference, count=2)
        assert [hit.status for hit in hits] == [500, 200]
        latest = wait_until(
            lambda: (d := second.deliveries(reference)) and d[0]["attempt"] == 2 and d
        )
        assert latest[0]["status_code"] == 200


def test_a_link_with_customer_url_sends_the_payer_back_with_the_payment_s_references(
    sandbox: SandboxHandle, receiver: CallbackReceiver, callback_path: str, merchant: dict
) -> None:
    returning = sandbox.create_merchant(
        name="Return SIA",
        callback_url=receiver.url(callback_path),
        url_fields=["transaction_amount", "order_reference", "customer_url"],
    )

    def link(customer_url: str) -> str:
        params = {
            "transaction_amount": "10.00",
            "order_reference": f"INV-{uuid.uuid4().hex[:8]}",
            "customer_url": customer_url,
            "linkpay_token": returning["link_token"],
        }
        return signed_link_url(returning["lp_prefix"], returning["api_secret"], params)

    back = "https://shop.example/i/token/return"
    url = link(back)
    response = httpx.post(url, data={"outcome": "decline"}, timeout=10.0)

    assert response.status_code == 303
    location = response.headers["location"]
    [reference] = re.findall(r"payment_reference=([0-9a-f]{64})", location)
    order = parse_qs(urlsplit(url).query)["order_reference"][0]
    assert location == f"{back}?payment_reference={reference}&order_reference={order}"
    assert sandbox.pay(link(back), outcome="pay")["return_url"].startswith(f"{back}?")
    # Only a web address: the hosted page must not send payers to javascript: or a file.
    refused = httpx.get(link("javascript:alert(1)"), timeout=10.0)
    assert refused.status_code == 400 and "customer_url" in refused.text
    # A link that does not let the URL change customer_url refuses it, like any field.
    other = httpx.get(pay_link(merchant, "INV-R-1", customer_url=back), timeout=10.0)
    assert other.status_code == 400 and "customer_url" in html.unescape(other.text)
