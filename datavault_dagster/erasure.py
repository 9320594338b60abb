"""The right to erasure: crypto-shred subjects and remove every other trace of them (CLI and Dagster job).

Order matters: the tombstones (in-progress receipts with a stream cutoff) are written first, so no run can
seal the subjects' old entries again; raw PII leaves Redis next; then the subject keys are destroyed and
their records deleted in one transaction that notes their ids in the receipts, and their sealed identities
(the names behind their person pseudonyms) are deleted; the partitions they left are brought back to
k-anonymity and the neighbours coarsened there are re-embedded; then the subjects' vectors are removed from
LanceDB (and the neighbours' old vectors replaced) down to the files on disk; each finished receipt keeps
counts and timestamps, not ids. A batch does each step once for all its subjects. An interrupted erasure is
resumed by running it again.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from .domain.anonymize import Anonymizer
from .domain.batches import StreamRange, parse_stream_id
from .domain.crypto import Keyring
from .domain.embed import Embedder
from .domain.erasure import check_subject_pseudonyms, subject_of_dead_letter, subject_of_entry
from .domain.errors import InvalidToken
from .domain.quasi import enforce_k, present_fields, quasi_identifiers
from .domain.records import DOMAINS
from .pipeline import EmbedReport, embed_records, known_pii_of_range, open_record
from .services.identities import Identities
from .services.streams import Streams
from .services.vault import Vault
from .services.vectors import VectorErasure, VectorRow, VectorStore

log = logging.getLogger(__name__)

STEPS = ("tombstone", "raw stream entries", "dead letters", "subject key and records", "k-anonymity", "re-embed",
         "vectors", "receipt")


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def stream_cutoff_ms(streams: Streams, domains: Sequence[str]) -> int:
    """Every stream entry written so far has an id at or below this millisecond (server clock or last id)."""
    newest = [parse_stream_id(i)[0] for d in domains if (i := streams.last_id(d))]
    return max([streams.time_ms(), *newest])


def regeneralize_partition(partition_key: str, vault: Vault, keyring: Keyring, min_k: int,
                           receipt_ids: Sequence[str] = ()) -> list[tuple[str, str]]:
    """Restore k-anonymity of a partition's stored records after some left it; returns the (domain, record_id)
    re-sealed, which are also noted on the erasures' receipts `receipt_ids` as still to be re-embedded.

    Erasing a subject can shrink an equivalence class of quasi-identifiers below k, exposing the others in it:
    the remaining records are coarsened again (the same ladder as at ingestion) and re-sealed under their own
    subject keys.
    """
    if min_k <= 1:
        return []
    rows, docs = [], []
    for row in vault.partition_records(partition_key):
        try:
            docs.append(open_record(row, keyring))
        except InvalidToken:
            continue
        rows.append(row)
    qis = [quasi_identifiers(d) for d in docs]
    before = [dict(q) for q in qis]
    enforce_k(qis, present_fields(qis), min_k)  # coarsens the documents' quasi-identifier blocks in place
    swaps = [
        (row, row.key_id, keyring.seal(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode(),
                                       domain=row.domain, record_id=row.record_id, subject_key=row.subject_key))
        for row, doc, q, old in zip(rows, docs, qis, before, strict=True) if q != old
    ]
    return vault.reseal_for_erasure(swaps, receipt_ids)


def _scan_raw_entries(subjects: set[str], streams: Streams, domains: Sequence[str], keyring: Keyring,
                      pseudonym: Callable[[str, str], str]) -> tuple[dict[str, dict[str, int]], int, int]:
    """Delete the subjects' raw stream entries in one scan per stream: (deleted per subject per domain,
    entries scanned, entries naming no subject)."""
    deleted: dict[str, dict[str, int]] = {}
    scanned = unattributed = 0
    for domain in domains:
        mine: dict[str, list[str]] = {}
        for entry in streams.scan(domain):
            scanned += 1
            owner = subject_of_entry(domain, entry.fields, keyring, pseudonym)
            unattributed += owner is None
            if owner in subjects:
                mine.setdefault(owner, []).append(entry.stream_id)
        for owner, ids in mine.items():
            deleted.setdefault(owner, {})[domain] = streams.delete_ids(domain, ids)
    return deleted, scanned, unattributed


def _scan_dead_letters(subjects: set[str], streams: Streams, vault: Vault, domains: Sequence[str],
                       keyring: Keyring, pseudonym: Callable[[str, str], str]) -> dict:
    """Delete the subjects' dead letters (stream and table) in one scan of each; per-subject counts and totals."""
    stream_deleted: dict[str, int] = {}
    for domain in domains:
        mine: dict[str, list[str]] = {}
        for entry in streams.scan(domain, dead_letters=True):
            try:
                sealed = base64.b64decode(entry.fields.get("sealed", ""), validate=True)
            except (binascii.Error, ValueError):
                sealed = b""
            owner = subject_of_dead_letter(domain, entry.fields.get("stream_id", ""), sealed, keyring, pseudonym)
            if owner in subjects:
                mine.setdefault(owner, []).append(entry.stream_id)
        for owner, ids in mine.items():
            stream_deleted[owner] = stream_deleted.get(owner, 0) + streams.delete_ids(domain, ids, dead_letters=True)
    letters = vault.dead_letters()
    mine_letters: dict[str, list[tuple[str, str]]] = {}
    unattributed = 0
    for d in letters:
        owner = subject_of_dead_letter(d.domain, d.stream_id, d.sealed_payload, keyring, pseudonym)
        unattributed += owner is None
        if owner in subjects:
            mine_letters.setdefault(owner, []).append((d.domain, d.stream_id))
    deleted = {owner: vault.delete_dead_letters(keys) for owner, keys in mine_letters.items()}
    return {"deleted": deleted, "stream_deleted": stream_deleted, "scanned": len(letters),
            "unattributed": unattributed}


def _reembed(keys: Iterable[tuple[str, str, str]], *, vault: Vault, keyring: Keyring, embedder: Embedder,
             streams: Streams, anonymizer: Anonymizer | None) -> tuple[list[VectorRow], EmbedReport]:
    """Embed the current (coarser) text of re-generalized records, as the pipeline does, leak guard included:
    the raw identifiers of their partitions' ranges still in Redis (with an anonymizer) feed the guard."""
    keys = sorted(set(keys))
    report = EmbedReport(partition_key="")
    if not keys:
        return [], report
    raw: set[str] = set()
    if anonymizer is not None:
        for partition_key in sorted({p for _, _, p in keys}):
            try:
                rng = StreamRange.from_partition_key(partition_key)
            except ValueError:
                continue
            raw.update(known_pii_of_range(rng, streams, keyring, anonymizer))
    rows = vault.get_records([(d, rid) for d, rid, _ in keys])  # erased since they were noted: absent
    vectors = embed_records([rows[k] for k in sorted(rows)], keyring, embedder, report, sorted(raw))
    return vectors, report


def forget_subject(subject: str, **services: Any) -> dict:  # noqa: ANN401
    """Erase one subject (by pseudonym `S-…`) everywhere; returns the stored erasure receipt.

    The batch of one: `forget_subjects([subject], ...)` (same keyword arguments).
    """
    return forget_subjects([subject], **services)["receipts"][0]


def forget_subjects(
    subjects: Sequence[str],
    *,
    streams: Streams,
    vault: Vault,
    vectors: VectorStore,
    keyring: Keyring,
    pseudonym: Callable[[str, str], str],
    embedder: Embedder,
    domains: Sequence[str] = DOMAINS,
    on_step: Callable[[str, dict], None] = lambda step, counts: None,
    clock: Callable[[], datetime] = _now,
    identities: Identities | None = None,
    min_k: int = 1,
    anonymizer: Anonymizer | None = None,
) -> dict:
    """Erase a batch of subjects (by pseudonym `S-…`) everywhere, each step once for all of them.

    Every pseudonym is checked first: one that is not refuses the whole batch (`InvalidSubject` naming its
    position, never the value) before anything is touched; duplicates count once. Returns
    `{"summary": ..., "receipts": [...]}`, one stored receipt per subject in the order given. Shared steps
    (k-anonymity per partition, the LanceDB rewrite and cleanup, the scans) run once; a receipt reports the
    shared figures of the partitions its subject left, so they may be counted in more than one receipt.
    """
    given = list(subjects)
    wanted = check_subject_pseudonyms(given)
    batch_id = uuid.uuid4().hex
    requested_at = clock()
    starts = dict(zip(wanted, vault.start_erasures([(uuid.uuid4().hex, s) for s in wanted], requested_at,
                                                   stream_cutoff_ms(streams, domains)), strict=True))
    on_step("tombstone", {"subjects": len(wanted), "resumed": sum(s.resumed for s in starts.values())})

    raw_deleted, scanned, unattributed = _scan_raw_entries(set(wanted), streams, domains, keyring, pseudonym)
    on_step("raw stream entries", {"scanned": scanned,
                                   "deleted": sum(n for d in raw_deleted.values() for n in d.values())})

    dl = _scan_dead_letters(set(wanted), streams, vault, domains, keyring, pseudonym)
    on_step("dead letters", {"scanned": dl["scanned"], "deleted": sum(dl["deleted"].values()),
                             "stream_entries_deleted": sum(dl["stream_deleted"].values())})

    shreds = vault.shred_subjects([(s, starts[s].receipt_id) for s in wanted]) if wanted else {}
    identities_deleted = identities.forget_subjects(wanted) if identities is not None and wanted else {}
    on_step("subject key and records", {"subject_keys_destroyed": sum(len(r.subject_key_ids) for r in shreds.values()),
                                        "records_deleted": sum(len(r.record_keys) for r in shreds.values()),
                                        "identities_deleted": sum(identities_deleted.values())})

    partitions_of = {s: sorted(set(shreds[s].partitions) | set(starts[s].pending_partitions)) for s in wanted}
    receipts_in: dict[str, list[str]] = {}
    for s in wanted:
        for p in partitions_of[s]:
            receipts_in.setdefault(p, []).append(starts[s].receipt_id)
    regeneralized = {p: regeneralize_partition(p, vault, keyring, min_k, receipts_in[p]) for p in sorted(receipts_in)}
    on_step("k-anonymity", {"partitions": len(regeneralized),
                            "records_regeneralized": sum(len(v) for v in regeneralized.values())})

    to_reembed = {(d, rid, p) for p, keys in regeneralized.items() for d, rid in keys}
    to_reembed |= {k for s in wanted for k in starts[s].pending_reembed}
    new_vectors, embedded = _reembed(to_reembed, vault=vault, keyring=keyring, embedder=embedder, streams=streams,
                                     anonymizer=anonymizer)
    on_step("re-embed", {"records": embedded.records, "vectors": embedded.chunks,
                         "held_back": len(embedded.blocked) + len(embedded.unreadable)})

    record_keys = {s: sorted(set(shreds[s].record_keys) | set(starts[s].pending_record_keys)) for s in wanted}
    all_keys = sorted({k for keys in record_keys.values() for k in keys})
    erased = vectors.erase_records(all_keys, replace=sorted({(d, rid) for d, rid, _ in to_reembed}),
                                   rows=new_vectors)
    remaining = vectors.record_counts(all_keys)
    on_step("vectors", {"deleted": erased.vectors_deleted, "replaced": erased.vectors_replaced,
                        "written": erased.vectors_written, "remaining": sum(remaining.values())})

    completed_at = clock()
    left = vault.subjects_left(wanted) if wanted else {}
    identities_left = identities.count_subjects(wanted) if identities is not None and wanted else {}
    vectors_of = Counter((r.domain, r.record_id) for r in new_vectors)
    reembedded_in: dict[str, set[tuple[str, str]]] = {}  # partition -> its records re-embedded
    for d, rid, p in to_reembed:
        if vectors_of[(d, rid)]:
            reembedded_in.setdefault(p, set()).add((d, rid))
    held_back = set(embedded.blocked) | set(embedded.unreadable)
    receipts = []
    for s in wanted:
        start, shred, parts = starts[s], shreds[s], partitions_of[s]
        by_domain = raw_deleted.get(s, {})
        reembedded = {key for p in parts for key in reembedded_in.get(p, ())}
        receipt = {
            "receipt_id": start.receipt_id,
            "subject_pseudonym": s,
            "requested_at": _iso(start.requested_at),
            "completed_at": _iso(completed_at),
            "resumed": start.resumed,
            "stream_cutoff_ms": start.stream_cutoff_ms,
            "removed": {
                "subject_keys_destroyed": len(shred.subject_key_ids),
                "vault_records_deleted": sum(shred.records_deleted.values()),
                "vault_records_deleted_by_domain": shred.records_deleted,
                "vectors_deleted": sum(erased.deleted_by_record.get(k, 0) for k in record_keys[s]),
                "lancedb_fragments_rewritten": erased.fragments_rewritten,
                "lancedb_old_versions_removed": erased.versions_removed,
                "raw_stream_entries_deleted": sum(by_domain.values()),
                "raw_stream_entries_deleted_by_domain": by_domain,
                "dead_letters_deleted": dl["deleted"].get(s, 0),
                "dead_letter_stream_entries_deleted": dl["stream_deleted"].get(s, 0),
                "identities_deleted": identities_deleted.get(s, 0),
            },
            "k_anonymity": {
                "target_k": min_k, "partitions_checked": len(parts),
                "records_regeneralized": sum(len(regeneralized.get(p, [])) for p in parts),
                "records_reembedded": len(reembedded),
                "vectors_reembedded": sum(vectors_of[k] for k in reembedded),
                "reembed_held_back": sum(1 for d, rid, p in to_reembed if p in parts and rid in held_back),
            },
            "scanned": {
                "raw_stream_entries": scanned,
                "raw_stream_entries_naming_no_subject": unattributed,
                "dead_letters": dl["scanned"],
                "dead_letters_naming_no_subject": dl["unattributed"],
            },
            "verified": {
                "subject_keys_left": left[s][0],
                "vault_records_left": left[s][1],
                "identities_left": identities_left.get(s, 0),
                "vectors_left": sum(remaining.get(k, 0) for k in record_keys[s]),
                "lancedb_versions_left": erased.versions_left,
            },
        }
        if len(wanted) > 1:
            receipt["batch"] = {"batch_id": batch_id, "subjects": len(wanted)}
        receipts.append(receipt)
    vault.complete_erasures([(r["receipt_id"], completed_at, r) for r in receipts])
    on_step("receipt", {"receipts": len(receipts)})
    summary = _summary(batch_id, receipts, len(given), requested_at, completed_at, regeneralized,
                       embedded, new_vectors, erased)
    log.info("erasure batch %s complete: %s", batch_id, summary["removed"])
    return {"summary": summary, "receipts": receipts}


def _summary(batch_id: str, receipts: list[dict], given: int, requested_at: datetime, completed_at: datetime,
             regeneralized: dict[str, list[tuple[str, str]]], embedded: EmbedReport, new_vectors: list[VectorRow],
             erased: VectorErasure) -> dict:
    """Totals of a batch (the shared steps counted once) and whether anything of any subject is left."""
    def total(section: str, name: str) -> int:
        return sum(r[section][name] for r in receipts)

    per_subject = ("subject_keys_destroyed", "vault_records_deleted", "vectors_deleted", "raw_stream_entries_deleted",
                   "dead_letters_deleted", "dead_letter_stream_entries_deleted", "identities_deleted")
    left = ("subject_keys_left", "vault_records_left", "identities_left", "vectors_left")
    first = receipts[0] if receipts else None
    return {
        "batch_id": batch_id,
        "subjects": len(receipts),
        "duplicates_ignored": given - len(receipts),
        "receipt_ids": {r["subject_pseudonym"]: r["receipt_id"] for r in receipts},
        "requested_at": _iso(requested_at),
        "completed_at": _iso(completed_at),
        "resumed": sum(r["resumed"] for r in receipts),
        "removed": {
            **{name: total("removed", name) for name in per_subject},
            "lancedb_fragments_rewritten": erased.fragments_rewritten,
            "lancedb_old_versions_removed": erased.versions_removed,
        },
        "k_anonymity": {
            "target_k": first["k_anonymity"]["target_k"] if first else None,
            "partitions_checked": len(regeneralized),
            "records_regeneralized": sum(len(v) for v in regeneralized.values()),
            "records_reembedded": len({(r.domain, r.record_id) for r in new_vectors}),
            "vectors_reembedded": len(new_vectors),
            "reembed_held_back": len(embedded.blocked) + len(embedded.unreadable),
        },
        "scanned": first["scanned"] if first else {},
        "verified": {
            "subjects_with_data_left": sum(any(r["verified"][n] for n in left) for r in receipts),
            **{name: total("verified", name) for name in left},
            "lancedb_versions_left": erased.versions_left,
        },
    }
