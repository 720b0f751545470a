"""What every command shares: global options, output, key files, unit references.

Imported by every command module, so by ``provenance --help`` too: it loads rich's
console and the light core only; crypto and GS1 parsing load when first used.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console

from ledger.errors import GS1Error, KeyFormatError, LedgerError
from ledger.service.settings import home

if TYPE_CHECKING:
    from ledger import crypto, gs1

# emoji=False: a ``:warning:`` in a place name stays text, not a picture
console = Console(stderr=False, highlight=False, emoji=False)
errors = Console(stderr=True, highlight=False, emoji=False)

#: what a terminal would obey rather than show: C0 controls (ESC, BEL, CR, tab and newline
#: included: one cell, one line), DEL, C1 controls (8-bit CSI and OSC), and the bidi
#: embeddings, overrides, isolates and marks that reorder what is shown
_UNSHOWABLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
#: the same characters in ``--json`` output, written as ``\\uXXXX`` escapes (the same JSON
#: value; json.dumps already escapes C0)
_UNSHOWABLE_JSON = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def safe(text: object, *, markup: bool = True) -> str:
    """Untrusted text made fit for the terminal: shown literally, never obeyed.

    Every CLI line and table cell showing data (anything from the log, a server, a file
    or the command line) passes through here: the characters of ``_UNSHOWABLE`` are
    removed, and with ``markup`` (for rich: ``console.print``, table cells) rich markup
    such as ``[link=...]`` or ``[bold red]`` is escaped so its brackets are printed.
    ``markup=False`` is for plain writes to stderr.
    """
    cleaned = _UNSHOWABLE.sub("", str(text))
    if not markup:
        return cleaned
    from rich.markup import escape

    return escape(cleaned)


class UsageError(LedgerError):
    """The command line is incomplete or contradictory (exit 2)."""

    code = "usage"
    status = 400


@dataclass
class Options:
    """Global options (set by the main callback)."""

    db: str | None = None
    server: str | None = None
    #: the log of a deployment of several (``/logs/{log}`` on a server; docs/SCALING.md)
    log: str | None = None
    json: bool = False
    debug: bool = False
    #: ``server`` came from ``PROVENANCE_SERVER``, not from ``--server``
    server_from_env: bool = False

    @property
    def home(self) -> Path:
        """``$PROVENANCE_HOME`` (default ``~/.provenance``)."""
        return home()

    @property
    def database_url(self) -> str:
        """``--db``, else ``DATABASE_URL``, else the SQLite file under the home folder."""
        return self.db or os.environ.get("DATABASE_URL") or f"sqlite:///{self.home / 'ledger.db'}"


OPTIONS = Options()


def emit(data: Any, *human: Any) -> None:
    """Print ``data`` as JSON with ``--json``; otherwise print ``human`` (rich renderables)."""
    if OPTIONS.json:
        text = json.dumps(data, ensure_ascii=False, indent=2)
        sys.stdout.write(_UNSHOWABLE_JSON.sub(lambda m: f"\\u{ord(m[0]):04x}", text) + "\n")
    else:
        for item in human:
            console.print(item, soft_wrap=True)


def fail(message: str, code: int = 1, *, kind: str = "error", field: str | None = None) -> NoReturn:
    """Print one readable line to stderr and exit with ``code`` (``message`` shown literally).

    With ``--json`` the line is `error_json` (``kind`` is its ``code``).
    """
    if OPTIONS.json:
        sys.stderr.write(error_json(kind, message, field) + "\n")
    else:
        errors.print(f"[bold red]error:[/] {safe(message)}", soft_wrap=True)
    raise typer.Exit(code)


def error_json(code: str, message: str, field: str | None = None) -> str:
    """An error as ``--json`` prints it, on one line: ``{"error": {code, message, field}}``."""
    text = json.dumps({"error": {"code": code, "message": message, "field": field}})
    return _UNSHOWABLE_JSON.sub(lambda m: f"\\u{ord(m[0]):04x}", text)


def write_private_key(path: Path, key: crypto.Ed25519PrivateKey) -> None:
    """Write a PKCS#8 PEM private key with mode 0600, never overwriting a file.

    Raises:
        KeyFormatError: the file exists.
    """
    from ledger import crypto
    from ledger.service.keyfiles import write_key_file  # not config: no routing, no events

    write_key_file(path, crypto.private_key_to_pem(key))


def load_private_key(path: Path) -> crypto.Ed25519PrivateKey:
    """Load a private key file, refusing one that group or others can read.

    Raises:
        KeyFormatError: missing, readable by others, or not an Ed25519 PEM key.
    """
    from ledger import crypto
    from ledger.service.keyfiles import read_key_file  # not config: no routing, no events

    return crypto.private_key_from_pem(read_key_file(path))


def key_path(key: Path | None, actor: str) -> Path:
    """``--key``, else ``$PROVENANCE_HOME/keys/<actor>.pem``."""
    return key if key is not None else OPTIONS.home / "keys" / f"{actor}.pem"


def load_actor_key(key: Path | None, actor: str) -> crypto.Ed25519PrivateKey:
    """``actor``'s private key from ``--key`` or the home folder; a missing file is named
    with the three ways to find it (``--key``, ``PROVENANCE_HOME``, ``keys new``).

    Raises:
        KeyFormatError: missing (field ``key``), readable by others, or not Ed25519.
    """
    path = key_path(key, actor)
    if not path.exists():
        where = "--key" if key is not None else "$PROVENANCE_HOME/keys"
        raise KeyFormatError(
            f"no key file for {actor!r} at {path} ({where}): pass --key FILE, set "
            f"PROVENANCE_HOME to the folder whose keys/ holds {actor}.pem, or create one "
            f"with `provenance keys new {actor}`",
            field="key",
        )
    return load_private_key(path)


def parse_unit(text: str) -> tuple[gs1.UnitId, str | None]:
    """A unit from ``GTIN/SERIAL`` or a scanned Digital Link URL; also the label signature.

    Raises:
        GS1Error: neither form parses.
    """
    from ledger import gs1

    if "://" in text:
        link = gs1.parse_digital_link(text)
        if link.serial is None:
            raise GS1Error("the URL names no serial (/21/...)", field="unit")
        return gs1.UnitId(gtin=link.gtin, serial=link.serial), link.param("s")
    gtin, sep, serial = text.partition("/")
    if not sep:
        raise GS1Error("expected GTIN/SERIAL or a scanned URL", field="unit")
    return gs1.UnitId(gtin=gs1.normalize_gtin(gtin), serial=serial), None
