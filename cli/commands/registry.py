"""``provenance actor | authorize | product``: the registry side of the ledger.

Three command groups, one typer app each (``actor_app``, ``authorize_app``,
``product_app``), composed by cli.main.
"""

from __future__ import annotations

from pathlib import Path

import typer

from cli.backends import connect
from cli.common import emit, key_path, load_private_key, safe
from cli.signing import sign_with

_AS = typer.Option(..., "--as", help="the signing actor id")
#: the most of a picture file read (the server's own limit is lower and says so)
_READ_CAP = 64 * 1024 * 1024
_KEY = typer.Option(None, "--key", help="key file (default: $PROVENANCE_HOME/keys/<actor>.pem)")


def _send(kind: str, actor: str, key_file: Path | None, /, **fields: object) -> None:
    # positional-only, and sign_with: key.recover and key.recover.cancel have an event
    # field named "key", which would collide with sign()'s key-file parameter
    private = load_private_key(key_path(key_file, actor))
    store = connect()
    try:
        signed = sign_with(private, actor, kind, log=store.origin(), **fields)
        receipt = store.append([signed])
    finally:
        store.close()
    item = receipt["receipts"][0]
    emit(
        receipt,
        safe(f"{kind} appended at index {item['index']}")
        + (" (already there)" if item["duplicate"] else ""),
    )


#: ``provenance actor``
actor_app = typer.Typer(help="Register, revoke and show actors (operator).", no_args_is_help=True)
#: ``provenance authorize``
authorize_app = typer.Typer(
    help="Grant and revoke partner authorizations (brand).", no_args_is_help=True
)
#: ``provenance product``
product_app = typer.Typer(
    help="Register products and their pictures (brand).", no_args_is_help=True
)


@actor_app.command("register")
def register(
    subject: str = typer.Argument(..., help="the new actor's id"),
    role: str = typer.Option(
        ..., "--role", help="brand, warehouse, courier, retailer, customs, inspector, operator"
    ),
    name: str = typer.Option(..., "--name"),
    public_key: list[str] = typer.Option(
        ..., "--public-key", help="base64url public key (repeatable)"
    ),
    prefix: list[str] = typer.Option(
        None, "--prefix", help="GS1 company prefix (brands; repeatable)"
    ),
    documents: Path = typer.Option(
        None, "--documents", help="licence file whose SHA-256 the entry keeps"
    ),
    as_: str = typer.Option("operator", "--as"),
    key: Path = _KEY,
) -> None:
    """Register an actor with its public keys (signed by the operator)."""
    import hashlib

    from ledger import codec

    digest = (
        codec.b64url_encode(hashlib.sha256(documents.read_bytes()).digest()) if documents else None
    )
    _send(
        "actor.register",
        as_,
        key,
        subject=subject,
        role=role,
        name=name,
        keys=list(public_key),
        prefixes=list(prefix or []) or None,
        documents=digest,
    )


@actor_app.command("revoke")
def revoke(
    subject: str = typer.Argument(...),
    reason: str = typer.Option(..., "--reason"),
    as_: str = typer.Option("operator", "--as"),
    key: Path = _KEY,
) -> None:
    """Revoke an actor: it can sign nothing afterwards."""
    _send("actor.revoke", as_, key, subject=subject, reason=reason)


@actor_app.command("rotate")
def rotate(
    subject: str = typer.Argument(..., help="the actor whose keys change (you: --as it)"),
    add: list[str] = typer.Option(None, "--add", help="base64url public key (repeatable)"),
    remove: list[str] = typer.Option(None, "--remove", help="key id to retire (repeatable)"),
    scope: list[str] = typer.Option(
        None,
        "--scope",
        help="limit the added keys to: mint, custody, flag, recall, authorize, console",
    ),
    compromised_since: str = typer.Option(
        None,
        "--compromised-since",
        help="RFC 3339 UTC: the removed keys were compromised from then on",
    ),
    as_: str = _AS,
    key: Path = _KEY,
) -> None:
    """Add or retire the signer's own keys (only the actor itself may; a scoped key cannot)."""
    _send(
        "key.rotate",
        as_,
        key,
        subject=subject,
        add=list(add or []),
        remove=list(remove or []),
        scope=list(scope or []) or None,
        compromised_since=compromised_since,
    )


@actor_app.command("recover")
def recover(
    subject: str = typer.Argument(..., help="the actor that lost every key"),
    public_key: str = typer.Option(..., "--public-key", help="its new base64url public key"),
    effective: str = typer.Option(
        ...,
        "--effective",
        help="RFC 3339 UTC when the key may sign: at least the log's wait (7 days) from now",
    ),
    reason: str = typer.Option(None, "--reason"),
    as_: str = typer.Option("operator", "--as"),
    key: Path = _KEY,
) -> None:
    """Give an actor that lost every key a new one (operator): public, slow, cancellable."""
    _send(
        "key.recover",
        as_,
        key,
        subject=subject,
        key=public_key,
        effective=effective,
        reason=reason,
    )


@actor_app.command("cancel-recovery")
def cancel_recovery(
    subject: str = typer.Argument(..., help="the actor (you: --as it)"),
    # An option, not an argument: base64url ids may start with "-".
    key_id: str = typer.Option(..., "--key-id", help="the recovered key's id"),
    reason: str = typer.Option(None, "--reason"),
    as_: str = _AS,
    key: Path = _KEY,
) -> None:
    """Cancel a pending key recovery with one of your own full keys."""
    _send("key.recover.cancel", as_, key, subject=subject, key=key_id, reason=reason)


@actor_app.command("upgrade-log")
def upgrade_log(
    as_: str = typer.Option("operator", "--as"),
    key: Path = _KEY,
) -> None:
    """Move the log to event format 2 and rule set 2 from its next entry (signed by an
    operator): from then on it takes only events signed for it (docs/FORMAT.md 3.1)."""
    _send("log.upgrade", as_, key, format=2, rules=2)


@actor_app.command("show")
def show(actor_id: str = typer.Argument(...)) -> None:
    """Show an actor, its role, prefixes and keys."""
    from rich.table import Table

    store = connect()
    try:
        info = store.actor(actor_id)
    finally:
        store.close()
    table = Table(title=safe(f"{info['name']} ({info['id']})"))
    table.add_column("key id")
    table.add_column("public key")
    table.add_column("added at")
    table.add_column("removed at")
    for k in info["keys"]:
        table.add_row(
            *(
                safe(v)
                for v in (k["key_id"], k["public_key"], k["added_index"], k["removed_index"] or "")
            )
        )
    prefixes = ", ".join(info["prefixes"]) or "-"
    header = f"role {info['role']}; prefixes {prefixes}; registered at {info['registered_index']}"
    revoked = f"; REVOKED at {info['revoked_index']}" if info["revoked_index"] is not None else ""
    pending = [
        safe(f"PENDING RECOVERY: key {r['key_id']} takes effect {r['effective']}")
        for r in info.get("recoveries") or []
    ]
    emit(info, safe(header + revoked), table, *pending)


@authorize_app.command("grant")
def grant(
    partner: str = typer.Argument(...),
    role: str = typer.Option(..., "--role"),
    gtin: list[str] = typer.Option(None, "--gtin"),
    prefix: list[str] = typer.Option(None, "--prefix"),
    not_before: str = typer.Option(..., "--from", help="RFC 3339 UTC, e.g. 2026-01-01T00:00:00Z"),
    not_after: str = typer.Option(..., "--until"),
    display: str = typer.Option(
        None, "--display", help="how shoppers see the partner: name (default) or role"
    ),
    as_: str = _AS,
    key: Path = _KEY,
) -> None:
    """Authorize a partner for a role on GTINs or prefixes, for a time window."""
    from ledger import gs1

    gtins = [gs1.normalize_gtin(g) for g in gtin or []]
    extra = {"display": display} if display is not None else {}
    _send(
        "authorize",
        as_,
        key,
        partner=partner,
        role=role,
        gtins=gtins,
        prefixes=list(prefix or []),
        not_before=not_before,
        not_after=not_after,
        **extra,
    )


@authorize_app.command("revoke")
def revoke_auth(
    # An option, not an argument: base64url ids may start with "-".
    authorization: str = typer.Option(..., "--id", help="the authorization id (its event hash)"),
    reason: str = typer.Option(None, "--reason"),
    as_: str = _AS,
    key: Path = _KEY,
) -> None:
    """End an authorization."""
    _send("authorization.revoke", as_, key, authorization=authorization, reason=reason)


@product_app.command("register")
def register_product(
    gtin: str = typer.Argument(...),
    name: str = typer.Option(..., "--name"),
    name_zh: str = typer.Option(None, "--name-zh", help="the product's Chinese name"),
    support: str = typer.Option(
        None, "--support", help="your support contact shown to shoppers (phone, address, URL)"
    ),
    image: str = typer.Option(
        None, "--image", help="the SHA-256 of the stored picture (`provenance product image`)"
    ),
    as_: str = _AS,
    key: Path = _KEY,
) -> None:
    """Register a GTIN under one of the brand's prefixes, or sign its data again, with
    the names, the support contact and the picture the shopper's page shows (signed by
    the brand: no one else can change them; each signing replaces all of them)."""
    from ledger import gs1

    pairs = (("name_zh", name_zh), ("support", support), ("image", image))
    extra = {k: v for k, v in pairs if v is not None}
    _send("product.register", as_, key, gtin=gs1.normalize_gtin(gtin), name=name, **extra)


@product_app.command("image")
def product_image(
    gtin: str = typer.Argument(...),
    file: Path = typer.Argument(..., help="the picture: JPEG, PNG or WebP"),
    preview: Path = typer.Option(
        None, "--preview", help="write the stored (re-encoded) picture here to look at"
    ),
    as_: str = _AS,
    key: Path = _KEY,
) -> None:
    """Upload a product picture; print the SHA-256 of the stored, re-encoded bytes
    (checked here), which `product register --image` signs."""
    import hashlib

    from cli.common import UsageError, load_actor_key
    from ledger import codec, gs1

    gtin14 = gs1.normalize_gtin(gtin)
    try:
        with file.open("rb") as f:
            data = f.read(_READ_CAP)  # the server refuses more than its limit (10 MiB)
    except OSError as e:
        raise UsageError(f"cannot read {file}: {e.strerror}", field="file") from None
    store = connect()
    try:
        stored = store.upload_product_image(as_, gtin14, data, lambda: load_actor_key(key, as_))
    finally:
        store.close()
    body = codec.b64url_decode(str(stored.pop("data")), field="data")
    if codec.b64url_encode(hashlib.sha256(body).digest()) != stored["hash"]:
        raise UsageError("the server's picture does not match its hash: do not sign it")
    if preview is not None:
        preview.write_bytes(body)
    command = (
        f"provenance product register {gtin14} --name NAME --image {stored['hash']} --as {as_}"
    )
    emit(
        {**stored, "command": command},
        safe(
            f"stored {stored['width']}x{stored['height']} {stored['media']}, "
            f"{stored['bytes']} bytes; sha256 {stored['hash']}\nsign it: {command}"
        ),
    )
