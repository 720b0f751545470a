"""Several logs behind one server: their configuration, and finding the right one.

A `Deployment` holds one open `Ledger` per configured log and the `Routing` table that
says which log a unit, a brand or a batch of events belongs to. A deployment of one log
(the default, configured from ``DATABASE_URL``) behaves exactly as a single `Ledger`.

The configuration file (TOML, ``PROVENANCE_LOGS``; docs/SCALING.md) names each log with
its origin, database URL, read replicas, operator (registry) key and log (checkpoint)
key, each a PEM file or a ``pkcs11:`` URI (ledger.service.pkcs11), and the routing table::

    default = "main"

    [logs.main]
    origin = "resolver.example/log"
    database = "postgresql+psycopg://db-a/ledger"
    replicas = ["postgresql+psycopg://db-a-replica/ledger"]
    operator_key = "/etc/provenance/main.pem"      # the registry key
    checkpoint_key = "/etc/provenance/main-log.pem"  # the log key (or a pkcs11: URI)
    witnesses = ["witness.example/w1+d73d4b92+BFbg..."]   # optional (docs/AUDIT.md)

    [logs.acme]
    origin = "resolver.example/log/acme"
    database = "postgresql+psycopg://db-b/ledger"
    operator_key = "/etc/provenance/acme.pem"
    checkpoint_key = "pkcs11:token=hsm;object=acme-log?module-path=/usr/lib/p11.so"

    [routes.prefixes]
    "9506000" = "acme"

    [routes.brands]
    acme = "acme"

Logs that share a database URL share one `Store` (one connection pool). The configuration
(`DeploymentConfig`, `LogSpec`) is read by ledger.service.config, which loads no store.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

from ledger.entry import SignedEvent
from ledger.errors import NotFoundError, ValidationError
from ledger.routing import Routing
from ledger.service.config import DeploymentConfig, LogSpec, load_operator_key, open_keys
from ledger.service.highwater import OVERRIDE_ENV, HighWater, state_path
from ledger.service.ledger import Ledger, LogConfig
from ledger.service.policies import Policies
from ledger.service.startguard import guard
from ledger.store import Store
from ledger.store.prooftree import DEFAULT_BUDGET

#: Re-exported: the configuration lives in ledger.service.config (pure, no store).
__all__ = ["Deployment", "DeploymentConfig", "LogSpec", "load_operator_key"]


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
        ``policies`` (default: the documented defaults). A writable log keeps its
        published checkpoints in its high-water file and is refused when its database
        holds less (ledger.service.highwater).

        Raises:
            KeyFormatError: an operator or log key cannot be read, or is not the log's.
            KeyUnavailableError: a key's token cannot be used.
            StorageError: a database cannot be reached or migrated.
            ShorterLogError: a database holds fewer entries than its log published.
        """
        # Every log's keys first: a key that cannot be used (a file others may read, a
        # token refusing its PIN) stops the start before any database is touched.
        keys = {spec.name: open_keys(spec) for spec in config.logs}
        memory = proof_memory(os.environ)
        stores: dict[tuple[str, tuple[str, ...]], Store] = {}
        ledgers: dict[str, Ledger] = {}
        try:
            for spec in config.logs:
                key, log_key = keys[spec.name]
                where = (spec.database_url, spec.replica_urls)
                store = stores.get(where)
                if store is None:
                    store = Store.open(
                        spec.database_url, replicas=spec.replica_urls, proof_memory=memory
                    )
                    stores[where] = store
                log_config = LogConfig(
                    origin=spec.origin,
                    operator_key=key,
                    name=spec.name,
                    verifier_key=spec.verifier_key,
                    witnesses=spec.witnesses,
                    log_key=log_key,
                )
                water = HighWater(state_path(spec), spec.origin) if key is not None else None
                ledgers[spec.name] = ledger = Ledger(
                    store, log_config, clock, policies, keeper=water
                )
                if water is not None:
                    guard(ledger, water, os.environ.get(OVERRIDE_ENV))  # before any write
                    ledger.incident_notes = water.signed_incidents
                    ledger.high_water = water
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


#: the setting that caps each log's in-memory proof tree, in MiB (docs/OPERATIONS.md)
PROOF_MEMORY_ENV = "PROVENANCE_PROOF_MEMORY_MB"


def proof_memory(environ: Mapping[str, str]) -> int:
    """Bytes each log's proof tree may hold in this process (ledger.store.prooftree):
    ``PROVENANCE_PROOF_MEMORY_MB`` MiB (0: none, every proof reads its hashes), else the
    default cap.

    Raises:
        ValidationError: the setting is not a whole number of MiB from 0 to 1,048,576.
    """
    raw = environ.get(PROOF_MEMORY_ENV, "").strip()
    if not raw:
        return DEFAULT_BUDGET
    if not (raw.isascii() and raw.isdigit()) or int(raw) > 1 << 20:  # "²".isdigit()
        raise ValidationError(
            f"{PROOF_MEMORY_ENV} must be a whole number of MiB from 0 to 1048576, not {raw!r}",
            field=PROOF_MEMORY_ENV,
        )
    return int(raw) << 20
