"""Settings → Company: what invoices, e-mails and the payment page say about the company."""

import streamlit as st

from dashboard import i18n, streamlit_words, ui
from dashboard.i18n import LANGUAGE_NAMES, t
from shared.company import (
    CompanyInput,
    company_logo,
    logo_mime_type,
    save_company,
    timezone_choices,
)
from shared.db import read_session
from shared.errors import ValidationError
from shared.money import SUPPORTED_CURRENCIES
from shared.vies import ViesOutcome, check_in_vies

FORM = "company_form"

user = ui.require("view")
st.title(t("Company"))
current = ui.company()

ui.show_flash()
if not current.name:
    st.info(t("Fill in the company details — invoices and the payment page show them."))

with read_session() as session:
    logo = company_logo(session)
if logo:
    st.image(logo, caption=t("Current logo"), width=160)

if not user.can("setup"):
    st.caption(t("Only finance and admin users change the company details."))
    st.markdown(
        f"**{current.name or '—'}**  \n"
        + t(
            "Registration number {registration_number} · VAT number {vat_number}",
            registration_number=current.registration_number or "—",
            vat_number=current.vat_number or "—",
        )
        + f"  \n{current.address or ''}  \n{current.email or ''}  \n"
        + t(
            "Time zone {timezone} · Default currency {currency}",
            timezone=current.timezone,
            currency=current.default_currency,
        )
    )
    st.stop()
# Outside the form, so a chosen file is checked and previewed before Save; a new key
# after each save empties the uploader once its file is stored.
logo_nonce = st.session_state.get("co_logo_nonce", 0)
upload = streamlit_words.file_uploader(
    t("Logo (PNG or JPEG, at most 1 MB)"),
    type=["png", "jpg", "jpeg"],
    key=f"co_logo_{logo_nonce}",
    max_upload_size=1,
)
logo_problem = ""
if upload is not None:
    try:
        logo_mime_type(upload.getvalue())
    except ValidationError as error:
        logo_problem = i18n.error_text(error)
        st.error(logo_problem, icon=":material/error:")
    else:
        st.image(upload.getvalue(), caption=t("New logo (saved with Save)"), width=160)
remove = st.checkbox(t("Remove the logo"), key="co_logo_remove", disabled=not current.has_logo)

with st.form(FORM):
    name = st.text_input(t("Name"), value=current.name, key="co_name")
    ui.field_error(FORM, "name")
    left, right = st.columns(2)
    registration = left.text_input(
        t("Registration number"),
        value=current.registration_number,
        key="co_reg",
    )
    ui.field_error(FORM, "registration_number")
    vat = right.text_input(
        t("VAT number"),
        value=current.vat_number,
        key="co_vat",
        help=t("With its country code, e.g. LV40003009497."),
    )
    ui.field_error(FORM, "vat_number")
    address = st.text_area(t("Legal address"), value=current.address, key="co_address")
    ui.field_error(FORM, "address")
    email = st.text_input(t("E-mail"), value=current.email, key="co_email")
    ui.field_error(FORM, "email")
    zones = timezone_choices()
    left, right = st.columns(2)
    timezone = left.selectbox(
        t("Time zone"),
        zones,
        index=zones.index(current.timezone) if current.timezone in zones else 0,
        key="co_tz",
    )
    currencies = list(SUPPORTED_CURRENCIES)
    currency = right.selectbox(
        t("Default currency"),
        currencies,
        index=currencies.index(current.default_currency),
        key="co_currency",
    )
    words = st.checkbox(
        t("Print the amount in words on invoices and credit notes"),
        value=current.amount_in_words,
        key="co_words",
        help=t("Euro amounts only: “trīs simti deviņpadsmit eiro, 58 centi”."),
    )
    languages = list(LANGUAGE_NAMES)
    ui_language = st.selectbox(
        t("Dashboard language"),
        languages,
        index=languages.index(current.ui_language),
        format_func=LANGUAGE_NAMES.__getitem__,
        key="co_language",
        help=t(
            "The language of users who have not picked their own in the sidebar, "
            "and of the login page."
        ),
    )
    ui.form_errors(FORM, ("name", "registration_number", "vat_number", "address", "email"))
    submitted = st.form_submit_button(t("Save"), type="primary", key="co_save")


def after_save(_company: object) -> None:
    """Empties the logo uploader, and shows the rest of this run in the company's language
    when it just changed and the user has none of their own."""
    st.session_state.update(co_logo_nonce=logo_nonce + 1)
    ui.use_language(user)


if submitted and not logo_problem:
    ui.page_action(
        lambda session: save_company(
            session,
            actor=user.username,
            data=CompanyInput(
                name=name,
                registration_number=registration,
                vat_number=vat,
                address=address,
                email=email,
                timezone=timezone,
                default_currency=currency,
                amount_in_words=words,
                ui_language=ui_language,
            ),
            logo=upload.getvalue() if upload is not None else None,
            remove_logo=remove,
        ),
        permission="setup",
        action="company.update",
        form=FORM,
        then=after_save,
        # Worded after ``after_save``, in the language it set.
        success=lambda _: t("Company details saved."),
    )

if st.button(
    t("Check in VIES"),
    key="co_vies",
    disabled=not current.vat_number,
    help=t("Asks the EU VIES service about the saved VAT number; never stops a save."),
):
    answer = check_in_vies(current.vat_number)
    shown = {ViesOutcome.VALID: st.success, ViesOutcome.INVALID: st.warning}
    shown.get(answer.outcome, st.info)(t(answer.template, **answer.values))
