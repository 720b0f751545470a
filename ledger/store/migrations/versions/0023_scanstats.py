"""scanstats: the console's scan aggregates, back-filled from the scans kept

Scans gain ``region`` (the console analytics' region: the place, else the offline
table's region of the client address; never the address) and ``scan_counts`` gains
``first_region``. Six tables hold the aggregates that ledger.store.scanstats keeps in
step with every stored batch: ``scan_daily`` (with its sums ``scan_daily_lots`` and
``scan_daily_regions``), ``scan_first_regions``, ``scan_probes``,
``scan_probe_serials``. They are filled here from the scans the retention window kept;
a row written before this revision counts under its place (``geo:`` stripped), else
``unknown``: its address was never stored.

Revision ID: 0023_scanstats
Revises: 0017_storage
Create Date: 2026-12-03 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023_scanstats"
down_revision = "0024_operator_documents"
branch_labels = None
depends_on = None

#: a stored row's region (ledger.store.scanstats.row_region in SQL)
_REGION = (
    "CASE WHEN {t}.region IS NOT NULL AND {t}.region <> '' THEN {t}.region "
    "WHEN {p} IS NULL OR {p} = '' OR {p} = 'geo:' THEN 'unknown' "
    "WHEN {p} LIKE 'geo:%' THEN substr({p}, 5) ELSE {p} END"
)
_TABLES = (
    "scan_probe_serials", "scan_probes", "scan_first_regions", "scan_daily_regions",
    "scan_daily_lots", "scan_daily",
)  # fmt: skip


def _key(*names: str) -> list[sa.Column[str]]:
    widths = {"brand": 64, "day": 10, "gtin": 14, "lot": 20, "region": 64, "serial": 20}
    return [sa.Column(n, sa.String(length=widths[n]), nullable=False) for n in names]


def _log() -> sa.Column[int]:
    return sa.Column("log", sa.Integer(), sa.ForeignKey("logs.id"), nullable=False)


def upgrade() -> None:
    """Apply this revision: the columns, the tables, then the back-fill."""
    op.add_column("scans", sa.Column("region", sa.String(length=64), nullable=True))
    op.add_column("scan_counts", sa.Column("first_region", sa.String(length=64), nullable=True))
    count = sa.BigInteger()
    op.create_table(
        "scan_daily",
        _log(),
        *_key("brand", "day", "gtin", "lot", "region"),
        sa.Column("scans", count, nullable=False),
        sa.PrimaryKeyConstraint("log", "brand", "day", "gtin", "lot", "region"),
    )
    op.create_table(
        "scan_daily_lots",
        _log(),
        *_key("brand", "day", "gtin", "lot"),
        sa.Column("scans", count, nullable=False),
        sa.PrimaryKeyConstraint("log", "brand", "day", "gtin", "lot"),
    )
    op.create_table(
        "scan_daily_regions",
        _log(),
        *_key("brand", "day", "region"),
        sa.Column("scans", count, nullable=False),
        sa.PrimaryKeyConstraint("log", "brand", "day", "region"),
    )
    op.create_table(
        "scan_first_regions",
        _log(),
        *_key("brand", "gtin", "region"),
        sa.Column("units", count, nullable=False),
        sa.PrimaryKeyConstraint("log", "brand", "gtin", "region"),
    )
    op.create_table(
        "scan_probes",
        _log(),
        *_key("brand", "day", "gtin"),
        sa.Column("scans", count, nullable=False),
        sa.Column("serials", count, nullable=False),
        sa.PrimaryKeyConstraint("log", "brand", "day", "gtin"),
    )
    op.create_table(
        "scan_probe_serials",
        _log(),
        *_key("gtin", "serial"),
        sa.Column("first_day", sa.String(length=10), nullable=False),
        sa.PrimaryKeyConstraint("log", "gtin", "serial"),
    )
    _backfill()


def _backfill() -> None:
    scan_region = _REGION.format(t="s", p="s.place")
    unit_join = "JOIN units u ON u.log = s.log AND u.gtin = s.gtin AND u.serial = s.serial"
    first = _REGION.format(t="scan_counts", p="scan_counts.first_place").replace(
        "scan_counts.region", "scan_counts.first_region"
    )
    op.execute(f"UPDATE scan_counts SET first_region = {first}")  # noqa: S608 (constants)
    op.execute(
        "INSERT INTO scan_daily (log, brand, day, gtin, lot, region, scans) "  # noqa: S608
        f"SELECT s.log, u.brand, substr(s.at, 1, 10), s.gtin, COALESCE(u.lot, ''), {scan_region}, "
        f"count(*) FROM scans s {unit_join} "
        f"GROUP BY s.log, u.brand, substr(s.at, 1, 10), s.gtin, COALESCE(u.lot, ''), {scan_region}"
    )
    op.execute(
        "INSERT INTO scan_daily_lots (log, brand, day, gtin, lot, scans) SELECT log, brand, "
        "day, gtin, lot, sum(scans) FROM scan_daily GROUP BY log, brand, day, gtin, lot"
    )
    op.execute(
        "INSERT INTO scan_daily_regions (log, brand, day, region, scans) SELECT log, brand, "
        "day, region, sum(scans) FROM scan_daily GROUP BY log, brand, day, region"
    )
    op.execute(
        "INSERT INTO scan_first_regions (log, brand, gtin, region, units) "
        "SELECT c.log, u.brand, c.gtin, c.first_region, count(*) FROM scan_counts c "
        "JOIN units u ON u.log = c.log AND u.gtin = c.gtin AND u.serial = c.serial "
        "GROUP BY c.log, u.brand, c.gtin, c.first_region"
    )
    unknown = (
        "FROM scans s LEFT JOIN units u "
        "ON u.log = s.log AND u.gtin = s.gtin AND u.serial = s.serial WHERE u.serial IS NULL"
    )
    op.execute(
        "INSERT INTO scan_probe_serials (log, gtin, serial, first_day) "
        f"SELECT s.log, s.gtin, s.serial, min(substr(s.at, 1, 10)) {unknown} "
        "GROUP BY s.log, s.gtin, s.serial"
    )
    op.execute(
        "INSERT INTO scan_probes (log, brand, day, gtin, scans, serials) "
        "SELECT s.log, COALESCE(p.brand, ''), substr(s.at, 1, 10), s.gtin, count(*), 0 "
        "FROM scans s LEFT JOIN units u "
        "ON u.log = s.log AND u.gtin = s.gtin AND u.serial = s.serial "
        "LEFT JOIN products p ON p.log = s.log AND p.gtin = s.gtin WHERE u.serial IS NULL "
        "GROUP BY s.log, COALESCE(p.brand, ''), substr(s.at, 1, 10), s.gtin"
    )
    op.execute(
        "UPDATE scan_probes SET serials = (SELECT count(*) FROM scan_probe_serials ps "
        "WHERE ps.log = scan_probes.log AND ps.gtin = scan_probes.gtin "
        "AND ps.first_day = scan_probes.day)"
    )


def downgrade() -> None:
    """Revert this revision: drop the tables and the columns."""
    for table in _TABLES:
        op.drop_table(table)
    with op.batch_alter_table("scan_counts") as batch:
        batch.drop_column("first_region")
    with op.batch_alter_table("scans") as batch:
        batch.drop_column("region")
