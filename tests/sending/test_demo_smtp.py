import os
import signal
import smtplib
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path

import pytest

from shared.config import PROJECT_ROOT
from shared.mail import list_outbox, outbox_dir, read_outbox_message
from shared.operations.demo_smtp import save_to_outbox, start_server
from shared.sending import send_invoice_email
from tests.sending.conftest import english_customer, free_port, issued_invoice, point_smtp_at


def _poll(condition, *, seconds: float = 10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_outbox_shows_a_sent_invoice_as_the_customer_sees_it(db, company, monkeypatch):
    port = free_port()
    controller = start_server(host="127.0.0.1", port=port, directory=outbox_dir())
    try:
        point_smtp_at(monkeypatch, port)
        first = issued_invoice(customer=english_customer())
        second = issued_invoice(customer=english_customer())
        send_invoice_email(invoice_id=first.id, actor="finance")
        send_invoice_email(invoice_id=second.id, actor="finance")
    finally:
        controller.stop()

    entries = list_outbox()
    assert [entry.subject for entry in entries] == [
        f"Invoice {second.number} from Baltic Widgets SIA",  # newest first
        f"Invoice {first.number} from Baltic Widgets SIA",
    ]
    message = read_outbox_message(entries[0].name)
    assert message.to == "ap@northwind.example"
    assert "Baltic Widgets SIA" in message.sender
    assert "Pay online" in message.html and "cid:" not in message.html
    assert "data:image/png;base64," in message.html  # the logo shows in a browser
    assert "Pay online" in message.text
    [attachment] = message.attachments
    assert (attachment.filename, attachment.content_type) == (
        f"{second.number}.pdf",
        "application/pdf",
    )
    assert attachment.content.startswith(b"%PDF")


def test_outbox_ignores_partial_files_and_refuses_foreign_names(db):
    directory = outbox_dir()
    saved = save_to_outbox(b"Subject: Hi\r\nTo: a@b.lv\r\n\r\nHello\r\n", directory=directory)
    (directory / ".half-written.eml.tmp").write_bytes(b"Subject: no")
    assert [entry.name for entry in list_outbox()] == [saved.name]
    with pytest.raises(ValueError, match="No such message"):
        read_outbox_message("../linkpay.db")


def test_launcher_command_runs_the_demo_server_and_stops_on_sigterm(tmp_path: Path):
    port = free_port()
    env = {**os.environ, "LINKPAY_DATA_DIR": str(tmp_path / "demo-data")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "shared.operations.demo_smtp",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:

        def connected() -> bool:
            try:
                with smtplib.SMTP("127.0.0.1", port, timeout=2) as client:
                    message = EmailMessage()
                    message["Subject"] = "Demo"
                    message["From"] = "a@b.lv"
                    message["To"] = "c@d.lv"
                    message.set_content("Sveiki")
                    client.send_message(message)
                return True
            except OSError:
                return False

        _poll(connected)
        outbox = tmp_path / "demo-data" / "outbox"
        [kept] = _poll(lambda: list(outbox.glob("*.eml")))
        assert b"Subject: Demo" in kept.read_bytes()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
