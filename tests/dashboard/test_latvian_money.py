"""Money and payments in Latvian beyond the first look: a statement imported and matched, a
transaction picked to act on, the find-payment form, an exception resolved, the reconciler
with its runs, EveryPay's bank links and the outbox, empty and with a mail."""

import string
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
import respx
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from dashboard import i18n, ui
from dashboard.stored_texts import STORED_SENTENCES, stored_text
from shared.bank.parse import parse_statement_file
from shared.callbacks.apply import _chargeback_reason
from shared.callbacks.lost_payments import check_lost_payments, watch_pay_link_opened
from shared.channels import create_bank_account
from shared.db import write_session
from shared.models import (
    AccountType,
    CallbackEvent,
    CallbackStatus,
    PaymentAttempt,
    PaymentState,
    ReconcilerRun,
    ReviewItem,
    utcnow,
)
from shared.states import PAYMENT_STATES
from shared.users import set_user_language
from tests.bank.builders import Entry, Tx, camt053
from tests.callbacks.helpers import API_BASE, answer_with, make_shop
from tests.dashboard.conftest import (
    APP,
    LAZY_SECTIONS,
    TIMEOUT,
    make_attempt,
    make_user,
    no_exceptions,
    texts,
)
from tests.dashboard.test_bank_statements_ui import _import, _statement, _transactions
from tests.dashboard.test_latvian_ui import _seed, _shown, english_words
from tests.dashboard.test_table_exports import _mail
from tests.utils.callback_service import new_reference
from tests.utils.factories import make_channel, make_customer, make_invoice

# A company account whose IBAN reads as no English word ("LV80BANK…" would).
IBAN = "LV97HABA0012345678910"


@pytest.fixture(autouse=True)
def latvian_pickers() -> Iterator[None]:
    """AppTest formats a picker's chosen value again in the test's own thread, with the
    page's format function: that thread reads Latvian too while these tests run."""
    i18n.set_language("lv")
    yield
    i18n.set_language(i18n.ENGLISH)


def _in_latvian(role: str, page: str) -> AppTest:
    """``page`` as a user of ``role`` who reads Latvian sees it; nothing noted missing yet."""
    user_id = make_user(role, f"{role}-lv")
    with write_session() as session:
        set_user_language(session, user_id=user_id, language="lv")
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.session_state["auth"] = ui.new_session(user_id)
    at.run()
    i18n.MISSING.clear()
    for key in LAZY_SECTIONS:
        at.session_state[key] = True
    return at.switch_page(f"app_pages/{page}.py").run()


def _reads_latvian(at: AppTest) -> None:
    no_exceptions(at)
    assert sorted(text for language, text in i18n.MISSING if language == "lv") == []
    assert english_words(_shown(at)) == set()


def _table(at: AppTest, column: str):
    return next(frame.value for frame in at.dataframe if column in frame.value.columns)


def _company_account() -> None:
    with write_session() as session:
        create_bank_account(
            session, actor="test", name="Pamatkonts", account_type=AccountType.REGULAR, iban=IBAN
        )


def test_a_statement_imported_and_matched_reads_in_latvian(db):
    _company_account()
    invoice = make_invoice(channel=None)
    at = _import(_in_latvian("finance", "bank_statements"), _statement(invoice, iban=IBAN))
    _reads_latvian(at)
    assert "Sasaistei apstrādāti darījumi: 2 (grāmatots automātiski 1, nav sasaistīts 1)." in (
        texts(at)
    )
    entries = _table(at, "Grāmatošanas datums")
    assert list(entries["Sasaistes statuss"]) == ["Grāmatots automātiski", "Nav sasaistīts"]
    assert list(entries["Ienākošs/izejošs"]) == ["Ienākošs", "Ienākošs"]
    assert entries["Iemesls"].iloc[0].startswith("RF atsauce RF")
    assert entries["Iemesls"].iloc[1].startswith("Maksājuma informācijā nav RF atsauces")
    assert "Grāmatots automātiski" in list(_table(at, "Sasaistes statuss")["Sasaistes statuss"])

    _, unmatched = _transactions()
    at.selectbox(key="bs_tx").set_value(unmatched.id).run()
    _reads_latvian(at)
    assert "**Sasaistīt manuāli**" in texts(at)
    assert "**Iemesls:** Maksājuma informācijā nav RF atsauces" in texts(at)
    assert at.button(key="bs_not_customer").label == "Atzīmēt, ka nav klienta maksājums"


def test_a_suggestion_accepted_reads_in_latvian(db):
    _company_account()
    invoice = make_invoice(channel=None)  # customer "Anna Bērziņa SIA"
    content = camt053(
        entries=[Entry("121.00", ref="B-1", txs=[Tx(name="ANNA BERZINA SIA")])], iban=IBAN
    )
    at = _import(_in_latvian("finance", "bank_statements"), content)
    _reads_latvian(at)
    assert f"**Ieteikts:** Anna Bērziņa SIA — 121,00 rēķinam {invoice.number}" in texts(at)
    at.button(key="bs_accept").click().run()
    _reads_latvian(at)
    assert "121,00 EUR grāmatoti, kā ieteikts." in texts(at)
    entries = _table(at, "Grāmatošanas datums")
    assert entries["Iemesls"].iloc[0].startswith("Ieteikums pieņemts: ")


def test_the_same_file_again_is_refused_in_latvian(db):
    _company_account()
    content = _statement(make_invoice(channel=None), iban=IBAN)
    at = _import(_in_latvian("finance", "bank_statements"), content)
    at = _import(at, content)
    _reads_latvian(at)
    assert "day.xml: jau importēts " in texts(at)
    assert "; nekas nav pievienots." in texts(at)


def test_the_find_payment_form_and_a_resolved_exception_read_in_latvian(db):
    number = _seed()
    with write_session() as session:
        item = session.exec(select(ReviewItem)).one()
        attempt = session.get(PaymentAttempt, item.payment_attempt_id)
        item.reason = _chargeback_reason(attempt, SimpleNamespace(number=number), returned=0)
    at = _in_latvian("finance", "exceptions")
    _reads_latvian(at)
    reason = f"Maksātājs apstrīdēja maksājumu par rēķinu {number}, un kartes izdevējs naudu"
    assert f"**Iemesls:** {reason}" in texts(at)
    assert _table(at, "Iemesls")["Iemesls"].iloc[0].startswith(reason)
    assert at.text_input(key="find_reference").label == "Maksājuma atsauce"
    assert "EveryPay nevar meklēt pēc rēķina numura" in at.text_input(key="find_reference").help
    assert list(_table(at, "Veids")["Veids"]) == ["Summa nesakrīt"]

    at.text_area(key="rev_comment").input("Klients piemaksās starpību")
    at.button(key="rev_resolve").click().run()
    _reads_latvian(at)
    assert "Atzīmēts kā atrisināts." in texts(at)
    assert "Nav atvērtu izņēmumu — katrs maksājums atbilst savam rēķinam." in texts(at)


def test_a_lost_payment_found_by_its_reference_reads_in_latvian(db):
    shop = make_shop()
    watch_pay_link_opened(invoice_id=shop.invoice.id, at=utcnow() - timedelta(hours=30))
    check_lost_payments()
    at = _in_latvian("finance", "exceptions")
    _reads_latvian(at)
    assert "Atgādinājumi aizturēti rēķiniem: 1." in texts(at)
    assert f"**Iemesls:** Rēķina {shop.invoice.number} maksājuma saite" in texts(at)

    reference = new_reference()
    with respx.mock(base_url=API_BASE, assert_all_called=True) as api:
        answer_with(api, shop.answer(reference, state="settled"))
        at.text_input(key="find_reference").set_value(reference)
        next(b for b in at.button if b.label == "Meklēt maksājumu").click().run()
    _reads_latvian(at)
    [success] = at.success
    assert success.value.startswith(
        f"Atrasts un piemērots: {shop.invoice.number}: maksājums norēķināts ("
    )
    assert "rēķins apmaksāts (grāmatoti " in success.value


def test_the_reconciler_panel_with_its_runs_reads_in_latvian(db):
    started = utcnow() - timedelta(minutes=30)
    with write_session() as session:
        session.add(
            ReconcilerRun(
                started_at=started, finished_at=started + timedelta(seconds=2), payments_checked=3
            )
        )
    at = _in_latvian("manager", "callbacks")
    _reads_latvian(at)
    assert "Saskaņotājs nav darbojies kopš " in texts(at)
    assert "Pēdējo reizi darbojās " in texts(at)
    runs = _table(at, "Atkārtoti pārbaudīti maksājumi")
    assert list(runs["Atkārtoti pārbaudīti maksājumi"]) == [3]
    assert list(runs["Pārbaudāmie maksājumi"]) == ["Tie, kuriem pienācis pārbaudes laiks"]

    at.toggle(key="rec_eventful").set_value(True).run()
    _reads_latvian(at)
    assert "Nevienā reizē nekas nemainījās un nekas neizgāzās." in texts(at)


def test_what_a_reconciler_run_changed_and_failed_reads_in_latvian(db):
    started = utcnow() - timedelta(minutes=30)
    with write_session() as session:
        session.add(
            ReconcilerRun(
                started_at=started,
                finished_at=started + timedelta(seconds=2),
                payments_checked=2,
                changed_count=1,
                problem_count=1,
                # As shared.callbacks.reconciler words them.
                changes=[
                    "payment 0a1b2c3d4e5f…: INV-2026-0007: payment settled (1\u202f210.50 EUR); "
                    "invoice paid (1\u202f210.50 EUR booked)"
                ],
                problems=["payment 9f8e7d6c5b4a…: EveryPay gave no usable answer (HTTP 503)"],
            )
        )
    at = _in_latvian("manager", "callbacks")
    _reads_latvian(at)
    [details] = list(_table(at, "Kas mainījās vai neizdevās")["Kas mainījās vai neizdevās"])
    assert details == (
        "maksājums 0a1b2c3d4e5f…: INV-2026-0007: maksājums norēķināts (1\u00a0210,50 EUR); "
        "rēķins apmaksāts (grāmatoti 1\u00a0210,50 EUR); neizdevās: maksājums 9f8e7d6c5b4a…: "
        "EveryPay nedeva izmantojamu atbildi (HTTP 503)"
    )


def test_a_callback_reads_its_outcome_in_latvian(db):
    invoice = make_invoice(channel=make_channel())
    attempt = make_attempt(invoice, at=datetime(2026, 5, 2, 9, 0, tzinfo=UTC))
    with write_session() as session:
        session.add(
            CallbackEvent(
                channel_id=invoice.channel_id,
                payment_reference=attempt.payment_reference,
                order_reference=invoice.number,
                event_name="status_updated",
                status=CallbackStatus.DONE,
                invoice_id=invoice.id,
                # As shared.callbacks.apply words it.
                outcome=f"{invoice.number}: payment settled (121.00 EUR); "
                "invoice paid (121.00 EUR booked)",
            )
        )
    at = _in_latvian("finance", "callbacks")
    _reads_latvian(at)
    callbacks = _table(at, "Rezultāts")
    assert list(callbacks["Rezultāts"]) == [
        f"{invoice.number}: maksājums norēķināts (121,00 EUR); "
        "rēķins apmaksāts (grāmatoti 121,00 EUR)"
    ]
    assert list(callbacks["Apstrādes statuss"]) == ["Apstrādāts"]
    assert at.button(key="cb_reprocess").label == "Apstrādāt vēlreiz"


def test_payments_read_their_bank_link_and_source_in_latvian(db):
    invoice = make_invoice(
        channel=make_channel(), customer=make_customer(name="SIA Jūrmalas Ēdnīca")
    )
    attempt = make_attempt(invoice, at=datetime(2026, 5, 2, 9, 0, tzinfo=UTC), card=None)
    with write_session() as session:
        session.get(PaymentAttempt, attempt.id).payment_method = "seb_ob_lv"
    at = _in_latvian("manager", "payments")
    _reads_latvian(at)
    payments = _table(at, "Maksājuma veids")
    assert list(payments["Maksājuma veids"]) == ["SEB (Latvija) bankas saite"]
    assert list(payments["Avots"]) == ["LinkPay"]
    assert list(payments["Stāvoklis"]) == [PAYMENT_STATES[PaymentState.SETTLED].lv]


def test_the_outbox_empty_and_with_a_mail_reads_in_latvian(db):
    at = _in_latvian("manager", "outbox")
    _reads_latvian(at)
    assert "Vēl nav vēstuļu. Nosūtiet rēķinu pa e-pastu, un tas parādīsies šeit." in texts(at)

    _mail(datetime(2026, 5, 3, 9, 0, tzinfo=UTC), "INV-2026-0002")
    at = at.button(key="outbox_refresh").click().run()
    _reads_latvian(at)
    assert "**Sūtītājs:** billing@example.lv" in texts(at)
    assert "**Saņemts:** 03.05.2026 12:00:00" in texts(at)
    assert [tab.label for tab in at.tabs] == ["Klienta skatā", "Vienkāršs teksts"]


def test_what_a_statement_import_notes_reads_in_latvian():
    """The parser's own warnings, from a real file: no namespace, balances that do not add
    up, an entry whose details do not sum to it; the amount written the Latvian way."""
    content = camt053(
        entries=[
            Entry("100.00", ref="E-1", txs=[Tx(amount="60.00"), Tx(amount="30.00")]),
            Entry("2500.00"),
        ],
        namespace=False,
        closing="2000.00",
    )
    warnings = parse_statement_file(content).warnings + [
        warning
        for statement in parse_statement_file(content).statements
        for warning in statement.warnings
    ]
    shown = [stored_text(warning) for warning in warnings]
    assert english_words("\n".join(shown)) == set()
    assert shown[0].startswith("Failā nav norādīta vārdtelpa (nav camt versijas)")
    assert len(shown) == 4
    assert "atšķiras no beigu atlikuma par -1\u00a0600,00 EUR" in "\n".join(shown)
    assert (
        "1. izraksts (STMT-2026-11-02), 1. ieraksts (E-1): tā darījumu detaļu (2) summa "
        "nesakrīt ar ieraksta summu; saglabāts kā viens darījums."
    ) in shown
    assert "1. izraksts (STMT-2026-11-02): ieraksti bez bankas atsauces (AcctSvcrRef): 1" in (
        "\n".join(shown)
    )


def test_every_stored_sentence_has_its_latvian_with_the_same_places():
    latvian = i18n.catalogue("lv")
    formatter = string.Formatter()

    def places(text: str) -> set[str]:
        return {name for _, name, _, _ in formatter.parse(text) if name}

    assert [text for text in STORED_SENTENCES if text not in latvian] == []
    assert [r for r in STORED_SENTENCES if places(r) != places(latvian[r])] == []
