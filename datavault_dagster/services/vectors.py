"""The LanceDB table `record_embeddings`: vectors and ids only, never text or PII (contract)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


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

    def scan_strings(self) -> list[str]:
        """Every string cell of the table (for privacy scans)."""
        arrow = self.table().to_arrow()
        out: list[str] = []
        for name in arrow.column_names:
            if pa.types.is_string(arrow.schema.field(name).type):
                out.extend(v for v in arrow.column(name).to_pylist() if v)
        return out
