"""The compiled parts (everything else is in pyproject.toml).

`ledger.map._cbucketmap` is the map's batch update in C (ledger/map/_cbucketmap.c),
linked against OpenSSL's libcrypto for SHA-256. It is optional: where it cannot be
built (no C compiler, no OpenSSL headers) the install goes on and
`ledger.map.bucketmap` runs its Python walk, which writes the same bytes.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "ledger.map._cbucketmap",
            sources=["ledger/map/_cbucketmap.c"],
            libraries=["crypto"],
            extra_compile_args=["-O2"],
            optional=True,
        )
    ]
)
