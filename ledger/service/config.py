"""A deployment's configuration: its logs and their routing table, read from TOML.

Pure (no store, no database driver), so that reading the settings (ledger.service.settings,
which the CLI loads on every start) does not load SQLAlchemy. The file format is in
ledger.service.deployment, which opens what is configured here.
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger import crypto
from ledger.errors import KeyFormatError, ValidationError
from ledger.routing import Routing


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


def read_key_file(path: Path, what: str = "key file") -> bytes:
    """A private key file's bytes, refusing one that group or others may read or write.

    The one rule for every private key file (the server's operator key, the CLI's actor
    keys, a witness key): mode 0600 or stricter, checked on the open file itself.

    Raises:
        KeyFormatError: missing, unreadable, or its mode grants group or others anything.
    """
    try:
        with path.open("rb") as f:
            mode = os.fstat(f.fileno()).st_mode
            data = f.read()
    except OSError as e:
        raise KeyFormatError(f"cannot read {what} {path}: {e.strerror}") from e
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFormatError(
            f"{what} {path} is readable by others (mode {stat.S_IMODE(mode):04o}); "
            f"run chmod 600 {path}"
        )
    return data


def write_key_file(path: Path, data: bytes) -> None:
    """Create a private key file with mode 0600 from the start, never overwriting one.

    Raises:
        KeyFormatError: the file exists.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as e:
        raise KeyFormatError(f"{path} exists; refusing to overwrite a key") from e
    with os.fdopen(fd, "wb") as out:
        os.fchmod(out.fileno(), 0o600)  # whatever the umask
        out.write(data)


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
