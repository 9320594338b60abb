"""Dead letters for operators: list them (ids, reason codes and fields only) and replay them after a fix."""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from .domain.anonymize import Anonymizer
from .domain.batches import StreamRange
from .domain.crypto import Keyring
from .domain.errors import InvalidToken
from .domain.records import stream_marker
from .pipeline import dead_letter_fields, dead_letter_payload, scan_partition
from .services.streams import Streams, encode_fields, raw_stream
from .services.vault import DeadLetter, Vault

log = logging.getLogger(__name__)


def select(vault: Vault, *, domain: str | None = None, partition_key: str | None = None,
           reason: str | None = None, stream_ids: Sequence[str] = ()) -> list[DeadLetter]:
    """Dead letters matching every given filter (all of them if none is given)."""
    wanted = set(stream_ids)
    return [d for d in vault.dead_letters(partition_key)
            if (domain is None or d.domain == domain) and (reason is None or d.reason_code == reason)
            and (not wanted or d.stream_id in wanted)]


def list_letters(vault: Vault, **filters: object) -> list[dict[str, str]]:
    """The selected dead letters as plain dicts (for `datavault deadletters`)."""
    return [{k: v for k, v in asdict(d).items() if k != "sealed_payload"}
            for d in select(vault, **filters)]  # type: ignore[arg-type]


@dataclass
class ReplayReport:
    """What a replay did."""

    replayed: int = 0
    unopenable: int = 0  # sealed under a master key no longer in the keyring
    new_stream_ids: list[str] | None = None


def replay(letters: Sequence[DeadLetter], vault: Vault, streams: Streams, keyring: Keyring) -> ReplayReport:
    """Put each dead letter's exact raw entry back at the end of its domain's stream (a new stream id, so the
    sensor plans it into a new partition), then drop the dead letter (row and dead-letter stream entry).

    Crash-safe in that order: an entry re-added whose dead letter was not yet dropped is replayed twice at worst,
    and the vault keeps one row per record id. A replayed entry that is still bad becomes a new dead letter."""
    report = ReplayReport(new_stream_ids=[])
    for letter in letters:
        try:
            fields = dead_letter_fields(letter.sealed_payload, letter.domain, letter.stream_id, keyring)
        except (InvalidToken, ValueError):
            log.error("dead letter %s/%s does not open under the keyring; left in place", letter.domain,
                      letter.stream_id)
            report.unopenable += 1
            continue
        new_id = streams.client.xadd(raw_stream(letter.domain), encode_fields(fields)).decode()
        vault.delete_dead_letters([(letter.domain, letter.stream_id)])
        streams.delete_dead_letter_entries(letter.domain, [letter.stream_id])
        log.info("replayed dead letter %s/%s as stream entry %s", letter.domain, letter.stream_id, new_id)
        report.replayed += 1
        report.new_stream_ids.append(new_id)  # type: ignore[union-attr]
    return report


@dataclass
class QuarantineReport:
    """What moving a partition's leaking records to the dead letters did."""

    partition_key: str
    findings: int = 0
    quarantined: list[str] | None = None  # record ids (or `<stream ID>` markers), never values
    raw_entry_missing: int = 0  # the raw entry was already gone: the dead letter seals the anonymized record


def quarantine_partition(partition_key: str, streams: Streams, vault: Vault, keyring: Keyring,
                         anonymizer: Anonymizer) -> QuarantineReport:
    """The way out of a blocking `vault_has_no_plaintext_pii` that found a true leak: re-run its scan, move each
    record it names from the vault to the dead letters (reason `pii_leak_blocked`, the field it named, the raw
    entry sealed as for any dead letter), so the partition's next run passes; after fixing the detector,
    `datavault deadletters replay --reason pii_leak_blocked` sends them through again."""
    rng = StreamRange.from_partition_key(partition_key)
    scan = scan_partition(rng, streams, vault, keyring, anonymizer)
    report = QuarantineReport(partition_key, findings=len(scan.findings), quarantined=[])
    rows = {r.record_id: r for r in vault.partition_records(partition_key)}
    by_stream = {r.stream_id: r for r in rows.values()}
    raw = {e.stream_id: e for e in streams.read_range(rng)}
    fields: dict[str, str] = {}
    for record, field, _ in scan.findings:
        row = rows.get(record) or by_stream.get(record.removeprefix("<stream ").removesuffix(">"))
        if row is not None and not field.startswith("dead_letters."):
            fields.setdefault(row.stream_id, field)
    moved, letters = [], []
    for stream_id, field in fields.items():
        row = by_stream[stream_id]
        entry = raw.get(stream_id)
        if entry is None:
            report.raw_entry_missing += 1
            continue  # nothing to replay from: the record stays (and the check keeps failing) for a manual fix
        record_id = stream_marker(stream_id) if field == "record_id" else row.record_id
        sealed = keyring.seal(dead_letter_payload(entry), domain=f"deadletter:{rng.domain}", record_id=stream_id)
        letters.append(DeadLetter(rng.domain, stream_id, record_id, partition_key, "pii_leak_blocked", field,
                                  keyring.primary, sealed))
        moved.append(row)
        report.quarantined.append(record_id)  # type: ignore[union-attr]
    vault.quarantine(moved, letters)
    for d in letters:
        streams.dead_letter(d.domain, {"stream_id": d.stream_id, "record_id": d.record_id,
                                       "reason_code": d.reason_code, "field": d.field, "key_id": d.key_id,
                                       "sealed": base64.b64encode(d.sealed_payload).decode()})
    log.warning("partition %s: %d records quarantined to the dead letters (pii_leak_blocked)", partition_key,
                len(letters))
    return report
