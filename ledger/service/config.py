"""A deployment's configuration: its logs and their routing table, read from TOML.

Pure (no store, no database driver), so that reading the settings (ledger.service.settings,
which the CLI loads on every start) does not load SQLAlchemy. The file format is in
ledger.service.deployment, which opens what is configured here.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger import crypto
from ledger.errors import KeyFormatError, ValidationError
from ledger.routing import Routing
from ledger.service.keyfiles import read_key_file, write_key_file
from ledger.service.pkcs11 import Pkcs11Signer, Pkcs11Uri, is_uri

#: Re-exported: every key file is written and read by ledger.service.keyfiles.
__all__ = [
    "DeploymentConfig",
    "KeyRef",
    "LogSpec",
    "key_ref",
    "load_operator_key",
    "load_signer",
    "open_keys",
    "read_key_file",
    "write_key_file",
]

#: Where a private key lives: a PKCS#8 PEM file (mode 0600), or a key in a PKCS#11 token.
KeyRef = Path | Pkcs11Uri


def key_ref(text: str, base: Path = Path()) -> KeyRef:
    """A key setting: a ``pkcs11:`` URI (ledger.service.pkcs11), else a file path, taken
    from ``base`` when relative (``~`` expanded).

    Raises:
        KeyFormatError: a malformed ``pkcs11:`` URI.
    """
    if is_uri(text):
        return Pkcs11Uri.parse(text)
    return base / Path(text).expanduser()


@dataclass(frozen=True)
class LogSpec:
    """One configured log: its name in the database, origin, database and signing keys.

    ``operator_key`` signs the operator's registrations and the claims (the registry
    key); ``log_key`` signs the log's checkpoints. Two roles, two keys: a new log refuses
    one key for both (docs/OPERATIONS.md, "Keys").
    """

    name: str
    origin: str
    database_url: str
    replica_urls: tuple[str, ...] = ()
    operator_key: KeyRef | None = None
    verifier_key: str | None = None
    #: the witness verifier keys (type 0x04) whose cosignatures this log accepts
    witnesses: tuple[str, ...] = ()
    log_key: KeyRef | None = None

    @property
    def operator_key_file(self) -> Path | None:
        """The operator key's file (None: no operator key, or one in a token)."""
        return self.operator_key if isinstance(self.operator_key, Path) else None


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
    log_key = table.get("checkpoint_key")
    verifier = table.get("verifier_key")
    if key is None and verifier is None:
        raise ValidationError("operator_key (or verifier_key) is required", field=where)
    return LogSpec(
        name=name,
        origin=table["origin"],
        database_url=table["database"],
        replica_urls=tuple(replicas),
        operator_key=None if key is None else _key(key, base, f"{where}.operator_key"),
        verifier_key=None if verifier is None else str(verifier),
        witnesses=tuple(witnesses),
        log_key=None if log_key is None else _key(log_key, base, f"{where}.checkpoint_key"),
    )


def _key(value: object, base: Path, where: str) -> KeyRef:
    if not isinstance(value, str) or not value:
        raise ValidationError("a key file path or a pkcs11: URI", field=where)
    try:
        return key_ref(value, base)
    except KeyFormatError as e:
        raise ValidationError(e.message, field=where) from e


def _names(table: object, where: str) -> dict[str, str]:
    if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
        raise ValidationError("a table of NAME = LOG strings", field=where)
    return {str(k): v for k, v in table.items()}


def load_signer(ref: KeyRef, what: str, environ: Mapping[str, str] | None = None) -> crypto.Signer:
    """Open a signing key: a PEM file (mode 0600, `read_key_file`) or a key in a PKCS#11
    token (`Pkcs11Signer.open`, which checks the token, the PIN and the key pair).

    ``what`` names the key in messages ("the operator key", "the log key").

    Raises:
        KeyFormatError: the file is missing, unreadable, readable by others or not an
            Ed25519 PEM key; a token's PIN file is.
        KeyUnavailableError: the token, its module, its PIN or the key is not usable.
    """
    if isinstance(ref, Pkcs11Uri):
        return Pkcs11Signer.open(ref, environ)
    return crypto.private_key_from_pem(read_key_file(ref, what))


def open_keys(
    spec: LogSpec, environ: Mapping[str, str] | None = None
) -> tuple[crypto.Signer | None, crypto.Signer | None]:
    """The log's (operator key, log key), opened with `load_signer`: both, or neither
    for a read-only log (an auditor's view).

    Raises:
        KeyFormatError: a key file is missing (the message says which setting names it),
            unreadable, exposed or not an Ed25519 key; an operator key without a log key.
        KeyUnavailableError: a token, its module, its PIN or its key is not usable.
    """
    if spec.operator_key is None:
        return None, None
    if spec.log_key is None:
        raise KeyFormatError(
            f"log {spec.name!r} has an operator key but no log key: set checkpoint_key "
            "(PROVENANCE_CHECKPOINT_KEY), a key other than the operator's"
        )
    operator = _open(spec.operator_key, "the operator key", "PROVENANCE_OPERATOR_KEY", environ)
    try:
        log = _open(spec.log_key, "the log key", "PROVENANCE_CHECKPOINT_KEY", environ)
    except BaseException:
        if isinstance(operator, Pkcs11Signer):
            operator.close()
        raise
    return operator, log


def _open(ref: KeyRef, what: str, setting: str, environ: Mapping[str, str] | None) -> crypto.Signer:
    try:
        return load_signer(ref, what, environ)
    except KeyFormatError as e:
        if isinstance(ref, Path) and not ref.exists():
            raise KeyFormatError(f"{e.message}; set {setting} or run `provenance init`") from e
        raise


def load_operator_key(path: Path) -> crypto.Ed25519PrivateKey:
    """Read an operator's Ed25519 private key (PKCS#8 PEM), refusing a file that group or
    others may read (``read_key_file``).

    Raises:
        KeyFormatError: the file is missing, unreadable, readable by others or not such
            a key.
    """
    try:
        pem = read_key_file(path, "the operator key")
    except KeyFormatError as e:
        if not path.exists():
            raise KeyFormatError(
                f"{e.message}; set PROVENANCE_OPERATOR_KEY or run `provenance init`"
            ) from e
        raise
    return crypto.private_key_from_pem(pem)
