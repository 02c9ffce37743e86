"""The invoice page in Latvian beyond the first view: a draft, the payment and credit-note
forms at work, the sending panel with a failed e-mail, a timeline of every kind of event,
and an unknown number. Each state shows its Latvian words and no English."""

from datetime import UTC, datetime, timedelta

from streamlit.testing.v1 import AppTest

from dashboard import i18n, ui
from shared.db import write_session
from shared.models import (
    CallbackEvent,
    FunnelEvent,
    FunnelStep,
    MessageLog,
    PaymentStateChange,
    ReviewItem,
)
from shared.users import set_user_language
from tests.dashboard.conftest import APP, TIMEOUT, make_attempt, make_user, no_exceptions, texts
from tests.dashboard.test_latvian_ui import _shown, english_words
from tests.sending.conftest import smtp_server  # noqa: F401 (a fixture for the e-mail test)
from tests.utils.factories import make_channel, make_customer, make_invoice

START = datetime(2026, 5, 2, 9, 0, tzinfo=UTC)


def _invoice_page(reference: str, *, role: str = "finance") -> AppTest:
    """The invoice page in Latvian for a user of ``role``; ``reference``: the address's
    ?invoice= (a number, or an id for a draft)."""
    user_id = make_user(role, f"ilze_{role}")
    with write_session() as session:
        set_user_language(session, user_id=user_id, language="lv")
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.session_state["auth"] = ui.new_session(user_id)
    at.query_params["invoice"] = reference
    at.run()
    i18n.MISSING.clear()
    return at.switch_page("app_pages/invoice_detail.py").run()


def _all_latvian(at: AppTest) -> None:
    no_exceptions(at)
    assert sorted(text for language, text in i18n.MISSING if language == "lv") == []
    shown = _shown(at)
    # The pay link's address carries EveryPay's parameter names, not words to translate.
    for code in at.code:
        shown = shown.replace(code.value, "")
    assert english_words(shown) == set()


def _column(at: AppTest, heading: str, *, table_with: str = "") -> list:
    """The cells under ``heading`` of the one table that has it (and ``table_with``)."""
    [table] = [
        frame.value
        for frame in at.dataframe
        if {heading, table_with or heading} <= set(frame.value.columns)
    ]
    return list(table[heading])


def _open_invoice():
    customer = make_customer(name="SIA Jūrmalas Ēdnīca", email="rekini@ednica.lv")
    return make_invoice(channel=make_channel(), customer=customer)


def test_a_draft_reads_in_latvian(db):
    draft = make_invoice(channel=make_channel(), issue=False)

    at = _invoice_page(str(draft.id), role="manager")

    _all_latvian(at)
    assert at.title[0].value == "Rēķina melnraksts"
    assert "Izrakstīšanas datums —" in texts(at)
    assert "Bez PVN" in _column(at, "")


def test_an_issued_invoice_shows_its_amounts_forms_and_sending_in_latvian(db):
    invoice = _open_invoice()

    at = _invoice_page(invoice.number)

    _all_latvian(at)
    assert at.title[0].value == f"Rēķins {invoice.number}"
    assert [metric.label for metric in at.metric][:3] == ["Kopā", "Apmaksāts", "Neapmaksātā summa"]
    assert at.metric[0].value == "121,00 EUR"
    assert at.radio(key=f"detail_rp_{invoice.id}_method").options == [
        "Bankas pārskaitījums",
        "Skaidra nauda",
        "Savstarpējais ieskaits",
    ]
    assert at.button(key=f"detail_rp_{invoice.id}_save").label == "Reģistrēt maksājumu"
    assert at.text_input(key=f"send_email_{invoice.id}_to").label == "Kam"
    assert at.toggle(key=f"reminders_{invoice.id}").label.startswith("Maksājuma atgādinājumi")
    assert "Atcelt rēķinu" in [expander.label for expander in at.expander]
    assert "**Ziņojumu žurnāls**" in [markdown.value for markdown in at.markdown]


def test_recording_a_bank_transfer_says_what_was_booked_in_latvian(db):
    invoice = _open_invoice()
    at = _invoice_page(invoice.number)

    at.text_input(key=f"detail_rp_{invoice.id}_amount").input("21.00")
    at.button(key=f"detail_rp_{invoice.id}_save").click().run()

    _all_latvian(at)
    assert [s.value for s in at.success] == [
        f"Reģistrēts maksājums (Bankas pārskaitījums) 21,00 EUR: 21,00 EUR rēķinam "
        f"{invoice.number}."
    ]
    assert _column(at, "Avots") == ["Bankas pārskaitījums"]
    assert _column(at, "Veids") == ["Maksājums"]


def test_the_credit_note_form_and_a_credit_note_in_latvian(db):
    invoice = _open_invoice()
    at = _invoice_page(invoice.number)
    assert at.radio(key="cn_mode").options == [
        "Viss rēķins (viss atlikušais)",
        "Izvēlētās rindas",
        "Summa ar PVN",
    ]

    at.radio(key="cn_mode").set_value("lines").run()
    _all_latvian(at)
    assert "Atzīmējiet kreditējamās rindas" in texts(at)

    at.radio(key="cn_mode").set_value("amount").run()
    at.text_input(key="cn_amount").input("21.00")
    at.text_input(key="cn_reason").input("Atlaide")
    at.button(key="cn_issue").click().run()

    _all_latvian(at)
    [issued] = [s.value for s in at.success]
    assert issued.startswith("Kredītrēķins ") and issued.endswith(" izrakstīts.")
    assert _column(at, "Iemesls") == ["Atlaide"]
    assert at.button(key="cn_send").label == "Nosūtīt klientam pa e-pastu"


def _story_of_every_kind(invoice) -> None:
    """An e-mail that failed, the pay link opened, a payment and its state change, a
    processed callback and one waiting for EveryPay, on top of the audit log's entries."""
    attempt = make_attempt(invoice, at=START + timedelta(minutes=3), reference="ab" * 32)
    with write_session() as session:
        session.add(
            MessageLog(
                invoice_id=invoice.id,
                channel="email",
                status="failed",
                subject=f"Rēķins {invoice.number}",
                recipients="rekini@ednica.lv",
                error="550 mailbox unavailable",
                sent_by="ilze_finance",
                created_at=START + timedelta(minutes=1),
            )
        )
        session.add(
            FunnelEvent(invoice_id=invoice.id, step=FunnelStep.LINK_OPENED, at=START + timedelta(2))
        )
        session.add(
            PaymentStateChange(
                attempt_id=attempt.id,
                from_state="initial",
                to_state="settled",
                source="reconciler",
                changed_at=START + timedelta(minutes=4),
            )
        )
        for status, reference, minutes in (("done", "ab", 5), ("pending", "cd", 6)):
            session.add(
                CallbackEvent(
                    channel_id=invoice.channel_id,
                    payment_reference=reference * 32,
                    order_reference=invoice.number,
                    event_name="status_updated",
                    status=status,
                    invoice_id=invoice.id if status == "done" else None,
                    received_at=START + timedelta(minutes=minutes),
                )
            )


def test_the_timeline_tells_every_kind_of_event_in_latvian(db):
    invoice = _open_invoice()
    _story_of_every_kind(invoice)

    at = _invoice_page(invoice.number)

    _all_latvian(at)
    kinds = set(_column(at, "Kas"))
    assert {
        "E-pasts",
        "Atvērta apmaksas saite",
        "Sākts maksājums",
        "Maksājuma stāvoklis",
        "Paziņojums (callback)",
        "Paziņojums (callback) gaida",
        "Darbība",
    } <= kinds
    details = _column(at, "Sīkāk")
    assert "rēķins izrakstīts" in details
    assert "121,00 EUR · Karte · maksājums abababababab…" in details
    assert "Sākts → Norēķināts (maksājums abababababab…)" in details
    assert "saskaņotājs" in _column(at, "Veica", table_with="Kas")
    # The failed e-mail can be sent again from the message log.
    assert "Sūtīt vēlreiz" in [button.label for button in at.button]
    assert "neizdevās · rekini@ednica.lv" in details[0]
    assert any("550 mailbox unavailable" in error.value for error in at.error)


def test_an_unknown_number_is_said_in_latvian(db):
    make_user("finance", "someone")

    at = _invoice_page("INV-2099-9999")

    _all_latvian(at)
    assert [error.value for error in at.error] == ["Rēķins INV-2099-9999 nav atrasts."]


def test_a_refund_under_review_holds_collection_in_latvian(db):
    invoice = _open_invoice()
    attempt = make_attempt(invoice)
    with write_session() as session:
        session.add(
            ReviewItem(
                kind="refund",
                dedupe_key=f"refund:{attempt.payment_reference}",
                reason="",
                invoice_id=invoice.id,
                payment_attempt_id=attempt.id,
                amount_minor=4000,
                currency="EUR",
            )
        )

    at = _invoice_page(invoice.number)

    _all_latvian(at)
    [held] = [info.value for info in at.info if "aizturēti" in info.value]
    assert held.startswith(
        "Atgādinājumi un klienta apmaksas poga ir aizturēti, kamēr tiek pārskatīta atmaksa "
        "40,00 EUR apmērā (izņēmums #"
    )


def test_the_online_link_of_the_sending_panel_in_latvian(db):
    invoice = _open_invoice()
    at = _invoice_page(invoice.number)

    at.button(key=f"shared_link_{invoice.id}_button").click().run()

    _all_latvian(at)
    assert [link.label for link in at.get("link_button")] == ["Atvērt klienta lapu"]


def _statement_script() -> None:
    """The Statement section alone, for a finance user reading Latvian."""
    from dashboard import i18n, ui
    from dashboard.customer_statement import statement_section

    i18n.set_language("lv")
    statement_section(ui.SessionUser(user_id=1, username="ilze", role="finance"), search="")


def test_a_customers_statement_reads_in_latvian(db):
    invoice = _open_invoice()
    at = AppTest.from_function(_statement_script, default_timeout=TIMEOUT).run()
    i18n.MISSING.clear()

    at.selectbox(key="stmt_customer").set_value(invoice.customer_id).run()

    _all_latvian(at)
    assert at.subheader[0].value == "Izraksts"
    assert _column(at, "Apraksts") == ["Sākuma atlikums", "Rēķins", "Beigu atlikums"]
    assert at.metric[0].label.startswith("Beigu atlikums ")
    assert at.button(key="FormSubmitter:stmt_send-Nosūtīt pa e-pastu").label == (
        "Nosūtīt pa e-pastu"
    )


def test_sending_the_invoice_by_email_in_latvian(smtp_server):  # noqa: F811 (the fixture)
    invoice = _open_invoice()
    at = _invoice_page(invoice.number)

    at.button(key=f"FormSubmitter:send_email_{invoice.id}-Nosūtīt e-pastu").click().run()

    _all_latvian(at)
    assert "E-pasts nosūtīts uz rekini@ednica.lv." in [s.value for s in at.success]
    assert _column(at, "Statuss", table_with="Saņēmēji") == ["Nosūtīts"]
    assert _column(at, "Kanāls", table_with="Saņēmēji") == ["E-pasts"]
    assert len(smtp_server.messages) == 1


def test_cancelling_an_invoice_in_latvian(db):
    invoice = _open_invoice()
    at = _invoice_page(invoice.number)

    at.text_input(key="detail_cancel_reason").input("Dubultrēķins")
    at.checkbox(key="detail_cancel_confirm").check().run()
    at.button(key="detail_cancel").click().run()

    _all_latvian(at)
    assert [s.value for s in at.success] == ["Rēķins atcelts."]
    assert [w.value for w in at.warning] == ["Atcelts: Dubultrēķins"]
