"""The draft editor used by Invoices (new) and Invoice detail (edit a draft).

Quantities and prices are typed as text and parsed exactly by the same functions that save
the invoice, so the live totals are the totals that will be stored. VAT is chosen from the
categories and rates the law allows (``shared.vat``), never typed.
"""

from collections.abc import Callable
from datetime import date
from decimal import Decimal

import streamlit as st
from sqlmodel import Session

from dashboard import data, ui
from dashboard.i18n import date_input_format, error_text, message_text, t
from shared.errors import ValidationError
from shared.invoicing import (
    DraftInput,
    InvoiceLinesError,
    LineError,
    LineInput,
    build_lines,
    create_draft,
    update_draft,
)
from shared.money import SUPPORTED_CURRENCIES, from_minor
from shared.numbering import INVOICE
from shared.text import search_text
from shared.vat import (
    CHOICES_BY_KEY,
    DEFAULT_CHOICE,
    EXEMPTION_CODES,
    VAT_CHOICES,
    VatCategory,
    VatLine,
    choice_key,
    vat_groups,
)
from shared.views.bank_accounts import ChannelOption
from shared.views.invoice_detail import InvoiceDetail, draft_lines

LINE_FIELDS = ("desc", "qty", "unit", "price", "vat")
HEADER_FIELDS = (
    "customer_id",
    "channel_id",
    "currency",
    "eur_exchange_rate",
    "due_date",
    "series",
)


def _rows_key(key: str) -> str:
    return f"{key}_rows"


def _init_rows(key: str, existing: InvoiceDetail | None) -> list[int]:
    """Row ids, not positions, name the widgets: removing a line keeps the others' text."""
    rows_key = _rows_key(key)
    if rows_key not in st.session_state:
        lines = draft_lines(existing.id) if existing else ()
        st.session_state[rows_key] = list(range(max(len(lines), 1)))
        for row, line in enumerate(lines):
            st.session_state[f"{key}_desc_{row}"] = line.description
            st.session_state[f"{key}_qty_{row}"] = line.quantity
            st.session_state[f"{key}_unit_{row}"] = line.unit
            st.session_state[f"{key}_price_{row}"] = line.unit_price
            st.session_state[f"{key}_vat_{row}"] = choice_key(
                category=line.vat_category, rate=line.vat_rate
            )
            st.session_state[f"{key}_exreason_{row}"] = line.vat_exemption_reason
            st.session_state[f"{key}_excode_{row}"] = line.vat_exemption_code
    return st.session_state[rows_key]


def reset_editor(key: str) -> None:
    for name in list(st.session_state):
        if name.startswith(f"{key}_"):
            del st.session_state[name]


def _line_input(key: str, row: int) -> LineInput:
    def value(field: str, default: str = "") -> str:
        return st.session_state.get(f"{key}_{field}_{row}", default) or ""

    category, _, rate = value("vat", DEFAULT_CHOICE.key).partition(":")
    exempt = category == VatCategory.EXEMPT
    return LineInput(
        description=value("desc"),
        quantity=value("qty"),
        unit_price=value("price"),
        vat_rate=rate,
        unit=value("unit"),
        vat_category=category,
        vat_exemption=value("exreason") if exempt else "",
        vat_exemption_code=value("excode") if exempt else "",
    )


def _vat_label(choice: str) -> str:
    """A stored rate the list no longer has (an old draft) stays visible, to be changed."""
    known = CHOICES_BY_KEY.get(choice)
    if known:
        return t(known.label)
    return t("{rate} % (not allowed any more)", rate=choice.partition(":")[2])


def _is_blank(line: LineInput) -> bool:
    return not any(v.strip() for v in (line.description, line.quantity, line.unit_price))


def _line_errors(key: str, rows: list[int], currency: str) -> dict[int, list[LineError]]:
    """Errors of the lines typed so far, by row id; blank rows are not errors yet."""
    inputs = [(row, _line_input(key, row)) for row in rows]
    typed = [(row, line) for row, line in inputs if not _is_blank(line)]
    if not typed:
        return {}
    try:
        build_lines([line for _, line in typed], currency=currency)
    except InvoiceLinesError as error:
        by_row: dict[int, list[LineError]] = {}
        for line_error in error.errors:
            by_row.setdefault(typed[line_error.line - 1][0], []).append(line_error)
        return by_row
    return {}


def _lines_editor(key: str, rows: list[int], currency: str) -> None:
    st.markdown(t("**Lines**"))
    errors = _line_errors(key, rows, currency)
    for row in rows:
        desc, qty, unit, price, vat, remove = st.columns(
            [5, 1.3, 1, 1.6, 1.1, 0.6], vertical_alignment="bottom"
        )
        desc.text_input(t("Description"), key=f"{key}_desc_{row}")
        qty.text_input(t("Quantity"), key=f"{key}_qty_{row}", placeholder="1")
        unit.text_input(t("Unit"), key=f"{key}_unit_{row}", placeholder=t("pcs"))
        price.text_input(t("Unit price"), key=f"{key}_price_{row}", placeholder="0.00")
        choice = st.session_state.setdefault(f"{key}_vat_{row}", DEFAULT_CHOICE.key)
        options = [c.key for c in VAT_CHOICES]
        # Labels made now, in the reader's language: a test may call format_func outside a run.
        vat_labels = {
            option: _vat_label(option)
            for option in (options if choice in options else [*options, choice])
        }
        vat.selectbox(
            t("VAT"),
            list(vat_labels),
            format_func=vat_labels.__getitem__,
            key=f"{key}_vat_{row}",
        )
        if remove.button(
            "", key=f"{key}_remove_{row}", icon=":material/delete:", disabled=len(rows) == 1
        ):
            rows.remove(row)
            st.rerun()
        if st.session_state[f"{key}_vat_{row}"] == f"{VatCategory.EXEMPT}:0":
            reason, code = st.columns([5, 2])
            reason.text_input(
                t("Exemption reason"),
                key=f"{key}_exreason_{row}",
                placeholder=t("The article of the VAT law that exempts the supply"),
            )
            code.selectbox(
                t("VATEX code"),
                ["", *EXEMPTION_CODES],
                format_func={"": t("None"), **{c: c for c in EXEMPTION_CODES}}.__getitem__,
                key=f"{key}_excode_{row}",
            )
        for line_error in errors.get(row, []):
            st.error(message_text(line_error.template, line_error.values), icon=":material/error:")
    if st.button(t("Add line"), key=f"{key}_add_line", icon=":material/add:"):
        rows.append(max(rows) + 1)
        st.rerun()


def _live_totals(key: str, rows: list[int], currency: str) -> None:
    typed = [line for line in (_line_input(key, row) for row in rows) if not _is_blank(line)]
    try:
        built = build_lines(typed, currency=currency) if typed else []
    except InvoiceLinesError:
        st.caption(t("Totals appear when every line is valid."))
        return
    net = sum(line.net_minor for line in built)
    vat = sum(line.vat_minor for line in built)
    groups = vat_groups(
        [VatLine(line.vat_category, Decimal(line.vat_rate), line.net_minor) for line in built],
        currency=currency,
    )
    parts = [
        t("Net **{amount}**", amount=ui.money(from_minor(net, currency), currency)),
        *(
            t(
                "VAT {rate}% ({category}) **{amount}**",
                rate=group.rate,
                category=group.category,
                amount=ui.money(from_minor(group.vat_minor, currency), currency),
            )
            for group in groups
        ),
        t("Total **{amount}**", amount=ui.money(from_minor(net + vat, currency), currency)),
    ]
    st.markdown(" · ".join(parts), help=t("Computed exactly as the saved invoice will be."))


def _customer_picker(key: str, existing: InvoiceDetail | None) -> int | None:
    search = st.text_input(t("Find customer"), key=f"{key}_customer_search", placeholder=t("Name"))
    options = dict(data.customer_options(search_text(search)))
    if existing and existing.customer_id not in options:
        options[existing.customer_id] = existing.customer_name
    if not options:
        st.warning(t("No customers found — create one under Invoicing → Customers."))
        return None
    ids = list(options)
    return st.selectbox(
        t("Customer"),
        ids,
        index=ids.index(existing.customer_id) if existing else 0,
        format_func=options.get,
        key=f"{key}_customer",
    )


def _series_picker(key: str, existing: InvoiceDetail | None) -> str | None:
    """The invoice series to number the draft in, offered when there is a choice (or the
    draft's own series was deactivated); None keeps the draft's, or takes the default."""
    choices = list(data.series_choices(document_type=INVOICE))
    current = existing.series if existing else (choices[0] if choices else None)
    if current is None or (len(choices) < 2 and current in choices):
        return None
    if current not in choices:
        choices.insert(0, current)
    return st.selectbox(
        t("Number series"),
        choices,
        index=choices.index(current),
        key=f"{key}_series",
        help=t("The default series comes first; Settings → Numbering adds series."),
    )


def invoice_editor(
    *,
    key: str,
    username: str,
    then: Callable[[int], object],
    success: str | None = None,
    existing: InvoiceDetail | None = None,
) -> None:
    """Draws the editor; once the draft is saved, calls ``then`` with its id and shows
    ``success`` (see ``ui.page_action``)."""
    form = f"{key}_form"
    rows = _init_rows(key, existing)
    customer_id = _customer_picker(key, existing)
    ui.field_error(form, "customer_id")
    channels = {c.id: c for c in data.channel_options(active_only=True)}
    if existing and existing.channel_id and existing.channel_id not in channels:
        channels[existing.channel_id] = ChannelOption(
            existing.channel_id, existing.channel_name, ""
        )
    channel_labels = {None: t("No online payment"), **{i: c.label for i, c in channels.items()}}
    channel_ids = list(channel_labels)
    left, right = st.columns(2)
    channel_id = left.selectbox(
        t("Online payment channel"),
        channel_ids,
        index=channel_ids.index(existing.channel_id) if existing else min(1, len(channels)),
        format_func=channel_labels.__getitem__,
        key=f"{key}_channel",
    )
    ui.field_error(form, "channel_id")
    channel_currency = channels[channel_id].currency if channel_id is not None else ""
    currencies = list(SUPPORTED_CURRENCIES)
    default_currency = existing.currency if existing else ui.company().default_currency
    currency = right.selectbox(
        t("Currency"),
        currencies,
        index=currencies.index(channel_currency or default_currency),
        key=f"{key}_currency",
        disabled=bool(channel_currency),
        help=t("Set by the payment channel: EveryPay takes one currency per link."),
    )
    currency = channel_currency or currency
    ui.field_error(form, "currency")
    eur_exchange_rate = ""
    if currency != "EUR":
        eur_exchange_rate = st.text_input(
            t("Exchange rate (1 EUR = … {currency})", currency=currency),
            value=existing.eur_exchange_rate if existing else "",
            key=f"{key}_eur_rate",
            help=t(
                "The European Central Bank's rate for the supply date (or the issue date),"
                " up to 6 decimals. Needed to issue: the documents state the VAT in EUR too."
            ),
        )
        ui.field_error(form, "eur_exchange_rate")
    series = _series_picker(key, existing)
    ui.field_error(form, "series")
    left, middle, right = st.columns(3)
    issue_date: date | None = left.date_input(
        t("Issue date"),
        value=existing.issue_date if existing else None,
        key=f"{key}_issue_date",
        help=t("Empty: the day it is issued."),
        format=date_input_format(),
    )
    supply_date: date | None = middle.date_input(
        t("Supply date"),
        value=existing.supply_date if existing else None,
        key=f"{key}_supply_date",
        help=t("When the goods or services were supplied. Empty: the issue date."),
        format=date_input_format(),
    )
    due_date: date | None = right.date_input(
        t("Due date"),
        value=existing.due_date if existing else None,
        key=f"{key}_due_date",
        help=t("Empty: the customer's payment terms after the issue date."),
        format=date_input_format(),
    )
    ui.field_error(form, "due_date")
    _lines_editor(key, rows, currency)
    _live_totals(key, rows, currency)
    notes = st.text_area(t("Notes"), value=existing.notes if existing else "", key=f"{key}_notes")
    reminders = st.checkbox(
        t("Send payment reminders"),
        value=existing.reminders_enabled if existing else False,
        key=f"{key}_reminders",
    )
    ui.form_errors(form, HEADER_FIELDS)
    if not st.button(t("Save draft"), type="primary", key=f"{key}_save"):
        return

    def save(session: Session) -> int:
        if customer_id is None:
            raise ValidationError("Choose a customer.", field="customer_id")
        values = {
            "customer_id": customer_id,
            "lines": [_line_input(key, row) for row in rows],
            "currency": currency,
            "eur_exchange_rate": eur_exchange_rate,
            "channel_id": channel_id,
            "issue_date": issue_date,
            "supply_date": supply_date,
            "due_date": due_date,
            "notes": notes,
            "reminders_enabled": reminders,
        }
        if existing:
            invoice = update_draft(
                session,
                actor=username,
                invoice_id=existing.id,
                data=DraftInput(**values),
                series=series,
            )
        else:
            invoice = create_draft(
                session, actor=username, data=DraftInput(**values), series=series
            )
        return invoice.id

    def show_errors(error: ValidationError) -> None:
        if isinstance(error, InvoiceLinesError):
            errors = {
                f"line{e.line}_{e.field}": t(
                    "Line {line}: {message}",
                    line=e.line,
                    message=message_text(e.template, e.values),
                )
                for e in error.errors
            }
        else:
            errors = {error.field or "form": error_text(error)}
        ui.set_errors(form, errors)
        st.rerun()

    ui.page_action(
        save,
        permission="edit",
        action="invoice.save_draft",
        form=form,
        on_error=show_errors,
        then=then,
        success=success,
    )
