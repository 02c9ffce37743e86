"""`linkpay-desk send-reminders` exits 1 when a reminder could not be sent, so a scheduler
notices; the next run retries it and exits 0."""

from datetime import date

from shared.operations.cli import main
from shared.reminders import set_reminders
from tests.sending.conftest import Inbox, issued_invoice


def test_send_reminders_exit_code_follows_the_mail_server(smtp_server: Inbox, capsys) -> None:
    invoice = issued_invoice(issue_date=date(2026, 3, 1), due_date=date(2026, 3, 15))
    set_reminders(invoice_id=invoice.id, enabled=True, actor="finance")
    smtp_server.reject = "451 4.3.0 Try again later"

    assert main(["send-reminders"]) == 1
    assert "failed:" in capsys.readouterr().out

    smtp_server.reject = None
    assert main(["send-reminders"]) == 0
    assert len(smtp_server.messages) == 1
