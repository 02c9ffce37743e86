"""``linkpay-desk reset-secrets``: the way forward when the secret key is lost for good.

Without the key nothing encrypted with it can be read again, so the secrets are replaced:

- API secrets are cleared; the channel shows "enter the API secret again", and until an
  admin does, its invoices offer no Pay online and its callbacks wait (they are retried).
- Callback URLs get a new token, as the dashboard's Rotate does: EveryPay's callbacks to
  the old URL keep being accepted for the grace period (its hash needs no key), while an
  admin copies the new Callback URL into the EveryPay portal.
- Invoice links get a new token. Links in e-mails sent before stop working; the next
  e-mail or reminder carries the new one.

Restoring the key file from a backup is always better: this command refuses to run while
the key file opens every stored secret, so it cannot destroy a working set-up.
"""

from dataclasses import dataclass

from sqlmodel import Session, col, select

from shared.audit import record_audit
from shared.channels import rotate_callback_token
from shared.config import get_settings
from shared.db import write_session
from shared.models import Invoice, PaymentChannel, utcnow
from shared.security import (
    SecretKeyError,
    create_key_file_over_lost_key,
    decrypt_secret,
    new_token,
    reset_key_cache,
    seal_token,
)

_BATCH = 1000


class NothingToReset(RuntimeError):
    """The key file opens every stored secret: there is nothing lost to replace."""


@dataclass(frozen=True)
class ResetReport:
    api_secrets_cleared: list[str]
    callback_urls_renewed: list[str]
    invoice_links_renewed: int

    def __str__(self) -> str:
        lines = [
            f"New secret key in {get_settings().resolved_secret_key_file}. "
            f"{len(self.api_secrets_cleared)} API secret(s) cleared, "
            f"{len(self.callback_urls_renewed)} Callback URL(s) and "
            f"{self.invoice_links_renewed} invoice link(s) renewed."
        ]
        lines += [
            f"  enter the API secret again (Bank accounts → Online payments): {name}"
            for name in self.api_secrets_cleared
        ]
        lines += [
            f"  copy the new Callback URL into the EveryPay portal (linkpay-desk channels): {name}"
            for name in self.callback_urls_renewed
        ]
        return "\n".join(lines)


def _opens(ciphertext: str) -> bool:
    try:
        decrypt_secret(ciphertext)
    except SecretKeyError:
        return False
    return True


def _renew_invoice_links(session: Session) -> int:
    renewed = 0
    last_id = 0
    while True:
        invoices = session.exec(
            select(Invoice).where(col(Invoice.id) > last_id).order_by(col(Invoice.id)).limit(_BATCH)
        ).all()
        if not invoices:
            return renewed
        for invoice in invoices:
            if not _opens(invoice.public_token_encrypted):
                invoice.public_token_hash, invoice.public_token_encrypted = seal_token(
                    new_token(24)
                )
                session.add(invoice)
                renewed += 1
        last_id = invoices[-1].id or last_id
        session.flush()


def reset_secrets(*, actor: str) -> ResetReport:
    """Replaces every secret the key file cannot open (see the module's docstring)."""
    create_key_file_over_lost_key()
    reset_key_cache()
    with write_session() as session:
        cleared: list[str] = []
        renewed: list[str] = []
        for channel in session.exec(select(PaymentChannel).order_by(col(PaymentChannel.id))):
            label = f"#{channel.id} {channel.name}"
            if channel.api_secret_encrypted and not _opens(channel.api_secret_encrypted):
                channel.api_secret_encrypted = ""
                channel.api_secret_last4 = ""
                channel.connection_test_ok = None
                channel.connection_test_message = (
                    "The API secret was lost with the secret key: enter it again."
                )
                channel.updated_at = utcnow()
                session.add(channel)
                cleared.append(label)
            if not _opens(channel.callback_token_encrypted):
                rotate_callback_token(session, actor=actor, channel_id=channel.id)
                renewed.append(label)
        links = _renew_invoice_links(session)
        if not (cleared or renewed or links):
            raise NothingToReset(
                "The secret key file opens every stored secret: nothing to reset. "
                "(To replace a key that works, use linkpay-desk rotate-key.)"
            )
        record_audit(
            session,
            actor=actor,
            action="secrets.reset",
            details={
                "api_secrets_cleared": len(cleared),
                "callback_urls_renewed": len(renewed),
                "invoice_links_renewed": links,
            },
        )
    return ResetReport(cleared, renewed, links)
