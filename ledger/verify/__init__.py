"""What a client checks before it believes a unit's history.

- ledger.verify.verdict: re-checks served entries and proofs and derives the verdict;
- ledger.verify.unitproof: offline unit proofs (C2SP tlog-proof) and their verification;
- ledger.verify.unitview: a served unit view re-checked, its verdict recomputed;
- ledger.verify.recompute: the verdict from the proven chain alone (the custody rules,
  then `judge`), never the server's;
- ledger.verify.batchverify: Ed25519 verification of many signatures on every core.

Pure: no store, no framework, no clock.
"""
