"""Money → Bank accounts: accounts, and on a merchant account the LinkPay channel set-up."""

import streamlit as st

from dashboard import i18n, ui
from dashboard.i18n import t, t_context
from shared.bank.payouts import payout_fee_terms, set_payout_fee_terms
from shared.channels import (
    ENVIRONMENT_LABELS,
    REQUIRED_URL_FIELDS,
    URL_CHANGEABLE_FIELDS,
    ChannelInput,
    check_connection,
    create_bank_account,
    rotate_callback_token,
    save_linkpay_channel,
    set_channel_active,
)
from shared.models import AccountType, Environment
from shared.money import SUPPORTED_CURRENCIES
from shared.views.bank_accounts import (
    ACCOUNT_TYPE_LABELS,
    BankAccountView,
    ChannelView,
    bank_accounts,
)

ACCOUNT_FORM = "account_form"
BANKS_NOTE = (
    "LinkPay needs a contract with a bank that offers it: **Swedbank** or **SEB** "
    "(in Estonia also **LHV**). Ask your bank manager, or fill in the registration form on "
    "the bank's site. Until the contract is signed, choose the *Sandbox* environment to "
    "try the whole journey."
)
LINK_HELP = (
    "EveryPay merchant portal → Links → ADD LINK: name the link (e.g. Invoice Payment), "
    "tick URL Changeable on the fields chosen below, then Save. The next page shows the "
    "Link Token."
)
API_HELP = "EveryPay merchant portal → General Settings."
FEE_HELP = (
    "EveryPay's fee per payment from your merchant contract: a percent of each payment "
    "plus a fixed amount. A payout is checked against it, and a payout that keeps more "
    "goes to Exceptions. Without terms, a payout's fee is taken to be whatever the "
    "difference is between the payments and the payout, and never questioned. Leave both "
    "empty to remove the terms."
)
URL_FIELD_LABELS = {
    "transaction_amount": "Amount (transaction_amount)",
    "order_reference": "Order reference",
    "customer_name": "Customer name",
    "customer_email": "Customer e-mail",
    "invoice_number": "Invoice number",
    "reference_number": "Reference number",
    "customer_url": "Return address after paying (customer_url)",
}

user = ui.require("view")
st.title(t("Bank accounts"))


def create_account_form() -> None:
    with st.form(ACCOUNT_FORM):
        name = st.text_input(t("Name"), key="account_name", placeholder=t("e.g. Swedbank EUR"))
        ui.field_error(ACCOUNT_FORM, "name")
        bank = st.text_input(t("Bank"), key="account_bank")
        iban = st.text_input("IBAN", key="account_iban", placeholder="LV80BANK0000435195001")
        ui.field_error(ACCOUNT_FORM, "iban")
        bic = st.text_input(
            "BIC",
            key="account_bic",
            placeholder="HABALV22",
            help=t(
                "The bank's SWIFT/BIC code, 8 or 11 characters. Printed with the IBAN on "
                "invoices and put into their SEPA QR code; optional."
            ),
        )
        ui.field_error(ACCOUNT_FORM, "bic")
        currency = st.selectbox(t("Currency"), SUPPORTED_CURRENCIES, key="account_currency")
        account_type = st.radio(
            t("Type"),
            [AccountType.REGULAR, AccountType.MERCHANT],
            format_func=lambda code: t(ACCOUNT_TYPE_LABELS[code]),
            key="account_type",
            horizontal=True,
            help=t("A Merchant account receives card and bank-link payments through LinkPay."),
        )
        ui.form_errors(ACCOUNT_FORM, ("name", "iban", "bic"))
        submitted = st.form_submit_button(t("Create"), type="primary", key="account_submit")
    if submitted:
        ui.page_action(
            lambda session: (
                create_bank_account(
                    session,
                    actor=user.username,
                    name=name,
                    account_type=account_type,
                    iban=iban,
                    bank_name=bank,
                    currency=currency,
                    bic=bic,
                ).id
            ),
            permission="setup",
            action="bank_account.create",
            form=ACCOUNT_FORM,
            then=lambda account_id: st.session_state.update(
                account_pick=account_id, account_form_open=False
            ),
        )


def channel_form(account: BankAccountView, channel: ChannelView | None) -> None:
    """The LinkPay fields. A new, empty secret widget after each save keeps the typed
    secret out of the page; a blank secret keeps the stored one."""
    prefix = f"ch_{account.id}"
    form = f"{prefix}_form"
    nonce = st.session_state.get(f"{prefix}_nonce", 0)
    st.info(t(BANKS_NOTE))
    link_token = st.text_input(
        "Link Token",
        value=channel.link_token if channel else "",
        key=f"{prefix}_link_token",
        help=t(LINK_HELP),
    )
    st.caption(t(LINK_HELP))
    ui.field_error(form, "link_token")
    api_username = st.text_input(
        "API username",
        value=channel.api_username if channel else "",
        key=f"{prefix}_api_username",
        help=t(API_HELP),
    )
    ui.field_error(form, "api_username")
    api_secret = st.text_input(
        "API secret",
        type="password",
        key=f"{prefix}_api_secret_{nonce}",
        help=t(API_HELP),
        placeholder=t("Leave blank to keep the stored secret") if channel else "",
    )
    st.caption(
        t("API username and API secret: {where}", where=t(API_HELP))
        + (" " + t("Stored secret: {secret}", secret=channel.secret_masked) if channel else "")
    )
    ui.field_error(form, "api_secret")
    environments = list(ENVIRONMENT_LABELS)
    environment = st.selectbox(
        t("Environment"),
        environments,
        index=environments.index(channel.environment) if channel else 0,
        format_func=lambda env: t(ENVIRONMENT_LABELS[env]),
        key=f"{prefix}_environment",
    )
    linkpay_prefix = api_base = ""
    if environment == Environment.CUSTOM:
        linkpay_prefix = st.text_input(
            t("LinkPay prefix"),
            value=channel.linkpay_prefix if channel else "",
            key=f"{prefix}_linkpay_prefix",
            placeholder="https://igw-demo.every-pay.com/lp",
        )
        ui.field_error(form, "linkpay_prefix")
        api_base = st.text_input(
            t("API base"),
            value=channel.api_base if channel else "",
            key=f"{prefix}_api_base",
            placeholder="https://igw-demo.every-pay.com/api/v4",
        )
        ui.field_error(form, "api_base")
    currency = st.selectbox(
        t("Currency"),
        SUPPORTED_CURRENCIES,
        index=SUPPORTED_CURRENCIES.index(channel.currency if channel else account.currency),
        key=f"{prefix}_currency",
        help=t("EveryPay fixes the currency per link: one channel takes one currency."),
    )
    st.markdown(t("**URL-changeable fields** — tick the same ones on the link in the portal."))
    chosen = []
    for field in URL_CHANGEABLE_FIELDS:
        required = field in REQUIRED_URL_FIELDS
        ticked = st.checkbox(
            t(URL_FIELD_LABELS[field]),
            value=required or (field in channel.url_fields if channel else False),
            disabled=required,
            key=f"{prefix}_url_{field}",
        )
        if ticked:
            chosen.append(field)
    ui.form_errors(form, ("link_token", "api_username", "api_secret", "linkpay_prefix", "api_base"))
    if st.button(t_context("channel settings", "Save"), type="primary", key=f"{prefix}_save"):
        ui.page_action(
            lambda session: save_linkpay_channel(
                session,
                actor=user.username,
                bank_account_id=account.id,
                channel_id=channel.id if channel else None,
                data=ChannelInput(
                    link_token=link_token,
                    api_username=api_username,
                    api_secret=api_secret,
                    environment=environment,
                    currency=currency,
                    url_fields=chosen,
                    linkpay_prefix=linkpay_prefix,
                    api_base=api_base,
                ),
            ),
            permission="setup",
            action="channel.save",
            form=form,
            then=lambda _: st.session_state.update(
                {f"{prefix}_nonce": nonce + 1, f"{prefix}_editing": False}
            ),
            success=t("Saved. Copy the Callback URL into the EveryPay portal."),
        )


def channel_panel(account: BankAccountView, channel: ChannelView) -> None:
    st.subheader(channel.name if channel.active else t("{name} (deactivated)", name=channel.name))
    if user.can("setup"):
        st.markdown("**Callback URL**")
        st.code(channel.callback_url, language=None)
        st.caption(
            t(
                "Copy it, open the EveryPay merchant portal → E-Shop settings, paste it into "
                "**Callback Notification URL**, turn on **Additional notifications via "
                "callback** and save. Without that option EveryPay calls only for payments, "
                "never for refunds, voids or chargebacks, and the invoice would not learn "
                "that money went back."
            )
        )
        if channel.old_url_valid_until:
            st.caption(
                t(
                    "The previous Callback URL keeps working until {moment}.",
                    moment=i18n.datetime_text(channel.old_url_valid_until),
                )
            )
    else:
        st.caption(t("The Callback URL is shown to finance and admin users."))
    st.markdown(
        f"{t(channel.environment_label)} · {channel.currency} · "
        f"Link Token `{channel.link_token}` · API username `{channel.api_username}` · "
        f"API secret `{channel.secret_masked}`"
    )
    st.markdown(t("**Set-up checklist**"))
    for step in channel.checklist:
        icon = ":material/check_circle:" if step.done else ":material/radio_button_unchecked:"
        st.markdown(f"{icon} {t(step.label)}" + ("" if step.done else f" — {t(step.hint)}"))
    if channel.connection_message:
        (st.success if channel.connection_ok else st.warning)(
            t(channel.connection_message, **channel.connection_values)
        )
    if not user.can("setup"):
        return
    key = f"ch{channel.id}"
    test, edit, rotate, active = st.columns(4)
    if test.button(t("Test connection"), key=f"{key}_test"):

        def test_connection() -> tuple[bool, str]:
            with st.spinner(t("Asking EveryPay…")):
                return check_connection(actor=user.username, channel_id=channel.id)

        # The outcome is recorded on the channel and shown above after the rerun.
        ui.page_action(
            test_connection,
            permission="setup",
            action="channel.test_connection",
            own_transaction=True,
        )
    if edit.button(t("Change settings"), key=f"{key}_edit"):
        st.session_state[f"ch_{account.id}_editing"] = True
        st.rerun()
    if rotate.button(t("Rotate Callback URL"), key=f"{key}_rotate"):
        st.session_state[f"{key}_confirm_rotate"] = True
    if channel.active:
        if active.button(t("Deactivate channel"), key=f"{key}_deactivate"):
            toggle_channel(channel.id, active=False)
    elif active.button(t("Activate channel"), key=f"{key}_activate"):
        toggle_channel(channel.id, active=True)
    if st.session_state.get(f"{key}_confirm_rotate"):
        st.warning(
            t(
                "A new Callback URL replaces this one. Paste the new URL into the EveryPay "
                "portal; the old one keeps working for a grace period meanwhile."
            )
        )
        yes, no = st.columns(2)
        if yes.button(t("Yes, rotate"), key=f"{key}_rotate_yes", type="primary"):
            ui.page_action(
                lambda session: rotate_callback_token(
                    session, actor=user.username, channel_id=channel.id
                ),
                permission="setup",
                action="channel.rotate_callback_url",
                then=lambda _: st.session_state.update({f"{key}_confirm_rotate": False}),
                success=t("New Callback URL made: paste it into the portal."),
            )
        if no.button(t("Cancel"), key=f"{key}_rotate_no"):
            st.session_state[f"{key}_confirm_rotate"] = False
            st.rerun()
    fee_terms_form(channel)


def fee_terms_form(channel: ChannelView) -> None:
    """EveryPay's fee terms, typed as text and parsed exactly (never through a float)."""
    form = f"fee_{channel.id}"
    terms = payout_fee_terms(channel_id=channel.id)
    st.markdown(t("**EveryPay fee per payment**"))
    st.caption(
        t(
            "Current terms: {percent} % + {fixed} {currency} per payment.",
            percent=terms.percent,
            fixed=terms.fixed,
            currency=terms.currency,
        )
        if terms.percent or terms.fixed
        else t("No fee terms: a payout's fee is taken as whatever the difference is.")
    )
    with st.form(form):
        percent_col, fixed_col = st.columns(2)
        percent = percent_col.text_input(
            t("Fee percent"),
            value=terms.percent,
            key=f"{form}_percent",
            placeholder="1.5",
            help=t(FEE_HELP),
        )
        with percent_col:
            ui.field_error(form, "percent")
        fixed = fixed_col.text_input(
            t("Fixed fee ({currency})", currency=terms.currency),
            value=terms.fixed,
            key=f"{form}_fixed",
            placeholder="0.10",
            help=t(FEE_HELP),
        )
        with fixed_col:
            ui.field_error(form, "fixed")
        ui.form_errors(form, ("percent", "fixed"))
        submitted = st.form_submit_button(t("Save fee terms"), key=f"{form}_save")
    if submitted:
        ui.page_action(
            lambda session: set_payout_fee_terms(
                session,
                actor=user.username,
                channel_id=channel.id,
                percent=percent,
                fixed=fixed,
            ),
            permission="setup",
            action="channel.payout_fee_terms",
            form=form,
            success=t("Fee terms saved."),
        )


def toggle_channel(channel_id: int, *, active: bool) -> None:
    ui.page_action(
        lambda session: set_channel_active(
            session, actor=user.username, channel_id=channel_id, active=active
        ),
        permission="setup",
        action="channel.activate" if active else "channel.deactivate",
    )


def online_payments(account: BankAccountView) -> None:
    editing = st.session_state.get(f"ch_{account.id}_editing", False)
    if not account.channels and not editing:
        st.markdown(t("**LinkPay** — card and bank-link payments through EveryPay."))
        st.info(t(BANKS_NOTE))
        if user.can("setup") and st.button(
            t("Activate LinkPay"), key=f"activate_linkpay_{account.id}", type="primary"
        ):
            st.session_state[f"ch_{account.id}_editing"] = True
            st.rerun()
        return
    channel = account.channels[0] if account.channels else None
    if editing and user.can("setup"):
        st.subheader("LinkPay")
        channel_form(account, channel)
        if channel and st.button(t("Cancel"), key=f"ch_{account.id}_cancel"):
            st.session_state[f"ch_{account.id}_editing"] = False
            st.rerun()
        return
    for each in account.channels:
        channel_panel(account, each)


ui.show_flash()

accounts = bank_accounts(tz=ui.tz())
if user.can("setup"):
    if st.button(t("Create new bank account"), key="create_account", icon=":material/add:"):
        st.session_state["account_form_open"] = True
    if st.session_state.get("account_form_open"):
        create_account_form()

if not accounts:
    st.info(
        t(
            "No bank accounts yet — click **Create new bank account** and choose the type "
            "**Merchant account** to take payments online."
        )
    )
    st.stop()

st.dataframe(
    [
        {
            t("Name"): a.name,
            t("Bank"): a.bank_name,
            "IBAN": a.iban,
            "BIC": a.bic or "—",
            t("Currency"): a.currency,
            t("Type"): t(a.type_label),
            t("Online payments"): ", ".join(c.name for c in a.channels if c.active) or "—",
        }
        for a in accounts
    ],
    hide_index=True,
    width="stretch",
    key="accounts_table",
)

names = {a.id: a.name for a in accounts}
account_id = st.selectbox(t("Bank account"), list(names), format_func=names.get, key="account_pick")
account = next(a for a in accounts if a.id == account_id)

if account.account_type == AccountType.MERCHANT:
    # Keyed, so the open tab survives the reruns of the set-up steps.
    details, online = st.tabs(
        [t("Details"), t("Online payments")],
        default=t("Online payments"),
        key=f"tabs_{account.id}",
    )
    with online:
        online_payments(account)
else:
    (details,) = st.tabs([t("Details")])
with details:
    st.markdown(
        f"**{account.name}** — {t(account.type_label)}  \n"
        + t(
            "Bank: {bank} · IBAN: {iban} · BIC: {bic} · {currency}",
            bank=account.bank_name or "—",
            iban=account.iban or "—",
            bic=account.bic or "—",
            currency=account.currency,
        )
    )
    if account.account_type != AccountType.MERCHANT:
        st.caption(t("Online payments need an account of type Merchant account."))
