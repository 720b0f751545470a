"""``provenance hammer``: load, SIGKILL and verify a running ledger; nothing may be lost.

The engine is the cli.hammer package, imported when the command runs. Writers
append signed custody events over HTTP (cli.hammer.writers), a racer makes
every writer's actor race for the same unit head (cli.hammer.racer), readers verify
every proof and checkpoint they are served (cli.hammer.readers), and a chaos task
SIGKILLs and restarts the server (cli.hammer.chaos). At the end the final log is
checked against everything acknowledged and seen, and audited (cli.hammer.checks).
docs/RELIABILITY.md describes the promises and the runs.
"""

from __future__ import annotations

from pathlib import Path

import typer

from cli.common import OPTIONS, emit, fail, key_path, load_private_key, safe

app = typer.Typer()


@app.command()
def hammer(
    seconds: float = typer.Option(..., "--seconds", min=1, max=86_400, help="run time"),
    kills: int = typer.Option(0, "--kills", min=0, max=1000, help="SIGKILLs of the server"),
    db: str = typer.Option(None, "--db", help="database for a fresh log and its server"),
    server: str = typer.Option(None, "--server", help="hammer a running server instead"),
    workers: int = typer.Option(
        None, "--workers", min=1, max=16, help="server processes (1 SQLite, 2 PostgreSQL)"
    ),
    writers: int = typer.Option(4, "--writers", min=2, max=64),
    readers: int = typer.Option(2, "--readers", min=1, max=64),
    units: int = typer.Option(20, "--units", min=1, max=200, help="units per writer"),
    appends: int = typer.Option(None, "--appends", min=1, help="stop after this many"),
    seed: int = typer.Option(None, "--seed", help="random seed of the run's choices"),
    key: Path = typer.Option(None, "--key", help="operator key file (with --server)"),
    json_output: bool = typer.Option(False, "--json", help="print the JSON report"),
) -> None:
    """Append, read and SIGKILL at once; check nothing acknowledged is lost or forked.

    Exit 1 if anything was lost, duplicated, forked or inconsistent, a proof failed
    or the audit failed.
    """
    from cli.hammer.run import Config
    from cli.hammer.run import hammer as run_hammer

    # The hammer's own --db wins over a server that only the environment names.
    default_server = None if db and OPTIONS.server_from_env else OPTIONS.server
    db, server = db or OPTIONS.db, server or default_server
    OPTIONS.json = OPTIONS.json or json_output
    if bool(db) == bool(server):
        fail("give the database of a fresh log (--db URL) or a server (--server URL)", 2)
    if server and kills:
        fail("--kills needs --db: the hammer kills only a server it started", 2)
    config = Config(
        seconds=seconds,
        kills=kills,
        db=db,
        server=server,
        operator_key=load_private_key(key_path(key, "operator")) if server else None,
        workers=workers or (1 if db and db.startswith("sqlite") else 2),
        writers=writers,
        readers=readers,
        units=units,
        appends=appends,
        seed=seed,
    )
    report = run_hammer(config)
    emit(report.to_dict(), safe(report.verdict()), *(safe(a) for a in report.anomalies[:5]))
    raise typer.Exit(1 if report.failed else 0)
