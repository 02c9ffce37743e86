"""The bottom of shared/ stays at the bottom: the modules every feature builds on import
nothing from a feature module, not even lazily inside a function. An upward import is how
an import cycle starts, and how a low-level change drags a feature's dependencies along.
The same holds one level up: shared/operations (the command line, launcher, migrations
runner, demo data, backups) builds on the domain, and the domain never reaches into it."""

import ast
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
OPERATIONS = SHARED / "operations"

# Each module may import only the modules listed before it.
FOUNDATION = (
    "shared.errors",
    "shared.money",
    "shared.text",
    "shared.states",
    "shared.models",
)


def _shared_imports(module: str) -> set[str]:
    path = SHARED.joinpath(*module.split(".")[1:]).with_suffix(".py")
    imported = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    return {name for name in imported if name == "shared" or name.startswith("shared.")}


@pytest.mark.parametrize("position", range(len(FOUNDATION)), ids=FOUNDATION)
def test_foundation_modules_import_only_what_lies_below_them(position: int) -> None:
    module = FOUNDATION[position]
    assert _shared_imports(module) <= set(FOUNDATION[:position])


def test_no_module_takes_the_form_error_from_a_feature_module() -> None:
    offenders = []
    for path in sorted(SHARED.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module != "shared.errors"
                and any(alias.name == "ValidationError" for alias in node.names)
                and (node.module or "").startswith("shared")
            ):
                offenders.append(f"{path.relative_to(SHARED.parent)}:{node.lineno}")
    assert offenders == []


def _imports_operations(node: ast.AST) -> bool:
    if isinstance(node, ast.ImportFrom):
        names = [node.module or ""]
        if node.module == "shared":
            names += [f"shared.{alias.name}" for alias in node.names]
    elif isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        return False
    return any(
        name == "shared.operations" or name.startswith("shared.operations.") for name in names
    )


def test_no_domain_module_imports_the_operations_package() -> None:
    offenders = [
        f"{path.relative_to(SHARED.parent)}:{node.lineno}"
        for path in sorted(SHARED.rglob("*.py"))
        if not path.is_relative_to(OPERATIONS)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if _imports_operations(node)
    ]
    assert offenders == []
