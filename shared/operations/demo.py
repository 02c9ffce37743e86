"""Demo data: a company with a LinkPay channel on the sandbox, customers and invoices in
every status with months of payment history, so every page shows something real.

Payments are registered in the sandbox too, so the API answers about them exactly as the
product's records say, and the reconciler finds nothing to contradict.
"""

import io
import random
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from sqlmodel import Session, select

from shared.channels import (
    ChannelInput,
    callback_url,
    create_bank_account,
    credentials,
    save_linkpay_channel,
)
from shared.config import get_settings
from shared.db import read_session, write_session
from shared.invoicing import (
    DraftInput,
    LineInput,
    cancel_invoice,
    create_draft,
    issue_invoice,
    order_reference,
)
from shared.ledger.credit_notes import issue_credit_note
from shared.ledger.linkpay import book_linkpay_payment
from shared.ledger.posting import post_entry
from shared.ledger.received import record_received_payment
from shared.models import (
    AccountType,
    CallbackEvent,
    CallbackStatus,
    Company,
    Customer,
    Environment,
    FunnelEvent,
    FunnelStep,
    Invoice,
    LedgerEntryKind,
    LedgerSource,
    MessageChannel,
    MessageLog,
    MessageStatus,
    PaymentAttempt,
    PaymentChannel,
    PaymentState,
    PaymentStateChange,
    ReviewItem,
    ReviewKind,
    User,
    utcnow,
)
from shared.money import from_minor
from shared.states import FINAL_PAYMENT_STATES
from shared.users import create_user

ACTOR = "demo"
COMPANY_NAME = "Baltic Widgets SIA"
# EveryPay pays out to the regular account, whose statement the sandbox exports, with the
# same fee per payment on both sides so that the demo's payouts explain themselves.
REGULAR_IBAN = "LV80BANK0000435195001"
PAYOUT_FEE_PERCENT = "1.5"
PAYOUT_FEE_FIXED_MINOR = 10
DEMO_USERS = (
    ("admin", "admin-demo-1", "admin", "Alise Admina"),
    ("finance", "finance-demo-1", "finance", "Jānis Kalniņš"),
    ("manager", "manager-demo-1", "manager", "Marta Ozola"),
)
CUSTOMERS = (
    ("SIA Kurzemes Koks", "lv", "40003000017", "gramatvediba@kurzemes-koks.example"),
    ("AS Rīgas Piens", "lv", "40003000002", "rekini@rigas-piens.example"),
    ("Tallinna Tarkvara OÜ", "en", "12000003", "invoices@tallinna-tarkvara.example"),
    ("UAB Vilniaus Baldai", "en", "300000004", "finance@vilniaus-baldai.example"),
    ("SIA Daugavas Loģistika", "lv", "40003000021", "finanses@daugavas-logistika.example"),
    ("Nordic Fintech AB", "en", "5560000006", "ap@nordic-fintech.example"),
    ("SIA Zemgales Maize", "lv", "40003000036", "rekini@zemgales-maize.example"),
    ("Tartu Design OÜ", "en", "12000008", "billing@tartu-design.example"),
    ("SIA Latgales Keramika", "lv", "40003000040", "info@latgales-keramika.example"),
    ("Kauno Statyba UAB", "en", "300000010", "accounts@kauno-statyba.example"),
    ("SIA Vidzemes Enerģija", "lv", "40003000055", "rekini@vidzemes-energija.example"),
    ("Baltic Events SIA", "en", "40003000074", "finance@baltic-events.example"),
)
CATALOGUE = (
    ("Consulting, hours", "65.00", "21"),
    ("Software licence, monthly", "49.90", "21"),
    ("Installation and set-up", "250.00", "21"),
    ("Support package", "120.00", "21"),
    ("Training day", "480.00", "21"),
    ("Printed catalogues", "3.35", "12"),
)
# (scenario, how many): every invoice status and every kind of payment history.
SCENARIOS = (
    ("paid_card", 9),
    ("paid_after_decline", 3),
    ("paid_bank", 3),
    ("partial", 2),
    ("sent", 4),
    ("overdue", 3),
    ("overdue_abandoned", 2),
    ("issued", 2),
    ("draft", 2),
    ("cancelled", 2),
    ("bank_pending", 1),
    ("chargeback", 1),
    ("overpaid", 1),
    ("paid_transfer", 2),
    ("credited", 1),
)


def demo_logo() -> bytes:
    image = Image.new("RGB", (240, 240), (14, 74, 132))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((16, 16, 224, 224), radius=36, fill=(242, 169, 0))
    font = ImageFont.load_default(size=96)
    draw.text((120, 124), "BW", fill=(14, 74, 132), font=font, anchor="mm")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def sandbox_store_path() -> Path:
    return get_settings().data_dir / "sandbox.db"


def _register_in_sandbox(channel: PaymentChannel) -> None:
    """(Re-)registers the demo merchant in the sandbox with the channel's credentials."""
    from sandbox.store import PayoutTerms, SandboxStore

    store = SandboxStore(sandbox_store_path())
    creds = credentials(channel)
    store.create_merchant(
        name=COMPANY_NAME,
        logo=demo_logo(),
        logo_mime="image/png",
        currency=channel.currency,
        api_username=creds.api_username,
        api_secret=creds.api_secret,
    )
    store.add_link(
        api_username=creds.api_username,
        name="Invoice Payment",
        link_token=channel.link_token,
        url_fields=[
            "transaction_amount",
            "order_reference",
            "customer_name",
            "customer_email",
            "customer_url",
        ],
    )
    store.set_callback_url(api_username=creds.api_username, url=callback_url(channel))
    store.set_payout_terms(
        creds.api_username,
        PayoutTerms(Decimal(PAYOUT_FEE_PERCENT), PAYOUT_FEE_FIXED_MINOR, REGULAR_IBAN),
    )


@dataclass
class DemoReport:
    created: bool
    invoices: int = 0
    payments: int = 0

    def __str__(self) -> str:
        if not self.created:
            return "Demo data already present; the sandbox merchant is registered."
        return (
            f"Demo data created: {len(CUSTOMERS)} customers, {self.invoices} invoices, "
            f"{self.payments} payment attempts, users " + ", ".join(u[0] for u in DEMO_USERS) + "."
        )


def seed_demo(*, today: date | None = None, seed: int = 20261128) -> DemoReport:
    with read_session() as session:
        channel = session.exec(select(PaymentChannel).order_by(PaymentChannel.id)).first()
        has_company = session.exec(select(Company)).first() is not None
    if has_company:
        if channel is not None and channel.environment == Environment.SANDBOX:
            _register_in_sandbox(channel)
        return DemoReport(created=False)
    rng = random.Random(seed)
    today = today or utcnow().date()
    with write_session() as session:
        _seed_company_and_users(session)
        channel = _seed_channel(session)
        customers = _seed_customers(session)
    _register_in_sandbox(channel)
    report = DemoReport(created=True)
    plan = [
        (scenario, rng.choice(customers), _age(scenario, rng))
        for scenario, count in SCENARIOS
        for _ in range(count)
    ]
    # Oldest first, so the numbers follow the dates as they would have been issued.
    for scenario, customer, age in sorted(plan, key=lambda planned: -planned[2]):
        report.payments += _seed_invoice(
            scenario=scenario,
            channel=channel,
            customer=customer,
            rng=rng,
            issue_day=today - timedelta(days=age),
            today=today,
        )
        report.invoices += 1
    return report


def _seed_company_and_users(session: Session) -> None:
    session.add(
        Company(
            name=COMPANY_NAME,
            registration_number="40103123445",
            vat_number="LV40103123445",
            address="Brīvības iela 100, Rīga, LV-1011, Latvija",
            email="invoices@baltic-widgets.example",
            phone="+371 67 000 000",
            website="baltic-widgets.example",
            logo=demo_logo(),
            logo_mime="image/png",
            # A Latvian finance team: the dashboard opens in Latvian (English in the sidebar).
            ui_language="lv",
        )
    )
    for username, password, role, full_name in DEMO_USERS:
        if session.exec(select(User).where(User.username == username)).first() is None:
            create_user(
                session,
                actor=ACTOR,
                username=username,
                password=password,
                role=role,
                full_name=full_name,
            )


def _seed_channel(session: Session) -> PaymentChannel:
    create_bank_account(
        session,
        actor=ACTOR,
        name="Swedbank current account",
        account_type=AccountType.REGULAR,
        bank_name="Swedbank",
        iban=REGULAR_IBAN,
        bic="HABALV22",
    )
    merchant = create_bank_account(
        session,
        actor=ACTOR,
        name="LinkPay merchant account EUR",
        account_type=AccountType.MERCHANT,
        bank_name="Swedbank",
    )
    channel = save_linkpay_channel(
        session,
        actor=ACTOR,
        bank_account_id=merchant.id,
        data=ChannelInput(
            environment=Environment.SANDBOX,
            link_token=secrets.token_hex(10),
            api_username=secrets.token_hex(4),
            api_secret=secrets.token_hex(16),
            currency="EUR",
            name="LinkPay",
            url_fields=["customer_name", "customer_email", "customer_url"],
        ),
    )
    now = utcnow()
    channel.connection_tested_at = now
    channel.connection_test_ok = True
    channel.connection_test_message = "Connected: EveryPay accepted the API username and secret."
    channel.payout_fee_percent = PAYOUT_FEE_PERCENT
    channel.payout_fee_fixed_minor = PAYOUT_FEE_FIXED_MINOR
    session.add(channel)
    return channel


def _seed_customers(session: Session) -> list[Customer]:
    customers = []
    for name, language, registration, email in CUSTOMERS:
        customer = Customer(
            name=name,
            language=language,
            registration_number=registration,
            email=email,
            address="Baltic states",
        )
        session.add(customer)
        customers.append(customer)
    session.flush()
    return customers


def _at(day: date, hour: int, rng: random.Random) -> datetime:
    return datetime.combine(day, time(hour, rng.randint(0, 59), rng.randint(0, 59)), tzinfo=UTC)


def _age(scenario: str, rng: random.Random) -> int:
    """How many days ago an invoice of the scenario was issued."""
    if scenario.startswith("overdue"):
        return rng.randint(35, 80)
    if scenario in ("sent", "issued", "draft", "bank_pending"):
        return rng.randint(1, 12)
    return rng.randint(5, 170)


def _seed_invoice(
    *,
    scenario: str,
    channel: PaymentChannel,
    customer: Customer,
    rng: random.Random,
    issue_day: date,
    today: date,
) -> int:
    overdue = scenario.startswith("overdue")
    lines = [
        LineInput(description, str(rng.choice([1, 1, 2, 3, 5, 10])), price, vat)
        for description, price, vat in rng.sample(CATALOGUE, rng.randint(1, 3))
    ]
    with write_session() as session:
        invoice = create_draft(
            session,
            actor=ACTOR,
            data=DraftInput(
                customer_id=customer.id,
                channel_id=channel.id,
                lines=lines,
                issue_date=None if scenario == "draft" else issue_day,
                due_date=None if scenario == "draft" else issue_day + timedelta(days=14),
                reminders_enabled=overdue,
            ),
        )
        if scenario == "draft":
            return 0
        issue_invoice(session, actor=ACTOR, invoice_id=invoice.id)
        invoice.issued_at = _at(issue_day, 9, rng)
        if scenario == "cancelled":
            cancel_invoice(
                session, actor=ACTOR, invoice_id=invoice.id, reason="Issued to the wrong customer"
            )
            return 0
        if scenario != "issued":
            _mark_sent(session, invoice, customer, _at(issue_day, 10, rng))
        if scenario == "credited":
            issue_credit_note(
                session,
                actor=ACTOR,
                invoice_id=invoice.id,
                reason="The order was called off",
                full=True,
                today=issue_day + timedelta(days=3),
            )
            return 0
        if scenario == "paid_transfer":
            record_received_payment(
                session,
                actor=ACTOR,
                customer_id=customer.id,
                method=LedgerSource.BANK_TRANSFER,
                received_on=min(issue_day + timedelta(days=rng.randint(3, 12)), today),
                amount=invoice.total_minor,
                currency=invoice.currency,
                payer=customer.name,
                bank_reference=f"LV{rng.randint(10**8, 10**9 - 1)}",
                allocations=[(invoice.id, invoice.total_minor)],
            )
            return 0
        plan = _payment_plan(scenario, invoice, rng)
        for attempt_number, (offset_days, state, amount_minor, method) in enumerate(plan):
            # A later attempt on the same day comes a few hours later, as a retry would.
            day = min(issue_day + timedelta(days=offset_days), today)
            moment = _at(day, 9 + 3 * attempt_number, rng)
            _seed_attempt(
                session,
                channel=channel,
                invoice=invoice,
                customer=customer,
                state=state,
                amount_minor=amount_minor,
                method=method,
                at=moment,
                rng=rng,
            )
        return len(plan)


def _mark_sent(session: Session, invoice: Invoice, customer: Customer, at: datetime) -> None:
    invoice.sent_at = at
    invoice.status = "sent"
    session.add(
        MessageLog(
            invoice_id=invoice.id,
            channel=MessageChannel.EMAIL,
            recipients=customer.email,
            subject=f"Invoice {invoice.number} from {COMPANY_NAME}",
            status=MessageStatus.SENT,
            attempts=1,
            sent_by="finance",
            created_at=at,
            sent_at=at,
        )
    )


def _payment_plan(
    scenario: str, invoice: Invoice, rng: random.Random
) -> list[tuple[int, str, int, str]]:
    full = invoice.total_minor
    day = rng.randint(1, 20)
    match scenario:
        case "paid_card":
            return [(day, PaymentState.SETTLED, full, "card")]
        case "paid_after_decline":
            return [
                (day, PaymentState.FAILED, full, "card"),
                (day, PaymentState.SETTLED, full, "card"),
            ]
        case "paid_bank":
            return [(day, PaymentState.SETTLED, full, rng.choice(["swedbank_ob_lv", "seb_ob_lv"]))]
        case "partial":
            return [(day, PaymentState.SETTLED, full // 2, "card")]
        case "overdue_abandoned":
            return [(20, PaymentState.ABANDONED, full, "card")]
        case "bank_pending":
            return [(0, PaymentState.SENT_FOR_PROCESSING, full, "lhv_ob_ee")]
        case "chargeback":
            return [(day, PaymentState.CHARGEBACKED, full, "card")]
        case "overpaid":
            return [(day, PaymentState.SETTLED, full + 1000, "card")]
    return []


def _seed_attempt(
    session: Session,
    *,
    channel: PaymentChannel,
    invoice: Invoice,
    customer: Customer,
    state: str,
    amount_minor: int,
    method: str,
    at: datetime,
    rng: random.Random,
) -> None:
    from sandbox.store import SandboxStore

    reference = order_reference(invoice)
    amount = from_minor(amount_minor, invoice.currency)
    payment_reference = SandboxStore(sandbox_store_path()).record_payment(
        link_token=channel.link_token,
        order_reference=reference,
        amount=amount,
        state=state,
        created_at=at - timedelta(minutes=2),
        transaction_time=at,
        payment_method=method,
        customer_name=customer.name,
        customer_email=customer.email,
        standing_amount=Decimal(0) if state == PaymentState.CHARGEBACKED else None,
    )
    card = method == "card"
    attempt = PaymentAttempt(
        payment_reference=payment_reference,
        channel_id=channel.id,
        invoice_id=invoice.id,
        order_reference=reference,
        state=state,
        is_final=state in FINAL_PAYMENT_STATES,
        initial_amount_minor=amount_minor,
        standing_amount_minor=0 if state == PaymentState.CHARGEBACKED else amount_minor,
        currency=invoice.currency,
        payment_method=method,
        card_brand=rng.choice(["visa", "master_card"]) if card else None,
        card_last4=f"{rng.randint(0, 9999):04d}" if card else None,
        payer_name=customer.name,
        payer_email=customer.email,
        processing_error="4001 Card declined" if state == PaymentState.FAILED else None,
        gateway_created_at=at - timedelta(minutes=2),
        transaction_time=at,
        last_checked_at=at,
        next_check_at=None if state != PaymentState.SENT_FOR_PROCESSING else at,
        created_at=at - timedelta(minutes=2),
        updated_at=at,
    )
    session.add(attempt)
    session.flush()
    session.add(
        PaymentStateChange(
            attempt_id=attempt.id, from_state=None, to_state=state, source="callback", changed_at=at
        )
    )
    session.add(
        FunnelEvent(
            invoice_id=invoice.id, step=FunnelStep.LINK_OPENED, at=at - timedelta(minutes=3)
        )
    )
    outcome = f"payment {state}"
    if state in (PaymentState.SETTLED, PaymentState.CHARGEBACKED):
        open_before = invoice.open_minor
        book_linkpay_payment(
            session, attempt=attempt, invoice=invoice, amount=amount_minor, actor="demo"
        )
        invoice.paid_at = at if invoice.status == "paid" else None
        channel_row = session.get(PaymentChannel, channel.id)
        channel_row.first_settled_at = channel_row.first_settled_at or at
        if amount_minor > open_before:
            surplus = from_minor(amount_minor - open_before, invoice.currency)
            session.add(
                ReviewItem(
                    kind=ReviewKind.OVERPAYMENT,
                    dedupe_key=f"{ReviewKind.OVERPAYMENT}:{attempt.id}",
                    reason=f"Paid {from_minor(amount_minor, invoice.currency)} for an open "
                    f"balance of {from_minor(open_before, invoice.currency)}: booked, "
                    f"{surplus} is the customer's credit.",
                    invoice_id=invoice.id,
                    payment_attempt_id=attempt.id,
                    channel_id=channel.id,
                    amount_minor=amount_minor,
                    currency=invoice.currency,
                    created_at=at,
                )
            )
            outcome = "settled, more than the open balance: surplus is customer credit"
        if state == PaymentState.CHARGEBACKED:
            post_entry(
                session,
                invoice=invoice,
                kind=LedgerEntryKind.MONEY_BACK,
                source=LedgerSource.CHARGEBACK,
                amount_minor=amount_minor,
                key=f"linkpay:{payment_reference}:back:0",
                actor="demo",
                attempt=attempt,
                reference=payment_reference,
            )
            session.add(
                ReviewItem(
                    kind=ReviewKind.CHARGEBACK,
                    dedupe_key=f"{ReviewKind.CHARGEBACK}:{attempt.id}",
                    reason="The card payment was charged back: the invoice is open again.",
                    invoice_id=invoice.id,
                    payment_attempt_id=attempt.id,
                    channel_id=channel.id,
                    amount_minor=amount_minor,
                    currency=invoice.currency,
                    created_at=at,
                )
            )
            outcome = "chargeback: payment went back, sent to review"
        session.add(attempt)
    channel_row = session.get(PaymentChannel, channel.id)
    channel_row.first_callback_at = channel_row.first_callback_at or at
    session.add(
        CallbackEvent(
            channel_id=channel.id,
            received_at=at + timedelta(seconds=2),
            http_method="GET",
            params={
                "payment_reference": payment_reference,
                "order_reference": reference,
                "event_name": "status_updated",
            },
            payment_reference=payment_reference,
            order_reference=reference,
            event_name="status_updated",
            remote_addr="127.0.0.1",
            status=CallbackStatus.DONE,
            attempts=1,
            outcome=outcome,
            payment_attempt_id=attempt.id,
            invoice_id=invoice.id,
            processed_at=at + timedelta(seconds=3),
        )
    )
    session.add(invoice)
