"""Why an EPCIS event cannot become a ledger event, and the refusal of a whole capture.

    ValidationError
    └── EpcisError                    epcis             an EPCIS event cannot be mapped
        ├── NotObjectEventError       epcis-not-object-event
        ├── UnmappedError             epcis-unmapped    no table row for action/bizStep/disposition
        ├── NotImportableError        epcis-not-importable  a kind partners cannot capture
        ├── EpcError                  epcis-epc         epcList is not GS1 Digital Link units
        ├── PartyError                epcis-party       source/destination/actor do not fit
        ├── EventTimeError            epcis-time        eventTime cannot be a ledger time
        ├── MissingFieldError         epcis-missing-field   a field the kind needs is absent
        ├── SignatureCountError       epcis-signature-count one signature per EPC expected
        └── NotCheckedError           epcis-not-checked an earlier event stopped the check
    LedgerError
    └── EpcisRefusedError             epcis-refused     nothing of the document was appended
        └── CaptureRefusedError                         the capture, with one reason per event

The CLI's import refuses with ``epcis-refused`` too (a subclass of `EpcisRefusedError`
that carries the server's summary): one code, declared once.

No I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ledger.errors import LedgerError, ValidationError


class EpcisError(ValidationError):
    """An EPCIS event cannot be turned into a ledger event."""

    code = "epcis"


class NotObjectEventError(EpcisError):
    """Only ObjectEvents describe one unit's custody; other event types are refused."""

    code = "epcis-not-object-event"


class UnmappedError(EpcisError):
    """The action, bizStep and disposition match no row of the mapping table."""

    code = "epcis-unmapped"


class NotImportableError(EpcisError):
    """The event maps to a kind partners do not capture through EPCIS (commission, ...)."""

    code = "epcis-not-importable"


class EpcError(EpcisError):
    """The epcList is missing, empty, or holds something other than GS1 Digital Link units."""

    code = "epcis-epc"


class PartyError(EpcisError):
    """The sourceList, destinationList or ``pl:actor`` do not fit the signing actor."""

    code = "epcis-party"


class EventTimeError(EpcisError):
    """The eventTime is not an RFC 3339 time the ledger can hold (at most microseconds)."""

    code = "epcis-time"


class MissingFieldError(EpcisError):
    """The ledger kind needs a field the EPCIS event does not carry (``pl:reason``)."""

    code = "epcis-missing-field"


class SignatureCountError(EpcisError):
    """The envelope does not hold exactly one signature per EPC of the event."""

    code = "epcis-signature-count"


class NotCheckedError(EpcisError):
    """Not checked against the rules: an earlier event of the document was refused."""

    code = "epcis-not-checked"


@dataclass(frozen=True)
class Refusal:
    """Why EPCIS event ``event`` (its EPC ``epc``, when one is to blame) was refused."""

    event: int
    epc: int | None
    error: LedgerError
    event_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The refusal as the API lists it in the problem's ``events``."""
        out: dict[str, Any] = {"event": self.event}
        if self.epc is not None:
            out["epc"] = self.epc
        if self.event_id is not None:
            out["eventID"] = self.event_id
        out.update(
            type="urn:provenance-ledger:problem:" + self.error.code,
            code=self.error.code,
            status=self.error.status,
            detail=self.error.message,
        )
        if self.error.field:
            out["field"] = self.error.field
        return out


class EpcisRefusedError(LedgerError):
    """An EPCIS document was refused as a whole; nothing of it was appended."""

    code = "epcis-refused"


class CaptureRefusedError(EpcisRefusedError):
    """A capture was refused; nothing was appended. ``refusals`` says why, per event.

    The HTTP status is the first refusal's (403 for a bad signature, 409 for a moved
    head, 422 for a mapping or rule refusal).
    """

    def __init__(self, refusals: Sequence[Refusal], total: int) -> None:
        self.refusals = tuple(sorted(refusals, key=lambda r: (r.event, r.epc or 0)))
        events = len({r.event for r in self.refusals if r.error.code != NotCheckedError.code})
        super().__init__(
            f"{events} of {total} EPCIS events refused; nothing was appended", field="events"
        )
        self.status = self.refusals[0].error.status if self.refusals else 422

    @property
    def problem_fields(self) -> dict[str, Any]:
        """Extra problem+json members: ``events``, one entry per refused EPC or event."""
        return {"events": [r.to_dict() for r in self.refusals]}
