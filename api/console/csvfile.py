"""The console's CSV exports (``/console/export/*.csv``): UTF-8 with a byte-order mark,
so that Excel reads Chinese, and every cell a spreadsheet could run as a formula quoted.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from fastapi.responses import Response


def cell(value: object) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (one starting
    ``= + - @``, a tab or a carriage return gets a leading ``'``)."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_response(
    filename: str, header: Sequence[str], rows: Iterable[Sequence[object]]
) -> Response:
    """A CSV download: ``header`` then ``rows``, each cell through `cell`, UTF-8 with a
    byte-order mark, ``Content-Disposition: attachment``, never cached."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:  # numbers are never formulas: only text goes through `cell`
        writer.writerow([v if isinstance(v, int) else cell(v) for v in row])
    return Response(
        ("\ufeff" + out.getvalue()).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )
