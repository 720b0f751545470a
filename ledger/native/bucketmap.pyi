"""Types of the compiled walk (ledger/native/bucketmap.c)."""

from collections.abc import Callable

from ledger.map.bucketmap import BucketMap
from ledger.map.buckets import Bucket, CorruptBucketError

SOURCE_SHA256: str

def update(
    bucket_map: BucketMap,
    tails: list[bytes],
    cached_top: int,
    missing: Callable[[int], CorruptBucketError],
    too_deep: Callable[[int], CorruptBucketError],
) -> bytes: ...
def rows(buckets: dict[int, Bucket], dirty: set[int]) -> list[tuple[bytes, bytes]]: ...
