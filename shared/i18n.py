"""Customer-facing words in Latvian and English: e-mails, the public invoice page, the PDF.

What a customer reads is translated here, in the customer's language
(``Customer.language``), English for any other code. The finance team's own screens have
their catalogue in dashboard/locale (dashboard/i18n.py), in each user's language.
"""

from collections.abc import Callable
from datetime import date

from shared.states import OVERDUE, InvoiceStatus

LANGUAGES = ("lv", "en")
DEFAULT_LANGUAGE = "en"

PAYMENT_BANKS = ("Swedbank", "SEB", "LHV", "Citadele", "Luminor")

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "invoice": "Invoice",
        "subject_invoice": "Invoice {number} from {company}",
        "subject_reminder": "Reminder: invoice {number} from {company} is not paid yet",
        "greeting": "Hello,",
        "intro_invoice": "{company} has sent you invoice {number}.",
        "intro_reminder": (
            "This is a friendly reminder that invoice {number} from {company} was due on "
            "{due_date} and has not been paid yet."
        ),
        "intro_paid": "Invoice {number} has been paid in full. Thank you!",
        "invoice_number": "Invoice number",
        "issue_date": "Issue date",
        "due_date": "Due date",
        "amount_due": "Amount due",
        "pay_online": "Pay online",
        "pay_link_fallback": "If the button does not work, open this link:",
        "payment_methods": "Payment methods",
        "methods_cards": "Cards: Visa, Mastercard",
        "methods_wallets": "Apple Pay, Google Pay",
        "methods_banks": "Bank links: {banks}",
        "secure_note": "The payment is processed securely by EveryPay for {company}.",
        "view_online": "View the invoice online",
        "pdf_attached": "The invoice is attached as a PDF.",
        "questions": "Questions? Reply to this e-mail.",
        "seller": "Seller",
        "buyer": "Buyer",
        "reg_no": "Reg. No.",
        "vat_no": "VAT No.",
        "description": "Description",
        "quantity": "Qty",
        "unit_price": "Unit price",
        "vat_percent": "VAT %",
        "net": "Net",
        "vat_breakdown": "VAT breakdown",
        "vat_rate": "VAT rate",
        "taxable": "Taxable amount",
        "vat_category_Z": "zero-rated",
        "vat_category_E": "exempt",
        "vat_category_AE": "reverse charge",
        "vat_category_K": "intra-EU supply",
        "vat_category_G": "export",
        "vat_note_E": "Exempt from VAT: {reason}",
        "vat_note_AE": "Reverse charge",
        "vat_note_K": (
            "Intra-community supply of goods, exempt from VAT "
            "(Article 138 of Directive 2006/112/EC)"
        ),
        "vat_note_G": "Export of goods, exempt from VAT (Article 146 of Directive 2006/112/EC)",
        "vat": "VAT",
        "vat_eur_row": "VAT {label} in EUR: {amount}",
        "vat_eur_total": "VAT in EUR: {amount} (rate 1 EUR = {rate} {currency})",
        "subtotal": "Total without VAT",
        "total": "Total",
        "paid_so_far": "Paid",
        "status": "Status",
        "notes": "Notes",
        # The customer statement (shared.statements).
        "statement": "Statement of account",
        "statement_period": "for {date_from} – {date_to}",
        "subject_statement": "Statement of account from {company}, {date_from} – {date_to}",
        "intro_statement": (
            "{company} sends you the statement of your account for {date_from} – {date_to}. "
            "Please check it and confirm the closing balance."
        ),
        "statement_attached": (
            "The statement is attached as a PDF: please sign it and send a copy back."
        ),
        "statement_date": "Date",
        "statement_document": "Document",
        "statement_debit": "Debit",
        "statement_credit": "Credit",
        "statement_balance": "Balance",
        "statement_currency": "Currency: {currency}",
        "statement_opening": "Opening balance on {day}",
        "statement_turnover": "Turnover in the period",
        "statement_closing": "Closing balance on {day}",
        "statement_no_movements": "No invoices or payments in this period.",
        "statement_owed_to_us": "According to our records, on {day} you owe {company} {amount}.",
        "statement_owed_to_you": (
            "According to our records, on {day} {company} owes you {amount} (your credit)."
        ),
        "statement_nothing_owed": (
            "According to our records, on {day} there is no balance between you and {company}."
        ),
        "statement_confirm_request": (
            "Please check this statement and confirm the balance by signing it and returning "
            "a copy within 10 days. If we receive no reply by then, we will consider the "
            "balance confirmed."
        ),
        "statement_agree": "☐ We confirm the balance above.",
        "statement_disagree": "☐ We do not agree. Our balance: ______________",
        "statement_signature": "Signature",
        "statement_signer": "Name, position",
        "statement_sign_date": "Date",
        "statement_prepared": "Prepared on {day}",
        "line_invoice": "Invoice",
        "line_payment": "Payment",
        "line_linkpay": "Payment online (LinkPay)",
        "line_bank_transfer": "Payment by bank transfer",
        "line_bank_statement": "Payment by bank transfer",
        "line_cash": "Payment in cash",
        "line_set_off": "Set-off",
        "line_customer_credit": "Credit from an earlier payment applied",
        "line_credit_moved": "Credit moved to another invoice",
        "line_credit_note": "Credit note",
        "line_money_back": "Money paid back",
        "line_refund_back": "Refund",
        "line_chargeback_back": "Chargeback (payment disputed)",
        "line_reversal": "Payment reversed",
        "status_draft": "Draft",
        "status_unpaid": "Unpaid",
        "status_overdue": "Overdue",
        "status_partially_paid": "Partly paid",
        "status_paid": "Paid",
        "status_cancelled": "Cancelled",
        "paid_notice": "This invoice has been paid. Thank you!",
        "cancelled_notice": "This invoice has been cancelled. Nothing is to be paid.",
        "partial_notice": "Part of this invoice has been paid; the amount due is what remains.",
        "no_online_payment": "Online payment is not available for this invoice.",
        "download_pdf": "Download PDF",
        "pay_link_label": "Pay online:",
        "scan_to_pay": "Scan to pay",
        "page_title": "Invoice {number} — {company}",
        "checking_title": "We are checking your payment",
        "checking_text": (
            "Thank you. We are confirming the payment with EveryPay; this page updates by "
            "itself, and the invoice shows the result within a few minutes."
        ),
        "payment_received_title": "Payment received",
        "payment_received_text": "Thank you, the payment has been received.",
        "payment_failed_title": "The payment did not go through",
        "payment_failed_text": "No money was taken. You can try again from the invoice.",
        "return_unreadable": (
            "If you completed the payment, there is no need to pay again: it reaches us "
            "from EveryPay directly."
        ),
        "pay_unavailable": (
            "Online payment is not available at the moment. Please try again later or "
            "contact {company}."
        ),
        "back_to_invoice": "Back to the invoice",
        "credited": "Credited",
        "returned": "Paid back to you",
        "credit_balance": "Your credit",
        "status_credited": "Credited",
        "credited_notice": "This invoice has been credited in full. Nothing is to be paid.",
        "held_notice": (
            "Part of the payment for this invoice was returned and we are looking into it. "
            "Please do not pay it again now: contact us{contact}."
        ),
        "credit_note": "Credit note",
        "credit_notes": "Credit notes",
        "credit_note_number": "Credit note number",
        "credits_invoice": "Credits invoice",
        "invoice_date": "Invoice date",
        "reason": "Reason",
        "credit_total": "Total credited",
        "subject_credit_note": "Credit note {number} for invoice {invoice} from {company}",
        "intro_credit_note": (
            "{company} has issued credit note {number} for invoice {invoice}: "
            "{amount} is no longer to be paid."
        ),
        "credit_note_attached": "The credit note is attached as a PDF.",
        "invoice_open_after": "Invoice {invoice} now",
        "line_refund": "Refund of payment {reference}",
        "line_chargeback": "Chargeback of payment {reference}",
        "line_remainder": "Remaining amount of invoice {number}",
        "credit_page_title": "Credit note {number} — {company}",
        "payment_reference": "Payment reference",
        "bank_transfer": "Bank transfer",
        "bank_transfer_details": (
            "Pay by bank transfer to {company}, IBAN {iban}{bank}{bic}, with the payment "
            "reference {reference}."
        ),
        "scan_in_bank_app": "Scan in your banking app",
        "supply_date": "Supply date",
        "payment_terms": "Payment terms",
        "terms_day": "{days} day",
        "terms_days": "{days} days",
        "terms_on_issue": "on the issue date",
        "amount_in_words": "Amount in words",
        "electronic_invoice": "Prepared electronically and valid without a signature.",
        "electronic_credit_note": "Prepared electronically and valid without a signature.",
    },
    "lv": {
        "invoice": "Rēķins",
        "subject_invoice": "Rēķins {number} no {company}",
        "subject_reminder": "Atgādinājums: rēķins {number} no {company} vēl nav apmaksāts",
        "greeting": "Labdien!",
        "intro_invoice": "{company} nosūta Jums rēķinu {number}.",
        "intro_reminder": (
            "Atgādinām, ka rēķina {number} no {company} apmaksas termiņš bija {due_date}, "
            "bet tas vēl nav apmaksāts."
        ),
        "intro_paid": "Rēķins {number} ir pilnībā apmaksāts. Paldies!",
        "invoice_number": "Rēķina numurs",
        "issue_date": "Izrakstīšanas datums",
        "due_date": "Apmaksas termiņš",
        "amount_due": "Summa apmaksai",
        "pay_online": "Apmaksāt tiešsaistē",
        "pay_link_fallback": "Ja poga nedarbojas, atveriet šo saiti:",
        "payment_methods": "Pieejamie maksājumu veidi",
        "methods_cards": "Kartes: Visa, Mastercard",
        "methods_wallets": "Apple Pay, Google Pay",
        "methods_banks": "Internetbankas: {banks}",
        "secure_note": "Maksājumu droši apstrādā EveryPay uzņēmuma {company} vārdā.",
        "view_online": "Skatīt rēķinu tiešsaistē",
        "pdf_attached": "Rēķins pievienots PDF formātā.",
        "questions": "Jautājumi? Atbildiet uz šo e-pastu.",
        "seller": "Pārdevējs",
        "buyer": "Pircējs",
        "reg_no": "Reģ. Nr.",
        "vat_no": "PVN Nr.",
        "description": "Apraksts",
        "quantity": "Daudz.",
        "unit_price": "Cena",
        "vat_percent": "PVN %",
        "net": "Summa",
        "vat_breakdown": "PVN sadalījums",
        "vat_rate": "PVN likme",
        "taxable": "Apliekamā summa",
        "vat_category_Z": "0 % likme",
        "vat_category_E": "atbrīvots",
        "vat_category_AE": "apgrieztā maksāšana",
        "vat_category_K": "piegāde ES",
        "vat_category_G": "eksports",
        "vat_note_E": "Atbrīvots no PVN: {reason}",
        "vat_note_AE": "Nodokļa apgrieztā maksāšana",
        "vat_note_K": (
            "Preču piegāde Eiropas Savienības iekšienē, PVN 0 % (Direktīvas 2006/112/EK 138. pants)"
        ),
        "vat_note_G": "Preču eksports, PVN 0 % (Direktīvas 2006/112/EK 146. pants)",
        "vat": "PVN",
        "vat_eur_row": "PVN {label} EUR: {amount}",
        "vat_eur_total": "PVN EUR: {amount} (kurss 1 EUR = {rate} {currency})",
        "subtotal": "Summa bez PVN",
        "total": "Kopā",
        "paid_so_far": "Samaksāts",
        "status": "Statuss",
        "notes": "Piezīmes",
        "statement": "Salīdzināšanās akts",
        "statement_period": "par periodu no {date_from} līdz {date_to}",
        "subject_statement": "Salīdzināšanās akts no {company} par {date_from}–{date_to}",
        "intro_statement": (
            "{company} nosūta Jums savstarpējo norēķinu salīdzināšanās aktu par periodu no "
            "{date_from} līdz {date_to}. Lūdzam to pārbaudīt un apstiprināt beigu atlikumu."
        ),
        "statement_attached": (
            "Akts pievienots PDF formātā: lūdzam to parakstīt un nosūtīt vienu eksemplāru atpakaļ."
        ),
        "statement_date": "Datums",
        "statement_document": "Dokuments",
        "statement_debit": "Debets",
        "statement_credit": "Kredīts",
        "statement_balance": "Saldo",
        "statement_currency": "Valūta: {currency}",
        "statement_opening": "Sākuma atlikums uz {day}",
        "statement_turnover": "Apgrozījums periodā",
        "statement_closing": "Beigu atlikums uz {day}",
        "statement_no_movements": "Šajā periodā nav rēķinu un maksājumu.",
        "statement_owed_to_us": (
            "Saskaņā ar mūsu grāmatvedības datiem uz {day} Jūsu parāds uzņēmumam {company} "
            "ir {amount}."
        ),
        "statement_owed_to_you": (
            "Saskaņā ar mūsu grāmatvedības datiem uz {day} uzņēmuma {company} parāds Jums "
            "ir {amount} (Jūsu priekšapmaksa)."
        ),
        "statement_nothing_owed": (
            "Saskaņā ar mūsu grāmatvedības datiem uz {day} savstarpējo norēķinu atlikuma ar "
            "uzņēmumu {company} nav."
        ),
        "statement_confirm_request": (
            "Lūdzam pārbaudīt šo aktu un apstiprināt atlikumu, parakstot to un nosūtot vienu "
            "eksemplāru atpakaļ 10 dienu laikā. Ja atbilde šajā laikā netiks saņemta, "
            "atlikums tiks uzskatīts par saskaņotu."
        ),
        "statement_agree": "☐ Apstiprinām norādīto atlikumu.",
        "statement_disagree": "☐ Nepiekrītam. Mūsu atlikums: ______________",
        "statement_signature": "Paraksts",
        "statement_signer": "Vārds, uzvārds, amats",
        "statement_sign_date": "Datums",
        "statement_prepared": "Sagatavots {day}",
        "line_invoice": "Rēķins",
        "line_payment": "Maksājums",
        "line_linkpay": "Maksājums tiešsaistē (LinkPay)",
        "line_bank_transfer": "Maksājums ar pārskaitījumu",
        "line_bank_statement": "Maksājums ar pārskaitījumu",
        "line_cash": "Maksājums skaidrā naudā",
        "line_set_off": "Savstarpējais ieskaits",
        "line_customer_credit": "Izmantota iepriekšējā maksājuma pārmaksa",
        "line_credit_moved": "Pārmaksa pārcelta uz citu rēķinu",
        "line_credit_note": "Kredītrēķins",
        "line_money_back": "Atmaksāta nauda",
        "line_refund_back": "Atmaksa",
        "line_chargeback_back": "Maksājuma apstrīdēšana (chargeback)",
        "line_reversal": "Maksājuma atcelšana",
        "status_draft": "Melnraksts",
        "status_unpaid": "Neapmaksāts",
        "status_overdue": "Kavēts",
        "status_partially_paid": "Daļēji apmaksāts",
        "status_paid": "Apmaksāts",
        "status_cancelled": "Atcelts",
        "paid_notice": "Šis rēķins ir apmaksāts. Paldies!",
        "cancelled_notice": "Šis rēķins ir atcelts. Nekas nav jāmaksā.",
        "partial_notice": "Daļa rēķina jau ir apmaksāta; summa apmaksai ir atlikusī daļa.",
        "no_online_payment": "Šim rēķinam tiešsaistes apmaksa nav pieejama.",
        "download_pdf": "Lejupielādēt PDF",
        "pay_link_label": "Apmaksāt tiešsaistē:",
        "scan_to_pay": "Skenējiet, lai apmaksātu",
        "page_title": "Rēķins {number} — {company}",
        "checking_title": "Mēs pārbaudām jūsu maksājumu",
        "checking_text": (
            "Paldies! Mēs apstiprinām maksājumu ar EveryPay; šī lapa atjaunosies pati, un "
            "rēķinā rezultāts būs redzams dažu minūšu laikā."
        ),
        "payment_received_title": "Maksājums saņemts",
        "payment_received_text": "Paldies, maksājums ir saņemts.",
        "payment_failed_title": "Maksājums netika veikts",
        "payment_failed_text": "Nauda netika noņemta. Varat mēģināt vēlreiz rēķina lapā.",
        "return_unreadable": (
            "Ja maksājumu pabeidzāt, atkārtoti maksāt nav nepieciešams: tas mūs sasniegs "
            "tieši no EveryPay."
        ),
        "pay_unavailable": (
            "Tiešsaistes apmaksa šobrīd nav pieejama. Lūdzu, mēģiniet vēlāk vai sazinieties "
            "ar {company}."
        ),
        "back_to_invoice": "Atpakaļ uz rēķinu",
        "credited": "Kreditēts",
        "returned": "Atmaksāts Jums",
        "credit_balance": "Jūsu kredīts",
        "status_credited": "Kreditēts",
        "credited_notice": "Šis rēķins ir pilnībā kreditēts. Nekas nav jāmaksā.",
        "held_notice": (
            "Daļa šī rēķina maksājuma tika atgriezta, un mēs to pārbaudām. Lūdzu, "
            "pagaidām nemaksājiet to atkārtoti: sazinieties ar mums{contact}."
        ),
        "credit_note": "Kredītrēķins",
        "credit_notes": "Kredītrēķini",
        "credit_note_number": "Kredītrēķina numurs",
        "credits_invoice": "Kreditē rēķinu",
        "invoice_date": "Rēķina datums",
        "reason": "Pamatojums",
        "credit_total": "Kopā kreditēts",
        "subject_credit_note": "Kredītrēķins {number} rēķinam {invoice} no {company}",
        "intro_credit_note": (
            "{company} ir izrakstījis kredītrēķinu {number} rēķinam {invoice}: "
            "{amount} vairs nav jāmaksā."
        ),
        "credit_note_attached": "Kredītrēķins pievienots PDF formātā.",
        "invoice_open_after": "Rēķins {invoice} tagad",
        "line_refund": "Atmaksāts maksājums {reference}",
        "line_chargeback": "Apstrīdēts maksājums {reference}",
        "line_remainder": "Rēķina {number} atlikusī summa",
        "credit_page_title": "Kredītrēķins {number} — {company}",
        "payment_reference": "Maksājuma references numurs",
        "bank_transfer": "Bankas pārskaitījums",
        "bank_transfer_details": (
            "Apmaksājiet ar pārskaitījumu saņēmējam {company}, IBAN {iban}{bank}{bic}, norādot "
            "maksājuma references numuru {reference}."
        ),
        "scan_in_bank_app": "Skenējiet bankas lietotnē",
        "supply_date": "Piegādes datums",
        "payment_terms": "Apmaksas nosacījumi",
        "terms_day": "{days} diena",
        "terms_days": "{days} dienas",
        "terms_on_issue": "izrakstīšanas dienā",
        "amount_in_words": "Summa vārdiem",
        "electronic_invoice": "Rēķins sagatavots elektroniski un derīgs bez paraksta.",
        "electronic_credit_note": "Kredītrēķins sagatavots elektroniski un derīgs bez paraksta.",
    },
}

_STATUS_KEYS = {
    InvoiceStatus.DRAFT: "status_draft",
    InvoiceStatus.ISSUED: "status_unpaid",
    InvoiceStatus.SENT: "status_unpaid",
    InvoiceStatus.PARTIALLY_PAID: "status_partially_paid",
    InvoiceStatus.PAID: "status_paid",
    InvoiceStatus.CREDITED: "status_credited",
    InvoiceStatus.CANCELLED: "status_cancelled",
    OVERDUE: "status_overdue",
}

_EN_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def language_for(code: str | None) -> str:
    code = (code or "").strip().lower()
    return code if code in LANGUAGES else DEFAULT_LANGUAGE


def text(language: str, key: str, **values: object) -> str:
    template = TEXTS[language_for(language)][key]
    return template.format(**values) if values else template


def translator(language: str) -> Callable[..., str]:
    """``t("due_date")`` bound to one language, as the templates use it."""
    return lambda key, **values: text(language, key, **values)


def status_label(language: str, status: str) -> str:
    return text(language, _STATUS_KEYS.get(status, "status_unpaid"))


def format_date(value: date | None, language: str) -> str:
    """Latvian invoices write 31.01.2026; English readers get 31 January 2026."""
    if value is None:
        return ""
    if language_for(language) == "lv":
        return value.strftime("%d.%m.%Y")
    return f"{value.day} {_EN_MONTHS[value.month - 1]} {value.year}"
