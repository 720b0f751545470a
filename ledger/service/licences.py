"""The licence documents an operator checks before onboarding an actor: which files are
accepted, their hash, and the refusals.

A document is a PDF, JPEG or PNG of at most `MAX_DOCUMENT` bytes. Its type is read from
its first bytes (`sniff`), never from what the browser or the file name says; a name
or declared type that says otherwise is refused too, so that a ``.html`` file or a page
renamed ``licence.pdf`` never enters. Unlike a shopper's photo it is kept byte for byte
(re-encoding would change the hash the log signs): it is only ever served as an
attachment of its sniffed type, never rendered by this server.

Its hash is ``base64url(SHA-256(bytes))``, the form of ``actor.register``'s
``documents`` field (docs/FORMAT.md), the same as ``provenance actor register
--documents FILE`` computes.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from ledger import codec
from ledger.errors import LedgerError

#: the largest document accepted (a scanned multi-page licence fits)
MAX_DOCUMENT = 8 * 1024 * 1024
PDF, JPEG, PNG = "application/pdf", "image/jpeg", "image/png"
#: each accepted type's leading bytes
_MAGIC = ((PDF, b"%PDF-"), (JPEG, b"\xff\xd8\xff"), (PNG, b"\x89PNG\r\n\x1a\n"))
_EXTENSIONS = {".pdf": PDF, ".jpg": JPEG, ".jpeg": JPEG, ".png": PNG}
_DECLARED_ANY = ("", "application/octet-stream")  # a browser that did not say
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")
MAX_NAME = 120


class BadDocumentError(LedgerError):
    """The document is not a PDF, JPEG or PNG by its bytes, is empty or cut short, or
    its file name or declared type names another type."""

    code = "bad-document"
    status = 415


class DocumentTooLargeError(LedgerError):
    """The document is over the size limit."""

    code = "document-too-large"
    status = 413


class DocumentAlteredError(LedgerError):
    """A stored document's bytes no longer hash to the value the log signed: it was
    altered after it was stored, and is not served."""

    code = "document-altered"
    status = 409


@dataclass(frozen=True)
class Document:
    """A checked document: its bytes, sniffed type, hash and a safe file name."""

    data: bytes
    media: str
    digest: str
    name: str


def digest(data: bytes) -> str:
    """``base64url(SHA-256(data))``: the value ``actor.register`` keeps in ``documents``."""
    return codec.b64url_encode(hashlib.sha256(data).digest())


def sniff(data: bytes) -> str | None:
    """The type the bytes are (`PDF`, `JPEG`, `PNG`), or None. A PDF must also end
    with its ``%%EOF`` marker and a PNG start with its ``IHDR`` chunk, so that a file
    cut short or only dressed with a magic prefix is not taken for one."""
    for media, magic in _MAGIC:
        if data.startswith(magic):
            if media == PDF and b"%%EOF" not in data[-1024:]:
                return None
            if media == PNG and data[12:16] != b"IHDR":
                return None
            return media
    return None


def check(data: bytes, filename: str = "", declared: str = "") -> Document:
    """Check an uploaded document; return it with its type, hash and a safe name.

    Raises:
        DocumentTooLargeError: over `MAX_DOCUMENT` bytes.
        BadDocumentError: empty, not a PDF, JPEG or PNG by its bytes, or a file name
            extension or declared type naming another type.
    """
    if len(data) > MAX_DOCUMENT:
        raise DocumentTooLargeError(
            f"a document is at most {MAX_DOCUMENT // (1024 * 1024)} MiB", field="document"
        )
    media = sniff(data) if data else None
    if media is None:
        raise BadDocumentError("a document is a PDF, JPEG or PNG file", field="document")
    base = filename.replace("\\", "/").rsplit("/", 1)[-1].strip()
    dot = base.rfind(".")
    extension = base[dot:].lower() if dot > 0 else ""
    if extension and _EXTENSIONS.get(extension) != media:
        raise BadDocumentError(f"the file is named {extension} but holds {media}", field="document")
    declared = declared.split(";", 1)[0].strip().lower()
    if declared not in _DECLARED_ANY and declared != media:
        raise BadDocumentError(
            f"the file is sent as {declared} but holds {media}", field="document"
        )
    safe = _UNSAFE_NAME.sub("_", base)[-MAX_NAME:].strip(" .") or "document"
    return Document(data=data, media=media, digest=digest(data), name=safe)
