"""Types of the compiled packer (ledger/native/leafpack.c)."""

SOURCE_SHA256: str
ZLIB_VERSION: str

def pack_built(
    leaves: list[bytes], dictionary: bytes, level: int, wbits: int, memlevel: int
) -> list[bytes | None]: ...
