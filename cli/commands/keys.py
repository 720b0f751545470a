"""``provenance keys``: create, show and export Ed25519 keys (files are mode 0600), and
create keys inside a PKCS#11 token (``token-new``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from cli.common import emit, key_path, load_private_key, safe, write_private_key

if TYPE_CHECKING:
    from ledger import crypto


def _describe(path: Path) -> dict[str, str]:
    from ledger import crypto

    public = load_private_key(path).public_key()
    return {
        "file": str(path),
        "key_id": crypto.key_id(public),
        "public_key": crypto.public_key_to_b64(public),
    }


app = typer.Typer(help="Ed25519 key files (PKCS#8 PEM, mode 0600).", no_args_is_help=True)


@app.command("new")
def new(
    actor: str = typer.Argument(..., help="the actor id the key is for"),
    out: Path = typer.Option(
        None, "--out", help="file (default: $PROVENANCE_HOME/keys/<actor>.pem)"
    ),
) -> None:
    """Create a new key file for ACTOR (never overwrites)."""
    from ledger import crypto

    path = key_path(out, actor)
    write_private_key(path, crypto.generate_private_key())
    info = _describe(path)
    emit(
        info,
        safe(f"created {path}"),
        safe(f"key id     {info['key_id']}"),
        safe(f"public key {info['public_key']}"),
    )


@app.command("show")
def show(actor: str = typer.Argument(...), key: Path = typer.Option(None, "--key")) -> None:
    """Show a key file's key id and public key."""
    from rich.table import Table

    info = _describe(key_path(key, actor))
    table = Table(show_header=False)
    for name, value in info.items():
        table.add_row(safe(name), safe(value))
    emit(info, table)


@app.command("export")
def export(actor: str = typer.Argument(...), key: Path = typer.Option(None, "--key")) -> None:
    """Print the public key (base64url) to give to the operator; the private key stays."""
    info = _describe(key_path(key, actor))
    emit({"public_key": info["public_key"], "key_id": info["key_id"]}, safe(info["public_key"]))


@app.command("token-new")
def token_new(
    uri: str = typer.Argument(
        ...,
        help="pkcs11:token=LABEL;object=KEY?module-path=/path/to/module.so"
        "[&pin-source=file:/path|env:NAME] (PIN default: $PROVENANCE_PKCS11_PIN)",
    ),
) -> None:
    """Generate an Ed25519 key pair inside a PKCS#11 token (the private key never leaves
    it); use the URI as PROVENANCE_CHECKPOINT_KEY or PROVENANCE_OPERATOR_KEY."""
    from ledger import crypto
    from ledger.service.pkcs11 import Pkcs11Uri, generate

    public = generate(Pkcs11Uri.parse(uri))
    info = {
        "uri": uri,
        "key_id": crypto.key_id(public),
        "public_key": crypto.public_key_to_b64(public),
    }
    emit(
        info,
        safe(f"created {Pkcs11Uri.parse(uri)}"),
        safe(f"key id     {info['key_id']}"),
        safe(f"public key {info['public_key']}"),
    )


@app.command("succession")
def succession(
    final: Path = typer.Option(
        ..., "--final", help="the old log's final checkpoint (signed note file)"
    ),
    old_key: str = typer.Option(
        ..., "--old-key", help="the old log key: a key file or a pkcs11: URI"
    ),
    new_key: str = typer.Option(
        ..., "--new-key", help="the new log key: a key file or a pkcs11: URI"
    ),
    new_origin: str = typer.Option(..., "--new-origin", help="the successor log's origin"),
    out: Path = typer.Option(None, "--out", help="write the statement here (default: stdout)"),
) -> None:
    """Cross-sign the old log's final checkpoint with the old and the new log key: the
    succession statement of docs/OPERATIONS.md ("Replacing the log key", step 3)."""
    from ledger import note
    from ledger.note.succession import Succession, sign_succession, verify_succession

    text = final.read_text(encoding="utf-8")
    origin = note.Checkpoint.from_body(note.Note.from_bytes(text).text).origin
    old = note.Signer(origin, _signer(old_key, "old"))
    checkpoint = note.verify_checkpoint(text, old.verifier)  # the old key must have signed it
    new = note.Signer(new_origin, _signer(new_key, "new"))
    signed = sign_succession(Succession(checkpoint, new_origin, new.verifier), old, new)
    verify_succession(signed, old.verifier, new_key=new.verifier)
    if out is not None:
        out.write_bytes(signed)
    info = {
        "old_origin": checkpoint.origin,
        "size": checkpoint.size,
        "new_origin": new_origin,
        "new_verifier_key": new.verifier.to_text(),
        "statement": signed.decode(),
    }
    emit(info, safe(signed.decode()) if out is None else safe(f"wrote {out}"))


def _signer(setting: str, which: str) -> crypto.Signer:
    from ledger.service.config import key_ref, load_signer

    return load_signer(key_ref(setting), f"the {which} log key")
