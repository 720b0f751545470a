"""The compiled parts, each doing one step of a Python module's work in C (setup.py).

- `ledger.native.bucketmap` (bucketmap.c): the walk and the rows of
  `ledger.map.bucketmap.BucketMap`'s batch update;
- `ledger.native.leafpack` (leafpack.c): a batch of built leaves packed for storage,
  `ledger.store.leafpack.pack_many`.

Each is optional. The module it serves imports it when it was built and otherwise does
the same work in Python; both write the same bytes (tests/unit/test_map_compiled.py,
tests/unit/test_leafpack.py), which CI checks with both built. Nothing here imports
anything of the ledger.
"""
