"""The licence documents the operator checked at onboarding, stored content-addressed.

``operator_documents``: one row per distinct file, keyed by the base64url SHA-256 of
its bytes: the very value the operator's signed ``actor.register`` carries in its
``documents`` field (docs/FORMAT.md). The key is a claim, not a proof: whoever shows a
document hashes the bytes again (ledger.service.operator), so a row altered in the
database is caught, not served. Kept outside the signed log; created by the migration
``0024_operator_documents``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import Integer, LargeBinary, String, Table, insert, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from ledger.errors import StorageError
from ledger.store.database import Engines
from ledger.store.schema import Base


class OperatorDocumentRow(Base):
    """One licence document: its hash (the key), type, size, first file name, bytes."""

    __tablename__ = "operator_documents"
    digest: Mapped[str] = mapped_column(String(43), primary_key=True)
    media: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[str] = mapped_column(String(32))
    data: Mapped[bytes] = mapped_column(LargeBinary)


DOCUMENTS = cast(Table, OperatorDocumentRow.__table__)


class DocumentStore:
    """Reads and writes of ``operator_documents`` in one database."""

    def __init__(self, engines: Engines) -> None:
        self.engines = engines

    def put(self, row: dict[str, Any]) -> bool:
        """Insert a document row unless one with its digest is stored; return True if
        this call stored it (the same bytes uploaded twice are kept once).

        Raises:
            StorageError: the database failed; nothing was written.
        """
        try:
            with self.engines.writer.begin() as conn:
                found = conn.execute(
                    select(DOCUMENTS.c.digest).where(DOCUMENTS.c.digest == row["digest"])
                ).first()
                if found is not None:
                    return False
                conn.execute(insert(DOCUMENTS).values(**row))
                return True
        except IntegrityError:  # a concurrent upload of the same bytes won the insert
            return False
        except SQLAlchemyError as exc:  # pragma: no cover - a database fault
            raise StorageError(f"the document could not be stored: {exc}") from exc

    def get(self, digest: str) -> dict[str, Any] | None:
        """The row stored under ``digest`` (with its bytes), or None."""
        try:
            with self.engines.writer.connect() as conn:
                row = conn.execute(select(DOCUMENTS).where(DOCUMENTS.c.digest == digest)).first()
        except SQLAlchemyError as exc:  # pragma: no cover - a database fault
            raise StorageError(f"the documents could not be read: {exc}") from exc
        return None if row is None else dict(row._mapping)

    def described(self, digests: Iterable[str]) -> dict[str, dict[str, Any]]:
        """``{digest: {media, size, name, created_at}}`` of those stored (no bytes)."""
        wanted = sorted(set(digests))
        if not wanted:
            return {}
        columns = (DOCUMENTS.c.digest, DOCUMENTS.c.media, DOCUMENTS.c.size, DOCUMENTS.c.name,
                   DOCUMENTS.c.created_at)  # fmt: skip
        try:
            with self.engines.writer.connect() as conn:
                rows = conn.execute(select(*columns).where(DOCUMENTS.c.digest.in_(wanted)))
                return {r.digest: dict(r._mapping) for r in rows}
        except SQLAlchemyError as exc:  # pragma: no cover - a database fault
            raise StorageError(f"the documents could not be read: {exc}") from exc
