"""``provenance init | serve | demo``: set up a log, serve it, show it off.

All three work where the database is (`Local`), never through ``--server``; uvicorn
and the API load only in ``serve`` and ``demo``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from pathlib import Path
from typing import Any

import typer

from cli import reuseport
from cli.common import OPTIONS, console, emit, fail, safe, write_private_key

app = typer.Typer()

#: uvicorn's access log without the client's address (``--access-log``): the method,
#: path and status only, so the log never pairs a shopper's address with a unit
ACCESS_FORMAT = '%(levelprefix)s "%(request_line)s" %(status_code)s'


_CLAIM = re.compile(r"([?&]claim=)[^&\s\"]*")


class RedactClaimCodes(logging.Filter):
    """Writes a claim code in an access log line as ``claim=REDACTED``: the code inside a
    package reaches the resolver in its query (``?claim=``, docs/LABELS.md)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the request target of uvicorn's access record; always keep the record."""
        if isinstance(record.args, tuple):
            record.args = tuple(
                _CLAIM.sub(r"\1REDACTED", a) if isinstance(a, str) else a for a in record.args
            )
        return True


def uvicorn_options(access_log: bool = False, log_level: str = "info") -> dict[str, Any]:
    """How ``serve`` and ``demo`` start uvicorn: no proxy headers (the client address is
    the socket peer; ``PROVENANCE_TRUSTED_PROXIES`` alone decides whom to believe, in
    api.context.client_address), and the access log off, or on without client addresses.
    """
    formatters = {
        "default": {"()": "uvicorn.logging.DefaultFormatter", "fmt": "%(levelprefix)s %(message)s"},
        "access": {"()": "uvicorn.logging.AccessFormatter", "fmt": ACCESS_FORMAT},
    }
    handlers = {
        name: {"formatter": name, "class": "logging.StreamHandler", "stream": stream}
        for name, stream in (("default", "ext://sys.stderr"), ("access", "ext://sys.stdout"))
    }
    handlers["access"]["filters"] = ["redact"]
    return {
        # uvicorn's HTTP parser, refusing what it cannot read as problem+json (api.httpproto;
        # named, not imported: the faces do not import each other)
        "http": "api.httpproto:PROTOCOL",
        "proxy_headers": False,
        "access_log": access_log,
        "log_level": log_level,
        "log_config": {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": formatters,
            "filters": {"redact": {"()": RedactClaimCodes}},
            "handlers": handlers,
            "loggers": {
                "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
                "uvicorn.error": {"level": "INFO"},
                "uvicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
            },
        },
    }


def _key_setting(variable: str, default: str) -> str:
    """A key setting: a ``pkcs11:`` URI or a file (default: ``default`` in the home)."""
    value = os.environ.get(variable) or str(OPTIONS.home / default)
    return value if value.startswith("pkcs11:") else str(Path(value).expanduser())


def _create_key(setting: str) -> bool:
    """Create the key file ``setting`` names (0600) unless it exists or lives in a token
    (a token's keys are made with ``provenance keys token-new``); whether it made one."""
    from ledger import crypto

    if setting.startswith("pkcs11:") or Path(setting).exists():
        return False
    write_private_key(Path(setting), crypto.generate_private_key())
    return True


def _local_only(command: str) -> None:
    """``init``, ``serve`` and ``demo`` run where the database is, never through a server."""
    if OPTIONS.server:
        fail(f"{command} works on a local database (--db), not through --server", 2)


@app.command()
def init() -> None:
    """Create the two keys (files of mode 0600, unless they live in a token) and the
    database with its genesis entry: the operator key (``PROVENANCE_OPERATOR_KEY``) signs
    registrations and claims, the log key (``PROVENANCE_CHECKPOINT_KEY``) the checkpoints."""
    from cli.backends.local import Local
    from ledger import crypto
    from ledger.service.config import read_key_file

    _local_only("init")
    operator_key = _key_setting("PROVENANCE_OPERATOR_KEY", "operator.pem")
    log_key = _key_setting("PROVENANCE_CHECKPOINT_KEY", "log.pem")
    if _create_key(operator_key):
        # the operator's copy for signing as the operator actor (provenance --as operator)
        write_private_key(
            OPTIONS.home / "keys" / "operator.pem",
            crypto.private_key_from_pem(read_key_file(Path(operator_key))),
        )
    _create_key(log_key)
    store = Local(OPTIONS.database_url, OPTIONS.log)
    try:
        info = {
            "database": OPTIONS.database_url,
            "operator_key": operator_key,
            "log_key": log_key,
            "verifier_key": store.verifier_key(),
            "size": store.size(),
        }
    finally:
        store.close()
    emit(
        info,
        safe(f"log ready in {info['database']} ({info['size']} entries)"),
        safe(f"operator key {operator_key}"),
        safe(f"log key      {log_key}"),
        safe(f"verifier key {info['verifier_key']}"),
    )


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8000, "--port"),
    workers: int = typer.Option(1, "--workers", min=1),
    replica: list[str] = typer.Option(
        None,
        "--replica",
        help="a PostgreSQL streaming replica of --db that serves reads (repeatable)",
    ),
    logs: Path = typer.Option(
        None, "--logs", help="a deployment file of several logs (docs/SCALING.md)"
    ),
    access_log: bool = typer.Option(
        False,
        "--access-log/--no-access-log",
        help="log each request (method, path, status; never the client's address)",
    ),
) -> None:
    """Serve the API and the consumer page with uvicorn.

    ``--workers N`` (N > 1) runs N worker processes, each on its own ``SO_REUSEPORT``
    socket where the platform has it (cli.reuseport). Writes go to ``--db``
    (``DATABASE_URL``), reads to its ``--replica`` servers
    (``DATABASE_REPLICA_URLS``) while they answer; ``--logs`` (``PROVENANCE_LOGS``)
    serves several logs instead, each with its own database and replicas.
    """
    import uvicorn

    from ledger.service.settings import Settings

    _local_only("serve")
    if OPTIONS.db:
        os.environ["DATABASE_URL"] = OPTIONS.db
    if replica:
        os.environ["DATABASE_REPLICA_URLS"] = ",".join(replica)
    if logs:
        os.environ["PROVENANCE_LOGS"] = str(logs.resolve())
    # The origin names the log for its lifetime: keep the one `init` derived from the
    # same environment, whatever port this server listens on.
    os.environ.setdefault("PROVENANCE_ORIGIN", Settings.from_env().origin)
    os.environ.setdefault("PROVENANCE_PUBLIC_URL", f"http://{host}:{port}")
    if workers > 1 and reuseport.supported():
        # each worker on its own SO_REUSEPORT socket: the kernel spreads the
        # connections evenly, where uvicorn's workers share one (cli.reuseport)
        options = uvicorn_options(access_log)
        code = reuseport.run("api.app:app_from_env", workers, host=host, port=port, **options)
        raise typer.Exit(code)
    uvicorn.run(
        "api.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        **uvicorn_options(access_log),
    )


@app.command()
def demo(
    serve_: bool = typer.Option(
        True, "--serve/--no-serve", help="serve the API and page afterwards"
    ),
    port: int = typer.Option(8000, "--port"),
    folder: Path = typer.Option(
        Path("provenance-demo"), "--home", help="folder for the demo's database and keys"
    ),
    host: str = typer.Option(
        "127.0.0.1", "--host", help="address to listen on (0.0.0.0: reachable from a phone)"
    ),
    public_url: str | None = typer.Option(
        None,
        "--public-url",
        help="the URL the labels and stories point at (default http://127.0.0.1:PORT), "
        "e.g. http://192.168.1.20:8000 to scan them with a phone on the same network",
    ),
) -> None:
    """Build a realistic demo world, print each story's URL, and serve it."""
    from cli.backends.local import Local
    from cli.demo import build, console_logins
    from ledger import crypto

    _local_only("demo")
    base_url = (public_url or f"http://127.0.0.1:{port}").rstrip("/")
    if not base_url.startswith(("http://", "https://")):
        fail("--public-url must start with http:// or https://", 2)
    folder, labels = folder.resolve(), Path("labels").resolve()
    if (labels / "manifest.csv").exists():
        fail(f"{labels} holds an earlier demo's labels; delete it for a fresh demo")
    os.environ["PROVENANCE_HOME"] = str(folder)
    os.environ["PROVENANCE_PUBLIC_URL"] = base_url
    os.environ.pop("PROVENANCE_OPERATOR_KEY", None)
    os.environ.pop("PROVENANCE_CHECKPOINT_KEY", None)
    database = OPTIONS.db or f"sqlite:///{folder / 'ledger.db'}"
    os.environ["DATABASE_URL"] = database
    for key_file in (folder / "operator.pem", folder / "log.pem"):  # two roles, two keys
        if not key_file.exists():
            write_private_key(key_file, crypto.generate_private_key())
    store = Local(database)
    try:
        if store.size() > 1:
            fail(f"{database} already holds a log; delete {folder} for a fresh demo")
        stories = build(store, folder, base_url, labels)
        logins = console_logins(store, folder, base_url)
    finally:
        store.close()
    emit(
        {
            "stories": [{"story": s, "url": u} for s, u in stories],
            "database": database,
            "labels": str(labels),
            "console": logins,
        },
        safe(f"demo log in {database}; labels in ./labels/"),
        *[safe(f"  {s:<48} {u}") for s, u in stories],
        *[safe(f"console  {c['url']}  user {c['user']}  password {c['password']}") for c in logins],
    )
    if serve_:
        import uvicorn

        from cli.announcing import AnnouncingServer

        config = uvicorn.Config(
            "api.app:app_from_env",
            factory=True,
            host=host,
            port=port,
            **uvicorn_options(log_level="warning"),
        )
        line = safe(f"serving on {host}:{port} for {base_url} (Ctrl-C to stop)")
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: stopped cleanly, as uvicorn.run
            AnnouncingServer(config, lambda: console.print(line)).run()
