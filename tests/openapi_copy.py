"""Write docs/openapi.json, the committed copy of the served OpenAPI document, so that
docs/ stands alone (docs/API.md, "The OpenAPI document"): ``python -m tests.openapi_copy``.

The document is the one `api.app.create_app` generates (no setting changes it: a test
compares the copy with what a configured server serves); written with sorted keys and
two-space indents, so a change in the API is a readable diff.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from api.app import create_app
from ledger.service.ledger import Ledger
from ledger.service.settings import Settings
from tests.integration.world import config

COPY = Path(__file__).resolve().parents[1] / "docs" / "openapi.json"


def generated() -> dict[str, Any]:
    """The document an app generates (over an empty throwaway log)."""
    with tempfile.TemporaryDirectory() as tmp:
        ledger = Ledger.open(f"sqlite:///{tmp}/o.db", config("openapi"))
        try:
            ledger.init(name="Registry")
            return create_app(Settings.from_env({}), ledger=ledger).openapi()
        finally:
            ledger.close()


def text(document: dict[str, Any]) -> str:
    """The document as the committed copy spells it."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> int:
    """Write the copy; print where."""
    COPY.write_text(text(generated()), encoding="utf-8")
    print(COPY)
    return 0


if __name__ == "__main__":
    sys.exit(main())
