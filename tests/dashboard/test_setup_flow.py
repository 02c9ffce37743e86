"""The journey's set-up: merchant account → Online payments → LinkPay → Save → Callback URL."""

from sqlmodel import select

from shared.channels import callback_url
from shared.db import read_session
from shared.models import AuditLog, BankAccount, PaymentChannel
from tests.dashboard.conftest import app_as, no_exceptions, open_page, texts
from tests.utils.factories import make_channel

SECRET = "s3cret-API-value-7788"


def _create_account(at, *, iban: str, account_type: str = "merchant"):
    at.text_input(key="account_name").input("Swedbank EUR")
    at.text_input(key="account_bank").input("Swedbank")
    at.text_input(key="account_iban").input(iban)
    at.radio(key="account_type").set_value(account_type)
    return at.button(key="account_submit").click().run()


def test_finance_sets_up_linkpay_and_gets_the_callback_url(db):
    at = open_page(app_as("finance"), "bank_accounts")
    assert "No bank accounts yet" in texts(at)
    at.button(key="create_account").click().run()

    at = _create_account(at, iban="LV80 BANK 0000 4351 9500 2")
    assert "IBAN check digits do not match: check for a typo." in [e.value for e in at.error]

    at = _create_account(at, iban="LV80 BANK 0000 4351 9500 1")
    no_exceptions(at)
    assert [t.label for t in at.tabs] == ["Details", "Online payments"]
    online = at.tabs[1]
    assert "**Swedbank** or **SEB** (in Estonia also **LHV**)" in online.info[0].value

    account_id = at.selectbox(key="account_pick").value
    at.button(key=f"activate_linkpay_{account_id}").click().run()
    prefix = f"ch_{account_id}"
    assert "Links → ADD LINK" in at.text_input(key=f"{prefix}_link_token").help
    assert "General Settings" in at.text_input(key=f"{prefix}_api_username").help
    at.button(key=f"{prefix}_save").click().run()
    assert "Link Token is required (EveryPay portal → Links)." in [e.value for e in at.error]

    at.text_input(key=f"{prefix}_link_token").input("123abcd")
    at.text_input(key=f"{prefix}_api_username").input("abc12345")
    at.text_input(key=f"{prefix}_api_secret_0").input(SECRET)
    at.checkbox(key=f"{prefix}_url_customer_email").check()
    at.button(key=f"{prefix}_save").click().run()
    no_exceptions(at)

    page = texts(at)
    with read_session() as session:
        channel = session.exec(select(PaymentChannel)).one()
        url = callback_url(channel)
    assert [c.value for c in at.code] == [url]
    assert "Callback Notification URL" in page
    assert "•••• 7788" in page
    assert SECRET not in page
    assert SECRET not in repr(at.session_state.to_dict())
    steps = [m.value for m in at.markdown if "Fields filled" in m.value or "settled" in m.value]
    assert steps[0].startswith(":material/check_circle: Fields filled")
    assert "customer_email" in channel.url_fields
    for key in ("test", "edit", "rotate", "deactivate"):
        assert at.button(key=f"ch{channel.id}_{key}")

    # Rotating asks first, then gives a new URL while the old one keeps working.
    at.button(key=f"ch{channel.id}_rotate").click().run()
    assert at.button(key=f"ch{channel.id}_rotate_yes")
    at.button(key=f"ch{channel.id}_rotate_yes").click().run()
    new_url = at.code[0].value
    assert new_url != url
    assert "The previous Callback URL keeps working until" in texts(at)

    at.button(key=f"ch{channel.id}_deactivate").click().run()
    assert "LinkPay (deactivated)" in texts(at)
    with read_session() as session:
        actions = set(session.exec(select(AuditLog.action)).all())
    assert {
        "bank_account.create",
        "channel.create",
        "channel.rotate_callback_url",
        "channel.deactivate",
    } <= actions


def test_a_blank_secret_keeps_the_stored_one(db):
    at = open_page(app_as("finance"), "bank_accounts")
    at.button(key="create_account").click().run()
    at = _create_account(at, iban="")
    account_id = at.selectbox(key="account_pick").value
    prefix = f"ch_{account_id}"
    at.button(key=f"activate_linkpay_{account_id}").click().run()
    at.text_input(key=f"{prefix}_link_token").input("123abcd")
    at.text_input(key=f"{prefix}_api_username").input("abc12345")
    at.text_input(key=f"{prefix}_api_secret_0").input(SECRET)
    at.button(key=f"{prefix}_save").click().run()
    with read_session() as session:
        stored = session.exec(select(PaymentChannel)).one().api_secret_encrypted

    edit = next(b.key for b in at.button if b.key and b.key.endswith("_edit"))
    at.button(key=edit).click().run()
    assert at.text_input(key=f"{prefix}_api_secret_1").value == ""
    assert "Stored secret: •••• 7788" in texts(at)
    at.text_input(key=f"{prefix}_api_username").input("abc99999")
    at.button(key=f"{prefix}_save").click().run()
    no_exceptions(at)
    with read_session() as session:
        channel = session.exec(select(PaymentChannel)).one()
    assert channel.api_username == "abc99999"
    assert channel.api_secret_encrypted == stored


def test_the_bic_is_checked_next_to_its_field_and_stored(db):
    at = open_page(app_as("finance"), "bank_accounts")
    at.button(key="create_account").click().run()
    at.text_input(key="account_bic").input("HABAEE22")
    at = _create_account(at, iban="LV80 BANK 0000 4351 9500 1", account_type="regular")
    assert any("differs from the IBAN's LV" in e.value for e in at.error)
    with read_session() as session:
        assert session.exec(select(BankAccount)).first() is None

    at.text_input(key="account_bic").input("habalv22")
    at = _create_account(at, iban="LV80 BANK 0000 4351 9500 1", account_type="regular")
    no_exceptions(at)
    with read_session() as session:
        assert session.exec(select(BankAccount.bic)).one() == "HABALV22"
    # Shown back in the account's details, where finance checks what the QR code carries.
    assert any("BIC: HABALV22" in m.value for m in at.markdown)


def test_fee_terms_are_typed_as_text_shown_and_explained(db):
    channel = make_channel()
    at = open_page(app_as("finance"), "bank_accounts")
    form = f"fee_{channel.id}"
    assert "No fee terms: a payout's fee is taken as whatever the difference is." in texts(at)
    assert "whatever the difference is" in at.text_input(key=f"{form}_percent").help

    at.text_input(key=f"{form}_percent").input("1.5%")
    at.button(key=f"{form}_save").click().run()
    assert any("Fee percent '1.5%'" in e.value for e in at.error)
    at.text_input(key=f"{form}_percent").input("1,25")
    at.text_input(key=f"{form}_fixed").input("0.105")
    at.button(key=f"{form}_save").click().run()
    assert any("Fixed fee '0.105' has more than 2 decimals" in e.value for e in at.error)
    with read_session() as session:
        assert session.get(PaymentChannel, channel.id).payout_fee_percent is None

    at.text_input(key=f"{form}_fixed").input("0.10")
    at.button(key=f"{form}_save").click().run()
    no_exceptions(at)
    with read_session() as session:
        stored = session.get(PaymentChannel, channel.id)
        assert (stored.payout_fee_percent, stored.payout_fee_fixed_minor) == ("1.25", 10)
    assert "Current terms: 1.25 % + 0.10 EUR per payment." in texts(at)
    assert at.text_input(key=f"{form}_percent").value == "1,25"

    at.text_input(key=f"{form}_percent").input("")
    at.text_input(key=f"{form}_fixed").input("")
    at.button(key=f"{form}_save").click().run()
    with read_session() as session:
        stored = session.get(PaymentChannel, channel.id)
        assert (stored.payout_fee_percent, stored.payout_fee_fixed_minor) == (None, None)
    assert "No fee terms" in texts(at)
