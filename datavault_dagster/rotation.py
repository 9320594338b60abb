"""Master key rotation and retirement over the vault (CLI `datavault keys` and the `rotate_keys` job).

Rotation re-wraps every subject key under the primary master key and moves its records' `key_id` with it
(record envelopes are sealed under subject keys, so they stay as they are); it re-seals what a master key
seals directly: dead letters (table and stream), sealed identities, and records still in a version-1 envelope, which are
upgraded to version 2 under their subject's key. It runs partition by partition, then sweeps subject keys
that no partition names. Every step is idempotent, so an interrupted rotation is finished by running it
again. A master key can be retired once nothing depends on it.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .domain.crypto import VERSION, Keyring, WrappedSubjectKey, envelope_version, key_id_of
from .domain.errors import InvalidToken, KeyInUse, KeyringError
from .domain.records import DOMAINS
from .services.identities import Identities
from .services.streams import Streams
from .services.vault import Vault, VaultRow


@dataclass
class RewrapReport:
    """What re-wrapping one partition (or the final sweep, `partition_key=None`) did."""

    partition_key: str | None
    subject_keys_rewrapped: int = 0
    records_moved: int = 0  # v2 records whose key id moved with their subject key
    records_upgraded: int = 0  # v1 records re-sealed as v2 under their subject key
    dead_letters_resealed: int = 0
    dead_letter_stream_entries_resealed: int = 0
    identities_resealed: int = 0
    records_per_key_id: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class RotationReport:
    """A whole rotation: its partitions' reports, totals and where every record's key id ended up."""

    primary: str
    partitions: list[RewrapReport] = field(default_factory=list)
    records_per_key_id: dict[str, int] = field(default_factory=dict)
    subject_keys_per_key_id: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def total(self, name: str) -> int:
        """Sum of one counter over every partition."""
        return sum(getattr(p, name) for p in self.partitions)

    def summary(self) -> dict:
        """Totals for the CLI's JSON and the Dagster job's output metadata."""
        return {
            "primary": self.primary,
            "partitions": len(self.partitions) - 1,
            **{name: self.total(name) for name in (
                "subject_keys_rewrapped", "records_moved", "records_upgraded", "dead_letters_resealed",
                "dead_letter_stream_entries_resealed", "identities_resealed",
            )},
            "records_per_key_id": self.records_per_key_id,
            "subject_keys_per_key_id": self.subject_keys_per_key_id,
            "seconds": round(self.seconds, 3),
        }


def _rewrap(keyring: Keyring, key: WrappedSubjectKey) -> WrappedSubjectKey:
    try:
        return keyring.rewrap_subject_key(key)
    except InvalidToken as exc:
        raise KeyringError(
            f"subject key {key.subject_key_id} cannot be unwrapped: master key {key.key_id!r} is not in the "
            "keyring or the wrapped key is damaged"
        ) from exc


def _rewrap_subject_keys(vault: Vault, keyring: Keyring, keys: Sequence[WrappedSubjectKey]) -> tuple[int, int]:
    return vault.replace_subject_keys([(k, _rewrap(keyring, k)) for k in keys])


def _upgrade_legacy(vault: Vault, keyring: Keyring, rows: Sequence[VaultRow]) -> int:
    by_domain: dict[str, set[str]] = {}
    for r in rows:
        by_domain.setdefault(r.domain, set()).add(r.subject_pseudonym)
    keys = {(d, s): k for d, subjects in by_domain.items()
            for s, k in vault.subject_keys(d, subjects, create=keyring.new_subject_key).items()}
    swaps = []
    for r in rows:
        key = keys[(r.domain, r.subject_pseudonym)]
        swaps.append((r, key.key_id, keyring.rotate(r.envelope, domain=r.domain, record_id=r.record_id,
                                                    subject_key=key)))
    return vault.replace_envelopes(swaps)


def rewrap_partition(partition_key: str, vault: Vault, keyring: Keyring) -> RewrapReport:
    """Bring one partition under the primary: its subjects' keys, its v1 records and its dead letters."""
    started = time.perf_counter()
    report = RewrapReport(partition_key)
    keys = vault.subject_keys_not_under(keyring.primary, partition_key, limit=None)
    report.subject_keys_rewrapped, report.records_moved = _rewrap_subject_keys(vault, keyring, keys)
    report.records_upgraded = _upgrade_legacy(vault, keyring, vault.legacy_records(partition_key, limit=None))
    letters = vault.dead_letters_not_under(keyring.primary, partition_key, limit=None)
    report.dead_letters_resealed = vault.replace_dead_letter_seals([
        (d, keyring.primary, keyring.rotate(d.sealed_payload, domain=f"deadletter:{d.domain}", record_id=d.stream_id))
        for d in letters
    ])
    report.records_per_key_id = vault.key_id_counts(partition_key)
    report.seconds = time.perf_counter() - started
    return report


def sweep(vault: Vault, keyring: Keyring, streams: Streams | None = None, identities: Identities | None = None,
          batch: int = 1000) -> RewrapReport:
    """Re-wrap subject keys that no partition names; re-seal the dead-letter streams' entries and the sealed
    identities (names behind person pseudonyms)."""
    started = time.perf_counter()
    report = RewrapReport(None)
    while keys := vault.subject_keys_not_under(keyring.primary, limit=batch):
        rewrapped, moved = _rewrap_subject_keys(vault, keyring, keys)
        report.subject_keys_rewrapped += rewrapped
        report.records_moved += moved
        if not rewrapped:  # changed concurrently and still not under the primary: leave it to the next run
            break
    for domain in DOMAINS if streams is not None else ():
        for entry in list(streams.scan(domain, dead_letters=True)):  # type: ignore[union-attr]
            if entry.fields.get("key_id") in (None, keyring.primary):
                continue
            try:
                sealed = base64.b64decode(entry.fields.get("sealed", ""), validate=True)
                resealed = keyring.rotate(sealed, domain=f"deadletter:{domain}",
                                          record_id=entry.fields.get("stream_id", ""))
            except (InvalidToken, binascii.Error, ValueError):
                continue  # not ours to fix; `keys retire` will still see its key id
            streams.replace_dead_letter(domain, entry.stream_id, {  # type: ignore[union-attr]
                **entry.fields, "key_id": keyring.primary, "sealed": base64.b64encode(resealed).decode()})
            report.dead_letter_stream_entries_resealed += 1
    if identities is not None:
        report.identities_resealed = identities.reseal(keyring, batch)
    report.seconds = time.perf_counter() - started
    return report


def rotate_all(
    vault: Vault,
    keyring: Keyring,
    streams: Streams | None = None,
    on_partition: Callable[[int, int, RewrapReport], None] = lambda done, total, report: None,
    identities: Identities | None = None,
) -> RotationReport:
    """Re-wrap everything under the keyring's primary, partition by partition, then sweep."""
    started = time.perf_counter()
    rotation = RotationReport(keyring.primary)
    partitions = vault.partition_keys()
    for n, key in enumerate(partitions, start=1):
        report = rewrap_partition(key, vault, keyring)
        rotation.partitions.append(report)
        on_partition(n, len(partitions), report)
    report = sweep(vault, keyring, streams, identities)
    rotation.partitions.append(report)
    on_partition(len(partitions), len(partitions), report)
    rotation.records_per_key_id = vault.key_id_counts()
    rotation.subject_keys_per_key_id = vault.subject_key_counts()
    rotation.seconds = time.perf_counter() - started
    return rotation


def needs_rotation(vault: Vault, keyring: Keyring, identities: Identities | None = None) -> bool:
    """True if anything in the vault is not yet under the primary master key."""
    others = [k for k in keyring.keys if k != keyring.primary]
    return any(k != keyring.primary for k in (*vault.key_id_counts(), *vault.subject_key_counts())) \
        or bool(vault.dead_letters_not_under(keyring.primary, limit=1)) \
        or (identities is not None and any(identities.key_usage(k) for k in others))


def key_usage(key_id: str, vault: Vault, streams: Streams, identities: Identities | None = None) -> dict[str, int]:
    """Everything that still needs master key `key_id`: vault rows, sealed identities and sealed stream entries."""
    usage = vault.key_usage(key_id)
    if identities is not None:
        usage["identities"] = identities.key_usage(key_id)
    raw = dead = 0
    for domain in DOMAINS:
        for entry in streams.scan(domain):
            if "sealed" in entry.fields:
                try:
                    envelope = base64.b64decode(entry.fields["sealed"], validate=True)
                    raw += envelope_version(envelope) == VERSION and key_id_of(envelope) == key_id
                except (InvalidToken, binascii.Error, ValueError):
                    continue
        dead += sum(e.fields.get("key_id") == key_id for e in streams.scan(domain, dead_letters=True))
    return {**usage, "sealed_raw_stream_entries": raw, "dead_letter_stream_entries": dead}


def retire(key_id: str, keyring: Keyring, vault: Vault, streams: Streams,
           identities: Identities | None = None) -> Keyring:
    """The keyring without `key_id`; refuses (`KeyInUse`) while anything depends on it."""
    if key_id not in keyring.keys:
        raise KeyringError(f"no master key {key_id!r} in the keyring")
    if key_id == keyring.primary:
        raise KeyringError(f"{key_id!r} is the primary key; rotate to a new primary first")
    usage = key_usage(key_id, vault, streams, identities)
    if any(usage.values()):
        raise KeyInUse(key_id, usage)
    return keyring.without([key_id])
