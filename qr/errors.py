"""Errors of the label renderer, in the one `LedgerError` tree.

    LedgerError
    └── LabelError               a label, sheet or manifest cannot be produced
        ├── FontNotFoundError    no font with Chinese glyphs to draw the label text
        └── OutputExistsError    the manifest file already exists (never overwritten)

Malformed identities, URIs and claim codes raise the core's `GS1Error`,
`ValidationError` and `SignatureError`; these classes cover only what is particular to
rendering on this machine.
"""

from __future__ import annotations

from ledger.errors import LedgerError


class LabelError(LedgerError):
    """A label, sheet or manifest cannot be produced."""

    code = "label"
    status = 500


class FontNotFoundError(LabelError):
    """No TrueType font with Chinese glyphs is installed (or the configured one is bad)."""

    code = "label-font-not-found"
    status = 500


class OutputExistsError(LabelError):
    """The output file already exists; manifests hold secrets and are never overwritten."""

    code = "label-output-exists"
    status = 409
