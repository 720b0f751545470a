"""Auditing a log without trusting its server: replay, the auditor, bundles, witnesses.

- ledger.audit.replay: replays entries from genesis and checks every hash, signature,
  rule and projection;
- ledger.audit.workers: leaf parsing and signature checks on worker processes, ahead of
  the replay (large logs);
- ledger.audit.report, ledger.audit.checkpoints: the findings, and the replay's
  checkpoint checks;
- ledger.audit.auditor: full and incremental audits of a log source, with evidence;
- ledger.audit.bundle: the export bundle format an offline auditor reads;
- ledger.audit.witness: a witness's checks before it cosigns a checkpoint, and the
  split-view and rollback evidence;
- ledger.audit.monitor: the brand monitor (entries touching a brand not signed by it);

Pure: nothing here imports the store or a framework; sources are passed in.
"""
