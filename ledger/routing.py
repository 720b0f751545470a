"""Which log an event, a unit or a brand belongs to, when one deployment runs several logs.

A `Routing` table maps GS1 company prefixes and brand ids to log names, with a default
log for everything it does not name (docs/SCALING.md: more logs, per brand or region,
shard writes). It is pure: it reads no configuration file and opens no database
(ledger.service.deployment does both).

Rules, in order:

1. a GTIN (a unit's, or a registered product's) goes to the log of the longest
   configured company prefix it falls under (compared with ``gtin14[1:]``, as
   `gs1.company_prefix_matches`);
2. an event without a GTIN goes to the log of its brand: the ``subject`` of an
   ``actor.register`` / ``actor.revoke`` / ``key.rotate``, else its signing ``actor``,
   when that id is in the brand table; an ``actor.register`` or ``authorize`` naming
   prefixes goes where those prefixes go;
3. anything else has no opinion (`None`): the caller's explicit choice, or the default.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ledger import gs1
from ledger.errors import ValidationError
from ledger.events import Event

_DIGITS = frozenset("0123456789")


@dataclass(frozen=True)
class Routing:
    """Prefix -> log and brand -> log tables, plus the default log's name."""

    default: str = "default"
    prefixes: Mapping[str, str] = field(default_factory=dict)
    brands: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for prefix in self.prefixes:
            if not (4 <= len(prefix) <= 12 and set(prefix) <= _DIGITS):
                raise ValidationError(
                    f"routing prefix {prefix!r}: a GS1 company prefix is 4 to 12 digits",
                    field="routes.prefixes",
                )
        object.__setattr__(self, "prefixes", MappingProxyType(dict(self.prefixes)))
        object.__setattr__(self, "brands", MappingProxyType(dict(self.brands)))

    @property
    def logs(self) -> frozenset[str]:
        """Every log the table names, the default included."""
        return frozenset({self.default, *self.prefixes.values(), *self.brands.values()})

    def log_for_gtin(self, gtin: str) -> str:
        """The log of a GTIN: its longest matching company prefix, else the default.

        Raises:
            GS1Error: ``gtin`` is not a valid GTIN.
        """
        body = gs1.normalize_gtin(gtin)[1:]
        best = ""
        for prefix in self.prefixes:
            if len(prefix) > len(best) and body.startswith(prefix):
                best = prefix
        return self.prefixes[best] if best else self.default

    def log_for_brand(self, brand: str) -> str:
        """The log of a brand id (the default when the table does not name it)."""
        return self.brands.get(brand, self.default)

    def log_for_event(self, event: Event) -> str | None:
        """The log an event must be written to, or None when the table has no opinion."""
        unit = getattr(event, "unit", None)
        if isinstance(unit, gs1.UnitId):  # (1) unit events
            return self.log_for_gtin(unit.gtin)
        gtin = getattr(event, "gtin", None)
        if isinstance(gtin, str):  # (1) product.register
            return self.log_for_gtin(gtin)
        subject = getattr(event, "subject", None)  # (2) the brand the event is about
        for who in (subject, event.actor):
            if isinstance(who, str) and who in self.brands:
                return self.brands[who]
        return self._log_for_prefixes(getattr(event, "prefixes", None) or ())

    def _log_for_prefixes(self, prefixes: Iterable[str]) -> str | None:
        found = set()
        for prefix in prefixes:
            best = max((p for p in self.prefixes if prefix.startswith(p)), key=len, default=None)
            if best is not None:
                found.add(self.prefixes[best])
        return found.pop() if len(found) == 1 else None

    def log_for_events(self, events: Iterable[Event], chosen: str | None = None) -> str:
        """The one log a batch of events goes to.

        ``chosen`` is the caller's explicit log (a URL's ``/logs/{name}``); it must agree
        with every event the table routes, so a unit never starts a second chain in a
        log where the resolver would not look for it.

        Raises:
            ValidationError: the events route to two logs, or not to ``chosen``
                (field ``log``).
        """
        routed = {name for e in events if (name := self.log_for_event(e)) is not None}
        if len(routed) > 1:
            raise ValidationError(
                f"the events belong to different logs ({', '.join(sorted(routed))}); "
                "send each log its own batch",
                field="log",
            )
        if chosen is not None and routed and routed != {chosen}:
            raise ValidationError(
                f"the events belong to log {routed.pop()!r}, not to {chosen!r}", field="log"
            )
        return chosen or (routed.pop() if routed else self.default)
