"""Reader tasks: fetch checkpoints, units and entries, and verify every proof locally.

Each reader keeps the latest checkpoint it verified. Every newer checkpoint it meets
must be proven consistent with it (RFC 9162 consistency proof, checked with
ledger.merkle); a smaller one means the log went back in time. Every entry it reads
is checked against the checkpoint served with it (leaf hash, inclusion proof); a unit's
whole chain is checked with ledger.verify.verdict.check_unit_chain (checkpoint signature,
inclusion, event signatures, ``prev`` links).
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from cli.hammer.world import HammerWorld, Unit
from cli.hammer.writers import Run
from ledger import codec, merkle, note
from ledger.errors import LedgerError, ProofError
from ledger.verify.verdict import ServedEntry, check_unit_chain

READ_TIMEOUT = 60.0


class Reader:
    """One reader task's state: the latest checkpoint it trusts."""

    def __init__(self, run: Run, hammer: HammerWorld, public_keys: dict[str, str]) -> None:
        self.run = run
        self.hammer = hammer
        self.public_keys = public_keys
        self.latest: note.Checkpoint | None = None

    async def loop(self) -> None:
        """Read until the run stops; an unreachable server is waited out."""
        run = self.run
        while not run.stop.is_set():
            pick = run.rng.random()
            try:
                if pick < 0.25:
                    await self.checkpoint()
                elif pick < 0.6:
                    await self.unit(run.rng.choice(self._units()))
                else:
                    await self.entries()
            except (httpx.HTTPError, ValueError, KeyError):
                await asyncio.sleep(0.2)  # down, restarting, or answered an error
                continue
            except LedgerError as e:  # a malformed hash or leaf in an answer
                run.obs.bad_proofs += 1
                run.obs.note(f"malformed answer: {e}")
                continue
            run.obs.counts["reads"] += 1

    def _units(self) -> list[Unit]:
        return [u for units in self.hammer.owned for u in units] + self.hammer.shared

    async def _get(self, path: str, **params: Any) -> httpx.Response:
        response = await self.run.client.get(
            path,
            params=params or None,
            headers={"Accept": "application/json"},
            timeout=READ_TIMEOUT,
        )
        response.raise_for_status()
        return response

    async def checkpoint(self) -> None:
        """Read the latest checkpoint."""
        await self.see((await self._get("/v1/checkpoint")).text)

    async def unit(self, unit: Unit) -> None:
        """Read a unit view and check its whole chain against its checkpoint."""
        view = (await self._get(f"/v1/units/{unit.gtin}/{unit.serial}")).json()
        checkpoint = await self.see(view["checkpoint"])
        if checkpoint is None:
            return
        served = [_served(e) for e in view["entries"]]
        for s in served:
            self.run.obs.leaf(s.index, s.leaf_hash)
        reasons = check_unit_chain(
            served, view["checkpoint"], self.run.obs.verifier_key, self.public_keys
        )
        for reason in reasons:
            if reason.code == "chain-broken":
                self.run.obs.forks_seen += 1
            else:
                self.run.obs.bad_proofs += 1
            self.run.obs.note(f"{unit.serial}: {reason.code}: {reason.message}")

    async def entries(self) -> None:
        """Read a short random range of entries and check each inclusion proof."""
        size = self.latest.size if self.latest else 1
        start = self.run.rng.randrange(size)
        body = (
            await self._get("/v1/entries", start=start, end=start + self.run.rng.randint(1, 20))
        ).json()
        checkpoint = await self.see(body["checkpoint"])
        if checkpoint is None:
            return
        for item in body["entries"]:
            s = _served(item)
            try:
                if merkle.leaf_hash(s.leaf) != s.leaf_hash:
                    raise ProofError("does not match the leaf", field="leaf_hash")
                merkle.verify_inclusion(
                    s.leaf_hash, s.index, checkpoint.size, s.proof, checkpoint.root
                )
            except LedgerError as e:
                self.run.obs.bad_proofs += 1
                self.run.obs.note(f"entry {s.index}: {e}")
            self.run.obs.leaf(s.index, s.leaf_hash)

    async def see(self, text: str) -> note.Checkpoint | None:
        """Verify a checkpoint and its consistency with the latest one this reader trusts."""
        obs = self.run.obs
        checkpoint = obs.checkpoint(text)
        if checkpoint is None:
            return None
        latest = self.latest
        if latest is None or checkpoint.size == latest.size:
            self.latest = latest or checkpoint
            return checkpoint
        if checkpoint.size < latest.size:
            obs.inconsistent += 1
            obs.note(f"the log went back from size {latest.size} to {checkpoint.size}")
            return checkpoint
        proof = (
            await self._get("/v1/proofs/consistency", old=latest.size, new=checkpoint.size)
        ).json()
        try:
            merkle.verify_consistency(
                latest.size,
                checkpoint.size,
                latest.root,
                checkpoint.root,
                [codec.b64url_decode(h, field="proof") for h in proof["proof"]],
            )
        except LedgerError as e:
            obs.inconsistent += 1
            obs.note(f"checkpoints {latest.size} -> {checkpoint.size} are not consistent: {e}")
            return checkpoint
        obs.counts["consistency_proofs"] += 1
        self.latest = checkpoint
        return checkpoint


def _served(item: dict[str, Any]) -> ServedEntry:
    return ServedEntry(
        index=int(item["index"]),
        leaf=codec.b64url_decode(item["leaf"], field="leaf"),
        leaf_hash=codec.b64url_decode(item["leaf_hash"], field="leaf_hash"),
        proof=[codec.b64url_decode(h, field="proof") for h in item["proof"]],
    )
