"""The import direction of ARCHITECTURE.md: kiosk -> hal, clinic -> kiosk.signalling."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def imports(package: str) -> set[tuple[str, str]]:
    found = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {(str(path.relative_to(ROOT)), alias.name) for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add((str(path.relative_to(ROOT)), node.module))
    return found


@pytest.mark.parametrize(
    ("package", "allowed"),
    [
        ("hal", ("hal",)),
        ("kiosk", ("kiosk", "hal")),
        ("clinic", ("clinic", "kiosk.signalling")),
    ],
)
def test_imports_go_one_way(package: str, allowed: tuple[str, ...]) -> None:
    ours = ("hal", "kiosk", "clinic")
    wrong = sorted(
        (where, module)
        for where, module in imports(package)
        if module.split(".")[0] in ours
        and not any(module == a or module.startswith(a + ".") for a in allowed)
    )
    assert not wrong, wrong
