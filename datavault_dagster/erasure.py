"""The right to erasure: crypto-shred one subject and remove every other trace of it (CLI and Dagster job).

Order matters: the tombstone (an in-progress receipt with a stream cutoff) is written first, so no run can
seal the subject's old entries again; raw PII leaves Redis next; then the subject key is destroyed and its
records deleted in one transaction that notes their ids in the receipt, and its sealed identities (the names
behind its person pseudonyms) are deleted; the partitions it left are brought back to k-anonymity; then its
vectors are removed from LanceDB down to the files on disk; the finished receipt keeps counts and
timestamps, not ids. An interrupted erasure is resumed by running it again.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from .domain.batches import parse_stream_id
from .domain.crypto import Keyring
from .domain.erasure import check_subject_pseudonym, subject_of_dead_letter, subject_of_entry
from .domain.errors import InvalidToken
from .domain.quasi import enforce_k, present_fields, quasi_identifiers
from .domain.records import DOMAINS
from .pipeline import open_record
from .services.identities import Identities
from .services.streams import Streams
from .services.vault import Vault
from .services.vectors import VectorStore

log = logging.getLogger(__name__)

STEPS = ("tombstone", "raw stream entries", "dead letters", "subject key and records", "k-anonymity", "vectors",
         "receipt")


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def stream_cutoff_ms(streams: Streams, domains: Sequence[str]) -> int:
    """Every stream entry written so far has an id at or below this millisecond (server clock or last id)."""
    newest = [parse_stream_id(i)[0] for d in domains if (i := streams.last_id(d))]
    return max([streams.time_ms(), *newest])


def regeneralize_partition(partition_key: str, vault: Vault, keyring: Keyring, min_k: int) -> int:
    """Restore k-anonymity of a partition's stored records after some left it; returns records re-sealed.

    Erasing a subject can shrink an equivalence class of quasi-identifiers below k, exposing the others in it:
    the remaining records are coarsened again (the same ladder as at ingestion) and re-sealed under their own
    subject keys.
    """
    if min_k <= 1:
        return 0
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
    return vault.replace_envelopes(swaps)


def forget_subject(
    subject: str,
    *,
    streams: Streams,
    vault: Vault,
    vectors: VectorStore,
    keyring: Keyring,
    pseudonym: Callable[[str, str], str],
    domains: Sequence[str] = DOMAINS,
    on_step: Callable[[str, dict], None] = lambda step, counts: None,
    clock: Callable[[], datetime] = _now,
    identities: Identities | None = None,
    min_k: int = 1,
) -> dict:
    """Erase one subject (by pseudonym `S-…`) everywhere; returns the stored erasure receipt."""
    check_subject_pseudonym(subject)
    requested_at = clock()
    start = vault.start_erasure(uuid.uuid4().hex, subject, requested_at, stream_cutoff_ms(streams, domains))
    on_step("tombstone", {"receipt_id": start.receipt_id, "resumed": start.resumed})

    raw_deleted: dict[str, int] = {}
    scanned = unattributed = 0
    for domain in domains:
        mine: list[str] = []
        for entry in streams.scan(domain):
            scanned += 1
            owner = subject_of_entry(domain, entry.fields, keyring, pseudonym)
            unattributed += owner is None
            if owner == subject:
                mine.append(entry.stream_id)
        if mine:
            raw_deleted[domain] = streams.delete_ids(domain, mine)
    on_step("raw stream entries", {"scanned": scanned, "deleted": sum(raw_deleted.values())})

    dl_stream_deleted = dl_unattributed = 0
    for domain in domains:
        mine = []
        for entry in streams.scan(domain, dead_letters=True):
            try:
                sealed = base64.b64decode(entry.fields.get("sealed", ""), validate=True)
            except (binascii.Error, ValueError):
                sealed = b""
            owner = subject_of_dead_letter(domain, entry.fields.get("stream_id", ""), sealed, keyring, pseudonym)
            if owner == subject:
                mine.append(entry.stream_id)
        dl_stream_deleted += streams.delete_ids(domain, mine, dead_letters=True)
    letters = vault.dead_letters()
    mine_letters = []
    for d in letters:
        owner = subject_of_dead_letter(d.domain, d.stream_id, d.sealed_payload, keyring, pseudonym)
        dl_unattributed += owner is None
        if owner == subject:
            mine_letters.append((d.domain, d.stream_id))
    dl_deleted = vault.delete_dead_letters(mine_letters)
    on_step("dead letters", {"scanned": len(letters), "deleted": dl_deleted,
                             "stream_entries_deleted": dl_stream_deleted})

    shred = vault.shred_subject(subject, start.receipt_id)
    identities_deleted = identities.forget_subject(subject) if identities is not None else 0
    on_step("subject key and records", {"subject_keys_destroyed": len(shred.subject_key_ids),
                                        "records_deleted": sum(shred.records_deleted.values()),
                                        "identities_deleted": identities_deleted})

    partitions = sorted(set(shred.partitions) | set(start.pending_partitions))
    regeneralized = sum(regeneralize_partition(p, vault, keyring, min_k) for p in partitions)
    on_step("k-anonymity", {"partitions": len(partitions), "records_regeneralized": regeneralized})

    record_keys = sorted(set(shred.record_keys) | set(start.pending_record_keys))
    erased = vectors.erase_records(record_keys)
    remaining_vectors = vectors.count_records(record_keys)
    on_step("vectors", {"deleted": erased.vectors_deleted, "remaining": remaining_vectors})

    completed_at = clock()
    receipt = {
        "receipt_id": start.receipt_id,
        "subject_pseudonym": subject,
        "requested_at": _iso(start.requested_at),
        "completed_at": _iso(completed_at),
        "resumed": start.resumed,
        "stream_cutoff_ms": start.stream_cutoff_ms,
        "removed": {
            "subject_keys_destroyed": len(shred.subject_key_ids),
            "vault_records_deleted": sum(shred.records_deleted.values()),
            "vault_records_deleted_by_domain": shred.records_deleted,
            "vectors_deleted": erased.vectors_deleted,
            "lancedb_fragments_rewritten": erased.fragments_rewritten,
            "lancedb_old_versions_removed": erased.versions_removed,
            "raw_stream_entries_deleted": sum(raw_deleted.values()),
            "raw_stream_entries_deleted_by_domain": raw_deleted,
            "dead_letters_deleted": dl_deleted,
            "dead_letter_stream_entries_deleted": dl_stream_deleted,
            "identities_deleted": identities_deleted,
        },
        "k_anonymity": {"target_k": min_k, "partitions_checked": len(partitions),
                        "records_regeneralized": regeneralized},
        "scanned": {
            "raw_stream_entries": scanned,
            "raw_stream_entries_naming_no_subject": unattributed,
            "dead_letters": len(letters),
            "dead_letters_naming_no_subject": dl_unattributed,
        },
        "verified": {
            "subject_keys_left": vault.subject_key_count(subject),
            "vault_records_left": vault.subject_record_count(subject),
            "identities_left": identities.count_subject(subject) if identities is not None else 0,
            "vectors_left": remaining_vectors,
            "lancedb_versions_left": erased.versions_left,
        },
    }
    vault.complete_erasure(start.receipt_id, completed_at, receipt)
    on_step("receipt", {"receipt_id": start.receipt_id})
    log.info("erasure %s complete: %s", start.receipt_id, receipt["removed"])
    return receipt
