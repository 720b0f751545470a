"""The ``--max-age`` of a checkpoint (ledger.verify.freshness), parsed with nothing else
loaded: a client reads its options before it asks the server, and the verifier itself
(notes, events, rules) loads only once there is something to verify.
"""

from __future__ import annotations

import re

from ledger.errors import ValidationError

_AGE = re.compile(r"([1-9][0-9]{0,6})([smh]?)")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600}


def parse_max_age(text: str) -> int:
    """A maximum age written ``600``, ``600s``, ``10m`` or ``1h`` (at least 1 s), in seconds.

    Raises:
        ValidationError: any other form.
    """
    found = _AGE.fullmatch(text.strip()) if isinstance(text, str) else None
    if found is None:
        raise ValidationError(
            f"a maximum age is a whole number of s, m or h, like 10m, not {text!r}",
            field="max_age",
        )
    return int(found.group(1)) * _UNIT[found.group(2)]
