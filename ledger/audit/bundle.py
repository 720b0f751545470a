"""The export bundle: one file holding a whole log, enough to audit it offline.

Format (docs/FORMAT.md, "Export bundle"): UTF-8 JSON Lines, one JSON object per line.

1. a header ``{"format": "provenance-ledger/bundle@v1", "origin", "log_key",
   "witness_keys", "size", "chain"}``;
2. one ``{"checkpoint": "<signed note>"}`` line per checkpoint, by increasing size
   (each note as the log serves it, with any witness cosignatures);
3. ``{"index": i, "leaf": "<base64url leaf bytes>"}`` for i = 0 .. size-1, in order.

The leaf bytes are the exact bytes the log hashed; the actors' public keys are inside
them (``actor.register``, ``key.rotate`` and ``key.recover`` events), the log's and the
witnesses' keys in the header. Nothing in a bundle is trusted because it is in the bundle: the audit
replays it against a log key the auditor pins (ledger.audit.auditor).

Pure: `write_lines` yields text, `parse_bundle` reads bytes; no file I/O here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ledger import codec
from ledger.errors import EncodingError, ValidationError

FORMAT = "provenance-ledger/bundle@v1"


@dataclass(frozen=True)
class Bundle:
    """A parsed bundle: header fields, checkpoint notes, leaf bytes by index."""

    origin: str
    log_key: str
    witness_keys: tuple[str, ...]
    size: int
    chain: bytes | None
    checkpoints: tuple[str, ...]
    leaves: tuple[bytes, ...]


def write_lines(
    origin: str,
    log_key: str,
    witness_keys: Iterable[str],
    size: int,
    chain: bytes | None,
    checkpoints: Iterable[str],
    leaves: Iterable[tuple[int, bytes]],
) -> Iterator[str]:
    """Yield the bundle's lines (each ending in a newline), header first.

    ``leaves`` must yield (index, leaf bytes) for 0 .. size-1 in order.

    Raises:
        ValidationError: ``leaves`` skips or repeats an index, or stops early.
    """
    header = {
        "format": FORMAT,
        "origin": origin,
        "log_key": log_key,
        "witness_keys": list(witness_keys),
        "size": size,
        "chain": codec.b64url_encode(chain) if chain is not None else None,
    }
    yield _line(header)
    for note in checkpoints:
        yield _line({"checkpoint": note})
    expected = 0
    for index, leaf in leaves:
        if index != expected:
            raise ValidationError(f"leaf {index} where {expected} was due", field="index")
        yield _line({"index": index, "leaf": codec.b64url_encode(leaf)})
        expected += 1
    if expected != size:
        raise ValidationError(f"{expected} leaves for a log of size {size}", field="size")


def _line(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n"


def parse_bundle(data: bytes) -> Bundle:
    """Parse a bundle strictly: header, then checkpoints, then every leaf in order.

    Raises:
        EncodingError: not UTF-8 JSON Lines.
        ValidationError: a missing or unknown field, a line out of place, an index
            out of order, or a leaf count that differs from the header's size.
    """
    try:
        lines = data.decode("utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise EncodingError(f"not UTF-8 at byte {e.start}", field="bundle") from e
    if not lines:
        raise ValidationError("empty bundle", field="bundle")
    header = _object(lines[0], 1)
    if header.get("format") != FORMAT:
        raise ValidationError(f"the first line must name format {FORMAT}", field="format")
    _expect_keys(header, {"format", "origin", "log_key", "witness_keys", "size", "chain"}, 1)
    size, chain = header["size"], header["chain"]
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ValidationError("size must be a non-negative integer", field="size")
    witnesses = header["witness_keys"]
    if not isinstance(witnesses, list) or not all(isinstance(w, str) for w in witnesses):
        raise ValidationError("witness_keys must be a list of keys", field="witness_keys")
    checkpoints: list[str] = []
    leaves: list[bytes] = []
    for number, text in enumerate(lines[1:], start=2):
        item = _object(text, number)
        if "checkpoint" in item and not leaves:
            _expect_keys(item, {"checkpoint"}, number)
            checkpoints.append(_text(item["checkpoint"], number))
        else:
            _expect_keys(item, {"index", "leaf"}, number)
            if item["index"] != len(leaves):
                raise ValidationError(f"line {number}: index {item['index']!r} out of order")
            leaves.append(codec.b64url_decode(_text(item["leaf"], number), field="leaf"))
    if len(leaves) != size:
        raise ValidationError(f"{len(leaves)} leaves for size {size}", field="size")
    return Bundle(
        origin=_text(header["origin"], 1),
        log_key=_text(header["log_key"], 1),
        witness_keys=tuple(witnesses),
        size=size,
        chain=None if chain is None else codec.b64url_decode(_text(chain, 1), field="chain"),
        checkpoints=tuple(checkpoints),
        leaves=tuple(leaves),
    )


def _object(text: str, number: int) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as e:
        raise EncodingError(f"line {number} is not JSON: {e}", field="bundle") from e
    if not isinstance(value, dict):
        raise ValidationError(f"line {number} is not a JSON object", field="bundle")
    return value


def _expect_keys(item: dict[str, Any], keys: set[str], number: int) -> None:
    if set(item) != keys:
        raise ValidationError(f"line {number} must hold exactly {sorted(keys)}", field="bundle")


def _text(value: Any, number: int) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"line {number}: expected text", field="bundle")
    return value
