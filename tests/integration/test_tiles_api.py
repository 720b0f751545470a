"""The log served as C2SP tlog-tiles (api.routers.tiles), on SQLite and PostgreSQL: a
client that trusts only the signed checkpoint rebuilds its root from the tiles alone,
the entry bundles hash to the level-0 tiles and hold the log's exact leaves, nothing
beyond the latest checkpoint is served, and malformed paths are problem+json 404s."""

from __future__ import annotations

import asyncio
import base64
import gzip
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import text

from api.app import create_app
from ledger import claimcode, entry, tiles
from ledger.errors import ValidationError
from ledger.events import event_from_dict, format_time
from ledger.service.settings import Settings
from ledger.store.leafpack import pack
from tests.factories import GTIN, key
from tests.integration.signals_world import SignalWorld

#: two batches after the world's 3 entries: checkpoints at 303 and 603
BATCHES = (300, 300)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SignalWorld]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('tiles')}/tiles.db"
    else:
        url = str(request.getfixturevalue("pg_url"))
    sw = SignalWorld.open(url)
    serial, code = 0, claimcode.new_claim_code()
    for count in BATCHES:
        events = []
        for _ in range(count):
            salt, digest = claimcode.claim_commitment(code, claimcode.new_salt())
            fields = {
                "kind": "commission",
                "actor": "acme",
                "time": format_time(sw.clock.now),
                "unit": {"gtin": GTIN, "serial": f"T-{serial}"},
                "prev": None,
                "claim": {"salt": salt, "hash": digest},
            }
            events.append(entry.sign_event(event_from_dict(fields), key(2), log=sw.ledger.origin))
            serial += 1
        sw.ledger.append_batch(events)
    yield sw
    sw.ledger.close()


def get(sw: SignalWorld, *paths: str, **headers: str) -> list[httpx.Response]:
    app = create_app(Settings.from_env({"PROVENANCE_BURST": "100000"}), ledger=sw.ledger)

    async def main() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.5", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            return [await http.get(p, headers=headers) for p in paths]

    return asyncio.run(main())


def checkpoint(sw: SignalWorld) -> tuple[int, bytes]:
    (response,) = get(sw, "/v1/checkpoint")
    lines = response.text.split("\n")
    return int(lines[1]), base64.b64decode(lines[2])


def fetcher(sw: SignalWorld) -> tiles.TileFetcher:
    def fetch(level: int, index: int, width: int) -> bytes:
        (response,) = get(sw, "/v1/" + tiles.tile_path(level, index, width))
        assert response.status_code == 200, response.text
        return response.content

    return fetch


def test_a_client_rebuilds_the_signed_root_from_tiles(world: SignalWorld) -> None:
    size, root = checkpoint(world)
    assert size == 3 + sum(BATCHES)
    assert tiles.tree_root(size, fetcher(world)) == root
    older = world.ledger.stored_checkpoint(3 + BATCHES[0])  # partial tiles of a past size
    assert tiles.tree_root(older.size, fetcher(world)) == older.root


def test_entry_bundles_hold_the_logs_leaves_and_match_the_level_0_tiles(
    world: SignalWorld,
) -> None:
    size, _ = checkpoint(world)
    full, rest = divmod(size, 256)
    paths = [tiles.tile_path("entries", i) for i in range(full)]
    paths.append(tiles.tile_path("entries", full, rest))
    fetch = fetcher(world)
    for n, response in enumerate(get(world, *("/v1/" + p for p in paths))):
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/octet-stream"
        assert "immutable" in response.headers["cache-control"]
        width = 256 if n < full else rest
        assert tiles.bundle_matches_tile(response.content, fetch(0, n, width), width)
        leaves = tiles.decode_bundle(response.content)
        stored = world.ledger.entries(n * 256, n * 256 + width)
        assert leaves == [e.leaf for e in stored]


def test_bundles_are_gzipped_only_for_clients_that_accept_it(world: SignalWorld) -> None:
    (zipped,) = get(world, "/v1/tile/entries/000", **{"Accept-Encoding": "gzip"})
    (plain,) = get(world, "/v1/tile/entries/000", **{"Accept-Encoding": "identity"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain.headers
    assert zipped.content == plain.content  # httpx undid the gzip
    assert int(zipped.headers["content-length"]) < len(gzip.compress(plain.content)) * 1.1
    assert int(zipped.headers["content-length"]) < len(plain.content) // 2


@pytest.mark.parametrize(
    "path",
    [
        "/v1/tile/0/002",  # a full tile past the checkpoint (603 entries)
        "/v1/tile/0/002.p/92",  # one hash too many
        "/v1/tile/1/000",
        "/v1/tile/1/000.p/3",
        "/v1/tile/2/000.p/1",
        "/v1/tile/entries/002",
        "/v1/tile/entries/002.p/92",
        "/v1/tile/00/000",  # malformed
        "/v1/tile/64/000",
        "/v1/tile/0/x000/001",
        "/v1/tile/0/1",
        "/v1/tile/0/000.p/256",
        "/v1/tile/0/000.p/07",
        "/v1/tile/entries/000.p/0",
        "/v1/tile/0/x999/x999/x999/x999/x999/x999/999",
    ],
)
def test_what_no_checkpoint_covers_or_no_path_names_is_a_404_problem(
    world: SignalWorld, path: str
) -> None:
    (response,) = get(world, path)
    assert response.status_code == 404, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"].endswith(":not-found")


def test_the_last_hashes_a_checkpoint_covers_are_served(world: SignalWorld) -> None:
    responses = get(world, "/v1/tile/0/002.p/91", "/v1/tile/1/000.p/2", "/v1/tile/entries/002.p/91")
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert [len(r.content) for r in responses[:2]] == [91 * 32, 2 * 32]


def test_an_entry_bundle_costs_its_entries_in_read_tokens() -> None:
    from api.readlimits import read_cost

    class Fake:
        def __init__(self, path: str) -> None:
            self.url = httpx.URL(f"http://t{path}")
            self.query_params: dict[str, str] = {}

    assert read_cost(Fake("/v1/tile/entries/000")) == 3  # type: ignore[arg-type]
    assert read_cost(Fake("/v1/tile/entries/000.p/99")) == 1  # type: ignore[arg-type]
    assert read_cost(Fake("/logs/a/v1/tile/entries/x001/000.p/200")) == 3  # type: ignore[arg-type]
    assert read_cost(Fake("/v1/tile/0/000")) == 1  # type: ignore[arg-type]


def test_an_event_whose_entry_a_bundle_cannot_hold_is_refused_at_its_position(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The event grammar keeps entries far below 65,535 bytes; the append's own guard
    (for kinds to come) is tried here with the limit lowered between two entries."""
    from ledger.entry import Leaf
    from ledger.service import append
    from tests.integration.world import dump

    world = SignalWorld.open(db_url)
    short = _signed(world, "L-1", "S")
    long = _signed(world, "L-2", "S" * 20)
    now = world.clock.now
    lengths = [len(Leaf.build(s, now).data) for s in (short, long)]
    assert lengths[0] < lengths[1]
    monkeypatch.setattr(tiles, "MAX_ENTRY_BYTES", lengths[0])
    monkeypatch.setattr(append, "_LONG_EVENT", 0)
    before = dump(world.ledger)
    with pytest.raises(ValidationError) as refused:
        world.ledger.append_batch([short, long], now)
    assert refused.value.field == "events[1].event"
    assert str(lengths[1]) in str(refused.value)
    assert dump(world.ledger) == before  # nothing written
    receipt = world.ledger.append_batch([short], now)
    assert len(receipt.receipts) == 1 and not receipt.receipts[0].duplicate
    world.ledger.close()


def _signed(world: SignalWorld, serial: str, lot: str) -> entry.SignedEvent:
    fields = {
        "kind": "commission",
        "actor": "acme",
        "time": format_time(world.clock.now),
        "unit": {"gtin": GTIN, "serial": serial},
        "prev": None,
        "lot": lot,
    }
    return entry.sign_event(event_from_dict(fields), key(2), log=world.ledger.origin)


def test_a_damaged_leaf_is_never_served_as_an_immutable_bundle(world: SignalWorld) -> None:
    # a CDN keeps an immutable bundle for good: a row that does not hash to the tree's
    # leaf hash (damaged, or edited by a database admin) is refused instead
    path = "/v1/" + tiles.tile_path("entries", 0)
    (good,) = get(world, path)
    assert good.status_code == 200
    original = world.ledger.entry(5).leaf
    edited = original.replace(b"T-2", b"T-9", 1)
    assert edited != original
    engine = world.ledger.store.engines.writer
    statement = text("UPDATE entries SET leaf = :v WHERE log = :log AND idx = 5")
    try:
        with engine.begin() as conn:
            conn.execute(statement, {"v": pack(edited), "log": world.ledger.log})
        (bad,) = get(world, path)
        assert bad.status_code == 503, bad.text
        assert bad.headers["content-type"] == "application/problem+json"
        assert "immutable" not in bad.headers.get("cache-control", "")
        assert "does not hash to the tree's leaf hash" in bad.json()["detail"]
    finally:
        with engine.begin() as conn:
            conn.execute(statement, {"v": pack(original), "log": world.ledger.log})
    (again,) = get(world, path)
    assert again.status_code == 200 and again.content == good.content
