"""The set-up and settings pages in Latvian beyond what the shared seed shows: forms open,
a confirmation, messages after an action, errors, empty lists; and the company's dashboard
language, the default of every user who has not picked one."""

import re
from zoneinfo import available_timezones

import httpx
import pytest
from sqlmodel import select
from streamlit.runtime.scriptrunner import get_script_run_ctx
from streamlit.testing.v1 import AppTest

from dashboard import i18n, ui
from shared.company import CompanyInput, save_company
from shared.db import read_session, write_session
from shared.models import NumberSeries, PaymentChannel, User
from shared.users import set_user_language
from tests.dashboard.conftest import APP, TIMEOUT, make_user, no_exceptions, open_page, texts
from tests.dashboard.test_latvian_ui import _shown, english_words
from tests.utils.factories import make_channel, make_invoice

# Latvian words the English word list also holds: "no" is Latvian for "from" and "of"
# (the date filter's "No", the pager's "Rindas 1–7 no 7").
LATVIAN_TOO = {"No", "no"}
TIME_ZONES = available_timezones()


@pytest.fixture
def options_read_in_latvian(monkeypatch: pytest.MonkeyPatch) -> None:
    """AppTest calls a widget's format_func in the test's own thread, outside any run of
    the app, where no user and so no language is known: there, read options in Latvian,
    as the Latvian user does, so a test can choose an option by its value."""
    in_the_app = i18n.language
    monkeypatch.setattr(i18n, "language", lambda: in_the_app() if get_script_run_ctx() else "lv")


def _latvian_app(role: str = "admin", username: str | None = None) -> AppTest:
    """The app run once for a user of ``role`` who chose Latvian."""
    user_id = make_user(role, username or f"{role}-lv")
    with write_session() as session:
        set_user_language(session, user_id=user_id, language="lv")
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.session_state["auth"] = ui.new_session(user_id)
    i18n.MISSING.clear()
    return at.run()


def _english(at: AppTest, *domain_errors: str) -> set[str]:
    """English words a reader of the Latvian page meets. Not counted: time-zone names (the
    IANA names, the same in every language), addresses (a Callback URL's random token can
    spell "By") and the EveryPay portal's own English names, which the Latvian help quotes
    ("General Settings") so they can be found in the portal."""
    shown = "\n".join(
        line
        for line in _shown(at).splitlines()
        if line not in TIME_ZONES and line not in domain_errors
    )
    shown = re.sub(r"\S+://\S+", "", shown)
    return english_words(re.sub(r'"[^"\n]*"', "", shown)) - LATVIAN_TOO


def _untranslated(*domain_errors: str) -> list[str]:
    """Texts looked up without Latvian, besides the domain errors named (shared/ raises
    them, and their Latvian lives in the messages catalogue)."""
    return sorted(
        text for language, text in i18n.MISSING if language == "lv" and text not in domain_errors
    )


def _all_latvian(at: AppTest, *domain_errors: str) -> None:
    """The page as it is now is all Latvian, and so was every text looked up since the
    last check."""
    no_exceptions(at)
    assert _untranslated(*domain_errors) == []
    assert _english(at, *domain_errors) == set()
    i18n.MISSING.clear()


def _successes(at: AppTest) -> list[str]:
    return [element.value for element in at.success]


def test_a_merchant_account_and_its_linkpay_channel_set_up_in_latvian(db, options_read_in_latvian):
    at = open_page(_latvian_app("finance"), "bank_accounts")
    assert at.title[0].value == "Bankas konti"
    assert "Bankas kontu vēl nav" in at.info[0].value
    assert at.button(key="create_account").label == "Izveidot jaunu bankas kontu"
    _all_latvian(at)

    at.button(key="create_account").click().run()
    assert at.radio(key="account_type").options == ["Parasts konts", "Tirgotāja konts"]
    at.text_input(key="account_name").input("Swedbank EUR")
    at.text_input(key="account_iban").input("LV92 HABA 0551 0203 0405 0")
    at.radio(key="account_type").set_value("merchant")
    at.button(key="account_submit").click().run()
    assert [tab.label for tab in at.tabs] == ["Informācija", "Tiešsaistes apmaksas"]
    assert "**Swedbank** vai **SEB**" in at.tabs[1].info[0].value
    _all_latvian(at)

    account_id = at.selectbox(key="account_pick").value
    at.button(key=f"activate_linkpay_{account_id}").click().run()
    prefix = f"ch_{account_id}"
    # The origin article's button, and the portal's own names quoted in the Latvian help.
    assert at.button(key=f"{prefix}_save").label == "Izmainīt"
    assert '"Links" → "ADD LINK"' in at.text_input(key=f"{prefix}_link_token").help
    assert '"General Settings"' in at.text_input(key=f"{prefix}_api_username").help
    assert "Sandbox (iebūvētais simulators)" in at.selectbox(key=f"{prefix}_environment").options
    _all_latvian(at)

    at.button(key=f"{prefix}_save").click().run()
    assert at.error, "an empty Link Token is refused next to the field"
    link_token_required = at.error[0].value
    _all_latvian(at, link_token_required)

    at.text_input(key=f"{prefix}_link_token").input("123abcd")
    at.text_input(key=f"{prefix}_api_username").input("abc12345")
    at.text_input(key=f"{prefix}_api_secret_0").input("s3cret-API-value-7788")
    at.button(key=f"{prefix}_save").click().run()
    assert "Saglabāts. Iekopējiet Callback URL EveryPay portālā." in _successes(at)
    assert "Callback Notification URL" in texts(at)
    assert any("Lauki aizpildīti" in element.value for element in at.markdown)
    _all_latvian(at)

    with read_session() as session:
        channel_id = session.exec(select(PaymentChannel.id)).one()
    at.button(key=f"ch{channel_id}_rotate").click().run()
    assert "Šo Callback URL aizstās jauns." in at.warning[0].value
    assert at.button(key=f"ch{channel_id}_rotate_yes").label == "Jā, nomainīt"
    _all_latvian(at)
    at.button(key=f"ch{channel_id}_rotate_yes").click().run()
    assert "Izveidots jauns Callback URL: ielīmējiet jauno URL portālā." in _successes(at)
    # The old URL's last moment, the Latvian way: day.month.year.
    assert re.search(r"Iepriekšējais Callback URL darbojas līdz \d\d\.\d\d\.\d{4} ", texts(at))
    _all_latvian(at)

    at.button(key=f"ch{channel_id}_deactivate").click().run()
    assert "LinkPay (deaktivizēts)" in [element.value for element in at.subheader]
    _all_latvian(at)


def test_fee_terms_and_a_failed_connection_test_read_in_latvian(db):
    channel = make_channel()
    at = open_page(_latvian_app(), "bank_accounts")
    assert "Komisijas nosacījumu nav" in texts(at)
    at.text_input(key=f"fee_{channel.id}_percent").input("1.5")
    at.text_input(key=f"fee_{channel.id}_fixed").input("0.10")
    at.button(key=f"fee_{channel.id}_save").click().run()
    assert "Komisijas nosacījumi saglabāti." in _successes(at)
    assert "Pašreizējie nosacījumi: 1.5 % + 0.10 EUR par katru maksājumu." in texts(at)
    _all_latvian(at)

    # The factory's channel points at a closed port: EveryPay cannot be reached.
    at.button(key=f"ch{channel.id}_test").click().run()
    warning = at.warning[0].value
    assert warning.startswith("Neizdevās sazināties ar EveryPay (")
    assert warning.endswith("). Mēģiniet vēlreiz.")
    _all_latvian(at)


def test_the_companys_language_is_the_default_of_users_without_a_choice(any_db):
    admin = make_user("admin", "ilze")
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.session_state["auth"] = ui.new_session(admin)
    at = open_page(at.run(), "company")
    assert at.title[0].value == "Company"
    assert at.selectbox(key="co_language").options == ["Latviešu", "English"]

    at.text_input(key="co_name").input("SIA Jūrmalas Ēdnīca")
    at.selectbox(key="co_language").set_value("lv")
    i18n.MISSING.clear()
    at.button(key="co_save").click().run()
    no_exceptions(at)
    # The admin has not picked a language: the page, and its message, are now Latvian.
    assert at.title[0].value == "Uzņēmums"
    assert "Uzņēmuma rekvizīti saglabāti." in _successes(at)
    assert at.selectbox(key="co_language").value == "lv"
    _all_latvian(at)

    newcomer = make_user("manager", "janis")
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.session_state["auth"] = ui.new_session(newcomer)
    at = open_page(at.run(), "company")
    assert at.title[0].value == "Uzņēmums"
    assert "Uzņēmuma rekvizītus maina tikai" in at.caption[0].value

    chooser = make_user("finance", "anna")
    with write_session() as session:
        set_user_language(session, user_id=chooser, language="en")
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.session_state["auth"] = ui.new_session(chooser)
    at = open_page(at.run(), "company")
    assert at.title[0].value == "Company"


def test_a_vies_answer_and_the_read_only_company_in_latvian(db, monkeypatch):
    with write_session() as session:
        save_company(
            session,
            actor="test",
            data=CompanyInput(
                name="SIA Ēdnīca", registration_number="40003009497", vat_number="LV40003009497"
            ),
        )
    at = open_page(_latvian_app("manager"), "company")
    page = texts(at)
    assert "Reģistrācijas nr. 40003009497 · PVN reģ. nr. LV40003009497" in page
    assert "Laika josla Europe/Riga · Noklusējuma valūta EUR" in page
    _all_latvian(at)

    def unreachable(*args, **kwargs):
        raise httpx.ConnectError("no route")

    monkeypatch.setattr("shared.vies.httpx.post", unreachable)
    at = open_page(_latvian_app("admin"), "company")
    at.button(key="co_vies").click().run()
    assert at.info[-1].value == (
        "Neizdevās sazināties ar VIES, lai pārbaudītu LV40003009497; numurs tik un tā ir saglabāts."
    )
    _all_latvian(at)


def test_numbering_series_added_and_made_default_in_latvian(db, options_read_in_latvian):
    at = open_page(_latvian_app(), "numbering")
    assert at.expander[0].label == "Pievienot sēriju"
    documents = next(widget for widget in at.selectbox if widget.label == "Dokumentiem")
    assert documents.options == ["rēķini", "kredītrēķini"]
    _all_latvian(at)

    at.text_input(key="ns_new_prefix").input("web")
    at.button(key="ns_add").click().run()
    assert "Sērija WEB pievienota." in _successes(at)
    table = at.dataframe[0].value
    assert set(table["Aktīvs"]) == {"jā"}
    assert "WEB (rēķini)" in at.selectbox(key="ns_pick").options
    _all_latvian(at)

    with read_session() as session:
        web = session.exec(select(NumberSeries.id).where(NumberSeries.prefix == "WEB")).one()
    at.selectbox(key="ns_pick").set_value(web).run()
    at.button(key="ns_default").click().run()
    assert "WEB tagad ir noklusējuma sērija dokumentiem: rēķini." in _successes(at)
    _all_latvian(at)


def test_users_created_and_deactivated_in_latvian(db, options_read_in_latvian):
    at = open_page(_latvian_app(), "users")
    assert at.radio(key="new_role").options == ["administrators", "finanses", "vadītājs"]
    assert at.dataframe[0].value["Loma"].tolist() == ["administrators"]
    _all_latvian(at)

    at.text_input(key="new_username").input("Anna")
    at.radio(key="new_role").set_value("manager")
    at.text_input(key="new_password").input("correct-horse-2")
    at.button(key="new_user_submit").click().run()
    assert "Lietotājs anna izveidots." in _successes(at)
    table = at.dataframe[0].value
    assert dict(zip(table["Lietotājvārds"], table["Loma"], strict=True))["anna"] == "vadītājs"
    assert set(table["Aktīvs"]) == {"jā"}
    _all_latvian(at)

    assert "anna (vadītājs, aktīvs: jā)" in at.selectbox(key="user_pick").options
    with read_session() as session:
        anna = session.exec(select(User.id).where(User.username == "anna")).one()
    at.selectbox(key="user_pick").set_value(anna).run()
    assert at.button(key="user_toggle").label == "Deaktivizēt"
    at.button(key="user_toggle").click().run()
    assert "Lietotājs anna deaktivizēts." in _successes(at)
    assert "anna (vadītājs, aktīvs: nē)" in at.selectbox(key="user_pick").options
    _all_latvian(at)


def test_an_audit_log_without_matches_in_latvian(db, options_read_in_latvian):
    at = open_page(_latvian_app(), "audit_log")
    assert at.selectbox(key="audit_outcome").options == [
        "Jebkurš",
        "izdevās",
        "neizdevās",
        "atteikts",
        "bloķēts",
    ]
    at.text_input(key="audit_actor").input("nobody").run()
    assert at.info[0].value == "Šiem filtriem neatbilst neviens ieraksts."
    _all_latvian(at)


def test_the_audit_log_names_each_action_in_latvian(db, options_read_in_latvian):
    """Each action by its label in Latvian, never its code."""
    make_invoice(channel=None)
    at = open_page(_latvian_app(), "audit_log")
    entries = next(frame.value for frame in at.dataframe if "Darbība" in frame.value.columns)
    assert {"Rēķins izrakstīts", "Rēķina melnraksts izveidots"} <= set(entries["Darbība"])
    _all_latvian(at)
