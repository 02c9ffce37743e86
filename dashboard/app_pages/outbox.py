"""Invoicing → Outbox: the mails the demo mail server received, shown as customers see them."""

from zoneinfo import ZoneInfo

import streamlit as st

from dashboard import i18n, ui
from dashboard.i18n import t
from shared.errors import ValidationError
from shared.mail import list_outbox, read_outbox_message
from shared.views.outbox import outbox_table

user = ui.require("view")
st.title(t("Outbox"))
st.caption(
    t(
        "Mails caught by the demo mail server (LINKPAY_DEMO_SMTP, on with `linkpay-desk run`): "
        "nothing here reached a real inbox. Newest first."
    )
)
st.button(t("Refresh"), key="outbox_refresh", icon=":material/refresh:")

entries = list_outbox()
if not entries:
    st.info(t("No mails yet. Send an invoice by e-mail and it shows up here."))
    st.stop()

zone = ZoneInfo(ui.tz())
received = {entry.name: entry.received_at.astimezone(zone) for entry in entries}
table = outbox_table(entries, tz=ui.tz())
ui.show_table(table, key="outbox_table", empty=t("No mails yet."))
ui.export_buttons(
    key="outbox_export",
    columns=table.columns,
    rows=lambda: table.rows,
    total=table.total,
    file_stem="outbox",
    user=user,
)

by_name = {entry.name: entry for entry in entries}
name = st.selectbox(
    t("Open mail"),
    list(by_name),
    format_func=lambda n: f"{received[n]:%H:%M:%S} · {by_name[n].to} · {by_name[n].subject}",
    key="outbox_selected",
)
try:
    message = read_outbox_message(name)
except ValidationError as error:
    st.error(i18n.error_text(error))
    st.stop()

st.subheader(message.subject or t("(no subject)"))
st.markdown(
    "  \n".join(
        [
            t("**From:** {sender}", sender=message.sender),
            t("**To:** {to}", to=message.to),
            *([t("**CC:** {cc}", cc=message.cc)] if message.cc else []),
            t(
                "**Received:** {moment}",
                moment=f"{i18n.datetime_text(received[name])}:{received[name]:%S}",
            ),
        ]
    )
)
for index, attachment in enumerate(message.attachments):
    st.download_button(
        t(
            "{file} ({type}, {size} bytes)",
            file=attachment.filename,
            type=attachment.content_type,
            size=i18n.number_text(len(attachment.content)),
        ),
        data=attachment.content,
        file_name=attachment.filename,
        mime=attachment.content_type,
        key=f"outbox_attachment_{index}",
        on_click="ignore",
        icon=":material/attach_file:",
    )

html_tab, text_tab = st.tabs([t("As the customer sees it"), t("Plain text")])
with html_tab:
    if message.html:
        # Sanitised and without scripts: anyone who can reach the demo server can put a
        # mail here. Invoice mails carry inline styles only, so they look as sent.
        with st.container(border=True):
            st.html(message.html)
    else:
        st.caption(t("This mail has no HTML part."))
with text_tab:
    st.text(message.text or t("(no plain-text part)"))
st.download_button(
    t("Download .eml"),
    data=message.raw,
    file_name=name,
    mime="message/rfc822",
    key="outbox_raw",
    on_click="ignore",
    icon=":material/download:",
)
