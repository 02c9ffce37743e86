"""Text a person typed, checked before it reaches a mail header or the database.

A CR or LF in a value that becomes part of a mail header (the company's name is the
sender's display name and part of every subject) makes every message fail to compose;
PostgreSQL refuses NUL in text outright. Both are refused with a message next to the
field, as is any other control character. Text longer than its column is refused too:
cutting it silently would store something nobody typed.
"""

import unicodedata

from shared.errors import ValidationError

# Besides the C0/C1 controls (category Cc), these end a line for str.splitlines() and for
# some mail and PDF code.
_LINE_BREAKS = frozenset("\u2028\u2029")


def _is_control(char: str) -> bool:
    return unicodedata.category(char) == "Cc" or char in _LINE_BREAKS


def clean_single_line(value: str, *, field: str, label: str, max_length: int) -> str:
    """The value stripped; refused if it has a line break, a control character or is longer
    than ``max_length`` characters."""
    text = value.strip()
    if any(char in "\r\n" or char in _LINE_BREAKS for char in text):
        raise ValidationError("{label} must be on one line.", label=label, field=field)
    _check_controls(text, field=field, label=label, allowed="")
    return _check_length(text, field=field, label=label, max_length=max_length)


def clean_multiline(value: str, *, field: str, label: str, max_length: int) -> str:
    """The value stripped, line breaks as LF; refused if it has a control character other
    than a line break or tab, or is longer than ``max_length`` characters."""
    text = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    _check_controls(text, field=field, label=label, allowed="\n\t")
    return _check_length(text, field=field, label=label, max_length=max_length)


def search_text(value: str) -> str:
    """A typed search term without control characters: no stored text contains them, and
    PostgreSQL refuses a NUL even as a query parameter (a database error, not "no match")."""
    return "".join(char for char in value if not _is_control(char)).strip()


def search_key(value: str) -> str:
    """The form in which text is compared by a search: casefolded (Unicode-aware, unlike
    SQLite's LIKE, which folds ASCII only, and PostgreSQL's lower(), which follows the
    database's ctype) and NFC-composed, so "Ē" typed as E + combining macron still matches."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", value).casefold())


def _check_controls(text: str, *, field: str, label: str, allowed: str) -> None:
    bad = next((char for char in text if _is_control(char) and char not in allowed), None)
    if bad is not None:
        raise ValidationError(
            "{label} contains an invisible control character (U+{code:04X}); retype it or paste "
            "it as plain text.",
            label=label,
            code=ord(bad),
            field=field,
        )


def _check_length(text: str, *, field: str, label: str, max_length: int) -> str:
    if len(text) > max_length:
        raise ValidationError(
            "{label} can be at most {limit} characters; this one has {length}.",
            label=label,
            limit=max_length,
            length=len(text),
            field=field,
        )
    return text
