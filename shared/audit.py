"""The append-only audit log. Callers pass descriptions, never secret values."""

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

from sqlmodel import Session

from shared.models import AuditLog

SYSTEM_ACTOR = "system"
# What each action code means, in English (the audit log shows it next to the code, and the
# dashboard in the reader's language). Every code written anywhere must be here:
# tests/unit/test_audit_labels.py collects them from the code base.
ACTION_LABELS: Mapping[str, str] = MappingProxyType(
    {
        "bank_account.create": "Bank account added",
        "bank_statement.accept": "Bank transfer: suggestion accepted",
        "bank_statement.import": "Bank statement imported",
        "bank_statement.match": "Bank statement matched",
        "bank_statement.match_by_hand": "Bank transfer matched by hand",
        "bank_statement.not_customer": "Bank transfer marked as not a customer payment",
        "bank_statement.undo": "Bank transfer booking undone",
        "callback.reprocess": "Callback processed again",
        "channel.activate": "Payment channel activated",
        "channel.create": "Payment channel added",
        "channel.deactivate": "Payment channel deactivated",
        "channel.payout_fee_terms": "Payout fee terms changed",
        "channel.rotate_callback_url": "Callback URL replaced",
        "channel.save": "Payment channel saved",
        "channel.test_connection": "Payment channel connection tested",
        "channel.update": "Payment channel changed",
        "company.update": "Company details changed",
        "credit.apply": "Customer credit applied",
        "credit.refund": "Customer credit refunded",
        "credit_note.issue": "Credit note issued",
        "credit_note.send_email": "Credit note sent by e-mail",
        "customer.create": "Customer added",
        "customer.save": "Customer saved",
        "customer.statement_email": "Customer statement sent by e-mail",
        "customer.statement_pdf": "Customer statement downloaded as PDF",
        "customer.update": "Customer changed",
        "everypay_payout.explain": "EveryPay payout explained",
        "invoice.bulk_send": "Invoices sent in bulk",
        "invoice.cancel": "Invoice cancelled",
        "invoice.create_draft": "Draft invoice created",
        "invoice.delete_draft": "Draft invoice deleted",
        "invoice.update_draft": "Draft invoice changed",
        "invoice.issue": "Invoice issued",
        "invoice.ledger": "Booking on the invoice",
        "invoice.pdf_copy": "Invoice PDF copy downloaded",
        "invoice.reminders": "Invoice reminders changed",
        "invoice.reminders_off": "Invoice reminders turned off",
        "invoice.reminders_on": "Invoice reminders turned on",
        "invoice.resend_email": "Invoice sent again by e-mail",
        "invoice.save_draft": "Draft invoice saved",
        "invoice.send_email": "Invoice sent by e-mail",
        "invoice.send_link": "Invoice link shared",
        "invoice.send_pdf": "Invoice PDF downloaded to send",
        "invoice.send_reminder": "Payment reminder sent",
        "invoice.send_credit_note": "Credit note sent",
        "invoice.send_einvoice": "E-invoice sent",
        "login": "Logged in",
        "logout": "Logged out",
        "number_series.activate": "Number series activated",
        "number_series.add": "Number series added",
        "number_series.change": "Number series changed",
        "number_series.deactivate": "Number series deactivated",
        "number_series.set_default": "Default number series set",
        "payment.find": "Payment looked up at EveryPay",
        "payment.record": "Payment recorded",
        "payment.reverse": "Payment reversed",
        "payment_attempt.reconcile": "Payment checked with EveryPay",
        "review.accept_partial": "Exception: partial payment accepted",
        "review.credit_note": "Exception: credit note issued",
        "review.dispute_chargeback": "Exception: chargeback disputed",
        "review.link_credit_note": "Exception: credit note linked",
        "review.reconcile": "Exception: payment checked with EveryPay",
        "review.resolve": "Exception resolved",
        "secrets.reset": "Secrets reset",
        "user.activate": "User activated",
        "user.create": "User added",
        "user.deactivate": "User deactivated",
        "user.set_password": "Password changed",
    }
)


def action_label(action: str) -> str:
    """The action's English label; a code no longer written (an old entry) as it is."""
    return ACTION_LABELS.get(action, action)


def record_audit(
    session: Session,
    *,
    actor: str,
    action: str,
    entity_type: str = "",
    entity_id: object = "",
    outcome: str = "ok",
    details: dict[str, Any] | None = None,
) -> AuditLog:
    entry = AuditLog(
        actor=actor or SYSTEM_ACTOR,
        action=action,
        entity_type=entity_type,
        entity_id="" if entity_id is None else str(entity_id),
        outcome=outcome,
        details=details or {},
    )
    session.add(entry)
    return entry


def audit_row(
    *,
    actor: str,
    action: str,
    entity_type: str = "",
    entity_id: object = "",
    outcome: str = "ok",
    details: dict[str, Any] | None = None,
    at: datetime,
) -> dict[str, Any]:
    """One audit entry as ``record_audits`` inserts it (the same fields ``record_audit``
    fills)."""
    return {
        "at": at,
        "actor": actor or SYSTEM_ACTOR,
        "action": action,
        "entity_type": entity_type,
        "entity_id": "" if entity_id is None else str(entity_id),
        "outcome": outcome,
        "details": details or {},
    }


def record_audits(session: Session, rows: list[dict[str, Any]]) -> None:
    """Many audit entries in one INSERT (a bulk action writes one per row it touched)."""
    if rows:
        session.execute(AuditLog.__table__.insert(), rows)
