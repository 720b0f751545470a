"""Where an append's time goes: a cProfile of appends, grouped by the steps of the path.

`phases` reads a `pstats.Stats` of `Ledger.append_batch` calls and returns the
cumulative seconds of each step of the append path, ledger.service.append (verification
outside the lock, the reads under it, rules, leaf building, tree, SQL writes, checkpoint signing,
commit), plus cross-cutting costs (canonical JSON, SHA-256, SQLAlchemy's own work vs
the sqlite3 driver). Steps do not nest inside one another, so their sum is at most the
total; what is left is the loop's own code and small helpers.

Used by ``python -m bench.appends --profile``; reads profiles, changes nothing.
"""

from __future__ import annotations

import pstats
from typing import Any

#: (label, file suffix or "~" for C functions, function name)
STEPS: list[tuple[str, str, str]] = [
    ("verify: key lookup (Store.public_keys)", "store/repository.py", "public_keys"),
    ("verify: Ed25519 + key object + key id", "ledger/service/append.py", "_verify"),
    ("lock: BEGIN IMMEDIATE / SELECT head", "store/writer.py", "lock_head"),
    ("idempotency: find_event_hashes", "store/writer.py", "find_event_hashes"),
    ("prefetch: load_state_for", "ledger/service/prefetch.py", "load_state_for"),
    ("tree: read right-edge subtrees", "store/writer.py", "subtrees"),
    ("rules: rules.check", "ledger/rules/check.py", "check"),
    ("rules: State.apply", "ledger/rules/state.py", "apply"),
    ("leaf: Leaf.build (JCS of the leaf)", "ledger/entry.py", "build"),
    ("leaf: chain_hash", "ledger/entry.py", "chain_hash"),
    ("leaf: _entry_row", "ledger/service/append.py", "_entry_row"),
    ("tree: TreeAppender.add", "ledger/service/treeappend.py", "add"),
    ("tree: TreeAppender.root", "ledger/service/treeappend.py", "root"),
    ("sql: insert_entries", "store/writer.py", "insert_entries"),
    ("sql: insert_nodes", "store/writer.py", "insert_nodes"),
    ("sql: upsert projections", "store/writer.py", "upsert"),
    ("sql: set_head", "store/writer.py", "set_head"),
    ("checkpoint: sign_checkpoint", "ledger/note/checkpoint.py", "sign_checkpoint"),
    ("sql: insert_checkpoint", "store/writer.py", "insert_checkpoint"),
    ("commit (fsync)", "~", "<method 'commit' of 'sqlite3.Connection' objects>"),
]

#: cross-cutting costs, overlapping the steps above
ACROSS: list[tuple[str, str, str]] = [
    ("JCS canonical() (all callers)", "ledger/codec.py", "canonical"),
    ("SHA-256 (hashlib)", "~", "<built-in method _hashlib.openssl_sha256>"),
    ("event.to_dict (all callers)", "ledger/events.py", "to_dict"),
    ("dataclasses.replace", "dataclasses.py", "replace"),
    ("parse_time", "ledger/events.py", "parse_time"),
    ("sqlite3 driver execute", "~", "<method 'execute' of 'sqlite3.Cursor' objects>"),
    ("sqlite3 driver executemany", "~", "<method 'executemany' of 'sqlite3.Cursor' objects>"),
    ("SQLAlchemy Connection.execute (incl. driver)", "engine/base.py", "execute"),
    ("SQLAlchemy row processors / params", "sql/sqltypes.py", "process"),
]


def _cumulative(raw: dict[Any, Any], suffix: str, name: str) -> tuple[float, int]:
    seconds, calls = 0.0, 0
    for (filename, _line, function), (_cc, nc, _tt, ct, _callers) in raw.items():
        if function == name and (filename == suffix or filename.endswith(suffix)):
            seconds += ct
            calls += nc
    return seconds, calls


def phases(stats: pstats.Stats) -> tuple[float, list[tuple[str, float, int]], list[Any]]:
    """Return (total seconds in append_batch, steps, cross-cutting) as (label, s, calls)."""
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total, _ = _cumulative(raw, "ledger/service/append.py", "append_batch")
    steps = [(label, *_cumulative(raw, f, n)) for label, f, n in STEPS]
    across = [(label, *_cumulative(raw, f, n)) for label, f, n in ACROSS]
    return total, steps, across


def report(stats: pstats.Stats, events: int) -> str:
    """A text table: each step's seconds, share of the total and microseconds per event."""
    total, steps, across = phases(stats)
    lines = [f"append_batch total: {total:.3f} s for {events:,} events"]
    rest = total - sum(s for _, s, _ in steps)
    for label, seconds, calls in [*steps, ("(rest: loop, receipts, helpers)", rest, 0)]:
        lines.append(
            f"  {label:<46} {seconds:7.3f} s {100 * seconds / total:5.1f} % "
            f"{1e6 * seconds / events:7.1f} us/event  ({calls:,} calls)"
        )
    lines.append("cross-cutting (overlaps the steps):")
    for label, seconds, calls in across:
        lines.append(
            f"  {label:<46} {seconds:7.3f} s {100 * seconds / total:5.1f} % "
            f"{1e6 * seconds / events:7.1f} us/event  ({calls:,} calls)"
        )
    return "\n".join(lines)
