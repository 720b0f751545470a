"""Coarse places of scans: ISO 3166-1 alpha-2 countries (or ISO 3166-2 subdivisions,
read as their country) and the great-circle distance between their centroids.

The centroids are approximate (a tenth of a degree, the geographic middle of the main
territory), which is all a clone signal needs: it asks whether two scans could have
been made by one person travelling, and it ignores anything under a few hundred
kilometres. A code missing from the table has no position, so no travel signal is
computed for it. No I/O.

A scan's place has a source (docs/SIGNALS.md): ``header``, the geolocation header of a
trusted proxy (evidence), or ``hint``, what the scanning client claimed (``?place=``):
shown as such, never evidence for a travel signal. The scans table keeps both in one
column, a header place written ``geo:CN`` and a hint bare (`stored_place`,
`read_place`): so a row written before places had sources counts as a hint, never as
evidence.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ledger.shapes import ScanShape

EARTH_RADIUS_KM = 6371.0
#: where a scan's place came from: a trusted proxy's geolocation header, or the client
HEADER, HINT = "header", "hint"
_TRUSTED_MARK = "geo:"

#: ISO 3166-1 alpha-2 -> (latitude, longitude) of the country's approximate centroid
CENTROIDS: dict[str, tuple[float, float]] = {
    "AE": (23.9, 54.3), "AF": (33.9, 67.7), "AL": (41.1, 20.2), "AM": (40.1, 45.0),
    "AO": (-11.2, 17.9), "AR": (-38.4, -63.6), "AT": (47.5, 14.6), "AU": (-25.3, 133.8),
    "AZ": (40.1, 47.6), "BA": (43.9, 17.7), "BD": (23.7, 90.4), "BE": (50.5, 4.5),
    "BG": (42.7, 25.5), "BH": (26.0, 50.6), "BO": (-16.3, -63.6), "BR": (-14.2, -51.9),
    "BY": (53.7, 28.0), "CA": (56.1, -106.3), "CD": (-4.0, 21.8), "CH": (46.8, 8.2),
    "CI": (7.5, -5.5), "CL": (-35.7, -71.5), "CM": (7.4, 12.4), "CN": (35.9, 104.2),
    "CO": (4.6, -74.3), "CR": (9.7, -83.8), "CU": (21.5, -77.8), "CY": (35.1, 33.4),
    "CZ": (49.8, 15.5), "DE": (51.2, 10.5), "DK": (56.3, 9.5), "DO": (18.7, -70.2),
    "DZ": (28.0, 1.7), "EC": (-1.8, -78.2), "EE": (58.6, 25.0), "EG": (26.8, 30.8),
    "ES": (40.5, -3.7), "ET": (9.1, 40.5), "FI": (61.9, 25.7), "FR": (46.2, 2.2),
    "GB": (55.4, -3.4), "GE": (42.3, 43.4), "GH": (7.9, -1.0), "GR": (39.1, 21.8),
    "GT": (15.8, -90.2), "HK": (22.3, 114.2), "HN": (15.2, -86.2), "HR": (45.1, 15.2),
    "HU": (47.2, 19.5), "ID": (-0.8, 113.9), "IE": (53.4, -8.2), "IL": (31.0, 34.9),
    "IN": (20.6, 79.0), "IQ": (33.2, 43.7), "IR": (32.4, 53.7), "IS": (64.9, -19.0),
    "IT": (41.9, 12.6), "JM": (18.1, -77.3), "JO": (30.6, 36.2), "JP": (36.2, 138.3),
    "KE": (-0.0, 37.9), "KG": (41.2, 74.8), "KH": (12.6, 105.0), "KR": (35.9, 127.8),
    "KW": (29.3, 47.5), "KZ": (48.0, 66.9), "LA": (19.9, 102.5), "LB": (33.9, 35.9),
    "LK": (7.9, 80.8), "LT": (55.2, 23.9), "LU": (49.8, 6.1), "LV": (56.9, 24.6),
    "MA": (31.8, -7.1), "MD": (47.4, 28.4), "MK": (41.6, 21.7), "MM": (21.9, 96.0),
    "MN": (46.9, 103.8), "MO": (22.2, 113.5), "MX": (23.6, -102.6), "MY": (4.2, 102.0),
    "NG": (9.1, 8.7), "NL": (52.1, 5.3), "NO": (60.5, 8.5), "NP": (28.4, 84.1),
    "NZ": (-40.9, 174.9), "OM": (21.5, 55.9), "PA": (8.5, -80.8), "PE": (-9.2, -75.0),
    "PH": (12.9, 121.8), "PK": (30.4, 69.3), "PL": (51.9, 19.1), "PT": (39.4, -8.2),
    "PY": (-23.4, -58.4), "QA": (25.4, 51.2), "RO": (45.9, 25.0), "RS": (44.0, 21.0),
    "RU": (61.5, 105.3), "SA": (23.9, 45.1), "SE": (60.1, 18.6), "SG": (1.4, 103.8),
    "SI": (46.2, 15.0), "SK": (48.7, 19.7), "SN": (14.5, -14.5), "SV": (13.8, -88.9),
    "TH": (15.9, 101.0), "TN": (33.9, 9.5), "TR": (39.0, 35.2), "TW": (23.7, 121.0),
    "TZ": (-6.4, 34.9), "UA": (48.4, 31.2), "UG": (1.4, 32.3), "US": (37.1, -95.7),
    "UY": (-32.5, -55.8), "UZ": (41.4, 64.6), "VE": (6.4, -66.6), "VN": (14.1, 108.3),
    "YE": (15.6, 48.5), "ZA": (-30.6, 22.9), "ZM": (-13.1, 27.8), "ZW": (-19.0, 29.2),
}  # fmt: skip


def country(place: str | None) -> str | None:
    """The country code of a place (``CN-SH`` -> ``CN``), or None."""
    if not place:
        return None
    return place.split("-", 1)[0].upper()


def distance_km(a: str | None, b: str | None) -> float | None:
    """Great-circle distance between two places' country centroids (haversine, on a
    sphere of the Earth's mean radius); 0 for the same country; None when either has
    no known position."""
    ca, cb = country(a), country(b)
    if ca is None or cb is None:
        return None
    if ca == cb:
        return 0.0
    if ca not in CENTROIDS or cb not in CENTROIDS:
        return None
    (lat1, lon1), (lat2, lon2) = CENTROIDS[ca], CENTROIDS[cb]
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, h)))


def stored_place(place: str | None, source: str) -> str | None:
    """The scans-table text of ``place`` from ``source`` (`HEADER` or `HINT`)."""
    if not place:
        return None
    return _TRUSTED_MARK + place if source == HEADER else place


def read_place(stored: str | None) -> tuple[str | None, str | None]:
    """(place, source) of a scans-table text; (None, None) when no place was recorded.
    A bare place is a client's hint (`HINT`), rows from before sources existed too."""
    if not stored:
        return None, None
    if stored.startswith(_TRUSTED_MARK):
        return stored[len(_TRUSTED_MARK) :] or None, HEADER
    return stored, HINT


def first_scan(first: Mapping[str, Any] | None) -> ScanShape | None:
    """A scan summary's ``first`` (``{at, place}`` as stored) as the view shows it:
    ``{at, place, place_source}``, the place read by `read_place`."""
    if first is None:
        return None
    place, source = read_place(first.get("place"))
    return {"at": str(first.get("at")), "place": place, "place_source": source}
