"""Path and query parameters that several routers declare alike: the GS1 keys of a unit
and its label signature.

The GS1 rules appear here as OpenAPI patterns, for clients and fuzzers; `ledger.gs1`
enforces them (and the GTIN check digit) and answers 422 `gs1` with the field to blame.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

GTIN_PATTERN = r"^([0-9]{8}|[0-9]{12,14})$"
CSET82_PATTERN = r"^[!\"%-?A-Z_a-z]{1,20}$"  # GS1 AI encodable character set 82

#: the GTIN of a unit (AI 01), in a path
Gtin = Annotated[
    str,
    Path(
        description="GTIN-8, -12, -13 or -14 (AI 01) with its check digit",
        examples=["09506000134352"],
        json_schema_extra={"pattern": GTIN_PATTERN},
    ),
]
#: the serial of a unit (AI 21), in a path
Serial = Annotated[
    str,
    Path(
        description="the serial number (AI 21), percent-encoded where needed",
        examples=["SN-0001"],
        json_schema_extra={"pattern": CSET82_PATTERN},
    ),
]
#: the brand's signature printed on the label (``?s=``)
Signature = Annotated[str | None, Query(description="the label's brand signature")]
