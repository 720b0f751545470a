"""The bundled offline IP-to-region table (ledger.service.ipregions): public addresses
to countries or Chinese provinces, everything else ``unknown``; a recorded place wins."""

from __future__ import annotations

import pytest

from ledger.service.ipregions import UNKNOWN, RegionTable, scan_region, table

#: the unspecified address (looked up here, never bound)
ANY = ".".join("0" * 4)


@pytest.mark.parametrize(
    ("address", "region"),
    [
        ("8.8.8.8", "US"),
        ("202.96.209.5", "CN-SH"),  # Shanghai Telecom's DNS
        ("61.135.169.121", "CN-BJ"),
        ("114.114.114.114", "CN-JS"),
        ("81.2.69.142", "GB"),
        ("2001:4860:4860::8888", "US"),
        ("::ffff:8.8.8.8", "US"),
    ],
)
def test_public_addresses_have_their_region(address: str, region: str) -> None:
    assert table().region(address) == region


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.1.2.3", "192.168.0.9", "172.16.5.4", "169.254.1.1", "100.64.0.1",
     "192.0.2.1", ANY, "224.0.0.1", "::1", "fe80::1", "fd00::1", "2001:db8::1",
     "not an address", ""],
)  # fmt: skip
def test_private_reserved_and_malformed_addresses_are_unknown(address: str) -> None:
    assert table().region(address) == UNKNOWN


def test_a_recorded_place_wins_over_the_address() -> None:
    assert scan_region("geo:CN-SH", "8.8.8.8") == "CN-SH"  # a trusted proxy's
    assert scan_region("DE", "8.8.8.8") == "DE"  # typed by the partner
    assert scan_region(None, "8.8.8.8") == "US"
    assert scan_region(None, None) == UNKNOWN


def test_a_file_that_is_not_a_table_is_refused() -> None:
    with pytest.raises(ValueError, match="not an ipregions table"):
        RegionTable(b"GIF89a")
