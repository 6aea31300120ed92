"""How a pydantic validation error reads in the contract's error messages."""

from __future__ import annotations

from pydantic import ValidationError


def problems(error: ValidationError, root: str = "body") -> list[str]:
    """Every problem, one line each: ``where: what`` (``root`` for the whole document)."""
    return [
        f"{'.'.join(str(p) for p in e['loc']) or root}: "
        + str(e["msg"]).removeprefix("Value error, ")
        for e in error.errors()
    ]
