"""tools/build_maps.py, the converter of the scans page's maps: a tiny quantized
TopoJSON converts to the expected GeoJSON (arcs decoded, reversed, stitched, named by
region code, merged, skipped, collapsed), simplification keeps arc ends, and the
shipped maps are what the page needs (sizes, codes)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "api" / "console" / "static"


@pytest.fixture(scope="module")
def bm() -> Any:
    spec = importlib.util.spec_from_file_location("build_maps", ROOT / "tools" / "build_maps.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_maps"] = module
    spec.loader.exec_module(module)
    return module


#: scale 0.5, translate (10, 20); arc 0: (10,20) (11,20) (11,21); arc 1: (11,21)
#: (10,21) (10,20); arc 2: (10,20) (10.5,19) (11,21); arc 3: a speck at (30,30)
TOPOLOGY: dict[str, Any] = {
    "type": "Topology",
    "transform": {"scale": [0.5, 0.5], "translate": [10, 20]},
    "arcs": [
        [[0, 0], [2, 0], [0, 2]],
        [[2, 2], [-2, 0], [0, -2]],
        [[0, 0], [1, -2], [1, 4]],
        [[40, 20], [0, 0], [0, 0], [0, 0]],
    ],
    "objects": {
        "countries": {
            "type": "GeometryCollection",
            "geometries": [
                {"type": "Polygon", "id": "276", "arcs": [[0, 1]], "properties": {"name": "x"}},
                {"type": "Polygon", "arcs": [[~0, 2]], "properties": {"name": "Kosovo"}},
                {"type": "Polygon", "id": "010", "arcs": [[0, 1]], "properties": {}},
                {"type": "Polygon", "id": "999", "arcs": [[0, 1]], "properties": {}},
                {"type": "MultiPolygon", "id": "156", "arcs": [[[0, 1]], [[3]]]},
                {"type": "Polygon", "id": "156", "arcs": [[~2, 0]]},
                {"type": "Point", "id": "250", "coordinates": [1, 2]},
            ],
        }
    },
}
SQUARE = [[10.0, 20.0], [11.0, 20.0], [11.0, 21.0], [10.0, 21.0], [10.0, 20.0]]
TRIANGLE = [[11.0, 21.0], [11.0, 20.0], [10.0, 20.0], [10.5, 19.0], [11.0, 21.0]]
BACKWARDS = [[11.0, 21.0], [10.5, 19.0], [10.0, 20.0], [11.0, 20.0], [11.0, 21.0]]


def test_a_tiny_topology_converts_to_the_expected_geojson(bm: Any) -> None:
    names = {"276": "DE", "010": "AQ", "156": "CN", "250": "FR"} | bm.UNCODED
    features = bm.convert(TOPOLOGY, names, tolerance=0, digits=2, skip=frozenset({"AQ"}))
    assert json.loads(bm.collection(features)) == {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": "DE"},
                "geometry": {"type": "Polygon", "coordinates": [SQUARE]},
            },
            {
                "type": "Feature",
                "properties": {"name": "XK"},
                "geometry": {"type": "Polygon", "coordinates": [TRIANGLE]},
            },
            {  # the speck collapsed to one point: dropped; the two geometries merged
                "type": "Feature",
                "properties": {"name": "CN"},
                "geometry": {"type": "MultiPolygon", "coordinates": [[SQUARE], [BACKWARDS]]},
            },
        ],
    }
    assert b" " not in bm.collection(features)  # compact


def test_simplification_drops_near_points_and_keeps_the_ends(bm: Any) -> None:
    line = [(0.0, 0.0), (1.0, 0.01), (2.0, 0.0), (3.0, 1.0), (4.0, 0.0)]
    assert bm.simplify(line, 0.1) == [(0.0, 0.0), (2.0, 0.0), (3.0, 1.0), (4.0, 0.0)]
    assert bm.simplify(line, 5) == [(0.0, 0.0), (4.0, 0.0)]
    assert bm.simplify(line, 0) == line
    # a closed arc (first == last): the farthest point is kept, not a zero division
    assert bm.simplify([(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 0.0)], 0.1)[1:3] != []


def test_an_unquantized_topology_is_read_as_it_is(bm: Any) -> None:
    topology = {"arcs": [[[1.5, 2.5], [3.0, 4.0]]]}
    assert bm.decode_arcs(topology) == [[(1.5, 2.5), (3.0, 4.0)]]


def test_the_shipped_maps_are_small_and_named_by_region_code() -> None:
    from api.console.scanwords import PROVINCES

    world, china = (
        (STATIC / "map-world.json").read_bytes(),
        (STATIC / "map-china.json").read_bytes(),
    )
    assert len(world) < 150_000 and len(china) < 250_000
    countries = {f["properties"]["name"] for f in json.loads(world)["features"]}
    assert {"CN", "US", "DE", "JP", "TW", "XK"} <= countries and "AQ" not in countries
    assert all(len(c) == 2 or c.startswith("x-") for c in countries)
    regions = {f["properties"]["name"] for f in json.loads(china)["features"]}
    assert regions == set(PROVINCES) - {"CN"}  # 31 provinces, Hong Kong, Macao, Taiwan
    assert "Natural Earth" in (STATIC / "maps-NOTICE").read_text()


def test_a_ring_across_the_antimeridian_is_cut_in_two(bm: Any) -> None:
    # a box from 170E to 170W (through 180), latitudes 0 to 10
    box = [(170.0, 0.0), (-170.0, 0.0), (-170.0, 10.0), (170.0, 10.0), (170.0, 0.0)]
    west, east = sorted(bm.cut_antimeridian([box]), key=lambda p: p[0][0][0])
    assert {x for x, _ in east[0]} == {170.0, 180.0}
    assert {x for x, _ in west[0]} == {-180.0, -170.0}
    assert bm.cut_antimeridian([SQUARE_RING]) == [[SQUARE_RING]]  # no crossing: as it is


SQUARE_RING = [(10.0, 20.0), (11.0, 20.0), (11.0, 21.0), (10.0, 21.0), (10.0, 20.0)]
