"""The LanceDB table `record_embeddings`: vectors and ids only, never text or PII (contract)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import lancedb
import numpy as np
import pyarrow as pa

from ..domain.embed import DIMENSIONS
from ..domain.rag import Hit

TABLE = "record_embeddings"

SCHEMA = pa.schema([
    pa.field("id", pa.string(), nullable=False),
    pa.field("record_id", pa.string(), nullable=False),
    pa.field("domain", pa.string(), nullable=False),
    pa.field("partition_key", pa.string(), nullable=False),
    pa.field("chunk", pa.int32(), nullable=False),
    pa.field("vector", pa.list_(pa.float32(), DIMENSIONS), nullable=False),
    pa.field("model", pa.string(), nullable=False),
])


@dataclass(frozen=True)
class VectorRow:
    """One embedded chunk of one record."""

    id: str
    record_id: str
    domain: str
    partition_key: str
    chunk: int
    vector: np.ndarray
    model: str


@dataclass(frozen=True)
class VectorErasure:
    """What physically removing some records' vectors did."""

    vectors_deleted: int
    fragments_rewritten: int
    versions_removed: int
    versions_left: int


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _records_where(keys: Sequence[tuple[str, str]]) -> str:
    by_domain: dict[str, list[str]] = {}
    for domain, record_id in keys:
        by_domain.setdefault(domain, []).append(record_id)
    return " OR ".join(
        f"(domain = {_quote(d)} AND record_id IN ({', '.join(_quote(r) for r in sorted(ids))}))"
        for d, ids in sorted(by_domain.items())
    )


class VectorStore:
    """Merge-insert and search over the LanceDB table."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.db = lancedb.connect(uri)

    def table(self) -> lancedb.table.Table:
        """The table, created empty with the contract schema if absent."""
        return self.db.create_table(TABLE, schema=SCHEMA, exist_ok=True)

    def upsert(self, rows: Sequence[VectorRow]) -> int:
        """Merge-insert by content-addressed id: a retried partition adds no duplicates."""
        if not rows:
            return 0
        data = pa.Table.from_pydict(
            {
                "id": [r.id for r in rows],
                "record_id": [r.record_id for r in rows],
                "domain": [r.domain for r in rows],
                "partition_key": [r.partition_key for r in rows],
                "chunk": pa.array([r.chunk for r in rows], pa.int32()),
                "vector": pa.FixedSizeListArray.from_arrays(
                    pa.array(np.concatenate([r.vector for r in rows]).astype(np.float32)), DIMENSIONS
                ),
                "model": [r.model for r in rows],
            },
            schema=SCHEMA,
        )
        (
            self.table().merge_insert("id")
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .execute(data)
        )
        return len(rows)

    def delete_stale(self, partition_key: str, keep_ids: Sequence[str]) -> None:
        """Drop rows of a partition that are no longer produced (e.g. a record now has fewer chunks)."""
        where = f"partition_key = {_quote(partition_key)}"
        if keep_ids:
            where += " AND id NOT IN (" + ", ".join(_quote(i) for i in keep_ids) + ")"
        self.table().delete(where)

    def search(self, vector: np.ndarray, limit: int) -> list[Hit]:
        """Nearest chunks to a query vector."""
        rows = (
            self.table().search(vector.astype(np.float32)).limit(limit)
            .select(["record_id", "domain", "chunk", "_distance"]).to_list()
        )
        return [Hit(r["domain"], r["record_id"], int(r["chunk"]), float(r["_distance"])) for r in rows]

    def count(self, partition_key: str | None = None) -> int:
        """Rows in the table, or of one partition."""
        table = self.table()
        return table.count_rows(f"partition_key = {_quote(partition_key)}") if partition_key else table.count_rows()

    def record_ids(self, partition_key: str) -> set[tuple[str, str]]:
        """(domain, record_id) pairs that have vectors in a partition."""
        rows = (
            self.table().search().where(f"partition_key = {_quote(partition_key)}")
            .select(["domain", "record_id"]).limit(None).to_list()
        )
        return {(r["domain"], r["record_id"]) for r in rows}

    def scan_strings(self, partition_key: str | None = None) -> list[str]:
        """Every string cell of the table, or of one partition (for privacy scans)."""
        table = self.table()
        if partition_key is None:
            arrow = table.to_arrow()
        else:
            arrow = table.search().where(f"partition_key = {_quote(partition_key)}").limit(None).to_arrow()
        out: list[str] = []
        for name in arrow.column_names:
            if pa.types.is_string(arrow.schema.field(name).type):
                out.extend(v for v in arrow.column(name).to_pylist() if v)
        return out

    def count_records(self, keys: Sequence[tuple[str, str]]) -> int:
        """Vector rows of the given (domain, record_id) records."""
        return self.table().count_rows(_records_where(keys)) if keys else 0

    def versions(self) -> int:
        """Versions of the table that can still be checked out (old versions keep deleted rows readable)."""
        return len(self.table().list_versions())

    def erase_records(self, keys: Sequence[tuple[str, str]]) -> VectorErasure:
        """Delete records' vectors so that no byte of them is left on disk, not even in old versions.

        A LanceDB delete only marks rows in a deletion file, and compaction skips a fragment with few
        deletions, so the other rows of every fragment holding a victim are rewritten in the same commit
        (the fragment is then wholly deleted and dropped); then every old version is cleaned up.
        Run it when no other process is writing the table (old versions vanish under their readers).
        """
        table = self.table()
        if not keys:
            return VectorErasure(0, 0, 0, len(table.list_versions()))
        victims = _records_where(keys)
        hits = table.search().where(victims).with_row_id(True).select(["id"]).limit(None).to_arrow()
        deleted = hits.num_rows
        fragments = sorted({int(r) >> 32 for r in hits.column("_rowid").to_pylist()})
        if fragments:
            in_fragments = " OR ".join(f"(_rowid >= {f << 32} AND _rowid < {(f + 1) << 32})" for f in fragments)
            survivors = (
                table.search().where(f"({in_fragments}) AND NOT ({victims})").select(SCHEMA.names)
                .limit(None).to_arrow()
            )
            if survivors.num_rows:
                (
                    table.merge_insert("id").when_matched_update_all()
                    .when_not_matched_by_source_delete(victims)
                    .execute(survivors.select(SCHEMA.names).cast(SCHEMA))
                )
            else:
                table.delete(victims)
        present, latest = len(table.list_versions()), table.version
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*cleanup_older_than=0.*")
            table.optimize(cleanup_older_than=timedelta(0))
        present += table.version - latest  # a compaction commit, if optimize made one
        versions_after = len(table.list_versions())
        return VectorErasure(deleted, len(fragments), present - versions_after, versions_after)
