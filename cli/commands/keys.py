"""``provenance keys``: create, show and export Ed25519 keys (files are mode 0600), and
create keys inside a PKCS#11 token (``token-new``)."""

from __future__ import annotations

from pathlib import Path

import typer

from cli.common import emit, key_path, load_private_key, safe, write_private_key


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
