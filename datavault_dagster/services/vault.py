"""The vault in PostgreSQL: sealed anonymized records and dead letters (schema `datavault`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import psycopg

SCHEMA_SQL = """
CREATE SCHEMA IF NOT EXISTS datavault;
CREATE TABLE IF NOT EXISTS datavault.records (
    domain            text        NOT NULL,
    record_id         text        NOT NULL,
    stream_id         text        NOT NULL,
    partition_key     text        NOT NULL,
    subject_pseudonym text        NOT NULL,
    key_id            text        NOT NULL,
    envelope          bytea       NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (domain, record_id)
);
CREATE INDEX IF NOT EXISTS records_partition_idx ON datavault.records (partition_key);
CREATE INDEX IF NOT EXISTS records_subject_idx ON datavault.records (subject_pseudonym);
CREATE TABLE IF NOT EXISTS datavault.dead_letters (
    domain         text        NOT NULL,
    stream_id      text        NOT NULL,
    record_id      text        NOT NULL,
    partition_key  text        NOT NULL,
    reason_code    text        NOT NULL,
    field          text        NOT NULL,
    key_id         text        NOT NULL,
    sealed_payload bytea       NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (domain, stream_id)
);
CREATE INDEX IF NOT EXISTS dead_letters_partition_idx ON datavault.dead_letters (partition_key);
"""

_NEWER = (
    "(split_part(EXCLUDED.stream_id, '-', 1)::bigint, split_part(EXCLUDED.stream_id, '-', 2)::bigint) > "
    "(split_part(r.stream_id, '-', 1)::bigint, split_part(r.stream_id, '-', 2)::bigint)"
)


@dataclass(frozen=True)
class VaultRow:
    """A sealed record as stored."""

    domain: str
    record_id: str
    stream_id: str
    partition_key: str
    subject_pseudonym: str
    key_id: str
    envelope: bytes


@dataclass(frozen=True)
class DeadLetter:
    """A record that could not be processed; its raw entry is sealed, never stored in plaintext."""

    domain: str
    stream_id: str
    record_id: str
    partition_key: str
    reason_code: str
    field: str
    key_id: str
    sealed_payload: bytes


@dataclass(frozen=True)
class UpsertCounts:
    """What an upsert did: new rows, rows replaced by a newer stream entry, rows left as they were."""

    inserted: int
    updated: int
    unchanged: int


class Vault:
    """Idempotent writes and reads of the vault tables."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn: psycopg.Connection | None = None

    @property
    def conn(self) -> psycopg.Connection:
        """One autocommit connection per Vault, opened on first use."""
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.url, autocommit=True)
        return self._conn

    def close(self) -> None:
        """Close the connection."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def ensure_schema(self) -> None:
        """Create the schema, tables and indexes if absent (safe to call concurrently)."""
        with self.conn.transaction():
            self.conn.execute("SELECT pg_advisory_xact_lock(hashtext('datavault.schema'))")
            self.conn.execute(SCHEMA_SQL)

    def upsert_records(self, rows: Sequence[VaultRow]) -> UpsertCounts:
        """Insert new records; replace one only with a newer stream entry; re-runs change nothing."""
        if not rows:
            return UpsertCounts(0, 0, 0)
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute(
                "CREATE TEMP TABLE IF NOT EXISTS incoming (LIKE datavault.records INCLUDING DEFAULTS) ON COMMIT DROP"
            )
            cols = "domain, record_id, stream_id, partition_key, subject_pseudonym, key_id, envelope"
            with cur.copy(f"COPY incoming ({cols}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row((r.domain, r.record_id, r.stream_id, r.partition_key, r.subject_pseudonym,
                                    r.key_id, r.envelope))
            cur.execute(
                f"""
                INSERT INTO datavault.records AS r ({cols})
                SELECT DISTINCT ON (domain, record_id) {cols} FROM incoming
                ORDER BY domain, record_id, split_part(stream_id, '-', 1)::bigint DESC,
                         split_part(stream_id, '-', 2)::bigint DESC
                ON CONFLICT (domain, record_id) DO UPDATE SET
                    stream_id = EXCLUDED.stream_id, partition_key = EXCLUDED.partition_key,
                    subject_pseudonym = EXCLUDED.subject_pseudonym, key_id = EXCLUDED.key_id,
                    envelope = EXCLUDED.envelope, created_at = now()
                WHERE {_NEWER}
                RETURNING (xmax = 0) AS inserted
                """
            )
            flags = [row[0] for row in cur.fetchall()]
        inserted = sum(flags)
        updated = len(flags) - inserted
        return UpsertCounts(inserted, updated, len(rows) - inserted - updated)

    def add_dead_letters(self, letters: Iterable[DeadLetter]) -> list[DeadLetter]:
        """Store dead letters; returns those that were new (a replayed partition adds none)."""
        new: list[DeadLetter] = []
        with self.conn.transaction(), self.conn.cursor() as cur:
            for d in letters:
                cur.execute(
                    """INSERT INTO datavault.dead_letters
                       (domain, stream_id, record_id, partition_key, reason_code, field, key_id, sealed_payload)
                       VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1""",
                    (d.domain, d.stream_id, d.record_id, d.partition_key, d.reason_code, d.field, d.key_id,
                     d.sealed_payload),
                )
                if cur.fetchone():
                    new.append(d)
        return new

    def partition_records(self, partition_key: str) -> list[VaultRow]:
        """Every record whose newest version came from a partition."""
        cur = self.conn.execute(
            """SELECT domain, record_id, stream_id, partition_key, subject_pseudonym, key_id, envelope
               FROM datavault.records WHERE partition_key = %s ORDER BY domain, record_id""",
            (partition_key,),
        )
        return [VaultRow(*row[:6], bytes(row[6])) for row in cur.fetchall()]

    def get_records(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], VaultRow]:
        """Records by (domain, record_id); missing keys (e.g. erased subjects) are simply absent."""
        if not keys:
            return {}
        cur = self.conn.execute(
            """SELECT domain, record_id, stream_id, partition_key, subject_pseudonym, key_id, envelope
               FROM datavault.records r
               JOIN unnest(%s::text[], %s::text[]) AS k(d, id) ON r.domain = k.d AND r.record_id = k.id""",
            ([k[0] for k in keys], [k[1] for k in keys]),
        )
        return {(row[0], row[1]): VaultRow(*row[:6], bytes(row[6])) for row in cur.fetchall()}

    def dead_letters(self, partition_key: str | None = None) -> list[DeadLetter]:
        """Dead letters, all or of one partition."""
        sql = """SELECT domain, stream_id, record_id, partition_key, reason_code, field, key_id, sealed_payload
                 FROM datavault.dead_letters"""
        params: tuple[str, ...] = ()
        if partition_key is not None:
            sql += " WHERE partition_key = %s"
            params = (partition_key,)
        rows = self.conn.execute(sql + " ORDER BY domain, stream_id", params).fetchall()
        return [DeadLetter(*row[:7], bytes(row[7])) for row in rows]

    def counts(self) -> dict[str, dict[str, int]]:
        """Records and dead letters per domain."""
        out: dict[str, dict[str, int]] = {}
        for domain, n in self.conn.execute("SELECT domain, count(*) FROM datavault.records GROUP BY domain"):
            out.setdefault(domain, {})["records"] = n
        for domain, n in self.conn.execute("SELECT domain, count(*) FROM datavault.dead_letters GROUP BY domain"):
            out.setdefault(domain, {})["dead_letters"] = n
        return out

    def key_id_counts(self, partition_key: str | None = None) -> dict[str, int]:
        """Records per master key id (all, or of one partition)."""
        sql = "SELECT key_id, count(*) FROM datavault.records"
        params: tuple[str, ...] = ()
        if partition_key is not None:
            sql += " WHERE partition_key = %s"
            params = (partition_key,)
        return dict(self.conn.execute(sql + " GROUP BY key_id", params).fetchall())
