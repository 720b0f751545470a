"""Types of the compiled packer (ledger/native/leafpack.c)."""

def pack_built(
    leaves: list[bytes], dictionary: bytes, level: int, wbits: int, memlevel: int
) -> list[bytes | None]: ...
