"""Parsing untrusted XML: no DTDs, no entities, no network, no huge trees, streaming.

Bank files never carry a DTD; a file that declares one is refused outright, since a DTD is
the only way to smuggle in external entities (XXE) or entity-expansion bombs. lxml is told
not to resolve entities, not to load DTDs or touch the network, and to keep libxml2's
limits on text size and nesting (``huge_tree=False``) as a second line.
"""

import io
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

from lxml import etree

from shared.bank.model import StatementFileError

_SAFE = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "huge_tree": False,
    "remove_comments": True,
    "remove_pis": True,
}


@dataclass(frozen=True)
class Root:
    namespace: str
    name: str
    first_child: str  # local name of the first element inside the root ("" if none)


@cache  # a file has a few dozen distinct tags, seen hundreds of thousands of times
def split_tag(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        namespace, _, name = tag[1:].partition("}")
        return namespace, name
    return "", tag


@cache
def local_name(tag: str) -> str:
    return split_tag(tag)[1]


def _syntax_message(error: etree.XMLSyntaxError) -> str:
    line = f" at line {error.lineno}" if error.lineno else ""
    return f"The file is not well-formed XML{line}: {error.msg}."


def peek_root(content: bytes) -> Root:
    """The root element's namespace and name, reading no further than its start tag."""
    if not content.strip():
        raise StatementFileError("The file is empty.", field="file")
    root: tuple[str, str] | None = None
    try:
        for event, element in etree.iterparse(
            io.BytesIO(content), events=("start", "end"), **_SAFE
        ):
            if root is None:
                if element.getroottree().docinfo.doctype:
                    raise StatementFileError(
                        "The file declares a DTD (<!DOCTYPE …>). Bank statements never do, and "
                        "a DTD can hide external entities or entity bombs, so it is refused.",
                        field="file",
                    )
                root = split_tag(element.tag)
                continue
            return Root(*root, first_child=split_tag(element.tag)[1] if event == "start" else "")
    except etree.XMLSyntaxError as error:
        raise StatementFileError(_syntax_message(error), field="file") from None
    raise StatementFileError("The file holds no XML element.", field="file")


class SchemaViolation(Exception):
    """The file breaks its schema, or is not well-formed, in a pass validating it:
    ``first_schema_error`` or a pass without the schema says where."""


def iterate(
    content: bytes,
    *,
    describe_position=None,
    tags: list[str] | None = None,
    schema: etree.XMLSchema | None = None,
) -> Iterator[tuple[str, etree._Element]]:
    """(event, element) for "start" and "end" of the elements named in ``tags`` ("{*}Ntry"
    for any namespace), or of every element; a file that is not well-formed raises.

    ``describe_position`` returns where the parser is (e.g. "entry 3") for error messages.

    With ``schema`` the file is validated in the same pass (``tags`` must then name the
    root element too). lxml then reports a file it
    cannot read only with a bare message ("no element found", no line), and with entities
    unresolved it can end a truncated file without any error: so any error, and a pass
    that never sees the root element end, raise ``SchemaViolation`` and the caller reads
    the file again without the schema for the precise message (only a bad file pays for
    a second pass).
    """
    if schema is None:
        try:
            yield from etree.iterparse(
                io.BytesIO(content), events=("start", "end"), tag=tags, **_SAFE
            )
        except etree.XMLSyntaxError as error:
            where = describe_position() if describe_position else ""
            raise StatementFileError(
                _syntax_message(error) + (f" ({where})" if where else ""), field="file"
            ) from None
        return
    root_closed = False
    try:
        for event, element in etree.iterparse(
            io.BytesIO(content), events=("start", "end"), tag=tags, schema=schema, **_SAFE
        ):
            root_closed = event == "end" and element.getparent() is None
            yield event, element
    except etree.XMLSyntaxError as error:
        raise SchemaViolation(str(error.msg)) from None
    if not root_closed:
        raise SchemaViolation("the file ends before its root element does")


def first_schema_error(
    content: bytes, schema: etree.XMLSchema
) -> tuple[etree._ElementTree, int, str]:
    """The document as a tree, and the line and text of its first schema violation.

    Only for a file already known to be invalid: it holds the whole tree in memory, which
    the streaming pass avoids, to name the line and entry lxml's streaming errors lack.
    """
    parser = etree.XMLParser(**_SAFE)
    tree = etree.parse(io.BytesIO(content), parser)
    schema.validate(tree)
    first = schema.error_log[0] if len(schema.error_log) else None
    if first is None:  # pragma: no cover - the streaming pass said otherwise
        return tree, 0, "the file does not follow its schema"
    return tree, first.line, first.message


def release(element: etree._Element) -> None:
    """Drop a handled element and the siblings before it, so memory stays flat."""
    element.clear(keep_tail=False)
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]
