"""EN 16931 and Peppol BIS Billing 3.0 business rules over UBL 2.1, each under its official id.

The rules are this project's own implementation of the published Schematron assertions
(the CEN EN 16931 UBL model, syntax and code-list rules, and PEPPOL-EN16931-UBL.sch of
Peppol BIS Billing 3.0) that apply to what LinkPay Desk writes: invoices and credit notes
with lines in VAT categories S, Z, E, AE, K, G and O, a credit transfer, an embedded PDF,
an EUR VAT total for other currencies, and the participant id schemes the Customers page
offers. Document and line allowances or charges are not written by the app, but the totals
rules count them, so documents from elsewhere (the official examples) are judged correctly
too. Left out, because nothing the app writes can break them: rules on elements it never
writes (payee, tax representative, card payments, item attributes, allowances' own VAT
rules BR-x-03/04/06/07, invoice-period codes), the national rules of other sellers'
countries (NO, DK, IT, SE, GR, IS, NL), and UBL-DT rules on attributes it never sets.
Code lists hold the official codes, except the units (BR-CL-23): the ones the app writes
and the everyday ones, so a new unit is reported until it is added from the official list.

Arithmetic follows the Schematron: amounts are exact decimals, and where a rule rounds it
rounds like XPath ``round(x * 100) div 100`` (half towards positive infinity). Where the
published rules allow a tolerance the same tolerance is used: BR-CO-17, BR-S-08 and BR-S-09
accept an amount strictly less than one currency unit away from the computed one, as the
CEN EN16931-UBL-model.sch of the current validation artefacts does (the tolerance the CEN
maintainers kept when asked to remove it); PEPPOL-EN16931-R040/R120 accept 0.02. The other
categories' BR-x-08 are exact, as there. A document passing here is necessary, not
sufficient: the receiving access point validates with the official artefacts.
"""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from enum import StrEnum

from lxml import etree

from shared.einvoice.model import COUNTRY_CODES, EAS_CODES, VATEX_CODES
from shared.einvoice.participants import CHECK_DIGITS
from shared.einvoice.ubl import NS_CAC, NS_CBC, NS_CREDIT_NOTE, NS_INVOICE

NS = {"cac": NS_CAC, "cbc": NS_CBC, "inv": NS_INVOICE, "cn": NS_CREDIT_NOTE}

CUSTOMIZATION_PREFIX = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
PROFILE_PREFIX = "urn:fdc:peppol.eu:2017:poacc:billing:"

# ISO 3166-1 alpha-2 plus 'EL' for Greece, as BR-CO-09 lists them.
VAT_PREFIXES = frozenset(
    "AD AE AF AG AI AL AM AN AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BL BJ BM BN "
    "BO BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CX CY CZ DE DJ DK "
    "DM DO DZ EC EE EG EH EL ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP "
    "GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG "
    "KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML "
    "MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE "
    "PF PG PH PK PL PM PN PR PS PT PW PY QA RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM "
    "SN SO SR ST SV SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ "
    "VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW XI".split()
)
# ISO 4217 as PEPPOL-EN16931-CL007 lists it.
CURRENCIES = frozenset(
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD "
    "BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP "
    "DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HRK HTG HUF IDR ILS "
    "INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD "
    "MAD MDL MGA MKD MMK MNT MOP MRO MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR "
    "PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLL SOS SRD "
    "SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UZS VEF "
    "VND VUV WST XAF XAG XAU XBA XBB XBC XBD XCD XDR XOF XPD XPF XPT XSU XTS XUA XXX YER ZAR "
    "ZMW ZWL".split()
)
MIME_CODES = frozenset(
    {
        "application/pdf",
        "image/png",
        "image/jpeg",
        "text/csv",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.oasis.opendocument.spreadsheet",
    }
)
INVOICE_TYPE_CODES = frozenset(
    "71 80 82 84 102 218 219 331 380 382 383 386 388 393 395 553 575 623 780 817 870 875 876 "
    "877".split()
)
CREDIT_NOTE_TYPE_CODES = frozenset("381 396 81 83 532".split())
AMOUNT_ELEMENTS = (
    "Amount BaseAmount PriceAmount TaxableAmount LineExtensionAmount TaxExclusiveAmount "
    "TaxInclusiveAmount AllowanceTotalAmount ChargeTotalAmount PrepaidAmount "
    "PayableRoundingAmount PayableAmount".split()
)
DATE_ELEMENTS = "IssueDate DueDate TaxPointDate StartDate EndDate ActualDeliveryDate".split()


class Severity(StrEnum):
    FATAL = "fatal"
    WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    rule_id: str
    severity: Severity
    message: str
    location: str  # an XPath to the element the rule failed on


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    message: str
    check: Callable[["Ubl"], Iterable[etree._Element]]


RULES: dict[str, Rule] = {}


def rule(
    rule_id: str, message: str, *, severity: Severity = Severity.FATAL
) -> Callable[[Callable[["Ubl"], Iterable[etree._Element]]], Callable]:
    """Register a check that yields every element where ``rule_id`` is broken."""

    def register(check: Callable[["Ubl"], Iterable[etree._Element]]) -> Callable:
        if rule_id in RULES:
            raise ValueError(f"Rule {rule_id} is registered twice.")
        RULES[rule_id] = Rule(rule_id, severity, message, check)
        return check

    return register


def dec(value: str | etree._Element | None) -> Decimal | None:
    """An xs:decimal, or None when absent or not a number."""
    if isinstance(value, etree._Element):
        value = value.text
    if value is None:
        return None
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def xround(value: Decimal) -> Decimal:
    """XPath ``round(value * 10 * 10) div 100``: to cents, halves towards +infinity."""
    return (value * 100 + Decimal("0.5")).to_integral_value(rounding=ROUND_FLOOR) / 100


def _decimals(element: etree._Element | None) -> int:
    if element is None or element.text is None:
        return 0
    return len(element.text.strip().partition(".")[2])


class Ubl:
    """A parsed UBL Invoice or CreditNote with the lookups the rules share."""

    def __init__(self, root: etree._Element) -> None:
        self.root = root
        self.tree = root.getroottree()
        self.is_credit_note = etree.QName(root).localname == "CreditNote"

    def x(self, path: str, node: etree._Element | None = None, **variables: str) -> list:
        """XPath with the UBL prefixes; values from the document go in as ``$variables``."""
        return (self.root if node is None else node).xpath(path, namespaces=NS, **variables)

    def first(
        self, path: str, node: etree._Element | None = None, **variables: str
    ) -> etree._Element | None:
        found = self.x(path, node, **variables)
        return found[0] if found else None

    def tax_amounts_in(self, currency: str) -> list[etree._Element]:
        return self.x("cac:TaxTotal/cbc:TaxAmount[@currencyID=$currency]", currency=currency)

    def text(self, path: str, node: etree._Element | None = None) -> str:
        element = self.first(path, node)
        return " ".join((element.text or "").split()) if element is not None else ""

    def has(self, path: str, node: etree._Element | None = None) -> bool:
        return bool(self.x(path, node))

    def location(self, element: etree._Element) -> str:
        return self.tree.getpath(element)

    @property
    def currency(self) -> str:
        return self.text("cbc:DocumentCurrencyCode")

    @property
    def tax_currency(self) -> str:
        return self.text("cbc:TaxCurrencyCode")

    @property
    def lines(self) -> list[etree._Element]:
        return self.x("cac:InvoiceLine | cac:CreditNoteLine")

    def quantity(self, line: etree._Element) -> etree._Element | None:
        return self.first("cbc:InvoicedQuantity | cbc:CreditedQuantity", line)

    @property
    def subtotals(self) -> list[etree._Element]:
        return self.x("cac:TaxTotal/cac:TaxSubtotal")

    @property
    def monetary_total(self) -> etree._Element | None:
        return self.first("cac:LegalMonetaryTotal")

    def sum(self, elements: Iterable[etree._Element]) -> Decimal:
        return sum((dec(e) or Decimal(0) for e in elements), Decimal(0))

    def document_allowances(self, charge: bool) -> list[etree._Element]:
        flag = "true" if charge else "false"
        return self.x(f"cac:AllowanceCharge[normalize-space(cbc:ChargeIndicator)='{flag}']")


def validate(xml: bytes) -> list[Finding]:
    """Every rule broken by the UBL document ``xml``, fatal ones and warnings alike."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    try:
        root = etree.fromstring(xml, parser)
    except etree.XMLSyntaxError as error:
        return [Finding("XML", Severity.FATAL, f"Not well-formed XML: {error}", "/")]
    if root.tag not in (f"{{{NS_INVOICE}}}Invoice", f"{{{NS_CREDIT_NOTE}}}CreditNote"):
        message = "The root element must be a UBL 2.1 Invoice or CreditNote."
        return [Finding("UBL-ROOT", Severity.FATAL, message, "/")]
    ubl = Ubl(root)
    findings = []
    for registered in RULES.values():
        for element in registered.check(ubl):
            findings.append(
                Finding(
                    registered.id,
                    registered.severity,
                    registered.message,
                    ubl.location(element),
                )
            )
    return findings


def fatal(findings: Iterable[Finding]) -> list[Finding]:
    return [finding for finding in findings if finding.severity is Severity.FATAL]


# -- Document level (EN 16931) --------------------------------------------------------------


def _missing(path: str) -> Callable[[Ubl], Iterator[etree._Element]]:
    def check(ubl: Ubl) -> Iterator[etree._Element]:
        if not ubl.text(path):
            yield ubl.root

    return check


for _id, _path, _message in (
    ("BR-01", "cbc:CustomizationID", "An Invoice shall have a Specification identifier (BT-24)."),
    ("BR-02", "cbc:ID", "An Invoice shall have an Invoice number (BT-1)."),
    ("BR-03", "cbc:IssueDate", "An Invoice shall have an Invoice issue date (BT-2)."),
    (
        "BR-04",
        "cbc:InvoiceTypeCode | cbc:CreditNoteTypeCode",
        "An Invoice shall have an Invoice type code (BT-3).",
    ),
    ("BR-05", "cbc:DocumentCurrencyCode", "An Invoice shall have an Invoice currency code (BT-5)."),
    (
        "BR-06",
        "cac:AccountingSupplierParty/cac:Party/cac:PartyLegalEntity/cbc:RegistrationName",
        "An Invoice shall contain the Seller name (BT-27).",
    ),
    (
        "BR-07",
        "cac:AccountingCustomerParty/cac:Party/cac:PartyLegalEntity/cbc:RegistrationName",
        "An Invoice shall contain the Buyer name (BT-44).",
    ),
):
    rule(_id, _message)(_missing(_path))


@rule("BR-08", "An Invoice shall contain the Seller postal address (BG-5).")
def _br08(ubl: Ubl) -> Iterator[etree._Element]:
    if not ubl.has("cac:AccountingSupplierParty/cac:Party/cac:PostalAddress"):
        yield ubl.root


@rule("BR-09", "The Seller postal address (BG-5) shall contain a Seller country code (BT-40).")
def _br09(ubl: Ubl) -> Iterator[etree._Element]:
    for address in ubl.x("cac:AccountingSupplierParty/cac:Party/cac:PostalAddress"):
        if not ubl.text("cac:Country/cbc:IdentificationCode", address):
            yield address


@rule("BR-10", "An Invoice shall contain the Buyer postal address (BG-8).")
def _br10(ubl: Ubl) -> Iterator[etree._Element]:
    if not ubl.has("cac:AccountingCustomerParty/cac:Party/cac:PostalAddress"):
        yield ubl.root


@rule("BR-11", "The Buyer postal address (BG-8) shall contain a Buyer country code (BT-55).")
def _br11(ubl: Ubl) -> Iterator[etree._Element]:
    for address in ubl.x("cac:AccountingCustomerParty/cac:Party/cac:PostalAddress"):
        if not ubl.text("cac:Country/cbc:IdentificationCode", address):
            yield address


def _total_present(name: str) -> Callable[[Ubl], Iterator[etree._Element]]:
    def check(ubl: Ubl) -> Iterator[etree._Element]:
        total = ubl.monetary_total
        if total is not None and not ubl.has(f"cbc:{name}", total):
            yield total

    return check


for _id, _name, _message in (
    ("BR-12", "LineExtensionAmount", "An Invoice shall have the Sum of Invoice line net amount (BT-106)."),
    ("BR-13", "TaxExclusiveAmount", "An Invoice shall have the Invoice total amount without VAT (BT-109)."),
    ("BR-14", "TaxInclusiveAmount", "An Invoice shall have the Invoice total amount with VAT (BT-112)."),
    ("BR-15", "PayableAmount", "An Invoice shall have the Amount due for payment (BT-115)."),
):  # fmt: skip
    rule(_id, _message)(_total_present(_name))


@rule("BR-16", "An Invoice shall have at least one Invoice line (BG-25).")
def _br16(ubl: Ubl) -> Iterator[etree._Element]:
    if not ubl.lines:
        yield ubl.root


@rule(
    "BR-52",
    "Each Additional supporting document (BG-24) shall contain a Supporting document reference (BT-122).",
)
def _br52(ubl: Ubl) -> Iterator[etree._Element]:
    for reference in ubl.x("cac:AdditionalDocumentReference"):
        if not ubl.text("cbc:ID", reference):
            yield reference


@rule(
    "BR-53",
    "If the VAT accounting currency code (BT-6) is present, then the Invoice total VAT amount in accounting currency (BT-111) shall be provided.",
)
def _br53(ubl: Ubl) -> Iterator[etree._Element]:
    currency = ubl.tax_currency
    if currency and not ubl.tax_amounts_in(currency):
        yield ubl.root


@rule(
    "BR-55",
    "Each Preceding Invoice reference (BG-3) shall contain a Preceding Invoice reference (BT-25).",
)
def _br55(ubl: Ubl) -> Iterator[etree._Element]:
    for reference in ubl.x("cac:BillingReference"):
        if not ubl.has("cac:InvoiceDocumentReference/cbc:ID", reference):
            yield reference


@rule("BR-62", "The Seller electronic address (BT-34) shall have a Scheme identifier.")
def _br62(ubl: Ubl) -> Iterator[etree._Element]:
    yield from ubl.x("cac:AccountingSupplierParty/cac:Party/cbc:EndpointID[not(@schemeID)]")


@rule("BR-63", "The Buyer electronic address (BT-49) shall have a Scheme identifier.")
def _br63(ubl: Ubl) -> Iterator[etree._Element]:
    yield from ubl.x("cac:AccountingCustomerParty/cac:Party/cbc:EndpointID[not(@schemeID)]")


@rule("BR-64", "The Item standard identifier (BT-157) shall have a Scheme identifier.")
def _br64(ubl: Ubl) -> Iterator[etree._Element]:
    for line in ubl.lines:
        yield from ubl.x("cac:Item/cac:StandardItemIdentification/cbc:ID[not(@schemeID)]", line)


@rule("BR-65", "The Item classification identifier (BT-158) shall have a Scheme identifier.")
def _br65(ubl: Ubl) -> Iterator[etree._Element]:
    for line in ubl.lines:
        yield from ubl.x(
            "cac:Item/cac:CommodityClassification/cbc:ItemClassificationCode[not(@listID)]", line
        )


@rule(
    "BR-CO-09",
    "The Seller VAT identifier (BT-31), the Seller tax representative VAT identifier (BT-63) and the Buyer VAT identifier (BT-48) shall have a prefix in accordance with ISO code ISO 3166-1 alpha-2 by which the country of issue may be identified. Nevertheless, Greece may use the prefix 'EL'.",
)
def _brco09(ubl: Ubl) -> Iterator[etree._Element]:
    for company_id in ubl.x("//cac:PartyTaxScheme[cac:TaxScheme/cbc:ID='VAT']/cbc:CompanyID"):
        if (company_id.text or "")[:2] not in VAT_PREFIXES:
            yield company_id


@rule(
    "BR-CO-26",
    "In order for the buyer to automatically identify a supplier, the Seller identifier (BT-29), the Seller legal registration identifier (BT-30) and/or the Seller VAT identifier (BT-31) shall be present.",
)
def _brco26(ubl: Ubl) -> Iterator[etree._Element]:
    for party in ubl.x("cac:AccountingSupplierParty/cac:Party"):
        if not ubl.has(
            "cac:PartyTaxScheme[cac:TaxScheme/cbc:ID='VAT']/cbc:CompanyID"
            " | cac:PartyIdentification/cbc:ID | cac:PartyLegalEntity/cbc:CompanyID",
            party,
        ):
            yield party


@rule(
    "BR-CO-25",
    "In case the Amount due for payment (BT-115) is positive, either the Payment due date (BT-9) or the Payment terms (BT-20) shall be present.",
)
def _brco25(ubl: Ubl) -> Iterator[etree._Element]:
    if ubl.is_credit_note:
        return  # the published rule has the Invoice as its context only
    for payable in ubl.x("cac:LegalMonetaryTotal/cbc:PayableAmount"):
        amount = dec(payable)
        if (
            amount is not None
            and amount > 0
            and not ubl.has("//cbc:DueDate | //cac:PaymentTerms/cbc:Note")
        ):
            yield payable


@rule(
    "BR-29",
    "If both Invoicing period start date (BT-73) and Invoicing period end date (BT-74) are given then the Invoicing period end date (BT-74) shall be later or equal to the Invoicing period start date (BT-73).",
)
def _br29(ubl: Ubl) -> Iterator[etree._Element]:
    for period in ubl.x("cac:InvoicePeriod"):
        start, end = ubl.text("cbc:StartDate", period), ubl.text("cbc:EndDate", period)
        if start and end and end < start:
            yield period


@rule(
    "BR-CO-19",
    "If Invoicing period (BG-14) is used, the Invoicing period start date (BT-73) or the Invoicing period end date (BT-74) shall be filled, or both.",
)
def _brco19(ubl: Ubl) -> Iterator[etree._Element]:
    for period in ubl.x("cac:InvoicePeriod"):
        dates = ubl.has("cbc:StartDate | cbc:EndDate", period)
        code = ubl.has("cbc:DescriptionCode", period)
        if dates == code:
            yield period


@rule(
    "BR-CO-03",
    "Value added tax point date (BT-7) and Value added tax point date code (BT-8) are mutually exclusive.",
)
def _brco03(ubl: Ubl) -> Iterator[etree._Element]:
    if ubl.has("cbc:TaxPointDate") and ubl.has("cac:InvoicePeriod/cbc:DescriptionCode"):
        yield ubl.root


@rule("BR-57", "Each Deliver to address (BG-15) shall contain a Deliver to country code (BT-80).")
def _br57(ubl: Ubl) -> Iterator[etree._Element]:
    for address in ubl.x("cac:Delivery/cac:DeliveryLocation/cac:Address"):
        if not ubl.has("cac:Country/cbc:IdentificationCode", address):
            yield address


@rule("BR-66", "An Invoice shall contain maximum one Payment Card account (BG-18).")
def _br66(ubl: Ubl) -> Iterator[etree._Element]:
    yield from ubl.x("cac:PaymentMeans/cac:CardAccount")[1:]


@rule("BR-67", "An Invoice shall contain maximum one Payment Mandate (BG-19).")
def _br67(ubl: Ubl) -> Iterator[etree._Element]:
    yield from ubl.x("cac:PaymentMeans/cac:PaymentMandate")[1:]


def _allowance_rule(
    rule_id: str,
    message: str,
    *,
    line_level: bool,
    charge: bool,
    broken: Callable[[Ubl, etree._Element], bool],
) -> None:
    flag = "true" if charge else "false"
    holder = "(cac:InvoiceLine | cac:CreditNoteLine)/" if line_level else ""

    def check(ubl: Ubl) -> Iterator[etree._Element]:
        for item in ubl.x(
            f"{holder}cac:AllowanceCharge[normalize-space(cbc:ChargeIndicator)='{flag}']"
        ):
            if broken(ubl, item):
                yield item

    rule(rule_id, message)(check)


def _no_amount(ubl: Ubl, item: etree._Element) -> bool:
    return not ubl.has("cbc:Amount", item)


def _no_vat_category(ubl: Ubl, item: etree._Element) -> bool:
    return not ubl.text("cac:TaxCategory[cac:TaxScheme/cbc:ID='VAT']/cbc:ID", item)


def _no_reason(ubl: Ubl, item: etree._Element) -> bool:
    return not ubl.has("cbc:AllowanceChargeReason | cbc:AllowanceChargeReasonCode", item)


def _amount_decimals(ubl: Ubl, item: etree._Element) -> bool:
    return _decimals(ubl.first("cbc:Amount", item)) > 2


def _base_decimals(ubl: Ubl, item: etree._Element) -> bool:
    return _decimals(ubl.first("cbc:BaseAmount", item)) > 2


for _id, _message, _line_level, _charge, _broken in (
    ("BR-31", "Each Document level allowance (BG-20) shall have a Document level allowance amount (BT-92).", False, False, _no_amount),
    ("BR-32", "Each Document level allowance (BG-20) shall have a Document level allowance VAT category code (BT-95).", False, False, _no_vat_category),
    ("BR-33", "Each Document level allowance (BG-20) shall have a Document level allowance reason (BT-97) or a Document level allowance reason code (BT-98).", False, False, _no_reason),
    ("BR-DEC-01", "The allowed maximum number of decimals for the Document level allowance amount (BT-92) is 2.", False, False, _amount_decimals),
    ("BR-DEC-02", "The allowed maximum number of decimals for the Document level allowance base amount (BT-93) is 2.", False, False, _base_decimals),
    ("BR-36", "Each Document level charge (BG-21) shall have a Document level charge amount (BT-99).", False, True, _no_amount),
    ("BR-37", "Each Document level charge (BG-21) shall have a Document level charge VAT category code (BT-102).", False, True, _no_vat_category),
    ("BR-38", "Each Document level charge (BG-21) shall have a Document level charge reason (BT-104) or a Document level charge reason code (BT-105).", False, True, _no_reason),
    ("BR-DEC-05", "The allowed maximum number of decimals for the Document level charge amount (BT-99) is 2.", False, True, _amount_decimals),
    ("BR-DEC-06", "The allowed maximum number of decimals for the Document level charge base amount (BT-100) is 2.", False, True, _base_decimals),
    ("BR-41", "Each Invoice line allowance (BG-27) shall have an Invoice line allowance amount (BT-136).", True, False, _no_amount),
    ("BR-42", "Each Invoice line allowance (BG-27) shall have an Invoice line allowance reason (BT-139) or an Invoice line allowance reason code (BT-140).", True, False, _no_reason),
    ("BR-DEC-24", "The allowed maximum number of decimals for the Invoice line allowance amount (BT-136) is 2.", True, False, _amount_decimals),
    ("BR-DEC-25", "The allowed maximum number of decimals for the Invoice line allowance base amount (BT-137) is 2.", True, False, _base_decimals),
    ("BR-43", "Each Invoice line charge (BG-28) shall have an Invoice line charge amount (BT-141).", True, True, _no_amount),
    ("BR-44", "Each Invoice line charge shall have an Invoice line charge reason or an invoice line allowance reason code.", True, True, _no_reason),
    ("BR-DEC-27", "The allowed maximum number of decimals for the Invoice line charge amount (BT-141) is 2.", True, True, _amount_decimals),
    ("BR-DEC-28", "The allowed maximum number of decimals for the Invoice line charge base amount (BT-142) is 2.", True, True, _base_decimals),
):  # fmt: skip
    _allowance_rule(_id, _message, line_level=_line_level, charge=_charge, broken=_broken)


# -- Lines -------------------------------------------------------------------------------------


def _line_rule(rule_id: str, message: str, broken: Callable[[Ubl, etree._Element], bool]) -> None:
    def check(ubl: Ubl) -> Iterator[etree._Element]:
        for line in ubl.lines:
            if broken(ubl, line):
                yield line

    rule(rule_id, message)(check)


def _price(ubl: Ubl, line: etree._Element) -> Decimal | None:
    return dec(ubl.first("cac:Price/cbc:PriceAmount", line))


_line_rule(
    "BR-21",
    "Each Invoice line (BG-25) shall have an Invoice line identifier (BT-126).",
    lambda ubl, line: not ubl.text("cbc:ID", line),
)
_line_rule(
    "BR-22",
    "Each Invoice line (BG-25) shall have an Invoiced quantity (BT-129).",
    lambda ubl, line: ubl.quantity(line) is None,
)
_line_rule(
    "BR-23",
    "An Invoice line (BG-25) shall have an Invoiced quantity unit of measure code (BT-130).",
    lambda ubl, line: (
        not ubl.has("cbc:InvoicedQuantity/@unitCode | cbc:CreditedQuantity/@unitCode", line)
    ),
)
_line_rule(
    "BR-24",
    "Each Invoice line (BG-25) shall have an Invoice line net amount (BT-131).",
    lambda ubl, line: not ubl.has("cbc:LineExtensionAmount", line),
)
_line_rule(
    "BR-25",
    "Each Invoice line (BG-25) shall contain the Item name (BT-153).",
    lambda ubl, line: not ubl.text("cac:Item/cbc:Name", line),
)
_line_rule(
    "BR-26",
    "Each Invoice line (BG-25) shall contain the Item net price (BT-146).",
    lambda ubl, line: not ubl.has("cac:Price/cbc:PriceAmount", line),
)
_line_rule(
    "BR-27",
    "The Item net price (BT-146) shall NOT be negative.",
    lambda ubl, line: (
        ubl.has("cac:Price/cbc:PriceAmount", line)
        and (_price(ubl, line) is None or _price(ubl, line) < 0)
    ),
)
_line_rule(
    "BR-CO-04",
    "Each Invoice line (BG-25) shall be categorized with an Invoiced item VAT category code (BT-151).",
    lambda ubl, line: (
        not ubl.text("cac:Item/cac:ClassifiedTaxCategory[cac:TaxScheme/cbc:ID='VAT']/cbc:ID", line)
    ),
)
_line_rule(
    "BR-DEC-23",
    "The allowed maximum number of decimals for the Invoice line net amount (BT-131) is 2.",
    lambda ubl, line: _decimals(ubl.first("cbc:LineExtensionAmount", line)) > 2,
)


def _line_period_order(ubl: Ubl, period: etree._Element) -> bool:
    start, end = ubl.text("cbc:StartDate", period), ubl.text("cbc:EndDate", period)
    return bool(start and end and end < start)


@rule(
    "BR-30",
    "If both Invoice line period start date (BT-134) and Invoice line period end date (BT-135) are given then the Invoice line period end date (BT-135) shall be later or equal to the Invoice line period start date (BT-134).",
)
def _br30(ubl: Ubl) -> Iterator[etree._Element]:
    for line in ubl.lines:
        for period in ubl.x("cac:InvoicePeriod", line):
            if _line_period_order(ubl, period):
                yield period


@rule(
    "BR-CO-20",
    "If Invoice line period (BG-26) is used, the Invoice line period start date (BT-134) or the Invoice line period end date (BT-135) shall be filled, or both.",
)
def _brco20(ubl: Ubl) -> Iterator[etree._Element]:
    for line in ubl.lines:
        for period in ubl.x("cac:InvoicePeriod", line):
            if not ubl.has("cbc:StartDate | cbc:EndDate", period):
                yield period


# -- Totals ------------------------------------------------------------------------------------


def _non_numeric(ubl: Ubl, *names: str) -> etree._Element | None:
    """The first of these totals that is present but not a number: it breaks the sum too."""
    total = ubl.monetary_total
    for name in names:
        element = None if total is None else ubl.first(f"cbc:{name}", total)
        if element is not None and dec(element) is None:
            return element
    return None


def _amount_of(ubl: Ubl, name: str) -> Decimal | None:
    total = ubl.monetary_total
    return None if total is None else dec(ubl.first(f"cbc:{name}", total))


@rule("BR-CO-10", "Sum of Invoice line net amount (BT-106) = Σ Invoice line net amount (BT-131).")
def _brco10(ubl: Ubl) -> Iterator[etree._Element]:
    total = ubl.monetary_total
    if total is None or not ubl.has("cbc:LineExtensionAmount", total):
        return
    lines = ubl.sum(
        ubl.x(
            "cac:InvoiceLine/cbc:LineExtensionAmount | cac:CreditNoteLine/cbc:LineExtensionAmount"
        )
    )
    if _amount_of(ubl, "LineExtensionAmount") != xround(lines):
        yield ubl.first("cbc:LineExtensionAmount", total)


def _allowance_total_rule(rule_id: str, message: str, name: str, charge: bool) -> None:
    def check(ubl: Ubl) -> Iterator[etree._Element]:
        total = ubl.monetary_total
        if total is None:
            return
        items = ubl.document_allowances(charge)
        stated = ubl.first(f"cbc:{name}", total)
        if stated is None:
            if items:
                yield total
        elif dec(stated) != xround(
            ubl.sum(ubl.x("cbc:Amount", i)[0] for i in items if ubl.x("cbc:Amount", i))
        ):
            yield stated

    rule(rule_id, message)(check)


_allowance_total_rule(
    "BR-CO-11",
    "Sum of allowances on document level (BT-107) = Σ Document level allowance amount (BT-92).",
    "AllowanceTotalAmount",
    False,
)
_allowance_total_rule(
    "BR-CO-12",
    "Sum of charges on document level (BT-108) = Σ Document level charge amount (BT-99).",
    "ChargeTotalAmount",
    True,
)


@rule(
    "BR-CO-13",
    "Invoice total amount without VAT (BT-109) = Σ Invoice line net amount (BT-131) - Sum of allowances on document level (BT-107) + Sum of charges on document level (BT-108).",
)
def _brco13(ubl: Ubl) -> Iterator[etree._Element]:
    bad = _non_numeric(
        ubl,
        "TaxExclusiveAmount",
        "LineExtensionAmount",
        "ChargeTotalAmount",
        "AllowanceTotalAmount",
    )
    if bad is not None:
        yield bad
        return
    exclusive = _amount_of(ubl, "TaxExclusiveAmount")
    lines = _amount_of(ubl, "LineExtensionAmount")
    if exclusive is None or lines is None:
        return
    charges = _amount_of(ubl, "ChargeTotalAmount") or Decimal(0)
    allowances = _amount_of(ubl, "AllowanceTotalAmount") or Decimal(0)
    if exclusive != xround(lines + charges - allowances):
        yield ubl.first("cbc:TaxExclusiveAmount", ubl.monetary_total)


def _document_tax_total(ubl: Ubl) -> etree._Element | None:
    currency = ubl.currency
    amounts = ubl.tax_amounts_in(currency)
    return amounts[0] if amounts else None


@rule("BR-CO-14", "Invoice total VAT amount (BT-110) = Σ VAT category tax amount (BT-117).")
def _brco14(ubl: Ubl) -> Iterator[etree._Element]:
    for tax_total in ubl.x("cac:TaxTotal[cac:TaxSubtotal]"):
        amount = ubl.first("cbc:TaxAmount", tax_total)
        parts = ubl.sum(ubl.x("cac:TaxSubtotal/cbc:TaxAmount", tax_total))
        if amount is None or dec(amount) != xround(parts):
            yield tax_total if amount is None else amount


@rule(
    "BR-CO-15",
    "Invoice total amount with VAT (BT-112) = Invoice total amount without VAT (BT-109) + Invoice total VAT amount (BT-110).",
)
def _brco15(ubl: Ubl) -> Iterator[etree._Element]:
    bad = _non_numeric(ubl, "TaxInclusiveAmount", "TaxExclusiveAmount")
    if bad is not None:
        yield bad
        return
    inclusive = _amount_of(ubl, "TaxInclusiveAmount")
    exclusive = _amount_of(ubl, "TaxExclusiveAmount")
    if inclusive is None or exclusive is None:
        return
    vat = dec(_document_tax_total(ubl)) or Decimal(0)
    if inclusive != xround(exclusive + vat):
        yield ubl.first("cbc:TaxInclusiveAmount", ubl.monetary_total)


@rule(
    "BR-CO-16",
    "Amount due for payment (BT-115) = Invoice total amount with VAT (BT-112) -Paid amount (BT-113) +Rounding amount (BT-114).",
)
def _brco16(ubl: Ubl) -> Iterator[etree._Element]:
    bad = _non_numeric(
        ubl, "PayableAmount", "TaxInclusiveAmount", "PrepaidAmount", "PayableRoundingAmount"
    )
    if bad is not None:
        yield bad
        return
    payable = _amount_of(ubl, "PayableAmount")
    inclusive = _amount_of(ubl, "TaxInclusiveAmount")
    if payable is None or inclusive is None:
        return
    prepaid = _amount_of(ubl, "PrepaidAmount") or Decimal(0)
    rounding = _amount_of(ubl, "PayableRoundingAmount") or Decimal(0)
    if xround(payable - rounding) != xround(inclusive - prepaid):
        yield ubl.first("cbc:PayableAmount", ubl.monetary_total)


@rule("BR-CO-18", "An Invoice shall at least have one VAT breakdown group (BG-23).")
def _brco18(ubl: Ubl) -> Iterator[etree._Element]:
    if not ubl.subtotals:
        yield ubl.root


def _subtotal_rule(
    rule_id: str, message: str, broken: Callable[[Ubl, etree._Element], bool]
) -> None:
    def check(ubl: Ubl) -> Iterator[etree._Element]:
        for subtotal in ubl.subtotals:
            if broken(ubl, subtotal):
                yield subtotal

    rule(rule_id, message)(check)


def _rate(ubl: Ubl, holder: etree._Element) -> Decimal | None:
    return dec(ubl.first("cbc:Percent", holder))


def _category(ubl: Ubl, holder: etree._Element) -> str:
    return ubl.text("cbc:ID", holder)


def _brco17_broken(ubl: Ubl, subtotal: etree._Element) -> bool:
    category = ubl.first("cac:TaxCategory", subtotal)
    rate = None if category is None else _rate(ubl, category)
    tax = dec(ubl.first("cbc:TaxAmount", subtotal))
    taxable = dec(ubl.first("cbc:TaxableAmount", subtotal))
    if tax is None:
        return True
    if rate is None or xround(rate) == 0:
        return tax.to_integral_value() != 0
    if taxable is None:
        return True
    return _a_unit_or_more_apart(abs(tax), xround(abs(taxable) * rate / 100))


def _a_unit_or_more_apart(stated: Decimal, computed: Decimal) -> bool:
    """The official tolerance of BR-CO-17, BR-S-08 and BR-S-09: strictly under one unit."""
    return not (stated - 1 < computed < stated + 1)


_subtotal_rule(
    "BR-45",
    "Each VAT breakdown (BG-23) shall have a VAT category taxable amount (BT-116).",
    lambda ubl, s: not ubl.has("cbc:TaxableAmount", s),
)
_subtotal_rule(
    "BR-46",
    "Each VAT breakdown (BG-23) shall have a VAT category tax amount (BT-117).",
    lambda ubl, s: not ubl.has("cbc:TaxAmount", s),
)
_subtotal_rule(
    "BR-47",
    "Each VAT breakdown (BG-23) shall be defined through a VAT category code (BT-118).",
    lambda ubl, s: not ubl.text("cac:TaxCategory[cac:TaxScheme/cbc:ID='VAT']/cbc:ID", s),
)
_subtotal_rule(
    "BR-48",
    "Each VAT breakdown (BG-23) shall have a VAT category rate (BT-119), except if the Invoice is not subject to VAT.",
    lambda ubl, s: (
        not ubl.has("cac:TaxCategory/cbc:Percent", s)
        and ubl.text("cac:TaxCategory/cbc:ID", s) != "O"
    ),
)
_subtotal_rule(
    "BR-CO-17",
    "VAT category tax amount (BT-117) = VAT category taxable amount (BT-116) x (VAT category rate (BT-119) / 100), rounded to two decimals.",
    _brco17_broken,
)
_subtotal_rule(
    "BR-DEC-19",
    "The allowed maximum number of decimals for the VAT category taxable amount (BT-116) is 2.",
    lambda ubl, s: _decimals(ubl.first("cbc:TaxableAmount", s)) > 2,
)
_subtotal_rule(
    "BR-DEC-20",
    "The allowed maximum number of decimals for the VAT category tax amount (BT-117) is 2.",
    lambda ubl, s: _decimals(ubl.first("cbc:TaxAmount", s)) > 2,
)


def _total_decimals_rule(rule_id: str, name: str, term: str) -> None:
    def check(ubl: Ubl) -> Iterator[etree._Element]:
        total = ubl.monetary_total
        element = None if total is None else ubl.first(f"cbc:{name}", total)
        if _decimals(element) > 2:
            yield element

    rule(rule_id, f"The allowed maximum number of decimals for the {term} is 2.")(check)


for _id, _name, _term in (
    ("BR-DEC-09", "LineExtensionAmount", "Sum of Invoice line net amount (BT-106)"),
    ("BR-DEC-10", "AllowanceTotalAmount", "Sum of allowanced on document level (BT-107)"),
    ("BR-DEC-11", "ChargeTotalAmount", "Sum of charges on document level (BT-108)"),
    ("BR-DEC-12", "TaxExclusiveAmount", "Invoice total amount without VAT (BT-109)"),
    ("BR-DEC-14", "TaxInclusiveAmount", "Invoice total amount with VAT (BT-112)"),
    ("BR-DEC-16", "PrepaidAmount", "Paid amount (BT-113)"),
    ("BR-DEC-17", "PayableRoundingAmount", "Rounding amount (BT-114)"),
    ("BR-DEC-18", "PayableAmount", "Amount due for payment (BT-115)"),
):
    _total_decimals_rule(_id, _name, _term)


@rule(
    "BR-DEC-13",
    "The allowed maximum number of decimals for the Invoice total VAT amount (BT-110) is 2.",
)
def _brdec13(ubl: Ubl) -> Iterator[etree._Element]:
    element = _document_tax_total(ubl)
    if _decimals(element) > 2:
        yield element


@rule(
    "BR-DEC-15",
    "The allowed maximum number of decimals for the Invoice total VAT amount in accounting currency (BT-111) is 2.",
)
def _brdec15(ubl: Ubl) -> Iterator[etree._Element]:
    currency = ubl.tax_currency
    if currency:
        for element in ubl.tax_amounts_in(currency):
            if _decimals(element) > 2:
                yield element


# -- Payment -----------------------------------------------------------------------------------


@rule("BR-49", "A Payment instruction (BG-16) shall specify the Payment means type code (BT-81).")
def _br49(ubl: Ubl) -> Iterator[etree._Element]:
    yield from ubl.x("cac:PaymentMeans[not(cbc:PaymentMeansCode)]")


@rule(
    "BR-50",
    "A Payment account identifier (BT-84) shall be present if Credit transfer (BG-17) information is provided in the Invoice.",
)
def _br50(ubl: Ubl) -> Iterator[etree._Element]:
    for account in ubl.x(
        "cac:PaymentMeans[normalize-space(cbc:PaymentMeansCode)='30' or normalize-space(cbc:PaymentMeansCode)='58']/cac:PayeeFinancialAccount"
    ):
        if not ubl.text("cbc:ID", account):
            yield account


@rule(
    "BR-61",
    "If the Payment means type code (BT-81) means SEPA credit transfer, Local credit transfer or Non-SEPA international credit transfer, the Payment account identifier (BT-84) shall be present.",
)
def _br61(ubl: Ubl) -> Iterator[etree._Element]:
    for means in ubl.x("cac:PaymentMeans"):
        code = ubl.text("cbc:PaymentMeansCode", means)
        if code in ("30", "58") and not ubl.has("cac:PayeeFinancialAccount/cbc:ID", means):
            yield means


# -- VAT categories ----------------------------------------------------------------------------

CATEGORY_NAMES = {
    "S": "Standard rated",
    "Z": "Zero rated",
    "E": "Exempt from VAT",
    "AE": "Reverse charge",
    "K": "Intra-community supply",
    "G": "Export outside the EU",
    "O": "Not subject to VAT",
}
CATEGORY_PREFIX = {"S": "S", "Z": "Z", "E": "E", "AE": "AE", "K": "IC", "G": "G", "O": "O"}


def _line_categories(ubl: Ubl, code: str) -> list[etree._Element]:
    return [
        category
        for line in ubl.lines
        for category in ubl.x(
            "cac:Item/cac:ClassifiedTaxCategory[cac:TaxScheme/cbc:ID='VAT']", line
        )
        if _category(ubl, category) == code
    ]


def _allowance_categories(ubl: Ubl, code: str) -> list[etree._Element]:
    return [
        category
        for category in ubl.x("cac:AllowanceCharge/cac:TaxCategory[cac:TaxScheme/cbc:ID='VAT']")
        if _category(ubl, category) == code
    ]


def _breakdowns(ubl: Ubl, code: str) -> list[etree._Element]:
    return [
        subtotal
        for subtotal in ubl.subtotals
        if ubl.text("cac:TaxCategory[cac:TaxScheme/cbc:ID='VAT']/cbc:ID", subtotal) == code
    ]


def _category_base(ubl: Ubl, code: str, rate: Decimal | None) -> Decimal:
    """Σ line net amounts + Σ document charges - Σ allowances in category (and rate)."""

    def matches(holder: etree._Element) -> bool:
        return _category(ubl, holder) == code and (rate is None or _rate(ubl, holder) == rate)

    total = Decimal(0)
    for line in ubl.lines:
        category = ubl.first("cac:Item/cac:ClassifiedTaxCategory", line)
        if category is not None and matches(category):
            total += dec(ubl.first("cbc:LineExtensionAmount", line)) or Decimal(0)
    for charge, sign in ((True, 1), (False, -1)):
        for item in ubl.document_allowances(charge):
            category = ubl.first("cac:TaxCategory", item)
            if category is not None and matches(category):
                total += sign * (dec(ubl.first("cbc:Amount", item)) or Decimal(0))
    return total


def _rate_used(ubl: Ubl, rate: Decimal | None) -> bool:
    """Some standard-rated line or document allowance or charge is at ``rate``."""
    holders = [
        *_line_categories(ubl, "S"),
        *(category for category in ubl.x("cac:AllowanceCharge/cac:TaxCategory")),
    ]
    return any(_category(ubl, h) == "S" and _rate(ubl, h) == rate for h in holders)


def _seller_vat_or_representative(ubl: Ubl, *, vat_scheme_only: bool) -> bool:
    seller = (
        "cac:AccountingSupplierParty/cac:Party/cac:PartyTaxScheme[cac:TaxScheme/cbc:ID='VAT']/cbc:CompanyID"
        if vat_scheme_only
        else "cac:AccountingSupplierParty/cac:Party/cac:PartyTaxScheme/cbc:CompanyID"
    )
    representative = (
        "cac:TaxRepresentativeParty/cac:PartyTaxScheme[cac:TaxScheme/cbc:ID='VAT']/cbc:CompanyID"
    )
    return ubl.has(f"{seller} | {representative}")


def _buyer_vat(ubl: Ubl) -> bool:
    return ubl.has(
        "cac:AccountingCustomerParty/cac:Party/cac:PartyTaxScheme[cac:TaxScheme/cbc:ID='VAT']/cbc:CompanyID"
    )


def _register_category_rules(code: str) -> None:
    prefix = f"BR-{CATEGORY_PREFIX[code]}"
    name = CATEGORY_NAMES[code]
    exactly_one = code != "S"

    def breakdown_present(ubl: Ubl) -> Iterator[etree._Element]:
        used = _line_categories(ubl, code) or _allowance_categories(ubl, code)
        count = len(_breakdowns(ubl, code))
        if used and (count != 1 if exactly_one else count == 0):
            yield ubl.root
        if not used and code == "S" and count:
            yield ubl.root

    quantity = "exactly one" if exactly_one else "at least one"
    rule(
        f"{prefix}-01",
        f'An Invoice that contains an Invoice line (BG-25), a Document level allowance (BG-20) or a Document level charge (BG-21) where the VAT category code (BT-151, BT-95 or BT-102) is "{name}" shall contain in the VAT breakdown (BG-23) {quantity} VAT category code (BT-118) equal with "{name}".',
    )(breakdown_present)

    def seller_identified(ubl: Ubl) -> Iterator[etree._Element]:
        if not _line_categories(ubl, code):
            return
        if code == "O":
            if _seller_vat_or_representative(ubl, vat_scheme_only=True) or _buyer_vat(ubl):
                yield ubl.root
            return
        seller = _seller_vat_or_representative(ubl, vat_scheme_only=code in ("K", "G"))
        if code == "AE":
            buyer = _buyer_vat(ubl) or ubl.has(
                "cac:AccountingCustomerParty/cac:Party/cac:PartyLegalEntity/cbc:CompanyID"
            )
        elif code == "K":
            buyer = _buyer_vat(ubl)
        else:
            buyer = True
        if not (seller and buyer):
            yield ubl.root

    if code == "O":
        identified = f'An Invoice that contains an Invoice line (BG-25) where the Invoiced item VAT category code (BT-151) is "{name}" shall not contain the Seller VAT identifier (BT-31), the Seller tax representative VAT identifier (BT-63) or the Buyer VAT identifier (BT-48).'
    elif code == "AE":
        identified = f'An Invoice that contains an Invoice line (BG-25) where the Invoiced item VAT category code (BT-151) is "{name}" shall contain the Seller VAT Identifier (BT-31), the Seller Tax registration identifier (BT-32) and/or the Seller tax representative VAT identifier (BT-63) and the Buyer VAT identifier (BT-48) and/or the Buyer legal registration identifier (BT-47).'
    elif code == "K":
        identified = f'An Invoice that contains an Invoice line (BG-25) where the Invoiced item VAT category code (BT-151) is "{name}" shall contain the Seller VAT Identifier (BT-31) or the Seller tax representative VAT identifier (BT-63) and the Buyer VAT identifier (BT-48).'
    elif code == "G":
        identified = f'An Invoice that contains an Invoice line (BG-25) where the Invoiced item VAT category code (BT-151) is "{name}" shall contain the Seller VAT Identifier (BT-31) or the Seller tax representative VAT identifier (BT-63).'
    else:
        identified = f'An Invoice that contains an Invoice line (BG-25) where the Invoiced item VAT category code (BT-151) is "{name}" shall contain the Seller VAT Identifier (BT-31), the Seller tax registration identifier (BT-32) and/or the Seller tax representative VAT identifier (BT-63).'
    rule(f"{prefix}-02", identified)(seller_identified)

    def line_rate(ubl: Ubl) -> Iterator[etree._Element]:
        for category in _line_categories(ubl, code):
            rate = _rate(ubl, category)
            if code == "O":
                broken = ubl.has("cbc:Percent", category)
            elif code == "S":
                broken = rate is None or rate <= 0
            else:
                broken = rate is None or rate != 0
            if broken:
                yield category

    if code == "O":
        rate_text = f'An Invoice line (BG-25) where the VAT category code (BT-151) is "{name}" shall not contain an Invoiced item VAT rate (BT-152).'
    elif code == "S":
        rate_text = f'In an Invoice line (BG-25) where the Invoiced item VAT category code (BT-151) is "{name}" the Invoiced items VAT rate (BT-152) shall be greater than zero.'
    else:
        rate_text = f'In an Invoice line (BG-25) where the Invoiced item VAT category code (BT-151) is "{name}" the Invoiced item VAT rate (BT-152) shall be 0 (zero).'
    rule(f"{prefix}-05", rate_text)(line_rate)

    def taxable_amount(ubl: Ubl) -> Iterator[etree._Element]:
        for subtotal in _breakdowns(ubl, code):
            category = ubl.first("cac:TaxCategory", subtotal)
            rate = _rate(ubl, category) if code == "S" else None
            taxable = dec(ubl.first("cbc:TaxableAmount", subtotal))
            if taxable is None:
                yield subtotal
            elif code == "S":
                # A rate no line or allowance carries is wrong however small its amount.
                if not _rate_used(ubl, rate) or _a_unit_or_more_apart(
                    taxable, _category_base(ubl, code, rate)
                ):
                    yield subtotal
            elif taxable != xround(_category_base(ubl, code, rate)):
                yield subtotal

    per_rate = (
        "For each different value of VAT category rate (BT-119) where the VAT category code (BT-118) is "
        if code == "S"
        else "In a VAT breakdown (BG-23) where the VAT category code (BT-118) is "
    )
    rule(
        f"{prefix}-08",
        f'{per_rate}"{name}" the VAT category taxable amount (BT-116) shall equal the sum of Invoice line net amounts (BT-131) minus the sum of Document level allowance amounts (BT-92) plus the sum of Document level charge amounts (BT-99) where the VAT category codes (BT-151, BT-95, BT-102) are "{name}"{" and the VAT rate equals the VAT category rate (BT-119)" if code == "S" else ""}.',
    )(taxable_amount)

    def tax_amount(ubl: Ubl) -> Iterator[etree._Element]:
        for subtotal in _breakdowns(ubl, code):
            tax = dec(ubl.first("cbc:TaxAmount", subtotal))
            if code == "S":
                taxable = dec(ubl.first("cbc:TaxableAmount", subtotal))
                rate = _rate(ubl, ubl.first("cac:TaxCategory", subtotal))
                broken = (
                    tax is None
                    or taxable is None
                    or rate is None
                    or _a_unit_or_more_apart(abs(tax), xround(abs(taxable) * rate / 100))
                )
            else:
                broken = tax is None or tax != 0
            if broken:
                yield subtotal

    rule(
        f"{prefix}-09",
        f'The VAT category tax amount (BT-117) in a VAT breakdown (BG-23) where VAT category code (BT-118) is "{name}" shall equal the VAT category taxable amount (BT-116) multiplied by the VAT category rate (BT-119).'
        if code == "S"
        else f'The VAT category tax amount (BT-117) in a VAT breakdown (BG-23) where the VAT category code (BT-118) is "{name}" shall be 0 (zero).',
    )(tax_amount)

    forbids_reason = code in ("S", "Z")

    def exemption_reason(ubl: Ubl) -> Iterator[etree._Element]:
        for subtotal in _breakdowns(ubl, code):
            has_reason = ubl.has(
                "cac:TaxCategory/cbc:TaxExemptionReason | cac:TaxCategory/cbc:TaxExemptionReasonCode",
                subtotal,
            )
            if has_reason == forbids_reason:
                yield subtotal

    rule(
        f"{prefix}-10",
        f'A VAT breakdown (BG-23) with VAT Category code (BT-118) "{name}" shall not have a VAT exemption reason code (BT-121) or VAT exemption reason text (BT-120).'
        if forbids_reason
        else f'A VAT breakdown (BG-23) with VAT Category code (BT-118) "{name}" shall have a VAT exemption reason code (BT-121) or a VAT exemption reason text (BT-120).',
    )(exemption_reason)


for _code in CATEGORY_NAMES:
    _register_category_rules(_code)


@rule(
    "BR-IC-11",
    'In an Invoice with a VAT breakdown (BG-23) where the VAT category code (BT-118) is "Intra-community supply" the Actual delivery date (BT-72) or the Invoicing period (BG-14) shall not be blank.',
)
def _bric11(ubl: Ubl) -> Iterator[etree._Element]:
    if _breakdowns(ubl, "K") and not (
        ubl.text("cac:Delivery/cbc:ActualDeliveryDate") or ubl.has("cac:InvoicePeriod/*")
    ):
        yield ubl.root


@rule(
    "BR-IC-12",
    'In an Invoice with a VAT breakdown (BG-23) where the VAT category code (BT-118) is "Intra-community supply" the Deliver to country code (BT-80) shall not be blank.',
)
def _bric12(ubl: Ubl) -> Iterator[etree._Element]:
    if _breakdowns(ubl, "K") and not ubl.text(
        "cac:Delivery/cac:DeliveryLocation/cac:Address/cac:Country/cbc:IdentificationCode"
    ):
        yield ubl.root


@rule(
    "BR-O-11",
    'An Invoice that contains a VAT breakdown group (BG-23) with a VAT category code (BT-118) "Not subject to VAT" shall not contain other VAT breakdown groups (BG-23).',
)
def _bro11(ubl: Ubl) -> Iterator[etree._Element]:
    if _breakdowns(ubl, "O") and len(_breakdowns(ubl, "O")) != len(ubl.subtotals):
        yield ubl.root


@rule(
    "BR-O-12",
    'An Invoice that contains a VAT breakdown group (BG-23) with a VAT category code (BT-118) "Not subject to VAT" shall not contain an Invoice line (BG-25) where the Invoiced item VAT category code (BT-151) is not "Not subject to VAT".',
)
def _bro12(ubl: Ubl) -> Iterator[etree._Element]:
    if _breakdowns(ubl, "O"):
        for line in ubl.lines:
            if ubl.text("cac:Item/cac:ClassifiedTaxCategory/cbc:ID", line) != "O":
                yield line


# -- Peppol BIS Billing 3.0 --------------------------------------------------------------------


@rule("PEPPOL-EN16931-R001", "Business process MUST be provided.")
def _r001(ubl: Ubl) -> Iterator[etree._Element]:
    if not ubl.has("cbc:ProfileID"):
        yield ubl.root


@rule(
    "PEPPOL-EN16931-R007",
    "Business process MUST be in the format 'urn:fdc:peppol.eu:2017:poacc:billing:NN:1.0' where NN indicates the process number.",
)
def _r007(ubl: Ubl) -> Iterator[etree._Element]:
    profile = ubl.text("cbc:ProfileID")
    number = profile.removeprefix(PROFILE_PREFIX)
    if not (
        profile.startswith(PROFILE_PREFIX)
        and len(number) == 6
        and number[:2].isdigit()
        and number[2:] == ":1.0"
    ):
        yield ubl.root


@rule("PEPPOL-EN16931-R002", "No more than one note is allowed on document level.")
def _r002(ubl: Ubl) -> Iterator[etree._Element]:
    yield from ubl.x("cbc:Note")[1:]


@rule("PEPPOL-EN16931-R003", "A buyer reference or purchase order reference MUST be provided.")
def _r003(ubl: Ubl) -> Iterator[etree._Element]:
    if not ubl.has("cbc:BuyerReference | cac:OrderReference/cbc:ID"):
        yield ubl.root


@rule(
    "PEPPOL-EN16931-R004", f"Specification identifier MUST have the value '{CUSTOMIZATION_PREFIX}'."
)
def _r004(ubl: Ubl) -> Iterator[etree._Element]:
    if not ubl.text("cbc:CustomizationID").startswith(CUSTOMIZATION_PREFIX):
        yield ubl.root


@rule(
    "PEPPOL-EN16931-R005",
    "VAT accounting currency code MUST be different from invoice currency code when provided.",
)
def _r005(ubl: Ubl) -> Iterator[etree._Element]:
    for element in ubl.x("cbc:TaxCurrencyCode"):
        if ubl.tax_currency == ubl.currency:
            yield element


@rule("PEPPOL-EN16931-R008", "Document MUST not contain empty elements.")
def _r008(ubl: Ubl) -> Iterator[etree._Element]:
    for element in ubl.root.iter(etree.Element):
        if len(element) == 0 and not (element.text or "").strip():
            yield element


@rule("PEPPOL-EN16931-R010", "Buyer electronic address MUST be provided")
def _r010(ubl: Ubl) -> Iterator[etree._Element]:
    yield from ubl.x("cac:AccountingCustomerParty/cac:Party[not(cbc:EndpointID)]")


@rule("PEPPOL-EN16931-R020", "Seller electronic address MUST be provided")
def _r020(ubl: Ubl) -> Iterator[etree._Element]:
    yield from ubl.x("cac:AccountingSupplierParty/cac:Party[not(cbc:EndpointID)]")


def _all_allowances(ubl: Ubl) -> list[etree._Element]:
    return ubl.x(
        "cac:AllowanceCharge | cac:InvoiceLine/cac:AllowanceCharge | cac:CreditNoteLine/cac:AllowanceCharge"
    )


@rule(
    "PEPPOL-EN16931-R040",
    "Allowance/charge amount must equal base amount * percentage/100 if base amount and percentage exists",
)
def _r040(ubl: Ubl) -> Iterator[etree._Element]:
    for item in _all_allowances(ubl):
        base = dec(ubl.first("cbc:BaseAmount", item))
        percent = dec(ubl.first("cbc:MultiplierFactorNumeric", item))
        if base is None or percent is None:
            continue
        amount = dec(ubl.first("cbc:Amount", item)) or Decimal(0)
        if abs(amount - base * percent / 100) > Decimal("0.02"):
            yield item


@rule(
    "PEPPOL-EN16931-R041",
    "Allowance/charge base amount MUST be provided when allowance/charge percentage is provided.",
)
def _r041(ubl: Ubl) -> Iterator[etree._Element]:
    for item in _all_allowances(ubl):
        if ubl.has("cbc:MultiplierFactorNumeric", item) and not ubl.has("cbc:BaseAmount", item):
            yield item


@rule(
    "PEPPOL-EN16931-R042",
    "Allowance/charge percentage MUST be provided when allowance/charge base amount is provided.",
)
def _r042(ubl: Ubl) -> Iterator[etree._Element]:
    for item in _all_allowances(ubl):
        if ubl.has("cbc:BaseAmount", item) and not ubl.has("cbc:MultiplierFactorNumeric", item):
            yield item


@rule("PEPPOL-EN16931-R043", "Allowance/charge ChargeIndicator value MUST equal 'true' or 'false'")
def _r043(ubl: Ubl) -> Iterator[etree._Element]:
    for item in _all_allowances(ubl):
        if ubl.text("cbc:ChargeIndicator", item) not in ("true", "false"):
            yield item


@rule("PEPPOL-EN16931-R044", "Charge on price level is NOT allowed. Only value 'false' allowed.")
def _r044(ubl: Ubl) -> Iterator[etree._Element]:
    for item in ubl.x("//cac:Price/cac:AllowanceCharge"):
        if ubl.text("cbc:ChargeIndicator", item) != "false":
            yield item


@rule(
    "PEPPOL-EN16931-R046",
    "Item net price MUST equal (Gross price - Allowance amount) when gross price is provided.",
)
def _r046(ubl: Ubl) -> Iterator[etree._Element]:
    for item in ubl.x("//cac:Price/cac:AllowanceCharge[cbc:BaseAmount]"):
        net = dec(ubl.first("../cbc:PriceAmount", item))
        gross = dec(ubl.first("cbc:BaseAmount", item))
        allowance = dec(ubl.first("cbc:Amount", item))
        if None in (net, gross, allowance) or net != gross - allowance:
            yield item


@rule(
    "PEPPOL-EN16931-R051",
    "All currencyID attributes must have the same value as the invoice currency code (BT-5), except for the invoice total VAT amount in accounting currency (BT-111).",
)
def _r051(ubl: Ubl) -> Iterator[etree._Element]:
    names = " | ".join(f"//cbc:{name}" for name in AMOUNT_ELEMENTS)
    amounts = ubl.x(f"{names} | cac:TaxTotal[cac:TaxSubtotal]/cbc:TaxAmount")
    for element in amounts:
        if element.get("currencyID") != ubl.currency:
            yield element


@rule("PEPPOL-EN16931-R053", "Only one tax total with tax subtotals MUST be provided.")
def _r053(ubl: Ubl) -> Iterator[etree._Element]:
    if len(ubl.x("cac:TaxTotal[cac:TaxSubtotal]")) != 1:
        yield ubl.root


@rule(
    "PEPPOL-EN16931-R054",
    "Only one tax total without tax subtotals MUST be provided when tax currency code is provided.",
)
def _r054(ubl: Ubl) -> Iterator[etree._Element]:
    expected = 1 if ubl.has("cbc:TaxCurrencyCode") else 0
    if len(ubl.x("cac:TaxTotal[not(cac:TaxSubtotal)]")) != expected:
        yield ubl.root


@rule(
    "PEPPOL-EN16931-R055",
    "Invoice total VAT amount and Invoice total VAT amount in accounting currency MUST have the same operational sign",
)
def _r055(ubl: Ubl) -> Iterator[etree._Element]:
    currency = ubl.tax_currency
    if not currency:
        return
    in_tax_currency = ubl.tax_amounts_in(currency)
    in_tax = dec(in_tax_currency[0]) if in_tax_currency else None
    in_document = dec(_document_tax_total(ubl))
    if in_tax is None or in_document is None:
        return
    if not ((in_tax <= 0 and in_document <= 0) or (in_tax >= 0 and in_document >= 0)):
        yield ubl.root


@rule("PEPPOL-EN16931-R061", "Mandate reference MUST be provided for direct debit.")
def _r061(ubl: Ubl) -> Iterator[etree._Element]:
    for means in ubl.x("cac:PaymentMeans"):
        if ubl.text("cbc:PaymentMeansCode", means) in ("49", "59") and not ubl.has(
            "cac:PaymentMandate/cbc:ID", means
        ):
            yield means


@rule("PEPPOL-EN16931-R080", "Only one project reference is allowed on document level")
def _r080(ubl: Ubl) -> Iterator[etree._Element]:
    yield from ubl.x("cac:AdditionalDocumentReference[cbc:DocumentTypeCode='50']")[1:]


@rule("PEPPOL-EN16931-R100", "Only one invoiced object is allowed pr line")
def _r100(ubl: Ubl) -> Iterator[etree._Element]:
    for line in ubl.lines:
        yield from ubl.x("cac:DocumentReference", line)[1:]


@rule("PEPPOL-EN16931-R101", "Element Document reference can only be used for Invoice line object")
def _r101(ubl: Ubl) -> Iterator[etree._Element]:
    for line in ubl.lines:
        for reference in ubl.x("cac:DocumentReference", line):
            if ubl.text("cbc:DocumentTypeCode", reference) != "130":
                yield reference


def _line_period_rule(rule_id: str, message: str, name: str, later_is_wrong: bool) -> None:
    def check(ubl: Ubl) -> Iterator[etree._Element]:
        limit = ubl.text(f"cac:InvoicePeriod/cbc:{name}")
        if not limit:
            return
        for line in ubl.lines:
            for element in ubl.x(f"cac:InvoicePeriod/cbc:{name}", line):
                value = (element.text or "").strip()
                if (value > limit) if later_is_wrong else (value < limit):
                    yield element

    rule(rule_id, message)(check)


_line_period_rule(
    "PEPPOL-EN16931-R110",
    "Start date of line period MUST be within invoice period.",
    "StartDate",
    False,
)
_line_period_rule(
    "PEPPOL-EN16931-R111", "End date of line period MUST be within invoice period.", "EndDate", True
)


@rule(
    "PEPPOL-EN16931-R120",
    "Invoice line net amount MUST equal (Invoiced quantity * (Item net price/item price base quantity) + Sum of invoice line charge amount - sum of invoice line allowance amount",
)
def _r120(ubl: Ubl) -> Iterator[etree._Element]:
    for line in ubl.lines:
        net = dec(ubl.first("cbc:LineExtensionAmount", line)) or Decimal(0)
        quantity_element = ubl.quantity(line)
        quantity = Decimal(1) if quantity_element is None else dec(quantity_element)
        price = _price(ubl, line) or Decimal(0)
        base = dec(ubl.first("cac:Price/cbc:BaseQuantity", line))
        if quantity is None:
            yield line
            continue
        if not base:
            base = Decimal(1)
        charges = xround(
            ubl.sum(
                ubl.x(
                    "cac:AllowanceCharge[normalize-space(cbc:ChargeIndicator)='true']/cbc:Amount",
                    line,
                )
            )
        )
        allowances = xround(
            ubl.sum(
                ubl.x(
                    "cac:AllowanceCharge[normalize-space(cbc:ChargeIndicator)='false']/cbc:Amount",
                    line,
                )
            )
        )
        if abs(net - (quantity * (price / base) + charges - allowances)) > Decimal("0.02"):
            yield line


@rule("PEPPOL-EN16931-R121", "Base quantity MUST be a positive number above zero.")
def _r121(ubl: Ubl) -> Iterator[etree._Element]:
    for line in ubl.lines:
        for base in ubl.x("cac:Price/cbc:BaseQuantity", line):
            value = dec(base)
            if value is None or value <= 0:
                yield base


@rule("PEPPOL-EN16931-R130", "Unit code of price base quantity MUST be same as invoiced quantity.")
def _r130(ubl: Ubl) -> Iterator[etree._Element]:
    for line in ubl.lines:
        quantity = ubl.quantity(line)
        for base in ubl.x("cac:Price/cbc:BaseQuantity[@unitCode]", line):
            if quantity is not None and base.get("unitCode") != quantity.get("unitCode"):
                yield base


@rule("PEPPOL-EN16931-CL001", "Mime code must be according to subset of IANA code list.")
def _cl001(ubl: Ubl) -> Iterator[etree._Element]:
    for element in ubl.x("//cbc:EmbeddedDocumentBinaryObject[@mimeCode]"):
        if element.get("mimeCode") not in MIME_CODES:
            yield element


@rule("PEPPOL-EN16931-CL007", "Currency code must be according to ISO 4217:2005")
def _cl007(ubl: Ubl) -> Iterator[etree._Element]:
    names = " | ".join(f"//cbc:{name}" for name in [*AMOUNT_ELEMENTS, "TaxAmount"])
    for element in ubl.x(names):
        if element.get("currencyID") not in CURRENCIES:
            yield element


@rule(
    "PEPPOL-EN16931-CL008",
    'Electronic address identifier scheme must be from the codelist "Electronic Address Identifier Scheme"',
)
def _cl008(ubl: Ubl) -> Iterator[etree._Element]:
    for element in ubl.x("//cbc:EndpointID[@schemeID]"):
        if element.get("schemeID") not in EAS_CODES:
            yield element


@rule("PEPPOL-EN16931-P0100", "Invoice type code MUST be set according to the profile.")
def _p0100(ubl: Ubl) -> Iterator[etree._Element]:
    for element in ubl.x("cbc:InvoiceTypeCode"):
        if ubl.text(".", element) not in INVOICE_TYPE_CODES:
            yield element


@rule("PEPPOL-EN16931-P0101", "Credit note type code MUST be set according to the profile.")
def _p0101(ubl: Ubl) -> Iterator[etree._Element]:
    for element in ubl.x("cbc:CreditNoteTypeCode"):
        if ubl.text(".", element) not in CREDIT_NOTE_TYPE_CODES:
            yield element


@rule("PEPPOL-EN16931-F001", "A date MUST be formatted YYYY-MM-DD.")
def _f001(ubl: Ubl) -> Iterator[etree._Element]:
    for element in ubl.x(" | ".join(f"//cbc:{name}" for name in DATE_ELEMENTS)):
        text = element.text or ""
        try:
            date.fromisoformat(text)
        except ValueError:
            yield element
            continue
        if len(text) != 10:
            yield element


for _number, _code, _category_code in (
    ("P0104", "VATEX-EU-G", "G"),
    ("P0105", "VATEX-EU-O", "O"),
    ("P0106", "VATEX-EU-IC", "K"),
    ("P0107", "VATEX-EU-AE", "AE"),
    ("P0108", "VATEX-EU-D", "E"),
    ("P0109", "VATEX-EU-F", "E"),
    ("P0110", "VATEX-EU-I", "E"),
    ("P0111", "VATEX-EU-J", "E"),
):

    def _exemption_code(
        ubl: Ubl, code: str = _code, category: str = _category_code
    ) -> Iterator[etree._Element]:
        for tax_category in ubl.x("//cac:TaxCategory"):
            reason = ubl.text("cbc:TaxExemptionReasonCode", tax_category).upper()
            if reason == code and _category(ubl, tax_category) != category:
                yield tax_category

    rule(
        f"PEPPOL-EN16931-{_number}",
        f"Tax Category {_category_code} MUST be used when exemption reason code is {_code}",
    )(_exemption_code)


# -- Code lists (CEN EN16931-UBL-codes) --------------------------------------------------------

# UNTDID 1001 document types EN 16931 accepts; Peppol narrows them further (P0100, P0101).
EN_INVOICE_TYPE_CODES = frozenset(
    "71 80 81 82 84 102 130 202 203 204 211 218 219 295 325 326 331 380 382 383 384 385 386 "
    "387 388 389 390 393 394 395 456 457 471 472 473 500 501 502 503 527 553 575 623 633 751 "
    "780 817 870 875 876 877 935".split()
)
EN_CREDIT_NOTE_TYPE_CODES = frozenset("81 83 261 262 296 308 381 396 420 458 532".split())
# ISO 6523 ICD: every four-digit code from 0002 to 0240 except the four never assigned.
ICD_CODES = frozenset(f"{number:04d}" for number in range(2, 241)) - {
    "0092",
    "0103",
    "0181",
    "0182",
}
# UNCL 4461 payment means.
PAYMENT_MEANS_CODES = frozenset(
    [str(code) for code in (*range(1, 71), *range(74, 79), *range(91, 99))] + ["ZZZ"]
)
TAX_CATEGORY_CODES = frozenset("AE L M E S Z G O K B".split())
# UN/ECE recommendation 20 (with 21) units: those the app writes (one, piece, hour, day,
# month, kilogram, metre, kilometre, litre) and the everyday ones other senders use. The
# full list has some two thousand codes; a unit outside this subset is reported, so widen
# it, from the official list, when the app learns a new unit.
UNIT_CODES = frozenset(
    "C62 H87 EA HUR MIN DAY WEE MON ANN KGM GRM TNE MTR KMT MTK MTQ LTR KWH SET PR XPP".split()
)
# UNTDID 4451 subjects a note may start with as "#AAI#..." (BR-CL-08): the common ones.
NOTE_SUBJECT_CODES = frozenset(
    "AAA AAB AAC AAI AAJ AAK ABL ACB CUS PAY PMD PMT REG SUR TXD".split()
)
# The CEN EAS list (BR-CL-25) no longer carries 9901, which Peppol's still does (CL008).
EN_EAS_CODES = EAS_CODES - {"9901"}


def _code_rule(
    rule_id: str, message: str, path: str, allowed: frozenset[str], *, attribute: str = ""
) -> None:
    """``path`` elements whose text (or ``attribute``) is not one of ``allowed``."""

    def check(ubl: Ubl) -> Iterator[etree._Element]:
        for element in ubl.x(path):
            value = element.get(attribute) if attribute else (element.text or "")
            if (value or "").strip() not in allowed:
                yield element

    rule(rule_id, message)(check)


AMOUNTS_WITH_CURRENCY = " | ".join(f"//cbc:{name}" for name in [*AMOUNT_ELEMENTS, "TaxAmount"])

for _id, _message, _path, _allowed, _attribute in (
    ("BR-CL-03", "currencyID MUST be coded using ISO code list 4217 alpha-3", AMOUNTS_WITH_CURRENCY, CURRENCIES, "currencyID"),
    ("BR-CL-04", "Invoice currency code MUST be coded using ISO code list 4217 alpha-3", "cbc:DocumentCurrencyCode", CURRENCIES, ""),
    ("BR-CL-05", "Tax currency code MUST be coded using ISO code list 4217 alpha-3", "cbc:TaxCurrencyCode", CURRENCIES, ""),
    ("BR-CL-11", "Any registration identifier identification scheme identifier MUST be coded using one of the ISO 6523 ICD list.", "//cac:PartyLegalEntity/cbc:CompanyID[@schemeID]", ICD_CODES, "schemeID"),
    ("BR-CL-14", "Country codes in an invoice MUST be coded using ISO code list 3166-1", "//cac:Country/cbc:IdentificationCode", COUNTRY_CODES, ""),
    ("BR-CL-16", "Payment means in an invoice MUST be coded using UNCL4461 code list", "cac:PaymentMeans/cbc:PaymentMeansCode", PAYMENT_MEANS_CODES, ""),
    ("BR-CL-17", "Invoice tax categories MUST be coded using UNCL5305 code list", "//cac:TaxCategory/cbc:ID", TAX_CATEGORY_CODES, ""),
    ("BR-CL-18", "Invoice tax categories MUST be coded using UNCL5305 code list", "//cac:ClassifiedTaxCategory/cbc:ID", TAX_CATEGORY_CODES, ""),
    ("BR-CL-23", "Unit code MUST be coded according to the UN/ECE Recommendation 20 with Rec 21 extension", "//cbc:InvoicedQuantity | //cbc:CreditedQuantity | //cbc:BaseQuantity[@unitCode]", UNIT_CODES, "unitCode"),
    ("BR-CL-24", "For Mime code in attribute use MIMEMediaType.", "//cbc:EmbeddedDocumentBinaryObject[@mimeCode]", MIME_CODES, "mimeCode"),
    ("BR-CL-25", "Endpoint identifier scheme identifier MUST belong to the CEF EAS code list", "//cbc:EndpointID[@schemeID]", EN_EAS_CODES, "schemeID"),
):  # fmt: skip
    _code_rule(_id, _message, _path, _allowed, attribute=_attribute)


@rule(
    "BR-CL-01",
    "The document type code MUST be coded by the invoice and credit note related code lists of UNTDID 1001.",
)
def _brcl01(ubl: Ubl) -> Iterator[etree._Element]:
    for path, allowed in (
        ("cbc:InvoiceTypeCode", EN_INVOICE_TYPE_CODES),
        ("cbc:CreditNoteTypeCode", EN_CREDIT_NOTE_TYPE_CODES),
    ):
        for element in ubl.x(path):
            if ubl.text(".", element) not in allowed:
                yield element


@rule(
    "BR-CL-08",
    "Invoiced note subject code shall be coded using UNCL4451",
)
def _brcl08(ubl: Ubl) -> Iterator[etree._Element]:
    """A note may start with a subject code between hashes ("#AAI#..."): it must be known."""
    for note in ubl.x("cbc:Note"):
        parts = (note.text or "").split("#")
        if len(parts) >= 3 and len(parts[1]) == 3 and parts[1] not in NOTE_SUBJECT_CODES:
            yield note


@rule(
    "BR-CL-22",
    "Tax exemption reason code identifier scheme identifier MUST belong to the CEF VATEX code list",
)
def _brcl22(ubl: Ubl) -> Iterator[etree._Element]:
    for element in ubl.x("//cbc:TaxExemptionReasonCode"):
        if ubl.text(".", element).upper() not in VATEX_CODES:
            yield element


# -- Identifier check digits (Peppol BIS) -------------------------------------------------------

for _id, _scheme, _message in (
    ("PEPPOL-COMMON-R040", "0088", "GLN must have a valid format according to GS1 rules."),
    ("PEPPOL-COMMON-R041", "0192", "Norwegian organization number MUST be stated in the correct format."),
    ("PEPPOL-COMMON-R043", "0208", "Belgian enterprise number MUST be stated in the correct format."),
    ("PEPPOL-COMMON-R049", "0007", "Swedish organization number MUST be stated in the correct format."),
):  # fmt: skip

    def _check_digits(ubl: Ubl, scheme: str = _scheme) -> Iterator[etree._Element]:
        valid = CHECK_DIGITS[scheme]
        path = (
            "//cbc:EndpointID[@schemeID=$scheme] | //cac:PartyIdentification/cbc:ID[@schemeID=$scheme]"
            " | //cbc:CompanyID[@schemeID=$scheme]"
        )
        for element in ubl.x(path, scheme=scheme):
            if not valid(ubl.text(".", element)):
                yield element

    rule(_id, _message)(_check_digits)


@rule("PEPPOL-EN16931-R006", "Only one invoiced object is allowed on document level")
def _r006(ubl: Ubl) -> Iterator[etree._Element]:
    yield from ubl.x("cac:AdditionalDocumentReference[cbc:DocumentTypeCode='130']")[1:]


# -- UBL syntax binding (CEN EN16931-UBL-syntax): cardinalities UBL allows and EN 16931 not ----


def _at_most(rule_id: str, message: str, context: str, counted: str, limit: int = 1) -> None:
    """Each ``context`` element may hold at most ``limit`` of ``counted``."""

    def check(ubl: Ubl) -> Iterator[etree._Element]:
        for holder in ubl.x(context):
            if len(ubl.x(counted, holder)) > limit:
                yield holder

    rule(rule_id, message)(check)


DOCUMENT = "/*"
SUPPLIER = "cac:AccountingSupplierParty/cac:Party"
CUSTOMER = "cac:AccountingCustomerParty/cac:Party"
for _id, _message, _context, _counted, _limit in (
    ("UBL-SR-05", "Payment terms shall occur maximum once", DOCUMENT, "cac:PaymentTerms/cbc:Note", 1),
    ("UBL-SR-06", "Preceding invoice reference shall occur maximum once", "cac:BillingReference", "cac:InvoiceDocumentReference", 1),
    ("UBL-SR-08", "Invoice period shall occur maximum once", DOCUMENT, "cac:InvoicePeriod", 1),
    ("UBL-SR-09", "Seller name shall occur maximum once", DOCUMENT, f"{SUPPLIER}/cac:PartyLegalEntity/cbc:RegistrationName", 1),
    ("UBL-SR-10", "Seller trader name shall occur maximum once", DOCUMENT, f"{SUPPLIER}/cac:PartyName/cbc:Name", 1),
    ("UBL-SR-11", "Seller legal registration identifier shall occur maximum once", DOCUMENT, f"{SUPPLIER}/cac:PartyLegalEntity/cbc:CompanyID", 1),
    ("UBL-SR-12", "Seller VAT identifier shall occur maximum once", DOCUMENT, f"{SUPPLIER}/cac:PartyTaxScheme[cac:TaxScheme/cbc:ID='VAT']/cbc:CompanyID", 1),
    ("UBL-SR-15", "Buyer name shall occur maximum once", DOCUMENT, f"{CUSTOMER}/cac:PartyLegalEntity/cbc:RegistrationName", 1),
    ("UBL-SR-17", "Buyer legal registration identifier shall occur maximum once", DOCUMENT, f"{CUSTOMER}/cac:PartyLegalEntity/cbc:CompanyID", 1),
    ("UBL-SR-18", "Buyer VAT identifier shall occur maximum once", DOCUMENT, f"{CUSTOMER}/cac:PartyTaxScheme[cac:TaxScheme/cbc:ID='VAT']/cbc:CompanyID", 1),
    ("UBL-SR-24", "Deliver to information shall occur maximum once", DOCUMENT, "cac:Delivery", 1),
    ("UBL-SR-26", "Payment reference shall occur maximum once", "cac:PaymentMeans", "cbc:PaymentID", 1),
    ("UBL-SR-27", "Payment means text shall occur maximum once", "cac:PaymentMeans", "cbc:PaymentMeansCode", 1),
    ("UBL-SR-32", "VAT exemption reason text shall occur maximum once", "cac:TaxTotal/cac:TaxSubtotal", "cac:TaxCategory/cbc:TaxExemptionReason", 1),
    ("UBL-SR-33", "Supporting document description shall occur maximum once", "cac:AdditionalDocumentReference", "cbc:DocumentDescription", 1),
    ("UBL-SR-40", "Buyer trade name shall occur maximum once", DOCUMENT, f"{CUSTOMER}/cac:PartyName/cbc:Name", 1),
    ("UBL-SR-42", "Party tax scheme shall occur maximum twice in accounting supplier party", SUPPLIER, "cac:PartyTaxScheme", 2),
    ("UBL-SR-45", "Due Date shall occur maximum once", DOCUMENT, "cac:PaymentMeans/cbc:PaymentDueDate", 1),
    ("UBL-SR-50", "Item description shall occur maximum once", "cac:InvoiceLine | cac:CreditNoteLine", "cac:Item/cbc:Description", 1),
):  # fmt: skip
    _at_most(_id, _message, _context, _counted, _limit)


@rule(
    "UBL-SR-07",
    "If there is a preceding invoice reference, the preceding invoice number shall be present",
)
def _sr07(ubl: Ubl) -> Iterator[etree._Element]:
    yield from ubl.x("cac:BillingReference[not(cac:InvoiceDocumentReference/cbc:ID)]")


@rule(
    "UBL-SR-43",
    "Scheme identifier shall only be used for invoiced object (document type code with value 130 or 50)",
)
def _sr43(ubl: Ubl) -> Iterator[etree._Element]:
    for reference in ubl.x("cac:AdditionalDocumentReference"):
        code = ubl.text("cbc:DocumentTypeCode", reference)
        if code == "130" or (code == "50" and ubl.is_credit_note):
            continue
        if code or ubl.has("cbc:ID/@schemeID", reference):
            yield reference


def _distinct_at_most_one(rule_id: str, message: str, path: str) -> None:
    def check(ubl: Ubl) -> Iterator[etree._Element]:
        elements = ubl.x(path)
        if len({ubl.text(".", element) for element in elements}) > 1:
            yield elements[1]

    rule(rule_id, message)(check)


_distinct_at_most_one(
    "UBL-SR-44", "An Invoice may only have one unique PaymentID", "//cbc:PaymentID"
)
_distinct_at_most_one(
    "UBL-SR-47",
    "When there are more than one payment means code, they shall be equal",
    "//cbc:PaymentMeansCode",
)


@rule("UBL-SR-48", "Invoice lines shall have one and only one classified tax category.")
def _sr48(ubl: Ubl) -> Iterator[etree._Element]:
    for line in ubl.lines:
        if len(ubl.x("cac:Item/cac:ClassifiedTaxCategory", line)) != 1:
            yield line


@rule(
    "UBL-SR-53",
    "CompanyID (VAT Identifier) must be stated when providing the PartyTaxScheme/TaxScheme/ID.",
)
def _sr53(ubl: Ubl) -> Iterator[etree._Element]:
    for scheme in ubl.x("//cac:PartyTaxScheme"):
        if not (ubl.has("cac:TaxScheme/cbc:ID", scheme) and ubl.has("cbc:CompanyID", scheme)):
            yield scheme


@rule("UBL-DT-01", "Amounts shall be decimal up to two fraction digits")
def _dt01(ubl: Ubl) -> Iterator[etree._Element]:
    """Every amount but a price (BT-146, BT-148) and a price discount carries cents at most."""
    for element in ubl.root.iter(etree.Element):
        name = etree.QName(element).localname
        if not name.endswith("Amount") or name.endswith("PriceAmount"):
            continue
        if ubl.has("ancestor::cac:Price/cac:AllowanceCharge", element):
            continue
        if _decimals(element) > 2:
            yield element


@rule("UBL-DT-06", "Binary object elements shall contain the mime code attribute")
def _dt06(ubl: Ubl) -> Iterator[etree._Element]:
    yield from ubl.x(
        "//*[substring(local-name(), string-length(local-name()) - 11) = 'BinaryObject'][not(@mimeCode)]"
    )


@rule("UBL-DT-07", "Binary object elements shall contain the file name attribute")
def _dt07(ubl: Ubl) -> Iterator[etree._Element]:
    yield from ubl.x(
        "//*[substring(local-name(), string-length(local-name()) - 11) = 'BinaryObject'][not(@filename)]"
    )
