"""The report form's "where bought" field: a shop's name or a listing URL, as the buyer
typed it (docs/CONSOLE.md, "Where bought").

Kept as text, never fetched or linked: the console shows it escaped inside an isolating
``<bdi>``. Refused here, so nothing stored can reorder what staff read around it:
bidirectional controls (a right-to-left override can make ``evil.com/moc.acme`` read as
something else), other control and format characters, and more than `MAX_WHERE`
characters.
"""

from __future__ import annotations

import unicodedata

from ledger.errors import ValidationError

#: characters of the field, after stripping
MAX_WHERE = 300
#: the explicit bidirectional controls (Unicode TR9): embeddings, overrides, isolates,
#: and the implicit marks
BIDI_CONTROLS = frozenset(
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
)


def clean_where(value: str | None) -> str | None:
    """The field stripped (None when empty), refused if it would mislead or overflow.

    Raises:
        ValidationError: over `MAX_WHERE` characters, a bidirectional control, or another
            control or format character (category Cc or Cf: line breaks, zero-width
            joiners, BOMs).
    """
    text = (value or "").strip()
    if not text:
        return None
    if len(text) > MAX_WHERE:
        raise ValidationError(f"where bought is at most {MAX_WHERE} characters", field="where")
    for char in text:
        if char in BIDI_CONTROLS:
            raise ValidationError(
                f"where bought may not hold the bidirectional control U+{ord(char):04X}",
                field="where",
            )
        if unicodedata.category(char) in ("Cc", "Cf"):
            raise ValidationError(
                f"where bought may not hold the control character U+{ord(char):04X}",
                field="where",
            )
    return text
