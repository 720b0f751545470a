"""The compiled parts (everything else is in pyproject.toml).

- `ledger.native.bucketmap`: the map's batch update (ledger/native/bucketmap.c),
  linked against OpenSSL's libcrypto for SHA-256;
- `ledger.native.leafpack`: a batch of built leaves packed for storage
  (ledger/native/leafpack.c), linked against zlib.

Both are optional: where one cannot be built (no C compiler, no OpenSSL or zlib
headers) the install goes on and the Python beside it (`ledger.map.bucketmap`,
`ledger.store.leafpack`) does the work, writing the same bytes.
"""

import hashlib
from pathlib import Path

from setuptools import Extension, setup


def _native(name: str, library: str) -> Extension:
    """The extension ``ledger.native.<name>`` from ``ledger/native/<name>.c``, carrying
    its source's SHA-256 (``SOURCE_SHA256``: tests find a module built from an older
    source, which an install whose build failed would leave in place)."""
    source = Path("ledger/native") / f"{name}.c"
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    return Extension(
        f"ledger.native.{name}",
        sources=[str(source)],
        libraries=[library],
        define_macros=[("SOURCE_SHA256", f'"{digest}"')],
        extra_compile_args=["-O2"],
        optional=True,
    )


setup(ext_modules=[_native("bucketmap", "crypto"), _native("leafpack", "z")])
