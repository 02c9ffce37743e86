"""One entry point for every statement format: look at the root element, hand over."""

from shared.bank.camt import message_of, parse_camt
from shared.bank.fidavista import is_fidavista, parse_fidavista
from shared.bank.model import ParsedFile, StatementFileError
from shared.bank.safexml import peek_root

# A year of daily camt.053 statements with a few thousand entries each stays well below.
MAX_FILE_BYTES = 100 * 1024 * 1024


def parse_statement_file(content: bytes) -> ParsedFile:
    """The normalised statements of a camt.053/camt.054/FiDAViSta file, or a
    ``StatementFileError`` saying which entry and field are wrong."""
    if len(content) > MAX_FILE_BYTES:
        raise StatementFileError(
            f"The file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB; "
            "ask the bank for a shorter period.",
            field="file",
        )
    root = peek_root(content)
    if message_of(root):
        return parse_camt(content, root=root)
    if is_fidavista(root):
        return parse_fidavista(content, root=root)
    shown = f"{{{root.namespace}}}{root.name}" if root.namespace else root.name
    raise StatementFileError(
        f"The file is not a bank statement LinkPay Desk reads (root element {shown}); "
        "export camt.053, camt.054 or FiDAViSta from the bank.",
        field="file",
    )
