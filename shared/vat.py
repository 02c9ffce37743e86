"""VAT categories of invoice and credit-note lines, and the one rule that rounds their VAT.

Categories are the UNCL 5305 codes EN 16931 uses: S (standard and reduced rates), Z
(zero-rated), E (exempt, with the reason the law gives), AE (reverse charge, "nodokļa
apgrieztā maksāšana"), K (intra-community supply) and G (export). Only S charges VAT, at
one of Latvia's rates; every other category is at 0 %.

The rounding rule (EN 16931 BR-CO-17, BR-S-09): the lines' nets are rounded to the cent
each; the VAT of a (category, rate) group is the sum of its lines' nets × rate, rounded half
up once; the document's VAT is the sum of its groups'. The VAT stored and printed on each
line is that group VAT allocated over the group's lines in proportion to their nets (largest
remainder), so the lines add up to the VAT table to the cent: 54.50 + 54.50 + 54.49 at 21 %
is 34.33, not the 34.34 that rounding each line would give.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Protocol

from shared.errors import ValidationError
from shared.money import allocate_minor, from_minor, to_minor


class VatCategory(StrEnum):
    STANDARD = "S"
    ZERO_RATED = "Z"
    EXEMPT = "E"
    REVERSE_CHARGE = "AE"
    INTRA_EU_SUPPLY = "K"
    EXPORT = "G"


STANDARD_RATES = (Decimal(21), Decimal(12), Decimal(5))
# Categories whose buyer accounts for the VAT, so the invoice must name their VAT number.
NEEDS_BUYER_VAT_NUMBER = frozenset({VatCategory.REVERSE_CHARGE, VatCategory.INTRA_EU_SUPPLY})
EXEMPTION_REASON_LIMIT = 300

# VATEX codes for exempt supplies (CEF VATEX list), with the article of Council Directive
# 2006/112/EC they stand for; the editor offers them beside the free-text reason.
EXEMPTION_CODES = MappingProxyType(
    {
        "VATEX-EU-132": "Article 132 of Directive 2006/112/EC",
        "VATEX-EU-135": "Article 135 of Directive 2006/112/EC",
        "VATEX-EU-143": "Article 143 of Directive 2006/112/EC",
        "VATEX-EU-148": "Article 148 of Directive 2006/112/EC",
        "VATEX-EU-151": "Article 151 of Directive 2006/112/EC",
        "VATEX-EU-309": "Article 309 of Directive 2006/112/EC",
    }
)


@dataclass(frozen=True)
class VatChoice:
    """One entry of the editor's VAT select box: a category at one rate."""

    key: str
    category: VatCategory
    rate: Decimal
    label: str


VAT_CHOICES = tuple(
    VatChoice(f"{category}:{rate}", category, rate, label)
    for category, rate, label in (
        (VatCategory.STANDARD, Decimal(21), "21 % standard (S)"),
        (VatCategory.STANDARD, Decimal(12), "12 % reduced (S)"),
        (VatCategory.STANDARD, Decimal(5), "5 % reduced (S)"),
        (VatCategory.ZERO_RATED, Decimal(0), "0 % zero-rated (Z)"),
        (VatCategory.EXEMPT, Decimal(0), "Exempt (E)"),
        (VatCategory.REVERSE_CHARGE, Decimal(0), "Reverse charge (AE)"),
        (VatCategory.INTRA_EU_SUPPLY, Decimal(0), "Intra-EU supply (K)"),
        (VatCategory.EXPORT, Decimal(0), "Export (G)"),
    )
)
CHOICES_BY_KEY = MappingProxyType({choice.key: choice for choice in VAT_CHOICES})
DEFAULT_CHOICE = VAT_CHOICES[0]


def choice_key(*, category: str, rate: str) -> str:
    """The select box entry of a stored line ("S:21"). A draft saved at a rate the list no
    longer has gives a key no choice has; the editor shows it as such until it is changed."""
    return f"{category}:{Decimal(rate).normalize():f}"


def category_of(*, category: str, rate: Decimal) -> VatCategory:
    """The line's category; none given means S above 0 % and Z at 0 %, as lines were
    read before categories existed."""
    if not category.strip():
        return VatCategory.STANDARD if rate > 0 else VatCategory.ZERO_RATED
    try:
        return VatCategory(category.strip().upper())
    except ValueError:
        raise ValidationError(
            "VAT category '{category}' is not one of {categories}.",
            category=category,
            categories=", ".join(c.value for c in VatCategory),
            field="vat_category",
        ) from None


def check_rate(*, category: VatCategory, rate: Decimal) -> None:
    if category is VatCategory.STANDARD:
        if rate not in STANDARD_RATES:
            allowed = ", ".join(f"{r}" for r in STANDARD_RATES)
            raise ValidationError(
                "VAT rate {rate:f} % is not a Latvian rate: choose {allowed} %, or a 0 % category "
                "(zero-rated, exempt, reverse charge, intra-EU supply, export).",
                rate=rate,
                allowed=allowed,
                field="vat_rate",
            )
    elif rate != 0:
        raise ValidationError(
            "{label} is charged at 0 %, not {rate:f} %.",
            label=label(category),
            rate=rate,
            field="vat_rate",
        )


@dataclass(frozen=True)
class Exemption:
    reason: str
    code: str


def check_exemption(*, category: VatCategory, reason: str, code: str) -> Exemption:
    """An exempt line names why (a reason, a VATEX code or both); other lines name none,
    their wording follows from the category."""
    reason, code = reason.strip(), code.strip().upper()
    if category is not VatCategory.EXEMPT:
        if reason or code:
            raise ValidationError(
                "Only an exempt line takes an exemption reason, not {label}.",
                label=label(category),
                field="vat_exemption",
            )
        return Exemption("", "")
    if not reason and not code:
        raise ValidationError(
            "An exempt line needs the exemption reason (the article of the law) or its VATEX code.",
            field="vat_exemption",
        )
    if code and code not in EXEMPTION_CODES:
        raise ValidationError(
            "Exemption code '{code}' is not one of {codes}.",
            code=code,
            codes=", ".join(EXEMPTION_CODES),
            field="vat_exemption",
        )
    if len(reason) > EXEMPTION_REASON_LIMIT:
        raise ValidationError(
            "The exemption reason can have at most {limit} characters.",
            limit=EXEMPTION_REASON_LIMIT,
            field="vat_exemption",
        )
    return Exemption(reason, code)


def exemption_text(*, reason: str, code: str) -> str:
    """What the document prints after "Exempt from VAT:": the reason, else the code's
    article."""
    return reason or EXEMPTION_CODES.get(code, code)


def label(category: VatCategory) -> str:
    return {
        VatCategory.STANDARD: "Standard or reduced rate (S)",
        VatCategory.ZERO_RATED: "Zero-rated (Z)",
        VatCategory.EXEMPT: "Exempt (E)",
        VatCategory.REVERSE_CHARGE: "Reverse charge (AE)",
        VatCategory.INTRA_EU_SUPPLY: "Intra-EU supply (K)",
        VatCategory.EXPORT: "Export (G)",
    }[category]


@dataclass(frozen=True)
class VatLine:
    """What the rounding rule needs of a line."""

    category: str
    rate: Decimal
    net_minor: int


@dataclass(frozen=True)
class VatGroup:
    category: str
    rate: Decimal
    net_minor: int
    vat_minor: int


def group_key(category: str, rate: Decimal) -> tuple[str, str]:
    return category, f"{rate.normalize():f}"


def vat_groups(lines: Sequence[VatLine], *, currency: str) -> list[VatGroup]:
    """The VAT table: one row per (category, rate), its VAT rounded once on its net sum.
    Ordered by rate, highest first, then category, as the document prints it."""
    nets: dict[tuple[str, str], int] = {}
    for line in lines:
        key = group_key(line.category, line.rate)
        nets[key] = nets.get(key, 0) + line.net_minor
    groups = [
        VatGroup(
            category=category,
            rate=Decimal(rate),
            net_minor=net,
            vat_minor=to_minor(from_minor(net, currency) * Decimal(rate) / 100, currency),
        )
        for (category, rate), net in nets.items()
    ]
    return sorted(groups, key=lambda group: (-group.rate, group.category))


def line_vats(lines: Sequence[VatLine], *, currency: str) -> list[int]:
    """Each line's share of its group's VAT (largest remainder on the nets), in order."""
    shares = [0] * len(lines)
    for group in vat_groups(lines, currency=currency):
        members = [
            index
            for index, line in enumerate(lines)
            if group_key(line.category, line.rate) == group_key(group.category, group.rate)
        ]
        allocated = allocate_minor(group.vat_minor, [lines[i].net_minor for i in members])
        for index, share in zip(members, allocated, strict=True):
            shares[index] = share
    return shares


class StoredLine(Protocol):
    vat_category: str
    vat_rate: str
    vat_exemption_reason: str
    vat_exemption_code: str
    net_minor: int
    vat_minor: int


def stored_groups(lines: Sequence[StoredLine]) -> list[VatGroup]:
    """The VAT table of a stored invoice or credit note: its lines' stored amounts summed
    per group, so a document issued before this rule keeps the VAT it was issued with."""
    sums: dict[tuple[str, str], tuple[int, int]] = {}
    for line in lines:
        key = group_key(line.vat_category, Decimal(line.vat_rate))
        net, vat = sums.get(key, (0, 0))
        sums[key] = (net + line.net_minor, vat + line.vat_minor)
    groups = [
        VatGroup(category=category, rate=Decimal(rate), net_minor=net, vat_minor=vat)
        for (category, rate), (net, vat) in sums.items()
    ]
    return sorted(groups, key=lambda group: (-group.rate, group.category))


def stated_exemption(lines: Sequence[StoredLine]) -> str:
    """The exemption an invoice's exempt lines give (one per invoice), as printed."""
    return next(
        (
            exemption_text(reason=line.vat_exemption_reason, code=line.vat_exemption_code)
            for line in lines
            if line.vat_category == VatCategory.EXEMPT
        ),
        "",
    )
