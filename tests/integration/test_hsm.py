"""Keys in a hardware token, end to end with SoftHSM2 (issues 16 and 17).

A token is initialised in a temporary ``SOFTHSM2_CONF`` folder; Ed25519 keys are
generated inside it (``ledger.service.pkcs11.generate``); a `Ledger` signs its
checkpoints (and, in one test, its registrations) with them; everything is then checked
with the public key alone: every checkpoint, a read-only audit, the genesis that names the
log key. Then what goes wrong: a missing module or token, a wrong PIN, a missing PIN, an
absent key label, a token that fails in the middle of a write: each one clear error,
nothing written.

SoftHSM2 reads ``SOFTHSM2_CONF`` once per process (when the module is first loaded), so
every token of this file lives in one folder, made before the module loads.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ledger import crypto, entry, note
from ledger.entry import Leaf
from ledger.errors import CheckpointSignatureError, KeyFormatError, KeyUnavailableError
from ledger.events import ActorRegister, format_time
from ledger.service.audit import audit_log
from ledger.service.config import DeploymentConfig, LogSpec, write_key_file
from ledger.service.deployment import Deployment
from ledger.service.ledger import Ledger, LogConfig
from ledger.service.pkcs11 import Pkcs11Signer, Pkcs11Uri, generate
from tests.cli_runner import run_cli
from tests.factories import key
from tests.integration.world import clock

MODULES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib64/softhsm/libsofthsm2.so",
)
PIN, SO_PIN = "4711", "0815"
LABEL = "ledger-test"
ORIGIN = "hsm.example/log"


def _require(ok: bool, what: str) -> None:
    if ok:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what}; CI must run the hardware token tests")
    pytest.skip(what)


@dataclass(frozen=True)
class Token:
    """The test token: its module, folder and a URI for any key label."""

    module: Path
    conf: Path

    def uri(self, label: str, *, token: str = LABEL, pin_source: str | None = None) -> str:
        """A ``pkcs11:`` URI for key ``label`` (PIN from ``TEST_HSM_PIN`` unless given)."""
        source = pin_source or "env:TEST_HSM_PIN"
        return f"pkcs11:token={token};object={label}?module-path={self.module}&pin-source={source}"

    def new_key(self, label: str) -> tuple[str, crypto.Ed25519PublicKey]:
        """Generate an Ed25519 key in the token; its URI and public key."""
        text = self.uri(label)
        return text, generate(Pkcs11Uri.parse(text))


@pytest.fixture(scope="module")
def token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Token]:
    """A SoftHSM2 token labelled `LABEL` (user PIN `PIN`) in a folder of its own."""
    try:
        import pkcs11  # noqa: F401
    except ImportError:
        _require(False, "python-pkcs11 is not installed (pip install '.[hsm]')")
    module = next((Path(m) for m in MODULES if Path(m).exists()), None)
    _require(module is not None, "SoftHSM2 is not installed (apt-get install softhsm2)")
    util = shutil.which("softhsm2-util")
    _require(util is not None, "softhsm2-util is not installed (apt-get install softhsm2)")
    assert module is not None and util is not None
    folder = tmp_path_factory.mktemp("softhsm")
    (folder / "tokens").mkdir()
    conf = folder / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {folder / 'tokens'}\nobjectstore.backend = file\n"
        "log.level = ERROR\n",
        encoding="utf-8",
    )
    saved = {k: os.environ.get(k) for k in ("SOFTHSM2_CONF", "TEST_HSM_PIN")}
    os.environ["SOFTHSM2_CONF"] = str(conf)
    os.environ["TEST_HSM_PIN"] = PIN
    subprocess.run(
        [util, "--init-token", "--free", "--label", LABEL, "--pin", PIN, "--so-pin", SO_PIN],
        check=True,
        capture_output=True,
    )
    yield Token(module, conf)
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def _label() -> str:
    return f"k-{uuid.uuid4().hex[:10]}"


def test_checkpoints_signed_in_the_token_verify_with_the_public_key_alone(
    token: Token, db_url: str
) -> None:
    uri, public = token.new_key(_label())
    signer = Pkcs11Signer.open(Pkcs11Uri.parse(uri))
    name = f"hsm-{uuid.uuid4().hex[:8]}"
    ledger = Ledger.open(
        db_url,
        LogConfig(origin=ORIGIN, operator_key=key(1), name=name, log_key=signer),
        clock=clock,
    )
    try:
        ledger.init(name="Token operator")
        brand = ActorRegister(
            actor="operator",
            time=format_time(clock()),
            subject="acme",
            role="brand",
            name="Acme",
            keys=(crypto.public_key_to_b64(key(2).public_key()),),
            prefixes=("9506000",),
        )
        ledger.append(entry.sign_event(brand, key(1), log=ledger.origin))
        # the public key alone: the reader builds the verifier key from it and the origin
        verifier = note.Verifier.for_key(ORIGIN, crypto.public_key_to_raw(public)).to_text()
        assert ledger.verifier_key == verifier
        for size in (1, 2):
            checkpoint = note.verify_checkpoint(ledger.checkpoint(size), verifier)
            assert checkpoint.size == size
        # the genesis names the token's key as the log key, and not as an operator key
        genesis = Leaf.from_bytes(ledger.entry(0).leaf).signed.event
        assert isinstance(genesis, ActorRegister)
        assert genesis.log_key == crypto.public_key_to_b64(public)
        assert genesis.log_key not in genesis.keys
        # an auditor holding only the public key: a read-only ledger, then the audit
        reader = Ledger.open(
            db_url,
            LogConfig(origin=ORIGIN, operator_key=None, name=name, verifier_key=verifier),
        )
        try:
            report = reader.audit(workers=1)
            assert report.ok, report.to_dict()
            assert (report.entries, report.checkpoints) == (2, 2)
        finally:
            reader.close()
    finally:
        ledger.close()
        signer.close()


def test_a_checkpoint_signed_by_the_registry_key_is_refused_by_a_reader_pinned_to_the_log_key(
    token: Token, db_url: str
) -> None:
    uri, public = token.new_key(_label())
    signer = Pkcs11Signer.open(Pkcs11Uri.parse(uri))
    ledger = Ledger.open(
        db_url,
        LogConfig(origin=ORIGIN, operator_key=key(1), name=_label(), log_key=signer),
        clock=clock,
    )
    try:
        ledger.init()
        stored = ledger.stored_checkpoint()
        forged = note.sign_checkpoint(
            note.Checkpoint(ORIGIN, stored.size, stored.root), note.Signer(ORIGIN, key(1))
        )
        log_verifier = note.Verifier.for_key(ORIGIN, crypto.public_key_to_raw(public))
        note.verify_checkpoint(stored.note, log_verifier)  # the token's: accepted
        with pytest.raises(CheckpointSignatureError, match="no signature by a known key"):
            note.verify_checkpoint(forged, log_verifier)
        # an audit pinned to the registry key's verifier: the genesis names another log key
        registry = note.Signer(ORIGIN, key(1)).verifier.to_text()
        report = audit_log(ledger.store, ledger.log, registry, workers=1)
        found = {f.code for f in report.findings}
        assert "log-key" in found and "checkpoint-signature" in found
    finally:
        ledger.close()
        signer.close()


def test_the_registry_key_in_a_token_signs_the_genesis_and_registrations(
    token: Token, db_url: str
) -> None:
    log_uri, _ = token.new_key(_label())
    registry_uri, registry_public = token.new_key(_label())
    log_key = Pkcs11Signer.open(Pkcs11Uri.parse(log_uri))
    registry = Pkcs11Signer.open(Pkcs11Uri.parse(registry_uri))
    ledger = Ledger.open(
        db_url,
        LogConfig(origin=ORIGIN, operator_key=registry, name=_label(), log_key=log_key),
        clock=clock,
    )
    try:
        ledger.init()
        event = ActorRegister(
            actor="operator",
            time=format_time(clock()),
            subject="courier-1",
            role="courier",
            name="Courier",
            keys=(crypto.public_key_to_b64(key(3).public_key()),),
        )
        receipt = ledger.append(entry.sign_event(event, registry, log=ledger.origin))
        assert receipt.size == 2
        operator = ledger.actor_view("operator")
        assert [k["public_key"] for k in operator["keys"]] == [
            crypto.public_key_to_b64(registry_public)
        ]
        assert ledger.audit(workers=1).ok
    finally:
        ledger.close()
        log_key.close()
        registry.close()


def test_a_token_that_fails_mid_write_leaves_the_log_unchanged(token: Token, db_url: str) -> None:
    uri, _ = token.new_key(_label())
    signer = Pkcs11Signer.open(Pkcs11Uri.parse(uri))
    ledger = Ledger.open(
        db_url,
        LogConfig(origin=ORIGIN, operator_key=key(1), name=_label(), log_key=signer),
        clock=clock,
    )
    try:
        ledger.init()
        before = (ledger.head(), ledger.checkpoint())
        signer._login.session.close()  # the token went away: its session is gone
        event = ActorRegister(
            actor="operator",
            time=format_time(clock()),
            subject="courier-2",
            role="courier",
            name="Courier",
            keys=(crypto.public_key_to_b64(key(4).public_key()),),
        )
        with pytest.raises(KeyUnavailableError):
            ledger.append(entry.sign_event(event, key(1), log=ledger.origin))
        assert (ledger.head(), ledger.checkpoint()) == before
        assert ledger.audit(workers=1).ok
    finally:
        ledger.close()
        signer.close()


# --- bad input: one clear error, nothing written ------------------------------------------


@pytest.fixture
def operator_pem(tmp_path: Path) -> Path:
    path = tmp_path / "operator.pem"
    write_key_file(path, crypto.private_key_to_pem(key(1)))
    return path


def _bad_uris(token: Token, label: str, tmp_path: Path) -> dict[str, tuple[str, str]]:
    exposed = tmp_path / "exposed.pin"
    exposed.write_text(PIN, encoding="utf-8")
    exposed.chmod(0o644)
    wrong = tmp_path / "wrong.pin"
    write_key_file(wrong, b"0000\n")
    missing_module = token.uri(label).replace(str(token.module), "/nonexistent/libpkcs11.so")
    return {
        "module missing": (missing_module, "/nonexistent/libpkcs11.so"),
        "token missing": (token.uri(label, token="no-such-token"), "no token labelled"),  # noqa: S106
        "wrong PIN": (token.uri(label, pin_source=f"file:{wrong}"), "refused the PIN"),
        "PIN not set": (token.uri(label, pin_source="env:TEST_HSM_NO_PIN"), "TEST_HSM_NO_PIN"),
        "PIN file exposed": (token.uri(label, pin_source=f"file:{exposed}"), "chmod 600"),
        "key label absent": (token.uri("no-such-key"), "no Ed25519 key labelled"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "module missing",
        "token missing",
        "wrong PIN",
        "PIN not set",
        "PIN file exposed",
        "key label absent",
    ],
)
def test_a_server_with_an_unusable_token_refuses_to_start_and_writes_nothing(
    token: Token, tmp_path: Path, operator_pem: Path, case: str
) -> None:
    label = _label()
    token.new_key(label)
    uri, message = _bad_uris(token, label, tmp_path)[case]
    database = tmp_path / "ledger.db"
    spec = LogSpec(
        name="default",
        origin=ORIGIN,
        database_url=f"sqlite:///{database}",
        operator_key=operator_pem,
        log_key=Pkcs11Uri.parse(uri),
    )
    with pytest.raises((KeyUnavailableError, KeyFormatError)) as refused:
        Deployment.open(DeploymentConfig.single(spec))
    assert message in refused.value.message
    assert "\n" not in refused.value.message and PIN not in refused.value.message
    assert not database.exists()  # no database, no genesis: nothing partial


def test_the_cli_makes_a_key_in_the_token_and_a_log_on_it(token: Token, tmp_path: Path) -> None:
    label = _label()
    env = {
        **os.environ,
        "PROVENANCE_HOME": str(tmp_path / "home"),
        "PROVENANCE_CHECKPOINT_KEY": token.uri(label),
        "PROVENANCE_ORIGIN": ORIGIN,
    }
    made = run_cli(["--json", "keys", "token-new", token.uri(label)], env=env)
    assert made.returncode == 0, made.stderr
    again = run_cli(["keys", "token-new", token.uri(label)], env=env)
    assert again.returncode == 1 and len(again.stderr.strip().splitlines()) == 1
    assert "already holds" in again.stderr
    database = f"sqlite:///{tmp_path / 'ledger.db'}"
    done = run_cli(["--json", "--db", database, "init"], env=env)
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    public = json.loads(made.stdout)["public_key"]
    raw = crypto.public_key_to_raw(crypto.public_key_from_b64(public))
    assert info["verifier_key"] == note.Verifier.for_key(ORIGIN, raw).to_text()
    assert info["log_key"] == token.uri(label)
    # the operator key is a file, made 0600 beside the home's log-less folder
    assert (Path(info["operator_key"]).stat().st_mode & 0o777) == 0o600
    assert not (tmp_path / "home" / "log.pem").exists()  # the log key lives in the token


def test_the_cli_refuses_a_wrong_pin_in_one_line_and_creates_no_database(
    token: Token, tmp_path: Path
) -> None:
    label = _label()
    token.new_key(label)
    env = {
        **os.environ,
        "PROVENANCE_HOME": str(tmp_path / "home"),
        "PROVENANCE_CHECKPOINT_KEY": token.uri(label, pin_source="env:TEST_HSM_WRONG"),
        "TEST_HSM_WRONG": "9999",
    }
    database = tmp_path / "ledger.db"
    done = run_cli(["--db", f"sqlite:///{database}", "init"], env=env)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "refused the PIN" in lines[0], done.stderr
    assert "9999" not in done.stderr
    assert not database.exists()


def test_the_api_server_refuses_to_start_on_a_token_that_refuses_its_pin(
    token: Token, tmp_path: Path, operator_pem: Path
) -> None:
    from api.app import create_app
    from ledger.service.settings import Settings

    label = _label()
    token.new_key(label)
    wrong = tmp_path / "wrong.pin"
    write_key_file(wrong, b"0000\n")
    database = tmp_path / "served.db"
    settings = Settings.from_env(
        {
            "DATABASE_URL": f"sqlite:///{database}",
            "PROVENANCE_OPERATOR_KEY": str(operator_pem),
            "PROVENANCE_CHECKPOINT_KEY": token.uri(label, pin_source=f"file:{wrong}"),
        }
    )
    with pytest.raises(KeyUnavailableError, match="refused the PIN"):
        create_app(settings)
    assert not database.exists()
