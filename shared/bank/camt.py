"""ISO 20022 camt.053 (account statement) and camt.054 (debit/credit notification).

What is accepted, and what is refused (real files are messier than the standard):

- Versions camt.053.001.02 up to .13 and camt.054.001.02 up to .13. A version whose ISO
  schema ships in ``shared/bank/xsd/`` is validated against it while it streams; the
  first violation refuses the file, naming the line and the entry. A version without a
  shipped schema, and a file without a namespace (some bank exports drop it), is read with
  the same element names and checked structurally; the import report says so.
- Only entries with status BOOK are money. Entries "for information" (PDNG, INFO, …) are
  counted and left out; they are not bookings and a later statement books them for real.
- Balances: the opening balance is OPBD (PRCD when the bank sends only that), the closing
  balance CLBD. The balance's own ``Amt`` is read, never the credit line's ``CdtLine/Amt``
  that some banks put before it. A statement whose balances do not add up with its
  entries is imported with a warning naming the difference: the entries are what the bank
  booked; the gap is for a person to look at, not a reason to lose the bookings.
- The account must be given as an IBAN (``Id/IBAN``, or ``Id/Othr/Id`` holding one);
  spaces banks pad it with are dropped. Other account identifiers are refused.
- Every entry's currency must be the statement's; an amount in another currency appears
  only as the instructed (original) amount of a transaction.
- A reversal (``RvslInd``) keeps the direction the bank booked it in and is flagged; its
  counterparty is the party of the original payment.
- Batch bookings are split into their transaction details when every detail has an amount
  in the entry's currency and they add up to the entry; otherwise the entry stays one
  transaction (with a warning when several details could not be split).
- Entries are identified by the bank's ``AcctSvcrRef`` (see ``model.assign_dedupe_keys``);
  an entry without one falls back to its single transaction's ``AcctSvcrRef`` and then
  to its content. Two details sharing one bank reference stay two details of one entry.
"""

from collections.abc import Callable, Iterable
from datetime import date
from functools import cache
from pathlib import Path
from typing import NamedTuple

from lxml import etree

from shared.bank.model import (
    CREDIT,
    DEBIT,
    ParsedEntry,
    ParsedFile,
    ParsedStatement,
    ParsedTransaction,
    StatementFileError,
    assign_dedupe_keys,
    check_balances,
    clean_text,
    compact_account,
    parse_amount,
    parse_currency,
    parse_date,
)
from shared.bank.safexml import (
    Root,
    SchemaViolation,
    first_schema_error,
    iterate,
    local_name,
    release,
    split_tag,
)
from shared.channels import validate_iban
from shared.errors import ValidationError

NAMESPACE_PREFIX = "urn:iso:std:iso:20022:tech:xsd:"
MESSAGES = {"camt.053": ("BkToCstmrStmt", "Stmt"), "camt.054": ("BkToCstmrDbtCdtNtfctn", "Ntfctn")}
FIRST_VERSION, LAST_VERSION = 2, 13
XSD_DIR = Path(__file__).parent / "xsd"
BOOKED = "BOOK"
PARTIES = ("Dbtr", "Cdtr")

# What ``_entry`` and ``_transaction`` read of an entry and of each of its transaction
# details; an entry's walk stops at its details, each of which is walked on its own.
_ENTRY_FIELDS = (
    "AcctSvcrRef",
    "Sts/Cd",
    "Amt",
    "CdtDbtInd",
    "RvslInd",
    "AddtlNtryInf",
    "BookgDt/Dt",
    "BookgDt/DtTm",
    "ValDt/Dt",
    "ValDt/DtTm",
    "BkTxCd/Domn/Cd",
    "BkTxCd/Domn/Fmly/Cd",
    "BkTxCd/Domn/Fmly/SubFmlyCd",
    "BkTxCd/Prtry/Cd",
    "NtryDtls/Btch",
    "NtryDtls/TxDtls",
)
_TRANSACTION_FIELDS = (
    "Amt",
    "AmtDtls/TxAmt/Amt",
    "AmtDtls/InstdAmt/Amt",
    *(
        f"RltdPties/{ultimate}{party}/{pty}Nm"
        for party in PARTIES
        for ultimate in ("", "Ultmt")
        for pty in ("", "Pty/")
    ),
    *(f"RltdPties/{party}Acct/Id/IBAN" for party in PARTIES),
    *(f"RltdAgts/{party}Agt/FinInstnId/{bic}" for party in PARTIES for bic in ("BIC", "BICFI")),
    "RmtInf/Strd/CdtrRefInf/Ref",
    "RmtInf/Ustrd",
    "RmtInf/Strd/RfrdDocInf/Nb",
    "AddtlTxInf",
    "Refs/AcctSvcrRef",
    "Refs/EndToEndId",
    "Refs/TxId",
    "Refs/InstrId",
)


@cache
def schema_for(message: str) -> etree.XMLSchema | None:
    path = XSD_DIR / f"{message}.xsd"
    if not path.is_file():
        return None
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.XMLSchema(etree.parse(str(path), parser))


def message_of(root: Root) -> str | None:
    """ "camt.053.001.02" for a namespaced camt root, "camt.053" for one without a namespace,
    None when the root is not a camt message this module reads."""
    if root.name != "Document":
        return None
    if root.namespace.startswith(NAMESPACE_PREFIX):
        return root.namespace.removeprefix(NAMESPACE_PREFIX)
    if not root.namespace:
        for message, (wrapper, _) in MESSAGES.items():
            if root.first_child == wrapper:
                return message
    return None


class _Kept:
    """The element paths (of local names, "RltdPties/Dbtr/Nm") a reader keeps below one
    element, as a tree walked by each child's full tag. A tag is resolved to its local name
    once and remembered (any namespace, or none, as the rest of this module), so an entry's
    walk costs a dictionary look-up per element and steps into no part it does not keep."""

    __slots__ = ("by_tag", "steps")

    def __init__(self, paths: Iterable[str], prefix: str = "") -> None:
        below: dict[str, list[str]] = {}
        for path in paths:
            first, _, rest = path.partition("/")
            below.setdefault(first, [])
            if rest:
                below[first].append(rest)
        self.steps: dict[str, tuple[str, _Kept | None]] = {
            name: (prefix + name, _Kept(rests, f"{prefix}{name}/") if rests else None)
            for name, rests in below.items()
        }
        self.by_tag: dict[object, tuple[str, _Kept | None] | None] = {}

    def step(self, tag: object) -> "tuple[str, _Kept | None] | None":
        step = self.steps.get(local_name(tag)) if isinstance(tag, str) else None
        if len(self.by_tag) < _TAGS_REMEMBERED:
            self.by_tag[tag] = step
        return step


# A file names a few dozen tags; this bounds what a file full of made-up ones leaves behind.
_TAGS_REMEMBERED = 1024
_UNSEEN = object()


class _Index:
    """An element's descendants by path of local names ("RltdPties/Dbtr/Nm"), built in one
    walk: looking fields up here is many times faster than lxml's namespace-wildcard find,
    which matters at tens of thousands of entries. With ``kept`` only those paths are
    walked and indexed (an entry's and a transaction's fields); without, every one (the
    rare elements: header, account, balances). ``texts`` holds each path's first text
    that is not blank (``clean_text``), read in the same walk."""

    __slots__ = ("paths", "texts")

    def __init__(self, element: etree._Element, kept: _Kept | None = None) -> None:
        self.paths: dict[str, list[etree._Element]] = {}
        self.texts: dict[str, str] = {}
        if kept is None:
            self._walk(element, "")
        else:
            self._keep(element, kept)

    def _add(self, path: str, element: etree._Element) -> None:
        found = self.paths.get(path)
        if found is None:
            self.paths[path] = [element]
        else:
            found.append(element)
        if path not in self.texts:
            text = clean_text(element.text)
            if text:
                self.texts[path] = text

    def _walk(self, element: etree._Element, prefix: str) -> None:
        for child in element:
            path = prefix + local_name(child.tag)
            self._add(path, child)
            if len(child):
                self._walk(child, path + "/")

    def _keep(self, element: etree._Element, kept: _Kept) -> None:
        by_tag = kept.by_tag
        for child in element:
            step = by_tag.get(child.tag, _UNSEEN)
            if step is _UNSEEN:
                step = kept.step(child.tag)
            if step is not None:
                path, below = step
                self._add(path, child)
                if below is not None:
                    self._keep(child, below)


_ENTRY = _Kept(_ENTRY_FIELDS)
_TRANSACTION = _Kept(_TRANSACTION_FIELDS)


class _PartyPaths(NamedTuple):
    names: tuple[str, ...]
    iban: str
    bic: tuple[str, ...]


_PARTY_PATHS = {
    party: _PartyPaths(
        names=(
            f"RltdPties/{party}/Nm",
            f"RltdPties/{party}/Pty/Nm",
            f"RltdPties/Ultmt{party}/Nm",
            f"RltdPties/Ultmt{party}/Pty/Nm",
        ),
        iban=f"RltdPties/{party}Acct/Id/IBAN",
        bic=(f"RltdAgts/{party}Agt/FinInstnId/BIC", f"RltdAgts/{party}Agt/FinInstnId/BICFI"),
    )
    for party in PARTIES
}


def _indexed(node: "etree._Element | _Index") -> _Index:
    return node if isinstance(node, _Index) else _Index(node)


def _find(node: "etree._Element | _Index", *paths: str) -> etree._Element | None:
    by_path = _indexed(node).paths
    for path in paths:
        found = by_path.get(path)
        if found:
            return found[0]
    return None


def _text(node: "etree._Element | _Index | None", *paths: str) -> str:
    """The first text that is not blank at the first of ``paths`` that has one."""
    if node is None:
        return ""
    texts = _indexed(node).texts
    for path in paths:
        text = texts.get(path)
        if text:
            return text
    return ""


def _texts(node: "etree._Element | _Index", path: str) -> list[str]:
    found = _indexed(node).paths.get(path, ())
    return [clean_text(element.text) for element in found if element.text]


class _StatementBuilder:
    def __init__(self, message: str, index: int) -> None:
        self.message = message
        self.index = index
        self.statement_id = ""
        self.iban = ""
        self.currency = ""
        self.period: tuple[date | None, date | None] = (None, None)
        self.balances: dict[str, tuple[int, date | None]] = {}
        self.entries: list[ParsedEntry] = []
        self.not_booked = 0
        self.entry_count = 0
        self.in_entry = False
        self.warnings: list[str] = []

    @property
    def where(self) -> str:
        return f"statement {self.index}" + (f" ({self.statement_id})" if self.statement_id else "")

    def header(self, container: etree._Element) -> None:
        for child in container:
            name = split_tag(child.tag)[1]
            if name == "Id":
                self.statement_id = clean_text(child.text)
            elif name == "FrToDt":
                self.period = (
                    parse_date(_text(child, "FrDtTm"), where=self.where, field_name="FrDtTm"),
                    parse_date(_text(child, "ToDtTm"), where=self.where, field_name="ToDtTm"),
                )
            elif name == "Acct":
                return

    def account(self, acct: etree._Element) -> None:
        raw = _text(acct, "Id/IBAN", "Id/Othr/Id")
        if not raw:
            raise StatementFileError(
                f"{self.where}: the account (Acct/Id/IBAN) is missing.", field="iban"
            )
        try:
            self.iban = validate_iban(compact_account(raw))
        except ValidationError:
            raise StatementFileError(
                f"{self.where}: account '{raw}' is not a valid IBAN; LinkPay Desk imports "
                "statements of IBAN accounts only.",
                field="iban",
            ) from None
        if _text(acct, "Ccy"):
            self.currency = parse_currency(_text(acct, "Ccy"), where=self.where, field_name="Ccy")

    def balance(self, element: etree._Element) -> None:
        bal = _Index(element)
        code = _text(bal, "Tp/CdOrPrtry/Cd")
        if code not in ("OPBD", "PRCD", "CLBD"):
            return
        amount = _find(bal, "Amt")  # the balance's own amount, not CdtLine/Amt
        if amount is None:
            raise StatementFileError(f"{self.where}: balance {code} has no Amt.", field="Amt")
        currency = parse_currency(amount.get("Ccy"), where=self.where, field_name="Bal/Amt/@Ccy")
        self.currency = self.currency or currency
        minor = parse_amount(amount.text, currency, where=self.where, field_name=f"{code} Amt")
        sign = _text(bal, "CdtDbtInd")
        if sign not in ("CRDT", "DBIT"):
            raise StatementFileError(
                f"{self.where}: balance {code} has CdtDbtInd '{sign}' (CRDT or DBIT expected).",
                field="CdtDbtInd",
            )
        when = parse_date(_text(bal, "Dt/Dt", "Dt/DtTm"), where=self.where, field_name="Bal/Dt")
        self.balances[code] = (minor if sign == "CRDT" else -minor, when)

    def entry(self, ntry: etree._Element) -> None:
        self.entry_count += 1
        parsed = _entry(ntry, position=self.entry_count, statement=self)
        if parsed is None:
            self.not_booked += 1
        else:
            self.entries.append(parsed)

    def build(self) -> ParsedStatement:
        if not self.iban:
            raise StatementFileError(f"{self.where}: the account (Acct) is missing.", field="iban")
        opening = self.balances.get("OPBD") or self.balances.get("PRCD")
        closing = self.balances.get("CLBD")
        start, end = self.period
        booked = [entry.booking_date for entry in self.entries if entry.booking_date]
        start = start or (opening[1] if opening and "OPBD" in self.balances else None)
        end = end or (closing[1] if closing else None)
        start = start or (min(booked) if booked else None)
        end = end or (max(booked) if booked else None)
        statement = ParsedStatement(
            message=self.message,
            statement_id=self.statement_id,
            iban=self.iban,
            currency=self.currency or "EUR",
            period_start=start,
            period_end=end,
            opening_balance_minor=opening[0] if opening else None,
            closing_balance_minor=closing[0] if closing else None,
            entries=self.entries,
            not_booked=self.not_booked,
            warnings=self.warnings,
        )
        if not statement.statement_id:
            statement.statement_id = f"{statement.iban} {start or ''}..{end or ''}"
        check_balances(statement)
        unreferenced = assign_dedupe_keys(statement)
        if unreferenced:
            statement.warnings.append(
                f"{self.where}: {unreferenced} entries carry no bank reference (AcctSvcrRef); "
                "they are recognised again by their content."
            )
        return statement


def _amount_of(element: etree._Element, where: str, field_name: str) -> tuple[int, str] | None:
    if element is None:
        return None
    currency = parse_currency(element.get("Ccy"), where=where, field_name=f"{field_name}/@Ccy")
    return parse_amount(element.text, currency, where=where, field_name=field_name), currency


def _transaction(
    element: etree._Element, *, direction: str, reversal: bool, where: str
) -> tuple[ParsedTransaction, tuple[int, str] | None]:
    tx = _Index(element, _TRANSACTION)
    # The other party of the money: the payer of a credit, the payee of a debit; a
    # reversal is booked the other way round, its party is still the original one.
    party = "Dbtr" if (direction == CREDIT) != reversal else "Cdtr"
    other = "Cdtr" if party == "Dbtr" else "Dbtr"
    amount = _amount_of(_find(tx, "Amt", "AmtDtls/TxAmt/Amt"), where, "TxDtls Amt")
    original = _amount_of(_find(tx, "AmtDtls/InstdAmt/Amt"), where, "InstdAmt")
    paths = _PARTY_PATHS[party]
    name = _text(tx, *paths.names)
    iban = compact_account(_text(tx, paths.iban))
    if not name and not iban:
        name = _text(tx, *_PARTY_PATHS[other].names[:2])
    references = [ref.upper().replace(" ", "") for ref in _texts(tx, "RmtInf/Strd/CdtrRefInf/Ref")]
    unstructured = " ".join(_texts(tx, "RmtInf/Ustrd"))
    documents = " ".join(_texts(tx, "RmtInf/Strd/RfrdDocInf/Nb"))
    end_to_end = _text(tx, "Refs/EndToEndId")
    parsed = ParsedTransaction(
        amount_minor=amount[0] if amount else 0,
        counterparty_name=name,
        counterparty_iban=iban,
        counterparty_bic=_text(tx, *paths.bic),
        creditor_reference=references[0] if references else "",
        remittance_text=unstructured or documents,
        additional_info=_text(tx, "AddtlTxInf"),
        bank_reference=_text(tx, "Refs/AcctSvcrRef"),
        end_to_end_id="" if end_to_end.upper() == "NOTPROVIDED" else end_to_end,
        transaction_id=_text(tx, "Refs/TxId", "Refs/InstrId"),
    )
    if original:
        parsed.original_amount_minor, parsed.original_currency = original
    return parsed, amount


def _entry(
    element: etree._Element, *, position: int, statement: _StatementBuilder
) -> ParsedEntry | None:
    ntry = _Index(element, _ENTRY)
    reference = _text(ntry, "AcctSvcrRef")
    where = f"{statement.where}, entry {position}" + (f" ({reference})" if reference else "")
    status = _text(ntry, "Sts/Cd", "Sts")
    if not status:
        raise StatementFileError(f"{where}: the status (Sts) is missing.", field="Sts")
    if status != BOOKED:
        return None
    amount = _amount_of(_find(ntry, "Amt"), where, "Amt")
    if amount is None:
        raise StatementFileError(f"{where}: the amount (Amt) is missing.", field="Amt")
    minor, currency = amount
    statement.currency = statement.currency or currency
    if currency != statement.currency:
        raise StatementFileError(
            f"{where}: the amount is in {currency} on a {statement.currency} statement.",
            field="Amt",
        )
    indicator = _text(ntry, "CdtDbtInd")
    if indicator not in ("CRDT", "DBIT"):
        raise StatementFileError(
            f"{where}: CdtDbtInd is '{indicator}' (CRDT or DBIT expected).", field="CdtDbtInd"
        )
    direction = CREDIT if indicator == "CRDT" else DEBIT
    reversal = _text(ntry, "RvslInd").lower() in ("true", "1")
    details = ntry.paths.get("NtryDtls/TxDtls", ())
    parsed = [
        _transaction(tx, direction=direction, reversal=reversal, where=f"{where}, transaction {i}")
        for i, tx in enumerate(details, start=1)
    ]
    if not reference and len(parsed) == 1:
        reference = parsed[0][0].bank_reference
    splittable = len(parsed) > 1 and all(
        amount is not None and amount[1] == currency for _, amount in parsed
    )
    if splittable and sum(amount[0] for _, amount in parsed if amount) == minor:
        transactions = [tx for tx, _ in parsed]
    else:
        if len(parsed) > 1:
            statement.warnings.append(
                f"{where}: its {len(parsed)} transaction details do not add up to the entry; "
                "kept as one transaction."
            )
        transactions = [_merged(parsed, minor, _text(ntry, "AddtlNtryInf"))]
    batch = _find(ntry, "NtryDtls/Btch")
    size = _text(batch, "NbOfTxs")
    return ParsedEntry(
        position=position,
        amount_minor=minor,
        currency=currency,
        direction=direction,
        booking_date=parse_date(
            _text(ntry, "BookgDt/Dt", "BookgDt/DtTm"), where=where, field_name="BookgDt"
        ),
        value_date=parse_date(
            _text(ntry, "ValDt/Dt", "ValDt/DtTm"), where=where, field_name="ValDt"
        ),
        bank_reference=reference,
        reversal=reversal,
        bank_transaction_code=_bank_transaction_code(ntry),
        batch_reference=_text(batch, "PmtInfId", "MsgId"),
        batch_size=int(size) if size.isdigit() else None,
        transactions=transactions,
    )


def _merged(
    parsed: list[tuple[ParsedTransaction, tuple[int, str] | None]], minor: int, entry_info: str
) -> ParsedTransaction:
    """The entry as one transaction: its amount, the details it has in common."""
    if len(parsed) == 1:
        tx = parsed[0][0]
        tx.amount_minor = minor
        tx.additional_info = tx.additional_info or entry_info
        return tx
    merged = ParsedTransaction(amount_minor=minor, additional_info=entry_info)
    if parsed:
        names = {tx.counterparty_name for tx, _ in parsed}
        ibans = {tx.counterparty_iban for tx, _ in parsed}
        merged.counterparty_name = names.pop() if len(names) == 1 else ""
        merged.counterparty_iban = ibans.pop() if len(ibans) == 1 else ""
        merged.remittance_text = " / ".join(
            tx.remittance_text for tx, _ in parsed if tx.remittance_text
        )
    return merged


def _bank_transaction_code(ntry: _Index) -> str:
    domain = [
        _text(ntry, "BkTxCd/Domn/Cd"),
        _text(ntry, "BkTxCd/Domn/Fmly/Cd"),
        _text(ntry, "BkTxCd/Domn/Fmly/SubFmlyCd"),
    ]
    if all(domain):
        return "/".join(domain)
    return _text(ntry, "BkTxCd/Prtry/Cd")


def parse_camt(content: bytes, *, root: Root) -> ParsedFile:
    message = message_of(root)
    if message is None:
        raise StatementFileError("The file is not a camt.053 or camt.054 message.", field="file")
    kind = message[:8]
    if kind not in MESSAGES:
        raise StatementFileError(
            f"{message} is not a statement: LinkPay Desk imports camt.053 and camt.054.",
            field="file",
        )
    warnings: list[str] = []
    schema = None
    if root.namespace:
        version = message.rsplit(".", 1)[-1]
        if not version.isdigit() or not FIRST_VERSION <= int(version) <= LAST_VERSION:
            raise StatementFileError(
                f"{message} is not a version LinkPay Desk reads ({kind}.001.02 to "
                f"{kind}.001.{LAST_VERSION}).",
                field="file",
            )
        schema = schema_for(message)
        if schema is None:
            warnings.append(
                f"No ISO schema for {message} ships with LinkPay Desk: the file was checked "
                "field by field, not against the schema."
            )
    else:
        warnings.append(
            "The file declares no namespace (no camt version): it was checked field by field, "
            "not against an ISO schema."
        )
    _, container = MESSAGES[kind]
    try:
        statements = _read(content, message=message, container=container, schema=schema)
    except SchemaViolation:
        # Read again without the schema: a file that is not well-formed, or a wrong field,
        # is refused with its line and entry; failing that, the schema's first violation.
        _read(content, message=message, container=container)
        raise _schema_error(content, schema, container) from None
    if not statements:
        raise StatementFileError(f"The {kind} file holds no {container} element.", field="file")
    return ParsedFile(message=message, statements=statements, warnings=warnings)


def _read(
    content: bytes, *, message: str, container: str, schema: etree.XMLSchema | None = None
) -> list[ParsedStatement]:
    """The file's statements, validated against ``schema`` in the same pass when given."""
    statements: list[ParsedStatement] = []
    current: _StatementBuilder | None = None

    def position() -> str:
        if current is None:
            return ""
        return current.where + (f", entry {current.entry_count + 1}" if current.in_entry else "")

    handlers: dict[str, Callable[[_StatementBuilder, etree._Element], None]] = {
        "Acct": _StatementBuilder.account,
        "Bal": _StatementBuilder.balance,
        "Ntry": _StatementBuilder.entry,
    }
    # Python sees only the elements it reads (and the root, to know the file ended).
    tags = [f"{{*}}{name}" for name in ("Document", container, *handlers)]
    for event, element in iterate(content, describe_position=position, tags=tags, schema=schema):
        name = split_tag(element.tag)[1]
        if event == "start":
            if name == container and current is None:
                current = _StatementBuilder(message, len(statements) + 1)
            elif name == "Ntry" and current is not None:
                current.in_entry = True
            continue
        if current is None:
            continue
        parent = element.getparent()
        if name == container:
            statements.append(current.build())
            current = None
            release(element)
        elif parent is not None and split_tag(parent.tag)[1] == container:
            if name == "Acct":
                current.header(parent)  # Id and FrToDt come before Acct in every version
            handlers[name](current, element)
            if name == "Ntry":
                current.in_entry = False
                release(element)
    return statements


def _schema_error(content: bytes, schema: etree.XMLSchema, container: str) -> StatementFileError:
    """The first schema violation with its line, statement and entry."""
    tree, line, text = first_schema_error(content, schema)
    where = f"line {line}"
    for index, block in enumerate(tree.iterfind(f".//{{*}}{container}"), start=1):
        if block.sourceline > line:
            break
        where = f"line {line}, statement {index}"
        for position, ntry in enumerate(block.iterfind("{*}Ntry"), start=1):
            following = ntry.getnext()
            if ntry.sourceline <= line and (following is None or following.sourceline > line):
                reference = _text(ntry, "AcctSvcrRef")
                where += f", entry {position}" + (f" ({reference})" if reference else "")
                break
    detail = text.replace(f"{{{tree.getroot().nsmap.get(None, '')}}}", "")
    return StatementFileError(
        f"The file does not follow its ISO 20022 schema ({where}): {detail}", field="file"
    )
