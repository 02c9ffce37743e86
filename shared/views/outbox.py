"""Invoicing → Outbox: the mails the demo mail server received, newest first."""

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from shared.company import to_local
from shared.exports import Column, Table
from shared.mail import OutboxEntry

OUTBOX_COLUMNS = (
    Column("received", "Received", "datetime"),
    Column("sender", "Sender"),
    Column("to", "Recipient"),
    Column("subject", "Subject"),
)


class OutboxRow(NamedTuple):
    received: datetime | None
    sender: str
    to: str
    subject: str


def outbox_table(entries: Sequence[OutboxEntry], *, tz: str) -> Table:
    """The mails ``list_outbox`` found, as the page shows and exports them: the page
    reads the folder once and opens a mail by the entry's file name."""
    rows = tuple(
        OutboxRow(
            received=to_local(entry.received_at, tz),
            sender=entry.sender,
            to=entry.to,
            subject=entry.subject,
        )
        for entry in entries
    )
    return Table(OUTBOX_COLUMNS, rows, total=len(rows))
