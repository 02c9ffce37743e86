"""What an EN 16931 invoice or credit note carries, independent of any syntax.

Amounts are Decimal with two decimals (EN 16931 allows no more on any total, BR-DEC-*).
The VAT breakdown and the totals are derived from the lines, never typed in, so a document
built here cannot disagree with itself:

- line net amount (BT-131) = quantity x net price, rounded half up to cents;
- VAT breakdown: one group per VAT category and rate; its taxable amount (BT-116) is the sum
  of the rounded line net amounts in that group, and its VAT (BT-117) is that sum x rate,
  rounded half up to cents **once per group** (BR-CO-17, BR-S-09). VAT is never rounded per
  line and then added up, which is how 163.49 at 21 % became 34.34 instead of 34.33;
  A credit note for what was left of an invoice after earlier credit notes states the VAT
  that was left instead (``stated_vat``), which may differ from the rate applied afresh by a
  cent or two; EN 16931 accepts a group's VAT strictly less than one unit away from taxable
  amount x rate (BR-CO-17, BR-S-09 of the CEN validation artefacts), and so does this model;
- invoice VAT total (BT-110) = sum of the groups' VAT (BR-CO-14);
- a document in another currency than EUR also states its VAT total in EUR (BT-6, BT-111):
  the VAT total divided by the exchange rate (document currency units per 1 EUR, the way the
  European Central Bank quotes it), rounded half up to cents.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

from shared.money import ROUNDING

CENT = Decimal("0.01")
VAT_ACCOUNTING_CURRENCY = "EUR"

# Electronic Address Scheme (EAS) codes Peppol accepts for EndpointID (BT-34, BT-49), as
# listed by Peppol BIS Billing 3.0 (rule PEPPOL-EN16931-CL008). Latvian parties use 0218
# (unified registration number) or 9939 (VAT number).
EAS_CODES = frozenset(
    "0002 0007 0009 0037 0060 0088 0096 0097 0106 0130 0135 0142 0151 0183 0184 0188 0190 "
    "0191 0192 0193 0195 0196 0198 0199 0200 0201 0202 0204 0208 0209 0210 0211 0212 0213 "
    "0215 0216 0218 0221 0230 9901 9910 9913 9914 9915 9918 9919 9920 9922 9923 9924 9925 "
    "9926 9927 9928 9929 9930 9931 9932 9933 9934 9935 9936 9937 9938 9939 9940 9941 9942 "
    "9943 9944 9945 9946 9947 9948 9949 9950 9951 9952 9953 9957 9959".split()
)
LATVIAN_REGISTRATION_SCHEME = "0218"
LATVIAN_VAT_SCHEME = "9939"

# ISO 3166-1 alpha-2 as EN 16931 lists it for every country code (BR-CL-14), with XI for
# Northern Ireland and 1A for Kosovo. A code outside it ("UK", "EL") is refused here, before
# the document is written, rather than found by the receiver's validator.
COUNTRY_CODES = frozenset(
    "1A AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN "
    "BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE "
    "DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN "
    "GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE "
    "KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK "
    "ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA "
    "PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK "
    "SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG "
    "UM US UY UZ VA VC VE VG VI VN VU WF WS XI YE YT ZA ZM ZW".split()
)
# The EU codes of the CEF VATEX list (BR-CL-22). The list has no code for every article:
# an exemption under article 135 of the VAT directive, say, is given by its text alone.
VATEX_CODES = frozenset(
    "VATEX-EU-79-C VATEX-EU-132 VATEX-EU-132-1A VATEX-EU-132-1B VATEX-EU-132-1C "
    "VATEX-EU-132-1D VATEX-EU-132-1E VATEX-EU-132-1F VATEX-EU-132-1G VATEX-EU-132-1H "
    "VATEX-EU-132-1I VATEX-EU-132-1J VATEX-EU-132-1K VATEX-EU-132-1L VATEX-EU-132-1M "
    "VATEX-EU-132-1N VATEX-EU-132-1O VATEX-EU-132-1P VATEX-EU-132-1Q VATEX-EU-143 "
    "VATEX-EU-143-1A VATEX-EU-143-1B VATEX-EU-143-1C VATEX-EU-143-1D VATEX-EU-143-1E "
    "VATEX-EU-143-1F VATEX-EU-143-1FA VATEX-EU-143-1G VATEX-EU-143-1H VATEX-EU-143-1I "
    "VATEX-EU-143-1J VATEX-EU-143-1K VATEX-EU-143-1L VATEX-EU-144 VATEX-EU-146-1E "
    "VATEX-EU-148 VATEX-EU-148-A VATEX-EU-148-B VATEX-EU-148-C VATEX-EU-148-D VATEX-EU-148-E "
    "VATEX-EU-148-F VATEX-EU-148-G VATEX-EU-151 VATEX-EU-151-1A VATEX-EU-151-1AA "
    "VATEX-EU-151-1B VATEX-EU-151-1C VATEX-EU-151-1D VATEX-EU-151-1E VATEX-EU-153 "
    "VATEX-EU-159 VATEX-EU-309 VATEX-EU-AE VATEX-EU-D VATEX-EU-F VATEX-EU-G VATEX-EU-I "
    "VATEX-EU-IC VATEX-EU-J VATEX-EU-O".split()
)


class ModelError(ValueError):
    """A document that EN 16931 would refuse, with a message naming the business term."""


class DocumentType(StrEnum):
    INVOICE = "380"
    CREDIT_NOTE = "381"


class VatCategory(StrEnum):
    """UNCL 5305 VAT category codes EN 16931 uses (BT-151, BT-118)."""

    STANDARD = "S"
    ZERO_RATED = "Z"
    EXEMPT = "E"
    REVERSE_CHARGE = "AE"
    INTRA_EU_SUPPLY = "K"
    EXPORT = "G"
    NOT_SUBJECT = "O"


class PaymentMeansCode(StrEnum):
    CREDIT_TRANSFER = "30"
    SEPA_CREDIT_TRANSFER = "58"


@dataclass(frozen=True)
class Exemption:
    """Why no VAT is charged (BT-120 text, BT-121 VATEX code); E, AE, K, G and O need one."""

    text: str
    code: str = ""

    def __post_init__(self) -> None:
        if self.code and self.code.upper() not in VATEX_CODES:
            raise ModelError(f"'{self.code}' is not a VATEX exemption reason code (BT-121).")


# The standard wording for categories whose reason is fixed by the category itself. Exempt
# supplies (E) name the article of the VAT directive or law, so they never get a default.
STANDARD_EXEMPTIONS: Mapping[VatCategory, Exemption] = {
    VatCategory.REVERSE_CHARGE: Exemption("Reverse charge", "VATEX-EU-AE"),
    VatCategory.INTRA_EU_SUPPLY: Exemption("Intra-community supply", "VATEX-EU-IC"),
    VatCategory.EXPORT: Exemption("Export outside the EU", "VATEX-EU-G"),
    VatCategory.NOT_SUBJECT: Exemption("Not subject to VAT", "VATEX-EU-O"),
}
NEEDS_EXEMPTION = frozenset(
    {
        VatCategory.EXEMPT,
        VatCategory.REVERSE_CHARGE,
        VatCategory.INTRA_EU_SUPPLY,
        VatCategory.EXPORT,
        VatCategory.NOT_SUBJECT,
    }
)


def cents(amount: Decimal) -> Decimal:
    """The one rounding rule of this module: half up to two decimals."""
    return amount.quantize(CENT, rounding=ROUNDING)


@dataclass(frozen=True)
class Address:
    country: str  # ISO 3166-1 alpha-2 (BT-40, BT-55)
    street: str = ""
    additional_street: str = ""
    city: str = ""
    postal_code: str = ""

    def __post_init__(self) -> None:
        if self.country not in COUNTRY_CODES:
            raise ModelError(f"Country code '{self.country}' is not an ISO 3166 alpha-2 code.")


@dataclass(frozen=True)
class ElectronicAddress:
    """A Peppol participant identifier: EAS scheme + value (BT-34 / BT-49)."""

    scheme: str
    value: str

    def __post_init__(self) -> None:
        if self.scheme not in EAS_CODES:
            raise ModelError(f"Electronic address scheme '{self.scheme}' is not an EAS code.")
        if not self.value.strip():
            raise ModelError("Electronic address is empty.")


@dataclass(frozen=True)
class Party:
    name: str  # legal name, BT-27 / BT-44
    address: Address
    electronic_address: ElectronicAddress
    registration_number: str = ""  # BT-30 / BT-47
    registration_scheme: str = ""  # ISO 6523 ICD, e.g. 0218 for a Latvian company
    vat_id: str = ""  # BT-31 / BT-48, with its country prefix ("LV40003245752")
    trading_name: str = ""
    contact_email: str = ""

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ModelError("Party name is empty.")
        if self.vat_id and not self.vat_id[:2].isalpha():
            raise ModelError(f"VAT number '{self.vat_id}' must start with its country code.")


@dataclass(frozen=True)
class PaymentMeans:
    iban: str  # BT-84
    code: PaymentMeansCode = PaymentMeansCode.SEPA_CREDIT_TRANSFER
    bic: str = ""  # BT-86
    account_name: str = ""  # BT-85
    payment_id: str = ""  # BT-83, the RF creditor reference the payer quotes

    def __post_init__(self) -> None:
        if not self.iban.strip():
            raise ModelError("A credit transfer needs the payee's IBAN (BT-84).")


@dataclass(frozen=True)
class Line:
    id: str
    name: str
    quantity: Decimal
    unit_code: str  # UN/ECE recommendation 20 or 21, e.g. "C62" one, "HUR" hour
    net_price: Decimal  # BT-146, per one unit, may carry more than two decimals
    vat_category: VatCategory
    vat_rate: Decimal = Decimal(0)  # percent
    exemption: Exemption | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ModelError(f"Line {self.id}: the item name (BT-153) is empty.")
        if self.net_price < 0:
            raise ModelError(f"Line {self.id}: the net price (BT-146) cannot be negative.")
        if self.vat_category is VatCategory.STANDARD and self.vat_rate <= 0:
            raise ModelError(f"Line {self.id}: a standard-rated line needs a rate above 0 %.")
        if self.vat_category is not VatCategory.STANDARD and self.vat_rate != 0:
            raise ModelError(
                f"Line {self.id}: category {self.vat_category.value} is charged at 0 %."
            )
        if self.vat_category in NEEDS_EXEMPTION:
            if self.exemption is None and self.vat_category is VatCategory.EXEMPT:
                raise ModelError(
                    f"Line {self.id}: an exempt line needs the exemption reason (BT-120)."
                )
        elif self.exemption is not None:
            raise ModelError(
                f"Line {self.id}: category {self.vat_category.value} takes no exemption reason."
            )

    @property
    def net_amount(self) -> Decimal:
        return cents(self.quantity * self.net_price)

    @property
    def effective_exemption(self) -> Exemption | None:
        if self.exemption is not None:
            return self.exemption
        return STANDARD_EXEMPTIONS.get(self.vat_category)


@dataclass(frozen=True)
class VatBreakdown:
    category: VatCategory
    rate: Decimal
    taxable_amount: Decimal
    tax_amount: Decimal
    exemption: Exemption | None


@dataclass(frozen=True)
class Totals:
    line_net: Decimal  # BT-106
    tax_exclusive: Decimal  # BT-109
    vat: Decimal  # BT-110
    tax_inclusive: Decimal  # BT-112
    prepaid: Decimal  # BT-113
    payable: Decimal  # BT-115
    vat_in_accounting_currency: Decimal | None  # BT-111


@dataclass(frozen=True)
class Attachment:
    """A supporting document embedded in the e-invoice (BG-24), normally the invoice PDF."""

    id: str  # BT-122
    filename: str
    content: bytes
    mime_code: str = "application/pdf"
    description: str = ""


@dataclass(frozen=True)
class Document:
    type: DocumentType
    number: str  # BT-1
    issue_date: date  # BT-2
    currency: str  # BT-5
    seller: Party
    buyer: Party
    lines: tuple[Line, ...]
    due_date: date | None = None  # BT-9
    supply_date: date | None = None  # BT-72 actual delivery date
    period_start: date | None = None  # BT-73
    period_end: date | None = None  # BT-74
    buyer_reference: str = ""  # BT-10
    order_reference: str = ""  # BT-13
    preceding_invoice: str = ""  # BT-25, what a credit note corrects
    preceding_invoice_date: date | None = None  # BT-26
    note: str = ""  # BT-22
    payment_means: PaymentMeans | None = None
    payment_terms: str = ""  # BT-20
    prepaid: Decimal = Decimal("0.00")  # BT-113
    # Units of the document currency per 1 EUR; required when the currency is not EUR.
    eur_exchange_rate: Decimal | None = None
    delivery_country: str = ""  # BT-80, required for intra-community supply (BR-IC-12)
    attachments: tuple[Attachment, ...] = field(default_factory=tuple)
    # VAT already fixed per (category, rate) group, e.g. what was left of an invoice's VAT.
    stated_vat: Mapping[tuple[VatCategory, Decimal], Decimal] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.number.strip():
            raise ModelError("The document number (BT-1) is empty.")
        if not self.lines:
            raise ModelError("A document needs at least one line (BR-16).")
        if len({line.id for line in self.lines}) != len(self.lines):
            raise ModelError("Line identifiers (BT-126) must be unique.")
        if not (self.buyer_reference.strip() or self.order_reference.strip()):
            raise ModelError("Peppol needs a buyer reference (BT-10) or an order reference.")
        if self.currency != VAT_ACCOUNTING_CURRENCY and not self.eur_exchange_rate:
            raise ModelError(
                f"A {self.currency} document states its VAT in EUR too: give the exchange rate."
            )
        if self.currency == VAT_ACCOUNTING_CURRENCY and self.eur_exchange_rate is not None:
            raise ModelError("A EUR document has no exchange rate.")
        if self.eur_exchange_rate is not None and self.eur_exchange_rate <= 0:
            raise ModelError("The exchange rate must be above zero.")
        if self.period_start and self.period_end and self.period_end < self.period_start:
            raise ModelError("The invoicing period ends before it starts (BR-29).")
        if self.type is DocumentType.CREDIT_NOTE and not self.preceding_invoice.strip():
            raise ModelError("A credit note names the invoice it corrects (BT-25).")
        categories = {line.vat_category for line in self.lines}
        if VatCategory.NOT_SUBJECT in categories and len(categories) > 1:
            raise ModelError("Lines not subject to VAT cannot share a document (BR-O-11).")
        if VatCategory.INTRA_EU_SUPPLY in categories and not self.delivery_country:
            raise ModelError("An intra-community supply names the deliver-to country (BT-80).")
        self._check_vat_identifiers(categories)
        self.vat_breakdown()  # conflicting exemption reasons fail here, not when writing

    def _check_vat_identifiers(self, categories: set[VatCategory]) -> None:
        """The VAT numbers each category needs on the document (BR-S/Z/E/AE/IC/G-02)."""
        if categories - {VatCategory.NOT_SUBJECT} and not self.seller.vat_id:
            raise ModelError("Lines with a VAT category need the seller's VAT number (BT-31).")
        if VatCategory.INTRA_EU_SUPPLY in categories and not self.buyer.vat_id:
            raise ModelError("An intra-community supply needs the buyer's VAT number (BT-48).")
        if VatCategory.REVERSE_CHARGE in categories and not (
            self.buyer.vat_id or self.buyer.registration_number
        ):
            raise ModelError(
                "A reverse-charge supply needs the buyer's VAT or registration number (BT-48)."
            )

    def vat_breakdown(self) -> tuple[VatBreakdown, ...]:
        groups: dict[tuple[VatCategory, Decimal], list[Line]] = {}
        for line in self.lines:
            groups.setdefault((line.vat_category, line.vat_rate.normalize()), []).append(line)
        rows = []
        for (category, rate), lines in groups.items():
            reasons = {line.effective_exemption for line in lines}
            if len(reasons) > 1:
                raise ModelError(
                    f"Lines in VAT category {category.value} give different exemption reasons;"
                    " the VAT breakdown has room for one."
                )
            taxable = sum((line.net_amount for line in lines), Decimal("0.00"))
            rows.append(
                VatBreakdown(
                    category=category,
                    rate=rate,
                    taxable_amount=taxable,
                    tax_amount=self._group_vat(category, rate, taxable),
                    exemption=reasons.pop(),
                )
            )
        return tuple(rows)

    def _group_vat(self, category: VatCategory, rate: Decimal, taxable: Decimal) -> Decimal:
        computed = cents(taxable * rate / 100)
        stated = self.stated_vat.get((category, rate))
        if stated is None:
            return computed
        if not abs(stated) - 1 < abs(computed) < abs(stated) + 1:
            raise ModelError(
                f"The VAT of {taxable} in category {category.value} at {rate} % is stated as"
                f" {stated}; EN 16931 allows less than one unit from {computed} (BR-CO-17)."
            )
        return cents(stated)

    def totals(self) -> Totals:
        line_net = sum((line.net_amount for line in self.lines), Decimal("0.00"))
        vat = sum((row.tax_amount for row in self.vat_breakdown()), Decimal("0.00"))
        tax_inclusive = line_net + vat
        vat_eur = None
        if self.eur_exchange_rate is not None:
            vat_eur = cents(vat / self.eur_exchange_rate)
        return Totals(
            line_net=line_net,
            tax_exclusive=line_net,
            vat=vat,
            tax_inclusive=tax_inclusive,
            prepaid=cents(self.prepaid),
            payable=tax_inclusive - cents(self.prepaid),
            vat_in_accounting_currency=vat_eur,
        )
