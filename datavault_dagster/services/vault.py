"""The vault in PostgreSQL: sealed records, subject keys, dead letters and erasure receipts (schema `datavault`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from psycopg.types.json import Jsonb

from ..domain.batches import StreamRange, parse_stream_id
from ..domain.crypto import SUBJECT_VERSION, WrappedSubjectKey, envelope_version, key_id_of
from ..domain.drift import DetectionStats

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
CREATE INDEX IF NOT EXISTS records_domain_subject_idx ON datavault.records (domain, subject_pseudonym);
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
CREATE TABLE IF NOT EXISTS datavault.subject_keys (
    domain            text        NOT NULL,
    subject_pseudonym text        NOT NULL,
    subject_key_id    text        NOT NULL UNIQUE,
    key_id            text        NOT NULL,
    wrapped_key       bytea       NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    rewrapped_at      timestamptz,
    PRIMARY KEY (domain, subject_pseudonym)
);
CREATE INDEX IF NOT EXISTS subject_keys_key_id_idx ON datavault.subject_keys (key_id);
CREATE TABLE IF NOT EXISTS datavault.erasure_receipts (
    receipt_id         text        PRIMARY KEY,
    subject_pseudonym  text        NOT NULL,
    status             text        NOT NULL,
    requested_at       timestamptz NOT NULL,
    completed_at       timestamptz,
    stream_cutoff_ms   bigint      NOT NULL,
    receipt            jsonb       NOT NULL DEFAULT '{}'::jsonb,
    pending_record_ids jsonb       NOT NULL DEFAULT '[]'::jsonb,
    pending_reembed    jsonb       NOT NULL DEFAULT '[]'::jsonb
);
-- added with batch erasure: neighbours re-generalized (re-sealed) whose vectors are not yet re-embedded
ALTER TABLE datavault.erasure_receipts ADD COLUMN IF NOT EXISTS pending_reembed jsonb NOT NULL DEFAULT '[]'::jsonb;
CREATE INDEX IF NOT EXISTS erasure_receipts_subject_idx ON datavault.erasure_receipts (subject_pseudonym);
-- counts of what detection found in each partition's free text (entity types and numbers, never a value), read by
-- the drift check; the range's first stream id orders a domain's partitions
CREATE TABLE IF NOT EXISTS datavault.detection_stats (
    partition_key text        PRIMARY KEY,
    domain        text        NOT NULL,
    stream_ms     bigint      NOT NULL,
    stream_seq    bigint      NOT NULL,
    records       integer     NOT NULL,
    texts         integer     NOT NULL,
    chars         bigint      NOT NULL,
    detected      jsonb       NOT NULL,
    known         jsonb       NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS detection_stats_order_idx ON datavault.detection_stats (domain, stream_ms, stream_seq);
"""

_ROW_COLS = "r.domain, r.record_id, r.stream_id, r.partition_key, r.subject_pseudonym, r.key_id, r.envelope"
_SK_COLS = "sk.domain, sk.subject_pseudonym, sk.subject_key_id, sk.key_id, sk.wrapped_key"
_WITH_KEY = "LEFT JOIN datavault.subject_keys sk ON sk.domain = r.domain AND sk.subject_pseudonym = r.subject_pseudonym"
# a record is erased if its stream entry is no newer than an erasure of its subject (so replays skip it)
_ERASED = (
    "EXISTS (SELECT 1 FROM datavault.erasure_receipts e WHERE e.subject_pseudonym = {t}.subject_pseudonym "
    "AND split_part({t}.stream_id, '-', 1)::bigint <= e.stream_cutoff_ms)"
)


_NEWER = (
    "(split_part(EXCLUDED.stream_id, '-', 1)::bigint, split_part(EXCLUDED.stream_id, '-', 2)::bigint) > "
    "(split_part(r.stream_id, '-', 1)::bigint, split_part(r.stream_id, '-', 2)::bigint)"
)


@dataclass(frozen=True)
class VaultRow:
    """A sealed record as stored, with its subject's wrapped key when read (None once it is shredded).

    `key_id` is the master key that protects the record: the one wrapping its subject key (v2 envelopes),
    or the one wrapping its data key (v1).
    """

    domain: str
    record_id: str
    stream_id: str
    partition_key: str
    subject_pseudonym: str
    key_id: str
    envelope: bytes
    subject_key: WrappedSubjectKey | None = None


def _vault_row(row: Sequence) -> VaultRow:
    """A VaultRow from `_ROW_COLS, _SK_COLS` columns."""
    return VaultRow(*row[:6], bytes(row[6]), _subject_key(row[7:]))


def _detection_stats(row: Sequence) -> DetectionStats:
    return DetectionStats.from_json({"records": row[0], "texts": row[1], "chars": row[2], "detected": row[3],
                                     "known": row[4]})


def _subject_key(cols: Sequence) -> WrappedSubjectKey | None:
    if cols[0] is None:
        return None
    return WrappedSubjectKey(cols[0], cols[1], cols[2], cols[3], bytes(cols[4]))


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
    """What an upsert did: new rows, rows replaced by a newer stream entry, rows left as they were, and rows
    refused because their subject was erased after their stream entry (or their subject key is gone)."""

    inserted: int
    updated: int
    unchanged: int
    skipped_erased: int = 0


@dataclass(frozen=True)
class ShredResult:
    """What destroying one subject's key removed from the vault."""

    subject_key_ids: list[str]
    records_deleted: dict[str, int]  # per domain
    record_keys: list[tuple[str, str]]  # (domain, record_id) of the deleted records
    partitions: list[str]  # the partitions they belonged to


@dataclass(frozen=True)
class ErasureStart:
    """An erasure in progress: its receipt id, tombstone cutoff and records whose vectors are still pending."""

    receipt_id: str
    requested_at: datetime
    stream_cutoff_ms: int
    pending_record_keys: list[tuple[str, str]]
    pending_partitions: list[str]
    resumed: bool
    # (domain, record_id, partition_key) of neighbours re-sealed coarser by an interrupted run, not yet re-embedded
    pending_reembed: list[tuple[str, str, str]] = field(default_factory=list)


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
        """Insert new records; replace one only with a newer stream entry; re-runs change nothing.

        A v2 row lands only while the subject key that sealed it still exists (its subject key row is
        share-locked, so a concurrent rotation or erasure waits), and never when its subject was erased
        after its stream entry was written. `key_id` is taken from the subject key row.
        """
        if not rows:
            return UpsertCounts(0, 0, 0)
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute(
                "CREATE TEMP TABLE IF NOT EXISTS incoming (LIKE datavault.records INCLUDING DEFAULTS, "
                "subject_key_id text) ON COMMIT DROP"
            )
            cols = "domain, record_id, stream_id, partition_key, subject_pseudonym, key_id, envelope"
            with cur.copy(f"COPY incoming ({cols}, subject_key_id) FROM STDIN") as copy:
                for r in rows:
                    skid = key_id_of(r.envelope) if envelope_version(r.envelope) == SUBJECT_VERSION else None
                    copy.write_row((r.domain, r.record_id, r.stream_id, r.partition_key, r.subject_pseudonym,
                                    r.key_id, r.envelope, skid))
            cur.execute(
                """SELECT 1 FROM datavault.subject_keys sk
                   WHERE (sk.domain, sk.subject_pseudonym) IN (SELECT domain, subject_pseudonym FROM incoming)
                   ORDER BY sk.domain, sk.subject_pseudonym FOR SHARE"""
            )
            cur.execute(
                f"""CREATE TEMP TABLE IF NOT EXISTS eligible ON COMMIT DROP AS
                    SELECT i.domain, i.record_id, i.stream_id, i.partition_key, i.subject_pseudonym,
                           CASE WHEN i.subject_key_id IS NULL THEN i.key_id ELSE sk.key_id END AS key_id, i.envelope
                    FROM incoming i
                    LEFT JOIN datavault.subject_keys sk
                      ON sk.domain = i.domain AND sk.subject_pseudonym = i.subject_pseudonym
                    WHERE (i.subject_key_id IS NULL OR sk.subject_key_id = i.subject_key_id)
                      AND NOT {_ERASED.format(t="i")}"""
            )
            eligible = cur.rowcount
            cur.execute(
                f"""
                INSERT INTO datavault.records AS r ({cols})
                SELECT DISTINCT ON (domain, record_id) {cols} FROM eligible
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
        skipped = len(rows) - eligible
        return UpsertCounts(inserted, updated, len(rows) - inserted - updated - skipped, skipped)

    def erased_entries(self, entries: Sequence[tuple[str, str]]) -> set[str]:
        """Stream ids among (subject pseudonym, stream id) pairs that an erasure of their subject covers."""
        if not entries:
            return set()
        cur = self.conn.execute(
            f"""SELECT k.stream_id FROM unnest(%s::text[], %s::text[]) AS k(subject_pseudonym, stream_id)
                WHERE {_ERASED.format(t="k")}""",
            ([e[0] for e in entries], [e[1] for e in entries]),
        )
        return {row[0] for row in cur.fetchall()}

    # --- subject keys ---------------------------------------------------------------------------

    def subject_keys(self, domain: str, subjects: Iterable[str],
                     create: Callable[[str, str], WrappedSubjectKey] | None = None) -> dict[str, WrappedSubjectKey]:
        """Wrapped keys of subjects by pseudonym; with `create`, missing ones are created first.

        Race-safe with concurrent runs: candidates are inserted with ON CONFLICT DO NOTHING and every key is
        read back, so all writers of a subject seal under the one key that won.
        """
        wanted = sorted(set(subjects))
        if not wanted:
            return {}
        found = self._read_subject_keys(domain, wanted)
        missing = [s for s in wanted if s not in found]
        if missing and create is not None:
            with self.conn.transaction(), self.conn.cursor() as cur:
                cur.executemany(
                    """INSERT INTO datavault.subject_keys (domain, subject_pseudonym, subject_key_id, key_id,
                       wrapped_key) VALUES (%s, %s, %s, %s, %s) ON CONFLICT (domain, subject_pseudonym) DO NOTHING""",
                    [(k.domain, k.subject, k.subject_key_id, k.key_id, k.wrapped)
                     for k in (create(domain, s) for s in missing)],
                )
            found |= self._read_subject_keys(domain, missing)
        return found

    def _read_subject_keys(self, domain: str, subjects: list[str]) -> dict[str, WrappedSubjectKey]:
        cur = self.conn.execute(
            f"SELECT {_SK_COLS} FROM datavault.subject_keys sk WHERE sk.domain = %s AND sk.subject_pseudonym = ANY(%s)",
            (domain, subjects),
        )
        return {row[1]: _subject_key(row) for row in cur.fetchall()}  # type: ignore[misc]

    def subject_keys_not_under(self, key_id: str, partition_key: str | None = None,
                               limit: int | None = 1000) -> list[WrappedSubjectKey]:
        """Subject keys wrapped by any master key but `key_id` (of one partition's subjects, or any)."""
        sql = f"SELECT {_SK_COLS} FROM datavault.subject_keys sk WHERE sk.key_id <> %s"
        params: list = [key_id]
        if partition_key is not None:
            sql += (" AND (sk.domain, sk.subject_pseudonym) IN (SELECT domain, subject_pseudonym "
                    "FROM datavault.records WHERE partition_key = %s)")
            params.append(partition_key)
        cur = self.conn.execute(sql + " ORDER BY sk.domain, sk.subject_pseudonym LIMIT %s", (*params, limit))
        return [_subject_key(row) for row in cur.fetchall()]  # type: ignore[misc]

    def replace_subject_keys(
        self, old_and_new: Sequence[tuple[WrappedSubjectKey, WrappedSubjectKey]]
    ) -> tuple[int, int]:
        """Store re-wrapped subject keys and move their v2 records' `key_id` with them, in one transaction.

        A key changed or destroyed meanwhile (another rotation, an erasure) is left alone. Returns
        (subject keys re-wrapped, records whose key id moved).
        """
        if not old_and_new:
            return 0, 0
        cols = list(zip(*[(o.domain, o.subject, o.subject_key_id, o.key_id, n.key_id, n.wrapped)
                          for o, n in old_and_new], strict=True))
        row = self.conn.execute(
            """
            WITH moved AS (
                UPDATE datavault.subject_keys sk
                SET key_id = n.new_key_id, wrapped_key = n.wrapped, rewrapped_at = now()
                FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::bytea[])
                     AS n(domain, subject, subject_key_id, old_key_id, new_key_id, wrapped)
                WHERE sk.domain = n.domain AND sk.subject_pseudonym = n.subject
                  AND sk.subject_key_id = n.subject_key_id AND sk.key_id = n.old_key_id
                RETURNING sk.domain, sk.subject_pseudonym, sk.key_id
            ), records AS (
                UPDATE datavault.records r SET key_id = moved.key_id FROM moved
                WHERE r.domain = moved.domain AND r.subject_pseudonym = moved.subject_pseudonym
                  AND r.key_id <> moved.key_id AND get_byte(r.envelope, 0) = 2
                RETURNING 1
            )
            SELECT (SELECT count(*) FROM moved), (SELECT count(*) FROM records)
            """,
            [list(c) for c in cols],
        ).fetchone()
        return int(row[0]), int(row[1])  # type: ignore[index]

    def legacy_records(self, partition_key: str | None = None, limit: int | None = 1000) -> list[VaultRow]:
        """Records still in a version-1 envelope (sealed under a master key before subject keys existed)."""
        sql = f"SELECT {_ROW_COLS}, {_SK_COLS} FROM datavault.records r {_WITH_KEY} WHERE get_byte(r.envelope, 0) = 1"
        params: list = []
        if partition_key is not None:
            sql += " AND r.partition_key = %s"
            params.append(partition_key)
        cur = self.conn.execute(sql + " ORDER BY r.domain, r.record_id LIMIT %s", (*params, limit))
        return [_vault_row(row) for row in cur.fetchall()]

    def replace_envelopes(self, rows: Sequence[tuple[VaultRow, str, bytes]]) -> int:
        """Swap (row, new key id, new envelope) where the row still holds the envelope it was read with."""
        with self.conn.transaction(), self.conn.cursor() as cur:
            return len(self._swap_envelopes(cur, rows))

    def reseal_for_erasure(self, rows: Sequence[tuple[VaultRow, str, bytes]],
                           receipt_ids: Sequence[str]) -> list[tuple[str, str]]:
        """`replace_envelopes` for records an erasure re-generalized, noting them (in the same transaction) on
        the erasures' receipts as still to be re-embedded; returns the (domain, record_id) swapped."""
        with self.conn.transaction(), self.conn.cursor() as cur:
            swapped = self._swap_envelopes(cur, rows)
            if swapped and receipt_ids:
                done = set(swapped)
                noted = Jsonb([[r.domain, r.record_id, r.partition_key] for r, _, _ in rows
                               if (r.domain, r.record_id) in done])
                cur.execute(
                    """UPDATE datavault.erasure_receipts
                       SET pending_reembed = (SELECT coalesce(jsonb_agg(DISTINCT x), '[]'::jsonb)
                                              FROM jsonb_array_elements(pending_reembed || %s) AS x)
                       WHERE receipt_id = ANY(%s)""",
                    (noted, list(receipt_ids)),
                )
        return swapped

    @staticmethod
    def _swap_envelopes(cur: psycopg.Cursor, rows: Sequence[tuple[VaultRow, str, bytes]]) -> list[tuple[str, str]]:
        swapped = []
        for row, key_id, envelope in rows:
            cur.execute(
                """UPDATE datavault.records SET key_id = %s, envelope = %s
                   WHERE domain = %s AND record_id = %s AND envelope = %s""",
                (key_id, envelope, row.domain, row.record_id, row.envelope),
            )
            if cur.rowcount:
                swapped.append((row.domain, row.record_id))
        return swapped

    def dead_letters_not_under(self, key_id: str, partition_key: str | None = None,
                               limit: int | None = 1000) -> list[DeadLetter]:
        """Dead letters sealed under any master key but `key_id`."""
        sql = """SELECT domain, stream_id, record_id, partition_key, reason_code, field, key_id, sealed_payload
                 FROM datavault.dead_letters WHERE key_id <> %s"""
        params: list = [key_id]
        if partition_key is not None:
            sql += " AND partition_key = %s"
            params.append(partition_key)
        rows = self.conn.execute(sql + " ORDER BY domain, stream_id LIMIT %s", (*params, limit)).fetchall()
        return [DeadLetter(*row[:7], bytes(row[7])) for row in rows]

    def replace_dead_letter_seals(self, letters: Sequence[tuple[DeadLetter, str, bytes]]) -> int:
        """Swap (dead letter, new key id, new sealed payload) where it is unchanged since it was read."""
        done = 0
        with self.conn.transaction(), self.conn.cursor() as cur:
            for d, key_id, sealed in letters:
                cur.execute(
                    """UPDATE datavault.dead_letters SET key_id = %s, sealed_payload = %s
                       WHERE domain = %s AND stream_id = %s AND key_id = %s""",
                    (key_id, sealed, d.domain, d.stream_id, d.key_id),
                )
                done += cur.rowcount
        return done

    def partition_keys(self) -> list[str]:
        """Every partition that holds records or dead letters."""
        rows = self.conn.execute(
            """SELECT partition_key FROM datavault.records UNION
               SELECT partition_key FROM datavault.dead_letters ORDER BY 1"""
        ).fetchall()
        return [r[0] for r in rows]

    def key_usage(self, key_id: str) -> dict[str, int]:
        """How many subject keys, records and dead letters still depend on master key `key_id`."""
        return {
            "subject_keys": self._count("SELECT count(*) FROM datavault.subject_keys WHERE key_id = %s", key_id),
            "records": self._count("SELECT count(*) FROM datavault.records WHERE key_id = %s", key_id),
            "dead_letters": self._count("SELECT count(*) FROM datavault.dead_letters WHERE key_id = %s", key_id),
        }

    def subject_key_counts(self) -> dict[str, int]:
        """Subject keys per master key id."""
        return dict(self.conn.execute("SELECT key_id, count(*) FROM datavault.subject_keys GROUP BY key_id").fetchall())

    def _count(self, sql: str, *params: object) -> int:
        return int(self.conn.execute(sql, params).fetchone()[0])  # type: ignore[index]

    # --- erasure --------------------------------------------------------------------------------

    def start_erasure(
        self, receipt_id: str, subject: str, requested_at: datetime, stream_cutoff_ms: int
    ) -> ErasureStart:
        """Write the erasure's tombstone (from now on no entry of the subject up to the cutoff lands in the
        vault), or resume an erasure of the same subject that did not complete."""
        return self.start_erasures([(receipt_id, subject)], requested_at, stream_cutoff_ms)[0]

    def start_erasures(
        self, requests: Sequence[tuple[str, str]], requested_at: datetime, stream_cutoff_ms: int
    ) -> list[ErasureStart]:
        """`start_erasure` for (receipt id, subject) pairs of distinct subjects, in one transaction; returns
        their starts in the order given."""
        starts: dict[str, ErasureStart] = {}
        with self.conn.transaction():
            for _, subject in sorted(requests, key=lambda r: r[1]):  # one lock order: no deadlock with others
                self.conn.execute("SELECT pg_advisory_xact_lock(hashtext('datavault.erasure|' || %s))", (subject,))
            subjects = [s for _, s in requests]
            rows = self.conn.execute(
                """SELECT DISTINCT ON (subject_pseudonym) subject_pseudonym, receipt_id, requested_at,
                          stream_cutoff_ms, pending_record_ids, pending_reembed
                   FROM datavault.erasure_receipts WHERE subject_pseudonym = ANY(%s) AND status = 'in_progress'
                   ORDER BY subject_pseudonym, requested_at""",
                (subjects,),
            ).fetchall()
            for subject, receipt_id, requested, cutoff, pending, reembed in rows:
                starts[subject] = ErasureStart(
                    receipt_id, requested, max(cutoff, stream_cutoff_ms), sorted({(k[0], k[1]) for k in pending}),
                    sorted({k[2] for k in pending}), resumed=True,
                    pending_reembed=sorted({(k[0], k[1], k[2]) for k in reembed}),
                )
            with self.conn.cursor() as cur:
                if starts:
                    cur.execute(
                        "UPDATE datavault.erasure_receipts SET stream_cutoff_ms = greatest(stream_cutoff_ms, %s) "
                        "WHERE receipt_id = ANY(%s)", (stream_cutoff_ms, [s.receipt_id for s in starts.values()]),
                    )
                new = [(rid, s) for rid, s in requests if s not in starts]
                cur.executemany(
                    """INSERT INTO datavault.erasure_receipts (receipt_id, subject_pseudonym, status, requested_at,
                       stream_cutoff_ms) VALUES (%s, %s, 'in_progress', %s, %s)""",
                    [(rid, s, requested_at, stream_cutoff_ms) for rid, s in new],
                )
            for rid, s in new:
                starts[s] = ErasureStart(rid, requested_at, stream_cutoff_ms, [], [], resumed=False)
        return [starts[s] for _, s in requests]

    def shred_subject(self, subject: str, receipt_id: str) -> ShredResult:
        """Destroy a subject's keys and delete its records, in one transaction that also notes (in the
        receipt, until the erasure completes) which records and partitions those were."""
        return self.shred_subjects([(subject, receipt_id)])[subject]

    def shred_subjects(self, requests: Sequence[tuple[str, str]]) -> dict[str, ShredResult]:
        """`shred_subject` for (subject, receipt id) pairs of distinct subjects, all in one transaction."""
        subjects = [s for s, _ in requests]
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute(
                """DELETE FROM datavault.subject_keys WHERE subject_pseudonym = ANY(%s)
                   RETURNING subject_pseudonym, subject_key_id""", (subjects,),
            )
            skids: dict[str, list[str]] = {}
            for subject, skid in cur.fetchall():
                skids.setdefault(subject, []).append(skid)
            cur.execute(
                """DELETE FROM datavault.records WHERE subject_pseudonym = ANY(%s)
                   RETURNING subject_pseudonym, domain, record_id, partition_key""", (subjects,),
            )
            deleted: dict[str, list[tuple[str, str, str]]] = {}
            for subject, *row in cur.fetchall():
                deleted.setdefault(subject, []).append(tuple(row))
            cur.executemany(
                """UPDATE datavault.erasure_receipts
                   SET pending_record_ids = (SELECT coalesce(jsonb_agg(DISTINCT x), '[]'::jsonb)
                                             FROM jsonb_array_elements(pending_record_ids || %s) AS x)
                   WHERE receipt_id = %s""",
                [(Jsonb([list(k) for k in sorted(deleted[s])]), rid) for s, rid in requests if deleted.get(s)],
            )
        out = {}
        for subject in subjects:
            rows = sorted(deleted.get(subject, []))
            per_domain: dict[str, int] = {}
            for domain, _, _ in rows:
                per_domain[domain] = per_domain.get(domain, 0) + 1
            out[subject] = ShredResult(sorted(skids.get(subject, [])), per_domain, [(r[0], r[1]) for r in rows],
                                       sorted({r[2] for r in rows}))
        return out

    def dead_letter_stream_ids(self, domain: str, stream_ids: Sequence[str]) -> set[str]:
        """Which of a domain's stream ids are dead letters."""
        if not stream_ids:
            return set()
        rows = self.conn.execute(
            "SELECT stream_id FROM datavault.dead_letters WHERE domain = %s AND stream_id = ANY(%s)",
            (domain, list(stream_ids)),
        ).fetchall()
        return {row[0] for row in rows}

    def quarantine(self, rows: Sequence[VaultRow], letters: Sequence[DeadLetter]) -> int:
        """Move records out of the vault into the dead letters in one transaction (an operator's way out of a
        blocking check that found a true leak); returns the records removed."""
        with self.conn.transaction(), self.conn.cursor() as cur:
            for d in letters:
                cur.execute(
                    """INSERT INTO datavault.dead_letters
                       (domain, stream_id, record_id, partition_key, reason_code, field, key_id, sealed_payload)
                       VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING""",
                    (d.domain, d.stream_id, d.record_id, d.partition_key, d.reason_code, d.field, d.key_id,
                     d.sealed_payload),
                )
            cur.execute(
                """DELETE FROM datavault.records r USING unnest(%s::text[], %s::text[], %s::text[]) AS k(d, id, sid)
                   WHERE r.domain = k.d AND r.record_id = k.id AND r.stream_id = k.sid""",
                ([r.domain for r in rows], [r.record_id for r in rows], [r.stream_id for r in rows]),
            )
            return cur.rowcount

    def delete_dead_letters(self, keys: Sequence[tuple[str, str]]) -> int:
        """Delete dead letters by (domain, stream_id)."""
        if not keys:
            return 0
        cur = self.conn.execute(
            """DELETE FROM datavault.dead_letters d USING unnest(%s::text[], %s::text[]) AS k(dom, sid)
               WHERE d.domain = k.dom AND d.stream_id = k.sid""",
            ([k[0] for k in keys], [k[1] for k in keys]),
        )
        return cur.rowcount

    def complete_erasure(self, receipt_id: str, completed_at: datetime, receipt: dict) -> None:
        """Store the final receipt and forget which records were involved (counts stay, ids go)."""
        self.complete_erasures([(receipt_id, completed_at, receipt)])

    def complete_erasures(self, receipts: Sequence[tuple[str, datetime, dict]]) -> None:
        """`complete_erasure` for several (receipt id, completed at, receipt), in one transaction."""
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.executemany(
                """UPDATE datavault.erasure_receipts SET status = 'complete', completed_at = %s, receipt = %s,
                   pending_record_ids = '[]'::jsonb, pending_reembed = '[]'::jsonb WHERE receipt_id = %s""",
                [(completed_at, Jsonb(receipt), receipt_id) for receipt_id, completed_at, receipt in receipts],
            )

    def erasure_receipts(self, subject: str | None = None) -> list[dict]:
        """Stored receipts (newest last), all or of one subject pseudonym."""
        sql = "SELECT status, receipt, receipt_id, subject_pseudonym FROM datavault.erasure_receipts"
        params: tuple[str, ...] = ()
        if subject is not None:
            sql += " WHERE subject_pseudonym = %s"
            params = (subject,)
        rows = self.conn.execute(sql + " ORDER BY requested_at", params).fetchall()
        return [{**(r[1] or {}), "status": r[0], "receipt_id": r[2], "subject_pseudonym": r[3]} for r in rows]

    def subject_record_count(self, subject: str) -> int:
        """Records of a subject pseudonym still in the vault."""
        return self._count("SELECT count(*) FROM datavault.records WHERE subject_pseudonym = %s", subject)

    def subject_key_count(self, subject: str) -> int:
        """Keys of a subject pseudonym still in the vault."""
        return self._count("SELECT count(*) FROM datavault.subject_keys WHERE subject_pseudonym = %s", subject)

    def subjects_left(self, subjects: Sequence[str]) -> dict[str, tuple[int, int]]:
        """(subject keys, records) still in the vault for each of the given subject pseudonyms."""
        keys = dict(self.conn.execute(
            """SELECT subject_pseudonym, count(*) FROM datavault.subject_keys WHERE subject_pseudonym = ANY(%s)
               GROUP BY 1""", (list(subjects),)).fetchall())
        records = dict(self.conn.execute(
            """SELECT subject_pseudonym, count(*) FROM datavault.records WHERE subject_pseudonym = ANY(%s)
               GROUP BY 1""", (list(subjects),)).fetchall())
        return {s: (int(keys.get(s, 0)), int(records.get(s, 0))) for s in subjects}

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
            f"""SELECT {_ROW_COLS}, {_SK_COLS} FROM datavault.records r {_WITH_KEY}
                WHERE r.partition_key = %s ORDER BY r.domain, r.record_id""",
            (partition_key,),
        )
        return [_vault_row(row) for row in cur.fetchall()]

    def subject_record_keys(self, subjects: Sequence[tuple[str, str]], limit: int) -> list[tuple[str, str]]:
        """(domain, record_id) of the given subjects' records, newest stream entries first."""
        if not subjects:
            return []
        rows = self.conn.execute(
            """SELECT r.domain, r.record_id FROM datavault.records r
               JOIN unnest(%s::text[], %s::text[]) AS s(d, subj)
                 ON r.domain = s.d AND r.subject_pseudonym = s.subj
               ORDER BY split_part(r.stream_id, '-', 1)::bigint DESC, split_part(r.stream_id, '-', 2)::bigint DESC
               LIMIT %s""",
            ([s[0] for s in subjects], [s[1] for s in subjects], limit),
        ).fetchall()
        return [(d, rid) for d, rid in rows]

    def get_records(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], VaultRow]:
        """Records by (domain, record_id); missing keys (e.g. erased subjects) are simply absent."""
        if not keys:
            return {}
        cur = self.conn.execute(
            f"""SELECT {_ROW_COLS}, {_SK_COLS} FROM datavault.records r
                JOIN unnest(%s::text[], %s::text[]) AS k(d, id) ON r.domain = k.d AND r.record_id = k.id
                {_WITH_KEY}""",
            ([k[0] for k in keys], [k[1] for k in keys]),
        )
        return {(row[0], row[1]): _vault_row(row) for row in cur.fetchall()}

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

    def dead_letter_reasons(self) -> dict[str, dict[str, int]]:
        """Dead letters per domain and reason code."""
        out: dict[str, dict[str, int]] = {}
        for domain, reason, n in self.conn.execute(
                "SELECT domain, reason_code, count(*) FROM datavault.dead_letters GROUP BY 1, 2 ORDER BY 1, 2"):
            out.setdefault(domain, {})[reason] = n
        return out

    # --- detection statistics (counts only) ------------------------------------------------------------

    def put_detection_stats(self, rng: StreamRange, stats: DetectionStats) -> None:
        """Store a partition's detection counts. A re-run replaces them unless it sealed fewer records: once a
        succeeded range is trimmed from Redis (or entries were quarantined or erased) a re-run reads less, and the
        counts of the range as it was first sealed stay the partition's baseline for the drift check."""
        ms, seq = parse_stream_id(rng.start)
        self.conn.execute(
            """INSERT INTO datavault.detection_stats
               (partition_key, domain, stream_ms, stream_seq, records, texts, chars, detected, known)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (partition_key) DO UPDATE SET records = EXCLUDED.records, texts = EXCLUDED.texts,
                   chars = EXCLUDED.chars, detected = EXCLUDED.detected, known = EXCLUDED.known, created_at = now()
               WHERE EXCLUDED.records >= datavault.detection_stats.records""",
            (rng.partition_key, rng.domain, ms, seq, stats.records, stats.texts, stats.chars,
             Jsonb(dict(stats.detected)), Jsonb(dict(stats.known))),
        )

    def detection_stats(self, partition_key: str) -> DetectionStats | None:
        """A partition's detection counts (None: sealed before they were kept)."""
        row = self.conn.execute(
            "SELECT records, texts, chars, detected, known FROM datavault.detection_stats WHERE partition_key = %s",
            (partition_key,),
        ).fetchone()
        return _detection_stats(row) if row else None

    def detection_history(self, rng: StreamRange, limit: int) -> list[DetectionStats]:
        """The detection counts of the `limit` partitions of the range's domain just before it in the stream
        (oldest first), whenever and wherever they ran; partitions without free text are skipped."""
        ms, seq = parse_stream_id(rng.start)
        rows = self.conn.execute(
            """SELECT records, texts, chars, detected, known FROM datavault.detection_stats
               WHERE domain = %s AND (stream_ms, stream_seq) < (%s, %s) AND chars > 0
               ORDER BY stream_ms DESC, stream_seq DESC LIMIT %s""",
            (rng.domain, ms, seq, limit),
        ).fetchall()
        return [_detection_stats(row) for row in reversed(rows)]

    def key_id_counts(self, partition_key: str | None = None) -> dict[str, int]:
        """Records per master key id (all, or of one partition)."""
        sql = "SELECT key_id, count(*) FROM datavault.records"
        params: tuple[str, ...] = ()
        if partition_key is not None:
            sql += " WHERE partition_key = %s"
            params = (partition_key,)
        return dict(self.conn.execute(sql + " GROUP BY key_id", params).fetchall())
