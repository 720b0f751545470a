"""The compiled parts (everything else is in pyproject.toml).

- `ledger.native.bucketmap`: the map's batch update (ledger/native/bucketmap.c),
  linked against OpenSSL's libcrypto for SHA-256;
- `ledger.native.leafpack`: a batch of built leaves packed for storage
  (ledger/native/leafpack.c), linked against zlib.

Both are optional: where one cannot be built (no C compiler, no OpenSSL or zlib
headers) the install goes on and the Python beside it (`ledger.map.bucketmap`,
`ledger.store.leafpack`) does the work, writing the same bytes.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "ledger.native.bucketmap",
            sources=["ledger/native/bucketmap.c"],
            libraries=["crypto"],
            extra_compile_args=["-O2"],
            optional=True,
        ),
        Extension(
            "ledger.native.leafpack",
            sources=["ledger/native/leafpack.c"],
            libraries=["z"],
            extra_compile_args=["-O2"],
            optional=True,
        ),
    ]
)
