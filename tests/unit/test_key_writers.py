"""Every harness writes private keys through the one writer (issue 16): the project's
code, its tests, the benchmarks and the hammer create a key file only with
``write_key_file`` (or ``cli.common.write_private_key``, which calls it), which makes it
0600 from the first byte, never with a plain write followed by a chmod (a window in
which the umask's mode lets other accounts read it)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("ledger", "api", "cli", "qr", "tests", "bench", "tools")
#: what turns a key into the bytes of a key file
SECRETS = {"private_key_to_pem", "private_bytes"}
PLAIN_WRITES = {"write_bytes", "write_text", "write"}


def _names(node: ast.AST) -> set[str]:
    out = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Attribute):
            out.add(sub.attr)
        elif isinstance(sub, ast.Name):
            out.add(sub.id)
    return out


def _plain_key_writes(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr in PLAIN_WRITES and any(_names(arg) & SECRETS for arg in node.args):
            found.append(f"{where}:{node.lineno}")
    return found


def test_no_key_file_is_written_but_through_write_key_file() -> None:
    offenders = [
        hit
        for folder in FOLDERS
        for path in sorted((ROOT / folder).rglob("*.py"))
        if ".venv" not in path.parts
        for hit in _plain_key_writes(path)
    ]
    assert offenders == [], f"write these keys with write_key_file (0600): {offenders}"


def test_the_check_finds_a_plain_write(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from pathlib import Path\n"
        "from ledger import crypto\n"
        "Path('k.pem').write_bytes(crypto.private_key_to_pem(crypto.generate_private_key()))\n",
        encoding="utf-8",
    )
    assert _plain_key_writes(sample) == ["sample.py:3"]
