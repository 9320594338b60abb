"""The LanceDB table `record_embeddings`: vectors and ids only, never text or PII (contract)."""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from ..domain.embed import DIMENSIONS
from ..domain.rag import Hit

if TYPE_CHECKING:
    import lancedb

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
    """What physically removing some records' vectors (and replacing others') did."""

    vectors_deleted: int
    fragments_rewritten: int
    versions_removed: int
    versions_left: int
    deleted_by_record: dict[tuple[str, str], int] = field(default_factory=dict)  # of the erased records
    vectors_replaced: int = 0  # old rows of replaced records removed
    vectors_written: int = 0  # their new rows


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


def _arrow(rows: Sequence[VectorRow]) -> pa.Table:
    return pa.Table.from_pydict(
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


class VectorStore:
    """Merge-insert and search over the LanceDB table."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        import lancedb  # 1.8 s of imports: paid by the steps that use vectors, not by every step process

        self.db = lancedb.connect(uri)

    def table(self) -> lancedb.table.Table:
        """The table, created empty with the contract schema if absent."""
        return self.db.create_table(TABLE, schema=SCHEMA, exist_ok=True)

    def upsert(self, rows: Sequence[VectorRow]) -> int:
        """Merge-insert by content-addressed id: a retried partition adds no duplicates."""
        if not rows:
            return 0
        (
            self.table().merge_insert("id")
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .execute(_arrow(rows))
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

    def record_counts(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """Vector rows per (domain, record_id) among the given records (records without any are absent)."""
        if not keys:
            return {}
        rows = self.table().search().where(_records_where(keys)).select(["domain", "record_id"]).limit(None).to_arrow()
        return dict(Counter(zip(rows.column("domain").to_pylist(), rows.column("record_id").to_pylist(), strict=True)))

    def versions(self) -> int:
        """Versions of the table that can still be checked out (old versions keep deleted rows readable)."""
        return len(self.table().list_versions())

    def erase_records(self, keys: Sequence[tuple[str, str]], *, replace: Sequence[tuple[str, str]] = (),
                      rows: Sequence[VectorRow] = ()) -> VectorErasure:
        """Delete records' vectors so that no byte of them is left on disk, not even in old versions; in the
        same commit, the vectors of the `replace` records are replaced by `rows` (a replaced record without
        new rows just loses its vectors), and no byte of their old vectors is left either.

        A LanceDB delete (or an update, which deletes the old row) only marks rows in a deletion file, and
        compaction skips a fragment with few deletions, so the other rows of every fragment holding a victim
        or an old vector are rewritten in the same commit (the fragment is then wholly deleted and dropped);
        then every old version is cleaned up. Run it when no other process is writing the table (old
        versions vanish under their readers).
        """
        table = self.table()
        gone = set(keys)
        replaced = set(replace) - gone
        rows = [r for r in rows if (r.domain, r.record_id) not in gone]
        if not gone and not replaced and not rows:
            return VectorErasure(0, 0, 0, len(table.list_versions()))
        superseded = sorted(gone | replaced | {(r.domain, r.record_id) for r in rows})
        victims = _records_where(superseded)
        hits = (
            table.search().where(victims).with_row_id(True).select(["domain", "record_id"]).limit(None).to_arrow()
        )
        per_record = Counter(zip(hits.column("domain").to_pylist(), hits.column("record_id").to_pylist(),
                                 strict=True))
        deleted = {k: n for k, n in per_record.items() if k in gone}
        fragments = sorted({int(r) >> 32 for r in hits.column("_rowid").to_pylist()})
        data = _arrow(rows) if rows else None
        if fragments:
            in_fragments = " OR ".join(f"(_rowid >= {f << 32} AND _rowid < {(f + 1) << 32})" for f in fragments)
            survivors = (
                table.search().where(f"({in_fragments}) AND NOT ({victims})").select(SCHEMA.names)
                .limit(None).to_arrow().select(SCHEMA.names).cast(SCHEMA)
            )
            data = pa.concat_tables([survivors, data]) if data is not None else survivors
        if data is not None and data.num_rows:
            (
                table.merge_insert("id").when_matched_update_all().when_not_matched_insert_all()
                .when_not_matched_by_source_delete(victims)
                .execute(data)
            )
        else:
            table.delete(victims)
        present, latest = len(table.list_versions()), table.version
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*cleanup_older_than=0.*")
            table.optimize(cleanup_older_than=timedelta(0))
        present += table.version - latest  # a compaction commit, if optimize made one
        versions_after = len(table.list_versions())
        return VectorErasure(sum(deleted.values()), len(fragments), present - versions_after, versions_after,
                             deleted, hits.num_rows - sum(deleted.values()), len(rows))
