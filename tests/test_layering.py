"""The package layering the architecture promises, checked on the import statements (AST).

Training and evaluation are roles over shared packages (metrics, recipe, recommenders): neither
imports the other. `recsys/` is the library: it never imports `pipelines/` or `serving/`, and
those two never import each other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports (absolute names; relative imports resolved to the package)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base]) if base else ".".join(parts)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def imports_of(folder: str) -> dict[str, set[str]]:
    return {
        path.relative_to(ROOT).as_posix(): imported_modules(path)
        for path in (ROOT / folder).rglob("*.py")
    }


RULES = [
    ("recsys/training", ("recsys.evaluation",)),
    ("recsys/evaluation", ("recsys.training",)),
    # Engines serve both roles: they import neither.
    ("recsys/engine", ("recsys.training", "recsys.evaluation")),
    ("recsys/spark", ("recsys.training", "recsys.evaluation")),
    ("recsys", ("pipelines", "serving")),
    ("pipelines", ("serving",)),
    ("serving", ("pipelines",)),
]


@pytest.mark.parametrize(("folder", "forbidden"), RULES, ids=[r[0] for r in RULES])
def test_forbidden_imports(folder: str, forbidden: tuple[str, ...]) -> None:
    offenders = sorted(
        f"{file} imports {module}"
        for file, modules in imports_of(folder).items()
        for module in modules
        if any(module == f or module.startswith(f + ".") for f in forbidden)
    )
    assert offenders == []


def test_the_scanner_sees_imports() -> None:
    # The check can fail: a file importing across the line is reported.
    assert "recsys.evaluation.evaluate" in imported_modules(
        ROOT / "recsys" / "evaluation" / "shipped.py"
    )
