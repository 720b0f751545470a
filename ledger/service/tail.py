"""Catch a restored log up from a bundle: its missing tail, entry for entry as written.

A backup ends where it was taken; the entries acknowledged after it live on in an export
bundle (an auditor's, a monitor's, the operator's own ``provenance export bundle``) or in a
replica. `append_tail` writes those entries into the restored store exactly as the log
first wrote them: the same leaf bytes (receive times included), so the same leaf hashes,
chain, tree and roots, and the log's own signed checkpoints, never new ones. Each entry
passes the signature check and the rules again at its index and receive time, and every
checkpoint of the tail must be the root the entries build, or nothing is written.

`roll_forward` does the same with the one batch the high-water file keeps (ledger.service
.highwater): the batch whose mark was written before a commit that a stop, or a database
put back at the size before it, did not leave in the database.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from ledger import codec, entry, merkle, note, rules
from ledger.audit.bundle import Bundle
from ledger.audit.witness import Seen
from ledger.entry import Leaf
from ledger.errors import LedgerError, ValidationError
from ledger.map import commit as map_commit
from ledger.service.append import MAX_BATCH, _entry_row
from ledger.service.headmap import MapKeeper
from ledger.service.highwater import HighWater
from ledger.service.prefetch import load_state_for
from ledger.service.treeappend import TreeAppender
from ledger.store import Store

#: entries per transaction: one append's largest batch
_CHUNK = MAX_BATCH

log = logging.getLogger("provenance.highwater")


def tail_of(bundle: Bundle, size: int, root: bytes) -> tuple[list[bytes], dict[int, str]]:
    """The leaves of ``bundle`` after the first ``size``, and its checkpoints by size
    beyond ``size``; the bundle must hold the restored log as its prefix.

    Raises:
        ValidationError: the bundle is shorter than ``size``, or its first ``size``
            leaves do not build ``root`` (another log's, or a fork).
    """
    if bundle.size < size:
        raise ValidationError(
            f"the bundle holds {bundle.size} entries, fewer than the backup's {size}",
            field="tail",
        )
    hashes = [merkle.leaf_hash(leaf) for leaf in bundle.leaves[:size]]
    if merkle.root(hashes) != root:
        raise ValidationError(
            f"the bundle's first {size} entries are not the backup's (another root): "
            "a bundle of another log, or of a forked one",
            field="tail",
        )
    checkpoints = {}
    for text in bundle.checkpoints:
        body = note.Checkpoint.from_body(text.split("\n\n", 1)[0] + "\n")
        if body.size > size:
            checkpoints[body.size] = _log_signed(text, bundle.origin)
    return list(bundle.leaves[size:]), checkpoints


def _log_signed(text: str, origin: str) -> str:
    """The checkpoint note as the log stores it: its body and the log key's signature,
    without the witnesses' cosignatures a bundle carries (the log keeps those apart, in
    its cosignature table, and adds them when it serves the note)."""
    body, _, signatures = text.partition("\n\n")
    own = [line for line in signatures.splitlines() if line.startswith(f"\u2014 {origin} ")]
    return body + "\n\n" + "".join(line + "\n" for line in own)


def append_tail(
    store: Store, log: int, origin: str, leaves: Sequence[bytes], checkpoints: Mapping[int, str]
) -> int:
    """Append ``leaves`` (exact leaf bytes) to log ``log`` of ``store`` with their signed
    ``checkpoints`` (note text by tree size); the last leaf must end at one. Returns the
    new size.

    Raises:
        ValidationError: the tail ends at no checkpoint, or a checkpoint's root is not
            the tree's at its size.
        SignatureError, RuleError: an entry does not verify or pass the rules at its
            index (field ``tail[i]``); nothing of its transaction is written.
    """
    with store.writer(log) as tx:
        base = tx.lock_head().size
    if leaves and base + len(leaves) not in checkpoints:
        raise ValidationError("the tail does not end at a signed checkpoint", field="tail")
    done = 0
    while done < len(leaves):
        chunk = leaves[done : done + _CHUNK]
        # a chunk ends at a checkpoint when one falls inside it, so each commit is one
        ends = [s - base - done for s in checkpoints if 0 < s - base - done <= len(chunk)]
        chunk = chunk[: max(ends)] if ends else chunk
        _append_chunk(store, log, origin, chunk, checkpoints)
        done += len(chunk)
    return base + done


def _append_chunk(
    store: Store, log: int, origin: str, chunk: Sequence[bytes], checkpoints: Mapping[int, str]
) -> None:
    with store.writer(log) as tx:
        head = tx.lock_head()
        parsed = [Leaf.from_bytes(data, origin) for data in chunk]
        state = load_state_for(tx, [leaf.signed for leaf in parsed])
        tree = TreeAppender(head.size, tx.subtrees(merkle.range_subtrees(0, head.size)))
        heads = MapKeeper(tx, head.size, state)
        chain, rows, records, signed_at = head.chain, [], [], {}
        for leaf in parsed:
            index = tree.size
            try:
                public = rules.signing_key(state, leaf.signed, index)
                entry.verify_event(leaf.signed, codec.b64url_decode(public, field="key"))
                new = rules.check(state, leaf.signed, index, leaf.received_at)
            except LedgerError as e:
                e.field = f"tail[{index}]" + (f".{e.field}" if e.field else "")
                e.args = (f"{e.field}: {e.message}",)
                raise
            state.apply(new)
            records.extend(new)
            heads.add(index, leaf.hash, leaf.signed.event)
            chain = entry.chain_hash(chain, leaf.hash)
            rows.append(_entry_row(index, leaf, chain, leaf.signed.hash))
            tree.add(leaf.hash)
            if tree.size in checkpoints:
                signed_at[tree.size] = (tree.root(), leaf.received)
        tx.insert_entries(rows)
        tx.insert_nodes(tree.new)
        tx.upsert(records)
        tx.set_head(tree.size, chain, tree.root())
        map_root = map_commit.root_of([heads.commit(tree.size)])
        for size, (root, at) in signed_at.items():
            text = checkpoints[size]
            body = note.Checkpoint.from_body(text.split("\n\n", 1)[0] + "\n")
            if body.root != root:
                raise ValidationError(
                    f"the tail's checkpoint {size} is not the root its entries build",
                    field="tail",
                )
            signed_map = map_commit.root_of(body.extensions)
            if size == tree.size and signed_map is not None and signed_map != map_root:
                raise ValidationError(
                    f"the tail's checkpoint {size} signs a map root its entries do not build",
                    field="tail",
                )
            tx.insert_checkpoint(size, root, text, at)


def roll_forward(store: Store, log_id: int, log_key: str, water: HighWater, size: int) -> int:
    """Append the batch ``water`` keeps (`HighWater.pending`) beyond ``size``, the log's
    size in ``store``, when the log holds its start but not its end: the process stopped
    between the mark's write and the commit, or the database was put back at the size
    before that batch. The entries are the very leaves, ending at the very checkpoint the
    mark holds (signed by ``log_key``; each signature, rule and root checked again by
    `append_tail`), so the log is not rolled back and nothing is signed anew. Returns
    the number of entries added (0: nothing to roll, or the batch does not fit: logged).
    """
    kept = water.pending()
    if kept is None:
        return 0
    base, leaves, checkpoint = kept
    end = base + len(leaves)
    if not base <= size < end:
        return 0
    if len(leaves) - (size - base) > _CHUNK:
        # no batch the appender writes is larger (MAX_BATCH): one that is was not kept by
        # this log, and it would not be checked against its root in one transaction
        log.warning(
            "the high-water file %s keeps a batch of %d leaves, more than one append "
            "writes: not rolled forward",
            water.path,
            len(leaves),
        )
        return 0
    try:
        # the file has a checksum, not a key: its checkpoint must be the log's own
        Seen.verified(checkpoint, log_key)
        append_tail(store, log_id, water.origin, leaves[size - base :], {end: checkpoint})
    except LedgerError as e:
        log.warning(
            "the high-water file %s keeps a batch %d..%d that does not extend this log "
            "(%s): not rolled forward",
            water.path,
            base,
            end,
            e.message,
        )
        return 0
    log.warning(
        "log %s held %d entries; rolled forward to %d from the batch kept in %s (a stop "
        "between the high-water write and the commit, or a database put back at %d)",
        water.origin,
        size,
        end,
        water.path,
        size,
    )
    return end - size
