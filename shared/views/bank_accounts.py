"""Money → Bank accounts: every account with its payment channels, and channel pickers."""

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import select

from shared.channels import (
    ENVIRONMENT_LABELS,
    callback_url,
    channel_hosts,
    connection_message_parts,
    setup_checklist,
)
from shared.company import to_local
from shared.db import read_session
from shared.models import AccountType, BankAccount, PaymentChannel
from shared.security import mask_secret
from shared.views.common import label


@dataclass(frozen=True)
class ChecklistView:
    label: str
    done: bool
    hint: str


@dataclass(frozen=True)
class ChannelView:
    id: int
    name: str
    environment: str
    environment_label: str
    linkpay_prefix: str
    api_base: str
    link_token: str
    api_username: str
    secret_masked: str
    currency: str
    url_fields: tuple[str, ...]
    active: bool
    callback_url: str
    old_url_valid_until: datetime | None
    # The last connection test's message: an English template and its values.
    connection_message: str
    connection_values: dict[str, str]
    connection_ok: bool | None
    checklist: tuple[ChecklistView, ...]


@dataclass(frozen=True)
class BankAccountView:
    id: int
    name: str
    bank_name: str
    iban: str
    bic: str
    currency: str
    account_type: str
    type_label: str
    channels: tuple[ChannelView, ...]


ACCOUNT_TYPE_LABELS = {
    AccountType.REGULAR: "Regular account",
    AccountType.MERCHANT: "Merchant account",
}


def bank_accounts(*, tz: str) -> tuple[BankAccountView, ...]:
    """Every account with its channels. Not cached by the dashboard: it holds Callback URLs."""
    with read_session() as session:
        accounts = session.execute(select(BankAccount).order_by(BankAccount.id)).scalars().all()
        channels = session.execute(select(PaymentChannel).order_by(PaymentChannel.id)).scalars()
        by_account: dict[int, list[ChannelView]] = {}
        for channel in channels:
            valid_until = channel.previous_token_valid_until
            message, values = connection_message_parts(channel.connection_test_message)
            by_account.setdefault(channel.bank_account_id, []).append(
                ChannelView(
                    id=channel.id,
                    name=channel.name,
                    environment=channel.environment,
                    environment_label=ENVIRONMENT_LABELS.get(
                        channel.environment, channel.environment
                    ),
                    linkpay_prefix=channel_hosts(channel)[0],
                    api_base=channel_hosts(channel)[1],
                    link_token=channel.link_token,
                    api_username=channel.api_username,
                    secret_masked=mask_secret(channel.api_secret_last4),
                    currency=channel.currency,
                    url_fields=tuple(channel.url_fields or ()),
                    active=channel.active,
                    callback_url=callback_url(channel),
                    old_url_valid_until=to_local(valid_until, tz)
                    if valid_until and valid_until > datetime.now(valid_until.tzinfo)
                    else None,
                    connection_message=message,
                    connection_values=values,
                    connection_ok=channel.connection_test_ok,
                    checklist=tuple(
                        ChecklistView(step.label, step.done, step.hint)
                        for step in setup_checklist(channel)
                    ),
                )
            )
        return tuple(
            BankAccountView(
                id=a.id,
                name=a.name,
                bank_name=a.bank_name,
                iban=a.iban,
                bic=a.bic,
                currency=a.currency,
                account_type=a.account_type,
                type_label=label(ACCOUNT_TYPE_LABELS, a.account_type),
                channels=tuple(by_account.get(a.id, ())),
            )
            for a in accounts
        )


class ChannelOption(NamedTuple):
    id: int
    label: str  # "LinkPay — Merchant EUR (EUR)"
    currency: str


def channel_options(*, active_only: bool = False) -> tuple[ChannelOption, ...]:
    """Channels for pickers, in the order they were added."""
    conditions = [PaymentChannel.active == True] if active_only else []  # noqa: E712
    with read_session() as session:
        rows = session.execute(
            select(
                PaymentChannel.id,
                PaymentChannel.name,
                BankAccount.name.label("account"),
                PaymentChannel.currency,
            )
            .join(BankAccount, BankAccount.id == PaymentChannel.bank_account_id)
            .where(*conditions)
            .order_by(PaymentChannel.id)
        ).all()
    return tuple(
        ChannelOption(id=r.id, label=f"{r.name} — {r.account} ({r.currency})", currency=r.currency)
        for r in rows
    )
