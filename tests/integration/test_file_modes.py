"""Files nobody else on the host may read (issue 16): a new SQLite database and its
``-wal`` and ``-shm`` are created 0600 whatever the umask; every private key file is
written 0600; the server, the CLI and a witness refuse a key file that group or others
may read, by one rule (``ledger.service.config.read_key_file``); an existing database
keeps the mode its owner chose.

The attacker is another account on the same machine: it reads scanners' client hashes
and report contacts from a 0644 database, or signs as the operator with a 0644 key.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger import crypto
from ledger.errors import KeyFormatError
from ledger.service.config import load_operator_key, read_key_file, write_key_file
from ledger.service.deployment import Deployment
from ledger.service.ledger import Ledger
from ledger.service.settings import Settings
from tests.factories import key
from tests.integration.world import config


def mode(path: Path) -> int:
    """The permission bits of ``path``."""
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The most permissive usual umask (files 0666 & ~0o002 = 0664 by default)."""
    old = os.umask(0o002)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.usefixtures("open_umask")
def test_a_new_sqlite_database_and_its_wal_and_shm_are_0600(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "ledger.db"
    ledger = Ledger.open(f"sqlite:///{path}", config("modes"))
    try:
        ledger.init(name="Operator")
        ledger.head()  # a connection is open: the -wal and -shm files exist now
        files = [path, path.with_name("ledger.db-wal"), path.with_name("ledger.db-shm")]
        assert all(f.exists() for f in files)
        assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
    finally:
        ledger.close()


@pytest.mark.usefixtures("open_umask")
def test_an_existing_database_keeps_its_owner_s_mode(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    path.touch(0o640)
    path.chmod(0o640)  # chosen by its owner (a group of operators, say)
    ledger = Ledger.open(f"sqlite:///{path}", config("modes"))
    try:
        ledger.init(name="Operator")
    finally:
        ledger.close()
    assert mode(path) == 0o640


@pytest.mark.usefixtures("open_umask")
def test_key_files_are_written_0600_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "operator.pem"
    write_key_file(path, crypto.private_key_to_pem(key(1)))
    assert mode(path) == 0o600
    with pytest.raises(KeyFormatError, match="refusing to overwrite"):
        write_key_file(path, b"other")
    assert crypto.private_key_from_pem(path.read_bytes())  # unchanged


@pytest.mark.parametrize("exposed", [0o644, 0o640, 0o604, 0o620, 0o602, 0o660])
def test_the_server_refuses_an_operator_key_others_can_touch(tmp_path: Path, exposed: int) -> None:
    path = tmp_path / "operator.pem"
    write_key_file(path, crypto.private_key_to_pem(key(1)))
    path.chmod(exposed)
    with pytest.raises(KeyFormatError, match=f"readable by others \\(mode {exposed:04o}\\)"):
        load_operator_key(path)
    # the server's own start: settings -> deployment -> load_operator_key
    settings = Settings.from_env(
        {"DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "PROVENANCE_OPERATOR_KEY": str(path)}
    )
    with pytest.raises(KeyFormatError, match="chmod 600"):
        Deployment.open(settings.deployment())
    assert not (tmp_path / "x.db").exists()  # refused before any database is created


@pytest.mark.parametrize("private", [0o600, 0o400])
def test_the_server_loads_an_owner_only_key(tmp_path: Path, private: int) -> None:
    path = tmp_path / "operator.pem"
    write_key_file(path, crypto.private_key_to_pem(key(1)))
    path.chmod(private)
    loaded = load_operator_key(path)
    assert crypto.public_key_to_b64(loaded.public_key()) == crypto.public_key_to_b64(
        key(1).public_key()
    )


def test_a_missing_key_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(KeyFormatError, match="run `provenance init`"):
        load_operator_key(tmp_path / "absent.pem")
    with pytest.raises(KeyFormatError, match="cannot read key file"):
        read_key_file(tmp_path / "absent.pem")
