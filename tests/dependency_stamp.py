"""Prints a digest of what pyproject.toml says to install (Python, dependencies, extras,
build backend): the cached test roots' wheels are made again only when it changes, not at
every edit of the file's tool settings.

Usage: python tests/dependency_stamp.py PYPROJECT
"""

from __future__ import annotations

import hashlib
import json
import sys
import tomllib


def stamp(pyproject: str) -> str:
    with open(pyproject, "rb") as file:
        data = tomllib.load(file)
    project = data["project"]
    wanted = [
        project.get("requires-python"),
        project.get("dependencies"),
        project.get("optional-dependencies"),
        data.get("build-system"),
    ]
    return hashlib.sha256(json.dumps(wanted, sort_keys=True).encode()).hexdigest()


if __name__ == "__main__":
    print(stamp(sys.argv[1]))
