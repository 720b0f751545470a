"""What a client checks before it believes a unit's history.

- ledger.verify.verdict: re-checks served entries and proofs and derives the verdict;
- ledger.verify.unitproof: offline unit proofs (C2SP tlog-proof) and their verification;
- ledger.verify.batchverify: Ed25519 verification of many signatures on every core.

Pure: no store, no framework, no clock.
"""
