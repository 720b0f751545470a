"""Server configuration from environment variables, in one `Settings` object.

- ``DATABASE_URL``: the store, SQLite file or PostgreSQL URL
  (default ``sqlite:///$PROVENANCE_HOME/ledger.db``): the primary, which takes writes.
- ``DATABASE_REPLICA_URLS``: comma-separated PostgreSQL streaming replicas of
  ``DATABASE_URL`` that serve reads (docs/SCALING.md).
- ``PROVENANCE_LOGS``: a deployment file of several logs and their routing table
  (ledger.service.config, docs/SCALING.md); when set, it replaces ``DATABASE_URL``,
  ``DATABASE_REPLICA_URLS``, ``PROVENANCE_OPERATOR_KEY``, ``PROVENANCE_CHECKPOINT_KEY``,
  ``PROVENANCE_ORIGIN`` and ``PROVENANCE_LOG``.
- ``PROVENANCE_HOME``: where the default database and keys live (``~/.provenance``).
- ``PROVENANCE_OPERATOR_KEY``: the operator's registry key, which signs its
  registrations and the claims: a PKCS#8 PEM file of mode 0600 (default
  ``$PROVENANCE_HOME/operator.pem``) or a ``pkcs11:`` URI naming a key in a hardware token
  (ledger.service.pkcs11).
- ``PROVENANCE_CHECKPOINT_KEY``: the log key, which signs the checkpoints and nothing
  else, named by the genesis entry: a file (default ``$PROVENANCE_HOME/log.pem``) or a
  ``pkcs11:`` URI. Not the same key as the operator's (docs/OPERATIONS.md, "Keys").
- ``PROVENANCE_PKCS11_PIN``: a token's user PIN, when its URI names no ``pin-source``.
- ``PROVENANCE_HIGHWATER_DIR``: the folder of the log's high-water file, its largest
  published checkpoint (default: ``highwater/`` beside the log key file;
  ledger.service.highwater); ``PROVENANCE_ACCEPT_SHORTER_LOG``: an incident note that lets
  the server serve a log shorter than that (recorded; docs/OPERATIONS.md).
- ``PROVENANCE_ORIGIN``: the log's checkpoint origin (default ``<public host>/log``).
- ``PROVENANCE_LOG``: the log's name in the database (``default``).
- ``PROVENANCE_PUBLIC_URL``: the resolver base printed on labels
  (``http://127.0.0.1:8000``).
- ``PROVENANCE_MAX_EVENT_BYTES`` (65536), ``PROVENANCE_MAX_BATCH`` (1000): write limits.
- ``PROVENANCE_RATE`` (20/s), ``PROVENANCE_BURST`` (60): public requests per client.
- ``PROVENANCE_WRITE_RATE`` (6000 per minute), ``PROVENANCE_WRITE_BURST`` (2000): signed
  events each actor may append through the API (api.quota; docs/OPERATIONS.md).
- ``PROVENANCE_BAD_SIGNATURES`` (10): writes with a signature that does not verify a
  client may send before 429 ``bad-signatures``, refilling over 10 minutes (api.badsigs).
- ``REDIS_URL``: share rate limits between workers through Redis, and keep the write
  quotas there instead of the database.
- ``PROVENANCE_PLACE_HEADER``: a trusted header with the client's country
  (e.g. ``CF-IPCountry``).
- ``PROVENANCE_TRUSTED_PROXIES``: comma-separated CIDRs (or addresses) of the reverse
  proxies and CDN edges whose ``X-Forwarded-For`` is believed (empty: none; the client is
  the socket peer). See docs/OPERATIONS.md.
- ``PROVENANCE_METRICS_TOKEN``: the bearer token ``GET /metrics`` requires
  (``Authorization: Bearer TOKEN``); not set: ``/metrics`` answers 404.
- ``PROVENANCE_WITNESSES``: the C2SP verifier keys (type 0x04) of the witnesses whose
  cosignatures the log accepts and counts, separated by commas or whitespace.
- ``PROVENANCE_PUBLIC_ORIGINS``: the origins (``https://verify.example.com``) the page's
  forms may be posted from, separated by commas or whitespace (empty: the origin of
  ``PROVENANCE_PUBLIC_URL`` and the server's own address, never the ``Host`` header).
  See api/csrf.py, docs/OPERATIONS.md.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ledger.errors import ValidationError

if TYPE_CHECKING:  # the deployment file's parser loads the events and crypto: only when asked
    from ledger.service.config import DeploymentConfig


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_proxies(text: str) -> tuple[Network, ...]:
    """The trusted proxy networks of ``PROVENANCE_TRUSTED_PROXIES``: CIDRs or single
    addresses, separated by commas or whitespace (empty: none).

    Raises:
        ValidationError: an entry is not an IPv4 or IPv6 network (field
            ``PROVENANCE_TRUSTED_PROXIES``); host bits set (``10.0.0.1/8``) count as a typo.
    """
    networks: list[Network] = []
    for item in text.replace(",", " ").split():
        try:
            network = ipaddress.ip_network(item, strict=True)
        except ValueError as exc:
            raise ValidationError(
                f"PROVENANCE_TRUSTED_PROXIES: {item[:60]!r} is not a CIDR ({exc})",
                field="PROVENANCE_TRUSTED_PROXIES",
            ) from None
        networks.append(network)
    return tuple(networks)


def home() -> Path:
    """The provenance home folder (``$PROVENANCE_HOME`` or ``~/.provenance``)."""
    return Path(os.environ.get("PROVENANCE_HOME", "~/.provenance")).expanduser()


@dataclass(frozen=True)
class Settings:
    """Everything the server is configured with."""

    database_url: str
    #: a key file path or a ``pkcs11:`` URI, as configured (parsed by `deployment`)
    operator_key: str
    origin: str
    log_name: str = "default"
    public_url: str = "http://127.0.0.1:8000"
    max_event_bytes: int = 64 * 1024
    max_batch: int = 1000
    rate: float = 20.0
    burst: int = 60
    write_rate: float = 6000.0  # signed events per actor per minute
    write_burst: int = 2000
    bad_signatures: int = 10  # per client, refilling over 10 minutes (api.badsigs)
    redis_url: str | None = None
    place_header: str | None = None
    replica_urls: tuple[str, ...] = ()
    logs_file: Path | None = None
    witnesses: tuple[str, ...] = ()
    trusted_proxies: tuple[Network, ...] = ()
    public_origins: tuple[str, ...] = ()
    metrics_token: str | None = None
    #: move the heap alive once the server has started out of the cyclic collector's
    #: reach (api.heap): its full collections then pause for what came after, not all
    gc_freeze: bool = True
    #: the log key: a key file path or a ``pkcs11:`` URI
    checkpoint_key: str = ""

    @property
    def operator_key_file(self) -> Path | None:
        """The operator key's file (None when the key lives in a token)."""
        return None if self.operator_key.startswith("pkcs11:") else Path(self.operator_key)

    @property
    def checkpoint_key_file(self) -> Path | None:
        """The log key's file (None when the key lives in a token)."""
        return None if self.checkpoint_key.startswith("pkcs11:") else Path(self.checkpoint_key)

    def deployment(self) -> DeploymentConfig:
        """The logs to serve: the ``PROVENANCE_LOGS`` file, else the one log configured here.

        Raises:
            ValidationError: the deployment file is missing or invalid.
            KeyFormatError: a key setting is a malformed ``pkcs11:`` URI.
        """
        from ledger.service.config import DeploymentConfig, LogSpec, key_ref

        if self.logs_file is not None:
            return DeploymentConfig.from_toml(self.logs_file)
        return DeploymentConfig.single(
            LogSpec(
                name=self.log_name,
                origin=self.origin,
                database_url=self.database_url,
                replica_urls=self.replica_urls,
                operator_key=key_ref(self.operator_key),
                witnesses=self.witnesses,
                log_key=key_ref(self.checkpoint_key),
            )
        )

    @property
    def max_batch_bytes(self) -> int:
        """Largest batch body: a full batch of maximal events is refused long before."""
        return min(self.max_event_bytes * self.max_batch, 16 * 1024 * 1024)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Read the settings from ``environ`` (default: the process environment)."""
        env = dict(os.environ if environ is None else environ)
        base = Path(env.get("PROVENANCE_HOME", "~/.provenance")).expanduser()
        public_url = env.get("PROVENANCE_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
        host = urlsplit(public_url).netloc or "localhost"
        return cls(
            database_url=env.get("DATABASE_URL", f"sqlite:///{base / 'ledger.db'}"),
            operator_key=_key_setting(env.get("PROVENANCE_OPERATOR_KEY"), base / "operator.pem"),
            checkpoint_key=_key_setting(env.get("PROVENANCE_CHECKPOINT_KEY"), base / "log.pem"),
            origin=env.get("PROVENANCE_ORIGIN", f"{host}/log"),
            log_name=env.get("PROVENANCE_LOG", "default"),
            public_url=public_url,
            max_event_bytes=int(env.get("PROVENANCE_MAX_EVENT_BYTES", 64 * 1024)),
            max_batch=int(env.get("PROVENANCE_MAX_BATCH", 1000)),
            rate=float(env.get("PROVENANCE_RATE", 20)),
            burst=int(env.get("PROVENANCE_BURST", 60)),
            write_rate=float(env.get("PROVENANCE_WRITE_RATE", 6000)),
            write_burst=int(env.get("PROVENANCE_WRITE_BURST", 2000)),
            bad_signatures=int(env.get("PROVENANCE_BAD_SIGNATURES", 10)),
            redis_url=env.get("REDIS_URL") or None,
            place_header=env.get("PROVENANCE_PLACE_HEADER") or None,
            replica_urls=tuple(
                u.strip() for u in env.get("DATABASE_REPLICA_URLS", "").split(",") if u.strip()
            ),
            logs_file=Path(env["PROVENANCE_LOGS"]).expanduser()
            if env.get("PROVENANCE_LOGS")
            else None,
            witnesses=tuple(env.get("PROVENANCE_WITNESSES", "").replace(",", " ").split()),
            trusted_proxies=parse_proxies(env.get("PROVENANCE_TRUSTED_PROXIES", "")),
            public_origins=tuple(
                env.get("PROVENANCE_PUBLIC_ORIGINS", "").replace(",", " ").split()
            ),
            metrics_token=env.get("PROVENANCE_METRICS_TOKEN") or None,
            gc_freeze=_switch(env, "PROVENANCE_GC_FREEZE", default=True),
        )


def _switch(env: dict[str, str], name: str, *, default: bool) -> bool:
    """An on/off setting: ``1``/``true``/``yes``/``on`` or ``0``/``false``/``no``/``off``
    (any case), ``default`` when unset or empty.

    Raises:
        ValidationError: any other value.
    """
    value = env.get(name, "").strip().lower()
    if not value:
        return default
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValidationError(f"{name} is on or off (1/0, true/false), not {value!r}", field=name)


def _key_setting(value: str | None, default: Path) -> str:
    """A key setting as given: a ``pkcs11:`` URI kept whole, a path with ``~`` expanded."""
    if not value:
        return str(default)
    return value if value.startswith("pkcs11:") else str(Path(value).expanduser())
