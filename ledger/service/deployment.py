"""Several logs behind one server: their configuration, and finding the right one.

A `Deployment` holds one open `Ledger` per configured log and the `Routing` table that
says which log a unit, a brand or a batch of events belongs to. A deployment of one log
(the default, configured from ``DATABASE_URL``) behaves exactly as a single `Ledger`.

The configuration file (TOML, ``PROVENANCE_LOGS``; docs/SCALING.md) names each log with
its origin, database URL, read replicas and operator key, and the routing table::

    default = "main"

    [logs.main]
    origin = "resolver.example/log"
    database = "postgresql+psycopg://db-a/ledger"
    replicas = ["postgresql+psycopg://db-a-replica/ledger"]
    operator_key = "/etc/provenance/main.pem"
    witnesses = ["witness.example/w1+d73d4b92+BFbg..."]   # optional (docs/AUDIT.md)

    [logs.acme]
    origin = "resolver.example/log/acme"
    database = "postgresql+psycopg://db-b/ledger"
    operator_key = "/etc/provenance/acme.pem"

    [routes.prefixes]
    "9506000" = "acme"

    [routes.brands]
    acme = "acme"

Logs that share a database URL share one `Store` (one connection pool).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ledger import crypto
from ledger.entry import SignedEvent
from ledger.errors import KeyFormatError, NotFoundError, ValidationError
from ledger.routing import Routing
from ledger.service.ledger import Ledger, LogConfig
from ledger.service.policies import Policies
from ledger.store import Store


@dataclass(frozen=True)
class LogSpec:
    """One configured log: its name in the database, origin, database and signing key."""

    name: str
    origin: str
    database_url: str
    replica_urls: tuple[str, ...] = ()
    operator_key_file: Path | None = None
    verifier_key: str | None = None
    #: the witness verifier keys (type 0x04) whose cosignatures this log accepts
    witnesses: tuple[str, ...] = ()


@dataclass(frozen=True)
class DeploymentConfig:
    """Every log of a deployment and the routing table between them."""

    logs: tuple[LogSpec, ...]
    routing: Routing = field(default_factory=Routing)

    def __post_init__(self) -> None:
        names = [spec.name for spec in self.logs]
        if len(set(names)) != len(names):
            raise ValidationError("two logs share a name", field="logs")
        missing = self.routing.logs - set(names)
        if missing:
            raise ValidationError(
                f"the routing table names unconfigured logs: {', '.join(sorted(missing))}",
                field="routes",
            )

    @classmethod
    def single(cls, spec: LogSpec) -> DeploymentConfig:
        """A deployment of one log, which is also the default."""
        return cls((spec,), Routing(default=spec.name))

    @classmethod
    def from_toml(cls, path: Path) -> DeploymentConfig:
        """Read a deployment file (format in the module docstring).

        Raises:
            ValidationError: the file is missing, not TOML, or not a valid deployment
                (field names the offending key).
        """
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as e:
            raise ValidationError(f"cannot read {path}: {e.strerror}", field="logs") from e
        except tomllib.TOMLDecodeError as e:
            raise ValidationError(f"{path} is not valid TOML: {e}", field="logs") from e
        return cls.from_dict(data, base=path.parent)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], base: Path = Path()) -> DeploymentConfig:
        """Build from parsed TOML; relative key paths are taken from ``base``.

        Raises:
            ValidationError: a missing or mistyped key (field names it).
        """
        logs = data.get("logs")
        if not isinstance(logs, dict) or not logs:
            raise ValidationError("a deployment configures at least one [logs.NAME]", field="logs")
        specs = tuple(_spec(name, table, base) for name, table in logs.items())
        routes = data.get("routes", {})
        default = data.get("default", specs[0].name if len(specs) == 1 else None)
        if not isinstance(default, str) or not isinstance(routes, dict):
            raise ValidationError("name the default log: default = NAME", field="default")
        routing = Routing(
            default=default,
            prefixes=_names(routes.get("prefixes", {}), "routes.prefixes"),
            brands=_names(routes.get("brands", {}), "routes.brands"),
        )
        return cls(specs, routing)


def _spec(name: str, table: object, base: Path) -> LogSpec:
    where = f"logs.{name}"
    if not isinstance(table, dict):
        raise ValidationError("expected a table", field=where)
    for required in ("origin", "database"):
        if not isinstance(table.get(required), str):
            raise ValidationError(f"{required} is required (a string)", field=f"{where}.{required}")
    replicas = table.get("replicas", [])
    if not isinstance(replicas, list) or not all(isinstance(r, str) for r in replicas):
        raise ValidationError("a list of database URLs", field=f"{where}.replicas")
    witnesses = table.get("witnesses", [])
    if not isinstance(witnesses, list) or not all(isinstance(w, str) for w in witnesses):
        raise ValidationError("a list of witness verifier keys", field=f"{where}.witnesses")
    key = table.get("operator_key")
    verifier = table.get("verifier_key")
    if key is None and verifier is None:
        raise ValidationError("operator_key (or verifier_key) is required", field=where)
    return LogSpec(
        name=name,
        origin=table["origin"],
        database_url=table["database"],
        replica_urls=tuple(replicas),
        operator_key_file=None if key is None else base / Path(str(key)).expanduser(),
        verifier_key=None if verifier is None else str(verifier),
        witnesses=tuple(witnesses),
    )


def _names(table: object, where: str) -> dict[str, str]:
    if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
        raise ValidationError("a table of NAME = LOG strings", field=where)
    return {str(k): v for k, v in table.items()}


def load_operator_key(path: Path) -> crypto.Ed25519PrivateKey:
    """Read an operator's Ed25519 private key (PKCS#8 PEM).

    Raises:
        KeyFormatError: the file is missing, unreadable or not such a key.
    """
    try:
        pem = path.read_bytes()
    except OSError as e:
        raise KeyFormatError(
            f"cannot read the operator key {path}: {e.strerror}; "
            "set PROVENANCE_OPERATOR_KEY or run `provenance init`"
        ) from e
    return crypto.private_key_from_pem(pem)


class Deployment:
    """The open logs of one deployment and the table that routes to them."""

    def __init__(self, ledgers: Mapping[str, Ledger], routing: Routing) -> None:
        if routing.default not in ledgers:
            raise ValidationError(f"no default log {routing.default!r}", field="default")
        self.ledgers = dict(ledgers)
        self.routing = routing

    @classmethod
    def single(cls, ledger: Ledger) -> Deployment:
        """A deployment serving one already-open ledger (as its default)."""
        return cls({ledger.config.name: ledger}, Routing(default=ledger.config.name))

    @classmethod
    def open(
        cls,
        config: DeploymentConfig,
        clock: Callable[[], datetime] | None = None,
        policies: Policies | None = None,
    ) -> Deployment:
        """Open (creating and migrating as needed) every configured log.

        A log with an operator key gets its genesis entry on first use; one with only a
        verifier key is opened read-only (an auditor's view). Every log is built with
        ``policies`` (default: the documented defaults).

        Raises:
            KeyFormatError: an operator key cannot be read.
            StorageError: a database cannot be reached or migrated.
        """
        stores: dict[tuple[str, tuple[str, ...]], Store] = {}
        ledgers: dict[str, Ledger] = {}
        try:
            for spec in config.logs:
                key = (
                    None
                    if spec.operator_key_file is None
                    else load_operator_key(spec.operator_key_file)
                )
                where = (spec.database_url, spec.replica_urls)
                store = stores.get(where)
                if store is None:
                    store = Store.open(spec.database_url, replicas=spec.replica_urls)
                    stores[where] = store
                log_config = LogConfig(
                    origin=spec.origin,
                    operator_key=key,
                    name=spec.name,
                    verifier_key=spec.verifier_key,
                    witnesses=spec.witnesses,
                )
                ledgers[spec.name] = ledger = Ledger(store, log_config, clock, policies)
                if key is not None:
                    ledger.init()
            return cls(ledgers, config.routing)
        except BaseException:
            for store in stores.values():
                store.close()
            raise

    @property
    def default(self) -> Ledger:
        """The default log (the one single-log URLs serve)."""
        return self.ledgers[self.routing.default]

    def for_log(self, name: str | None) -> Ledger:
        """The log called ``name`` (None: the default).

        Raises:
            NotFoundError: no such log in this deployment (field ``log``).
        """
        if name is None:
            return self.default
        found = self.ledgers.get(name)
        if found is None:
            raise NotFoundError(f"no log {name!r} in this deployment", field="log")
        return found

    def for_gtin(self, gtin: str) -> Ledger:
        """The log a unit or product with this GTIN lives in.

        Raises:
            GS1Error: the GTIN is malformed.
        """
        return self.ledgers[self.routing.log_for_gtin(gtin)]

    def for_brand(self, brand: str) -> Ledger:
        """The log a brand's registrations and units live in."""
        return self.ledgers[self.routing.log_for_brand(brand)]

    def for_events(self, items: Iterable[SignedEvent], chosen: str | None = None) -> Ledger:
        """The one log a batch of signed events must be appended to.

        Raises:
            NotFoundError: ``chosen`` names no log here.
            ValidationError: the events span logs, or do not belong to ``chosen``.
        """
        if chosen is not None:
            self.for_log(chosen)
        return self.ledgers[self.routing.log_for_events((s.event for s in items), chosen)]

    def close(self) -> None:
        """Close every store once."""
        closed: set[int] = set()
        for ledger in self.ledgers.values():
            if id(ledger.store) not in closed:
                closed.add(id(ledger.store))
                ledger.close()
