"""A brand's product pictures and its catalogue (docs/CONSOLE.md, docs/API.md).

**What the brand signs.** A picture is re-encoded on upload (`photos.reencode`: JPEG,
PNG or WebP in; every metadata stripped; at most `IMAGE_SIDE` pixels a side and
`IMAGE_STORED` bytes; a decompression bomb refused from its header) and stored under
the SHA-256 of the re-encoded bytes, which are then the only bytes ever served. That
hash, not the original file's, is what the brand signs as the product's ``image`` in
its ``product.register``: the signature then covers exactly what a shopper's phone
downloads, and anyone can check it (``sha256(body) == image``). The upload answers the
hash and the bytes can be fetched back before signing, so the brand signs a picture it
has seen.

**Why the server cannot swap it.** Only the brand's own key signs ``product.register``
(a console key's scope is ``flag`` and ``recall``: the rules refuse anything else it
signs). A picture is shown or served only when the SHA-256 of the stored bytes equals
the hash the brand signed (`ProductImages.verified`), checked on every serve; a row
replaced in the database is refused, never shown.
"""

from __future__ import annotations

import hashlib
import io
import threading
import time
import weakref
from collections.abc import Callable
from datetime import datetime
from typing import Any

from PIL import Image

from ledger import codec, gs1
from ledger.errors import NotFoundError, ValidationError
from ledger.events import format_time
from ledger.rules.state import ActorRecord, ProductRecord
from ledger.service.ledger import Ledger
from ledger.service.photos import MAX_PIXELS, PhotoError, reencode
from ledger.store import CatalogStore

#: the largest upload read (a phone's photo or a studio shot)
MAX_UPLOAD = 10 * 1024 * 1024
#: the longest side of a stored picture: sharp on a 390 px phone at 2x
IMAGE_SIDE = 800
#: the most bytes a stored picture takes (the consumer page itself stays < 50 KB)
IMAGE_STORED = 400 * 1024
#: how long a page trusts an earlier check of the stored bytes (the image route
#: checks on every serve)
SHOWN_TTL = 60.0


class ImageTooLargeError(PhotoError):
    """The upload is larger than `MAX_UPLOAD` bytes."""

    code = "image-too-large"
    status = 413


class ProductImages:
    """Pictures of ``ledger``'s products: stored re-encoded, served only when they are
    what the brand signed."""

    def __init__(self, ledger: Ledger, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._ledger = ledger
        self._store = CatalogStore(ledger.store.engines)
        self._monotonic = monotonic
        self._shown: dict[tuple[str, str], tuple[float, tuple[int, int] | None]] = {}
        self._lock = threading.Lock()

    def upload(self, brand: str, gtin: str, data: bytes, now: datetime) -> dict[str, Any]:
        """Re-encode and store a picture for ``brand``'s product ``gtin``; return its
        ``hash`` (what the brand signs as ``image``), ``media``, ``width``, ``height``
        and ``bytes``. Nothing is stored when anything is refused.

        Raises:
            ImageTooLargeError: more than `MAX_UPLOAD` bytes.
            PhotoError: not a JPEG, PNG or WebP that decodes, a decompression bomb, or
                still over `IMAGE_STORED` bytes once re-encoded.
            GS1Error: a malformed GTIN.
            NotFoundError: ``gtin`` is neither a product of ``brand`` nor under one of
                its prefixes.
        """
        if len(data) > MAX_UPLOAD:
            raise ImageTooLargeError(f"a picture is at most {MAX_UPLOAD:,} bytes")
        if not self.may_register(brand, gtin):
            raise NotFoundError(f"{gtin} is not a product of {brand}", field="gtin")
        stored, media = reencode(data, MAX_PIXELS, max_side=IMAGE_SIDE, max_stored=IMAGE_STORED)
        with Image.open(io.BytesIO(stored)) as image:  # our own bytes: safe to open
            width, height = image.size
        image_hash = codec.b64url_encode(hashlib.sha256(stored).digest())
        self._store.put_image(
            {
                "hash": image_hash,
                "brand": brand,
                "media": media,
                "data": stored,
                "width": width,
                "height": height,
                "created_at": format_time(now),
            }
        )
        return {
            "hash": image_hash,
            "media": media,
            "width": width,
            "height": height,
            "bytes": len(stored),
        }

    def may_register(self, brand: str, gtin: str) -> bool:
        """Whether ``brand`` registered ``gtin``, or may (a GTIN under one of its
        prefixes that no one registered).

        Raises:
            GS1Error: a malformed GTIN.
        """
        product = self.product(gtin)
        if product is not None:
            return product.brand == brand
        found = self._ledger.store.records(self._ledger.log, {ActorRecord: [brand]})
        actor = next((a for a in found if isinstance(a, ActorRecord)), None)
        gtin = gs1.normalize_gtin(gtin)
        return actor is not None and any(
            gs1.company_prefix_matches(gtin, p) for p in actor.prefixes
        )

    def product(self, gtin: str) -> ProductRecord | None:
        """The registered product ``gtin`` (as its brand last signed it), or None.

        Raises:
            GS1Error: a malformed GTIN.
        """
        gtin = gs1.normalize_gtin(gtin)
        found = self._ledger.store.records(self._ledger.log, {ProductRecord: [gtin]})
        return next((p for p in found if isinstance(p, ProductRecord)), None)

    def stored(self, image_hash: str) -> tuple[bytes, str]:
        """A stored picture by its hash, whether or not any product names it, checked
        against the hash (the brand fetches it back before signing).

        Raises:
            NotFoundError: nothing stored under that hash, or the stored bytes no longer
                hash to it.
        """
        row = self._store.image(image_hash)
        if row is None or _digest(bytes(row["data"])) != image_hash:
            raise NotFoundError(f"no picture {image_hash}", field="image")
        return bytes(row["data"]), str(row["media"])

    def verified(self, gtin: str, image_hash: str | None = None) -> tuple[bytes, str, str]:
        """The picture of product ``gtin``: its bytes, media type and hash, only when the
        SHA-256 of the stored bytes equals the ``image`` its brand signed (and, when
        ``image_hash`` is given, equals that too: a content-addressed URL).

        Raises:
            GS1Error: a malformed GTIN.
            NotFoundError: no such product, no signed picture, another hash asked for,
                nothing stored, or stored bytes that are not what the brand signed.
        """
        product = self.product(gtin)
        signed = product.image if product is not None else None
        if signed is None or (image_hash is not None and image_hash != signed):
            raise NotFoundError(f"product {gtin} has no such signed picture", field="image")
        row = self._store.image(signed)
        ok = row is not None and _digest(bytes(row["data"])) == signed
        size = (int(row["width"]), int(row["height"])) if row is not None and ok else None
        self._remember(gtin, signed, size)
        if row is None or not ok:
            raise NotFoundError(
                f"the stored picture of {gtin} is not the one its brand signed", field="image"
            )
        return bytes(row["data"]), str(row["media"]), signed

    def shown(self, gtin: str, image_hash: str) -> tuple[int, int] | None:
        """The (width, height) of the picture ``image_hash`` (the signed ``image`` of a
        unit view) of ``gtin`` if a page may show it: its stored bytes were checked
        against it within the last `SHOWN_TTL` seconds, or are checked now; else None.
        Never raises."""
        cached, size = self.known(gtin, image_hash)
        if cached:
            return size
        try:
            return self.verified_size(gtin, image_hash)
        except (NotFoundError, ValidationError):
            self._remember(gtin, image_hash, None)
            return None

    def verified_size(self, gtin: str, image_hash: str) -> tuple[int, int]:
        """The (width, height) of `verified`'s picture.

        Raises:
            GS1Error, NotFoundError: as `verified`.
        """
        data, _, _ = self.verified(gtin, image_hash)
        with Image.open(io.BytesIO(data)) as image:  # our own checked bytes
            return image.size

    def known(self, gtin: str, image_hash: str) -> tuple[bool, tuple[int, int] | None]:
        """What `shown` would answer from its cache alone: (True, its answer), or
        (False, None) when it has to read the database (a page then asks `shown` off
        the event loop)."""
        with self._lock:
            found = self._shown.get((gtin, image_hash))
        if found is None or self._monotonic() - found[0] >= SHOWN_TTL:
            return False, None
        return True, found[1]

    def _remember(self, gtin: str, image_hash: str, size: tuple[int, int] | None) -> None:
        with self._lock:
            if len(self._shown) > 10_000:  # a bound, not an eviction policy
                self._shown.clear()
            self._shown[(gtin, image_hash)] = (self._monotonic(), size)

    def catalogue(self, brands: list[str]) -> list[dict[str, Any]]:
        """The products of ``brands``: GTIN, names, support contact, the signed picture's
        hash and whether the stored bytes match it (``image_ok``), units minted."""
        rows = self._store.products(self._ledger.log, brands) if brands else []
        out = []
        for row in rows:
            image = row["image"]
            ok = bool(image) and self.shown(row["gtin"], image) is not None
            out.append({**row, "image_ok": ok})
        return out


_OF: weakref.WeakKeyDictionary[Ledger, ProductImages] = weakref.WeakKeyDictionary()
_OF_LOCK = threading.Lock()


def images_of(ledger: Ledger) -> ProductImages:
    """The one `ProductImages` of ``ledger`` (its page check cache shared by every
    request of this process)."""
    with _OF_LOCK:
        found = _OF.get(ledger)
        if found is None:
            found = _OF[ledger] = ProductImages(ledger)
        return found


def _digest(data: bytes) -> str:
    return codec.b64url_encode(hashlib.sha256(data).digest())
