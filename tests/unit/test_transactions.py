"""The transaction rule of ``shared/db.py``: a function that takes a ``session`` works inside
its caller's transaction and never ends it or opens another one. A commit hidden in one
would make a page's later refusal leave half of the action written."""

import ast
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared"
# Calls that end the caller's transaction or begin a second one beside it.
FORBIDDEN = {"commit", "rollback", "write_session"}


def _takes_session(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    arguments = function.args
    names = [a.arg for a in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs)]
    return "session" in names


def _called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    if isinstance(call.func, ast.Name):
        return call.func.id
    return None


def violations(source: str, filename: str) -> tuple[list[str], int]:
    """(``file:line function calls name`` for each breach, functions taking a session)."""
    found: list[str] = []
    checked = 0
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or not _takes_session(node):
            continue
        checked += 1
        for inner in ast.walk(node):
            if isinstance(inner, ast.Call) and _called_name(inner) in FORBIDDEN:
                found.append(f"{filename}:{inner.lineno} {node.name} calls {_called_name(inner)}")
    return found, checked


def test_no_shared_function_with_a_session_commits_rolls_back_or_opens_its_own():
    found: list[str] = []
    checked = 0
    for path in sorted(SHARED.rglob("*.py")):
        if "migrations" in path.parts:  # Alembic's revisions run on its own connection
            continue
        file_found, file_checked = violations(path.read_text(), str(path.relative_to(SHARED)))
        found += file_found
        checked += file_checked
    assert checked > 100, "the scan found too few functions taking a session to mean anything"
    assert found == []


def test_the_scan_catches_a_commit_a_rollback_and_a_nested_write_session():
    source = """
def books(session, *, amount):
    session.add(amount)
    session.commit()

def undoes(*, session):
    session.rollback()

def nests(session):
    with write_session() as other:
        other.add(1)

def outermost():
    with write_session() as session:
        books(session, amount=1)
"""
    found, checked = violations(source, "example.py")
    assert checked == 3
    assert found == [
        "example.py:4 books calls commit",
        "example.py:7 undoes calls rollback",
        "example.py:10 nests calls write_session",
    ]
