"""GS1 EPCIS 2.0 interop: ledger events to ObjectEvents and back (docs/EPCIS.md).

- `ledger.epcis.vocab`: the mapping table (kind <-> action, bizStep, disposition), the
  URIs we mint for actors and our extension fields.
- `ledger.epcis.export`: log entries -> an ``EPCISDocument`` (JSON-LD).
- `ledger.epcis.capture`: a partner's signed capture envelope -> signed ledger events,
  or a precise refusal per EPCIS event.

Pure: no I/O, no clock. The use cases that read or write a ledger live in
`ledger.service.epcis`.
"""
