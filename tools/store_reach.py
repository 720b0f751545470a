"""Fail when a face reaches through the service to the store (docs/ARCHITECTURE.md, "Contracts").

Usage: ``python tools/store_reach.py [DIRECTORY ...]`` (default: api cli qr).

import-linter sees imports only: ``from ledger.store import Store`` in a router breaks a
contract, but ``ledger.store.checkpoint(...)`` on the `Ledger` the router was handed does
not, and it is the same violation (the face then depends on the store's methods and
bypasses the service's policies). So this reads every module of the faces and reports each
attribute access named ``store`` (``x.store``, ``getattr(x, "store")``): the service's
store is the only thing called that, and a face has no business with any store. A face
that needs something the store knows asks the service for it.

Prints ``path:line: code`` for each and exits 1; prints one line and exits 0 when there is
none.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

DEFAULT_DIRECTORIES = ("api", "cli", "qr")
ATTRIBUTE = "store"


def reaches(tree: ast.AST) -> Iterator[int]:
    """Yield the line of every access to an attribute named ``store`` in ``tree``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == ATTRIBUTE:
            yield node.lineno
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in {"getattr", "setattr", "hasattr"}
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and node.args[1].value == ATTRIBUTE
        ):
            yield node.lineno


def scan(directories: Sequence[str]) -> list[str]:
    """Return ``path:line: source`` for every reach into a store under ``directories``."""
    found: list[str] = []
    for directory in directories:
        for path in sorted(Path(directory).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            lines = text.splitlines()
            for line in sorted(set(reaches(ast.parse(text, filename=str(path))))):
                found.append(f"{path}:{line}: {lines[line - 1].strip()}")
    return found


def main(argv: Sequence[str]) -> int:
    """Scan the directories named in ``argv`` (or the faces); return the exit status."""
    directories = tuple(argv) or DEFAULT_DIRECTORIES
    found = scan(directories)
    if found:
        print("\n".join(found))
        print(f"faces reaching the store: {len(found)} (ask the service instead)")
        return 1
    print(f"no face reaches the store ({', '.join(directories)})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
