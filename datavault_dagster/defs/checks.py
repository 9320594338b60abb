"""Asset checks: data tests at every hop. The privacy checks are blocking."""

import dagster as dg

from ..domain.batches import StreamRange
from ..domain.drift import DriftReport, DriftThresholds, detection_drift
from ..domain.errors import InvalidToken
from ..domain.quasi import measure_k, present_fields, quasi_identifiers
from ..pipeline import count_known_values, known_pii_of_range, open_record, scan_partition
from ..services.settings import Settings
from .assets import encrypted_records, record_embeddings
from .partitions import stream_batches
from .resources import KeyringResource, LanceDBResource, RedisResource, VaultResource

MAX_DEAD_LETTER_FRACTION = 0.10


def _range_pii(context: dg.AssetCheckExecutionContext, redis: RedisResource, keys: KeyringResource) -> list[str]:
    rng = StreamRange.from_partition_key(context.partition_key)
    return known_pii_of_range(rng, redis.streams(), keys.keyring(), keys.anonymizer())


MAX_FINDINGS_SHOWN = 50


@dg.asset_check(asset=encrypted_records, blocking=True, partitions_def=stream_batches,
                description="No raw identifier of the partition's input, and no PII pattern, in any vault column, "
                            "sealed record or dead-letter column: the leak guard's own matching, re-run on what was "
                            "stored. Failing records are named by record id and field, never by value.")
def vault_has_no_plaintext_pii(
    context: dg.AssetCheckExecutionContext, redis: RedisResource, vault: VaultResource, keys: KeyringResource
) -> dg.AssetCheckResult:
    """Scan plaintext columns and the decrypted anonymized documents for the partition's raw PII."""
    rng = StreamRange.from_partition_key(context.partition_key)
    scan = scan_partition(rng, redis.streams(), vault.vault(), keys.keyring(), keys.anonymizer())
    shown = scan.findings[:MAX_FINDINGS_SHOWN]
    metadata: dict[str, object] = {
        "raw_identifiers_checked": scan.raw_identifiers,
        "rows_scanned": scan.rows,
        "dead_letters_scanned": scan.dead_letters,
        "findings": len(scan.findings),
        "records_with_findings": len(scan.records),
    }
    if shown:
        metadata["failing_records"] = dg.MetadataValue.md(
            "| record | field | kind |\n|---|---|---|\n"
            + "\n".join(f"| {record} | {field} | {kind} |" for record, field, kind in shown)
            + (f"\n\n({len(scan.findings) - len(shown)} more)" if len(scan.findings) > len(shown) else "")
        )
        metadata["failing_record_ids"] = ", ".join(scan.records[:MAX_FINDINGS_SHOWN])
        for record, field, kind in shown:
            context.log.error(f"partition {context.partition_key}: record {record} field {field}: {kind}")
    return dg.AssetCheckResult(passed=not scan.findings, metadata=metadata)


@dg.asset_check(asset=encrypted_records, blocking=True, partitions_def=stream_batches,
                description="Every envelope of the partition opens under the keyring (key id known, tag valid).")
def every_blob_decrypts(
    context: dg.AssetCheckExecutionContext, vault: VaultResource, keys: KeyringResource
) -> dg.AssetCheckResult:
    """Open every envelope of the partition."""
    keyring = keys.keyring()
    rows = vault.vault().partition_records(context.partition_key)
    failed = 0
    for r in rows:
        try:
            open_record(r, keyring)
        except InvalidToken:
            failed += 1
    return dg.AssetCheckResult(passed=failed == 0, metadata={"envelopes": len(rows), "failed_to_open": failed})


@dg.asset_check(asset=encrypted_records, blocking=True, partitions_def=stream_batches,
                description="The stored quasi-identifiers (age band, sex, state, ZIP3) are k-anonymous per partition.")
def quasi_identifiers_k_anonymous(
    context: dg.AssetCheckExecutionContext, vault: VaultResource, keys: KeyringResource
) -> dg.AssetCheckResult:
    """Decrypt the partition and measure the smallest equivalence class of its quasi-identifiers."""
    keyring, target = keys.keyring(), Settings.from_env().min_k
    qis = []
    for r in vault.vault().partition_records(context.partition_key):
        try:
            qis.append(quasi_identifiers(open_record(r, keyring)))
        except InvalidToken:
            continue
    fields = present_fields(qis)
    k, classes = measure_k(qis, fields)
    withheld = sum(1 for q in qis if all(q.get(f) == "*" for f in fields))
    return dg.AssetCheckResult(
        passed=classes == 0 or k >= target,
        metadata={"k": k, "target_k": target, "classes": classes, "records": len(qis),
                  "records_withheld": withheld, "quasi_identifiers": ", ".join(fields)},
    )


@dg.asset_check(asset=encrypted_records, partitions_def=stream_batches,
                description=f"Dead letters stay under {MAX_DEAD_LETTER_FRACTION:.0%} of the partition's entries.")
def dead_letter_depth(
    context: dg.AssetCheckExecutionContext, redis: RedisResource, vault: VaultResource
) -> dg.AssetCheckResult:
    """Report the partition's dead letters by reason code; warn when there are too many."""
    letters = vault.vault().dead_letters(context.partition_key)
    total = len(letters) + len(vault.vault().partition_records(context.partition_key))
    reasons: dict[str, int] = {}
    for d in letters:
        reasons[f"{d.field}:{d.reason_code}"] = reasons.get(f"{d.field}:{d.reason_code}", 0) + 1
    fraction = len(letters) / total if total else 0.0
    return dg.AssetCheckResult(
        passed=fraction <= MAX_DEAD_LETTER_FRACTION,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"dead_letters": len(letters), "fraction": round(fraction, 4), "by_field_and_reason": reasons},
    )


DRIFT = DriftThresholds()


def drift_metadata(report: DriftReport) -> dict[str, object]:
    """The drift check's metadata: per-entity counts, rates, medians and ratios (never a value)."""
    def r(x: float | None) -> float | None:
        return None if x is None else round(x, 4)

    return {
        "note": report.note,
        "history_partitions": report.history,
        "free_text_chars": report.chars,
        "drifted_entities": ", ".join(e.entity for e in report.drifted) or "none",
        "rates": dg.MetadataValue.md(
            "| entity | count | per 1k chars | median | ratio | seen in | status |\n|---|---|---|---|---|---|---|\n"
            + "\n".join(f"| {e.entity} | {e.count} | {e.rate:.3f} | {e.median:.3f} | "
                        f"{'-' if e.ratio is None else f'{e.ratio:.2f}'} | {e.seen_in:.0%} | {e.status} |"
                        for e in report.entities)
        ),
        "per_entity": {e.entity: {"count": e.count, "rate_per_1k_chars": r(e.rate), "median_per_1k_chars": r(e.median),
                                  "ratio": r(e.ratio), "expected": r(e.expected), "seen_in": r(e.seen_in),
                                  "status": e.status}
                       for e in report.entities},
    }


@dg.asset_check(asset=encrypted_records, partitions_def=stream_batches,
                description=f"Detections per 1,000 characters of free text, per entity type, stay within "
                            f"{DRIFT.low:.2g}x-{DRIFT.high:.2g}x of the median of the domain's last {DRIFT.history} "
                            "partitions, and an entity usually found is not absent: a collapse means a producer "
                            "changed its format or the detector regressed. Warns only; counts, never values.")
def detection_rates_are_stable(context: dg.AssetCheckExecutionContext, vault: VaultResource) -> dg.AssetCheckResult:
    """Compare the partition's detection counts (kept by the seal step) with its domain's recent partitions."""
    rng = StreamRange.from_partition_key(context.partition_key)
    store = vault.vault()
    current = store.detection_stats(rng.partition_key)
    if current is None:
        return dg.AssetCheckResult(passed=True, severity=dg.AssetCheckSeverity.WARN, metadata={
            "note": "no detection counts for this partition (sealed before they were kept)"})
    report = detection_drift(current, store.detection_history(rng, DRIFT.history), DRIFT)
    for e in report.drifted:
        ratio = "n/a" if e.ratio is None else f"{e.ratio:.2f}"
        context.log.warning(f"partition {rng.partition_key}: {e.entity} {e.status}: {e.count} found, "
                            f"{e.expected:.1f} expected (ratio {ratio})")
    return dg.AssetCheckResult(passed=report.stable, severity=dg.AssetCheckSeverity.WARN,
                               metadata=drift_metadata(report))


@dg.asset_check(asset=record_embeddings, blocking=True, partitions_def=stream_batches,
                description="Every vault record of the partition has vectors, and no vector row is orphaned.")
def vector_count_matches_records(
    context: dg.AssetCheckExecutionContext, vault: VaultResource, lancedb: LanceDBResource
) -> dg.AssetCheckResult:
    """Compare the records with vectors to the vault's records for the partition."""
    in_vault = {(r.domain, r.record_id) for r in vault.vault().partition_records(context.partition_key)}
    in_lance = lancedb.store().record_ids(context.partition_key)
    return dg.AssetCheckResult(
        passed=in_vault == in_lance,
        metadata={
            "vault_records": len(in_vault),
            "records_with_vectors": len(in_lance),
            "vectors": lancedb.store().count(context.partition_key),
            "missing_vectors": len(in_vault - in_lance),
            "orphan_vectors": len(in_lance - in_vault),
        },
    )


@dg.asset_check(asset=record_embeddings, blocking=True, partitions_def=stream_batches,
                description="No raw identifier of the partition's input appears in any LanceDB column.")
def vectors_have_no_pii(
    context: dg.AssetCheckExecutionContext, redis: RedisResource, keys: KeyringResource, lancedb: LanceDBResource
) -> dg.AssetCheckResult:
    """Scan the partition's LanceDB rows (every string column) for the partition's raw PII."""
    raw = _range_pii(context, redis, keys)
    cells = lancedb.store().scan_strings(context.partition_key)
    hits = count_known_values(cells, raw)
    return dg.AssetCheckResult(
        passed=hits == 0,
        metadata={"raw_identifiers_checked": len(raw), "cells_scanned": len(cells), "hits": hits},
    )
