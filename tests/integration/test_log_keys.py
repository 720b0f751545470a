"""Two roles, two keys: the log key signs checkpoints, the operator's registry key the
genesis, registrations and claims (issue 17), with files as the embedded default.

What a log refuses to run with (one key for both, a log key that is not the one its
genesis names, a missing key file), what an auditor learns from the genesis, where the
keys come from (settings, the deployment file), and that ``provenance init`` makes both
files 0600.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from ledger import crypto, entry, note
from ledger.audit.auditor import follow
from ledger.entry import Leaf
from ledger.errors import CheckpointSignatureError, KeyFormatError, ValidationError
from ledger.events import ActorRegister, format_time
from ledger.service.audit import audit_log
from ledger.service.config import DeploymentConfig, LogSpec, write_key_file
from ledger.service.deployment import Deployment
from ledger.service.ledger import Ledger
from ledger.service.pkcs11 import Pkcs11Uri
from ledger.service.settings import Settings
from ledger.stored import StoredEntry
from tests.cli_runner import run_cli
from tests.factories import LOG_SEED, key, public_b64
from tests.integration.world import clock, config


def _name() -> str:
    return f"keys-{uuid.uuid4().hex[:10]}"


def test_a_new_log_names_its_log_key_at_genesis_and_signs_checkpoints_with_it(
    ledger: Ledger,
) -> None:
    genesis = Leaf.from_bytes(ledger.entry(0).leaf).signed
    assert isinstance(genesis.event, ActorRegister)
    assert genesis.event.log_key == public_b64(LOG_SEED)
    assert genesis.event.keys == (public_b64(1),)
    assert genesis.key == crypto.key_id(key(1).public_key())  # the registry key signed it
    log_verifier = note.Signer(ledger.config.origin, key(LOG_SEED)).verifier.to_text()
    assert ledger.verifier_key == log_verifier
    note.verify_checkpoint(ledger.checkpoint(), log_verifier)
    registry_verifier = note.Signer(ledger.config.origin, key(1)).verifier.to_text()
    with pytest.raises(CheckpointSignatureError):
        note.verify_checkpoint(ledger.checkpoint(), registry_verifier)


def test_an_audit_pinned_to_the_registry_key_is_told_the_genesis_names_another(
    ledger: Ledger,
) -> None:
    registry = note.Signer(ledger.config.origin, key(1)).verifier.to_text()
    report = audit_log(ledger.store, ledger.log, registry, workers=1)
    log_key = next(f for f in report.findings if f.code == "log-key")
    assert log_key.index == 0 and public_b64(LOG_SEED) in json.dumps(report.to_dict())
    assert audit_log(ledger.store, ledger.log, ledger.verifier_key, workers=1).ok


def test_one_key_for_both_roles_is_refused_before_anything_is_written(db_url: str) -> None:
    name = _name()
    same = replace(config(name), log_key=key(1))
    with pytest.raises(KeyFormatError, match="two keys"):
        Ledger.open(db_url, same, clock=clock)
    reader = config(name)
    opened = Ledger.open(db_url, reader, clock=clock)  # the log row was never created
    try:
        assert opened.head().size == 0
    finally:
        opened.close()


def test_a_log_key_that_is_not_the_one_its_genesis_names_is_refused(db_url: str) -> None:
    name = _name()
    first = Ledger.open(db_url, config(name), clock=clock)
    first.init()
    first.close()
    other = replace(config(name), log_key=key(LOG_SEED - 2))
    with pytest.raises(KeyFormatError, match="names at genesis"):
        Ledger.open(db_url, other, clock=clock)
    without = replace(config(name), log_key=None)
    with pytest.raises(KeyFormatError, match="PROVENANCE_CHECKPOINT_KEY"):
        Ledger.open(db_url, without, clock=clock)


def test_a_log_from_before_the_split_keeps_its_genesis_key_for_checkpoints(db_url: str) -> None:
    name = _name()
    # a genesis without log_key, as every log had before (written through a ledger whose
    # log key is then given up: only the open-time check is exercised here)
    maker = Ledger.open(db_url, config(name), clock=clock)
    old = ActorRegister(
        actor="operator",
        time=format_time(clock()),
        subject="operator",
        role="operator",
        name="Registry",
        keys=(public_b64(1),),
    )
    maker.append(entry.sign_event(old, key(1), log=None))
    maker.close()
    legacy = replace(config(name), log_key=key(1))  # the genesis key signs checkpoints
    Ledger.open(db_url, legacy, clock=clock).close()
    with pytest.raises(KeyFormatError, match="predates separate log keys"):
        Ledger.open(db_url, config(name), clock=clock)


def test_settings_name_both_keys_as_files_or_token_uris(tmp_path: Path) -> None:
    home = Settings.from_env({"PROVENANCE_HOME": str(tmp_path)})
    assert home.operator_key == str(tmp_path / "operator.pem")
    assert home.checkpoint_key == str(tmp_path / "log.pem")
    uri = "pkcs11:token=hsm;object=log?module-path=/usr/lib/p11.so&pin-source=env:PIN"
    token = Settings.from_env({"PROVENANCE_CHECKPOINT_KEY": uri, "PROVENANCE_HOME": "/h"})
    assert token.checkpoint_key == uri and token.checkpoint_key_file is None
    spec = token.deployment().logs[0]
    assert spec.log_key == Pkcs11Uri.parse(uri) and spec.operator_key == Path("/h/operator.pem")
    with pytest.raises(KeyFormatError, match="no module-path"):
        Settings.from_env({"PROVENANCE_CHECKPOINT_KEY": "pkcs11:token=a;object=b"}).deployment()


def test_a_deployment_file_names_each_logs_two_keys(tmp_path: Path) -> None:
    uri = "pkcs11:token=hsm;object=log-a?module-path=/usr/lib/p11.so"
    parsed = DeploymentConfig.from_dict(
        {"logs": {"a": {"origin": "o/a", "database": "d", "operator_key": "a.pem",
                        "checkpoint_key": uri}}},
        base=tmp_path,
    )  # fmt: skip
    assert parsed.logs[0].operator_key == tmp_path / "a.pem"
    assert parsed.logs[0].log_key == Pkcs11Uri.parse(uri)
    with pytest.raises(ValidationError) as bad:
        DeploymentConfig.from_dict(
            {"logs": {"a": {"origin": "o", "database": "d", "operator_key": "a.pem",
                            "checkpoint_key": "pkcs11:token=t"}}}
        )  # fmt: skip
    assert bad.value.field == "logs.a.checkpoint_key"


def test_a_server_without_its_log_key_file_refuses_to_start_and_writes_nothing(
    tmp_path: Path,
) -> None:
    operator = tmp_path / "operator.pem"
    write_key_file(operator, crypto.private_key_to_pem(key(1)))
    database = tmp_path / "ledger.db"
    spec = LogSpec(
        name="default",
        origin="test.example/log",
        database_url=f"sqlite:///{database}",
        operator_key=operator,
        log_key=tmp_path / "log.pem",
    )
    with pytest.raises(KeyFormatError) as refused:
        Deployment.open(DeploymentConfig.single(spec))
    assert "PROVENANCE_CHECKPOINT_KEY" in refused.value.message
    assert "\n" not in refused.value.message
    assert not database.exists()
    exposed = tmp_path / "log.pem"
    write_key_file(exposed, crypto.private_key_to_pem(key(LOG_SEED)))
    exposed.chmod(0o644)  # then exposed by its owner
    with pytest.raises(KeyFormatError, match="readable by others"):
        Deployment.open(DeploymentConfig.single(spec))
    assert not database.exists()


def test_init_makes_both_key_files_0600_and_names_the_log_key_at_genesis(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVENANCE_")}
    env |= {"PROVENANCE_HOME": str(tmp_path / "home"), "PROVENANCE_ORIGIN": "test.example/x"}
    database = f"sqlite:///{tmp_path / 'ledger.db'}"
    done = run_cli(["--json", "--db", database, "init"], env=env)
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    operator, log = Path(info["operator_key"]), Path(info["log_key"])
    assert (operator.name, log.name) == ("operator.pem", "log.pem")
    for path in (operator, log, tmp_path / "home" / "keys" / "operator.pem"):
        assert path.stat().st_mode & 0o777 == 0o600
    log_key = crypto.private_key_from_pem(log.read_bytes())
    raw = crypto.public_key_to_raw(log_key.public_key())
    assert info["verifier_key"] == note.Verifier.for_key("test.example/x", raw).to_text()
    operator_key = crypto.private_key_from_pem(operator.read_bytes())
    assert crypto.public_key_to_raw(operator_key.public_key()) != raw
    again = run_cli(["--json", "--db", database, "init"], env=env)  # keeps both keys
    assert (
        again.returncode == 0 and json.loads(again.stdout)["verifier_key"] == info["verifier_key"]
    )


class _ReSigned:
    """A server that serves its log's entries under a checkpoint signed by the registry
    key (what a rogue operator holding only that key would show an auditor)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        stored = ledger.stored_checkpoint()
        self.note = note.sign_checkpoint(
            note.Checkpoint(ledger.config.origin, stored.size, stored.root),
            note.Signer(ledger.config.origin, key(1)),
        ).decode()

    def latest_checkpoint(self) -> str:
        return self.note

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        return self.ledger.consistency_proof(old, new)

    def entries_at(self, start: int, end: int, size: int) -> list[StoredEntry]:
        return self.ledger.entries(start, min(end, size))


def test_a_following_auditor_pinned_to_the_registry_key_learns_the_genesis_names_another(
    ledger: Ledger,
) -> None:
    registry = note.Signer(ledger.config.origin, key(1)).verifier.to_text()
    report, state = follow(_ReSigned(ledger), registry, None, "2026-11-28T12:00:00Z", workers=1)
    assert [f.code for f in report.findings] == ["log-key"] and state is None


def test_the_cli_cross_signs_a_final_checkpoint_for_a_successor(
    ledger: Ledger, tmp_path: Path
) -> None:
    from ledger.note.succession import verify_succession

    final = tmp_path / "final.txt"
    final.write_text(ledger.checkpoint(), encoding="utf-8")
    old_file, new_file, registry = tmp_path / "old.pem", tmp_path / "new.pem", tmp_path / "r.pem"
    write_key_file(old_file, crypto.private_key_to_pem(key(LOG_SEED)))
    write_key_file(new_file, crypto.private_key_to_pem(key(LOG_SEED - 4)))
    write_key_file(registry, crypto.private_key_to_pem(key(1)))
    new_origin = ledger.config.origin + "/2"
    base = ["keys", "succession", "--final", str(final), "--new-origin", new_origin]
    done = run_cli(["--json", *base, "--old-key", str(old_file), "--new-key", str(new_file)])
    assert done.returncode == 0, done.stderr
    statement = json.loads(done.stdout)["statement"]
    new_verifier = note.Signer(new_origin, key(LOG_SEED - 4)).verifier
    got = verify_succession(statement, ledger.verifier_key, new_key=new_verifier)
    assert (got.final.size, got.final.root) == (ledger.head().size, ledger.head().root)
    # the registry key is not the old log key: its "final checkpoint" signature is none
    refused = run_cli([*base, "--old-key", str(registry), "--new-key", str(new_file)])
    assert refused.returncode == 1 and len(refused.stderr.strip().splitlines()) == 1
    assert "no signature by a known key" in refused.stderr


def test_a_deployment_whose_second_log_lacks_its_key_touches_no_database(tmp_path: Path) -> None:
    for name, seed in (("a", 1), ("a-log", LOG_SEED)):
        write_key_file(tmp_path / f"{name}.pem", crypto.private_key_to_pem(key(seed)))
    logs = {
        name: {
            "origin": f"test.example/log/{name}",
            "database": f"sqlite:///{tmp_path / name}.db",
            "operator_key": "a.pem",
            "checkpoint_key": f"{name}-log.pem",
        }
        for name in ("a", "b")  # b-log.pem does not exist
    }
    with pytest.raises(KeyFormatError, match=r"b-log\.pem"):
        Deployment.open(DeploymentConfig.from_dict({"logs": logs, "default": "a"}, tmp_path))
    assert not (tmp_path / "a.db").exists() and not (tmp_path / "b.db").exists()
