"""The assets: raw Redis streams (external), encrypted records in PostgreSQL, vectors in LanceDB."""

import dagster as dg

from ..domain.batches import StreamRange
from ..domain.drift import DetectionStats, per_1k
from ..domain.records import DOMAINS
from ..pipeline import count_by, embed_partition, known_pii_of_range, seal_partition
from ..services.settings import Settings
from .partitions import stream_batches
from .resources import EmbedderResource, KeyringResource, LanceDBResource, RedisResource, VaultResource

# a record's own problems never raise (they become dead letters), so a step that raises met Redis, PostgreSQL or
# LanceDB failing: try again, 2 s then 4 s later; after that the run fails and is retried as a whole
INFRA_RETRY = dg.RetryPolicy(max_retries=2, delay=2, backoff=dg.Backoff.EXPONENTIAL)

raw_streams = [
    dg.AssetSpec(
        key=dg.AssetKey(["raw", f"{domain}_stream"]),
        description=f"Redis stream datavault:raw:{domain}: records with PII, written by producers (XADD).",
        group_name="raw",
        kinds={"redis"},
    )
    for domain in DOMAINS
]


@dg.asset(
    key=dg.AssetKey(["vault", "encrypted_records"]),
    deps=raw_streams,
    partitions_def=stream_batches,
    group_name="vault",
    kinds={"postgres"},
    description="Anonymized records sealed with AES-256-GCM envelopes in datavault.records; bad input to dead letters.",
    retry_policy=INFRA_RETRY,
)
def encrypted_records(
    context: dg.AssetExecutionContext, redis: RedisResource, vault: VaultResource, keys: KeyringResource
) -> dg.MaterializeResult:
    """Read the partition's stream range, validate, anonymize, seal and upsert it."""
    rng = StreamRange.from_partition_key(context.partition_key)
    keyring = keys.keyring()
    settings = Settings.from_env()
    report = seal_partition(rng, redis.streams(), vault.vault(), keyring, keys.anonymizer(), min_k=settings.min_k,
                            identities=vault.identities(), workers=settings.anonymize_workers)
    context.log.info(
        f"partition {rng.partition_key}: {report.entries_read} entries, {report.sealed} sealed, "
        f"{len(report.rejected)} dead letters"
    )
    return dg.MaterializeResult(metadata={
        "domain": rng.domain,
        "entries_read": report.entries_read,
        "records_sealed": report.sealed,
        "rows_inserted": report.counts.inserted,
        "rows_updated": report.counts.updated,
        "rows_unchanged": report.counts.unchanged,
        "rows_skipped_erased": report.skipped_erased,
        "dead_letters": len(report.rejected),
        "dead_letters_by_reason": count_by(report.rejected),
        "key_id": report.key_id,
        "records_per_key_id": vault.vault().key_id_counts(rng.partition_key),
        "k_anonymity_target": settings.min_k,
        "k_anonymity": report.k.k,
        "quasi_identifier_classes": report.k.classes,
        "records_generalized": report.k.generalized,
        "records_quasi_identifiers_withheld": report.k.suppressed,
        "free_text_records": report.detections.records,
        "free_text_fields": report.detections.texts,
        "free_text_chars": report.detections.chars,
        "detections": detections_table(report.detections),
        "detections_per_1k_chars": report.detections.per_1k_chars(),
        "duration_s": round(report.seconds, 3),
        "records_per_s": round(report.entries_read / report.seconds, 1) if report.seconds else 0.0,
    })


DETECTIONS_SCHEMA = dg.TableSchema(columns=[
    dg.TableColumn("entity", description="entity type (PERSON, ADDRESS, ZIP, PHONE, DATE, ...)"),
    dg.TableColumn("detected", "int", description="spans the detector's own recognizers found in free text"),
    dg.TableColumn("known", "int", description="matches of the record's (or its batch's) known values in free text"),
    dg.TableColumn("detected_per_1k_chars", "float"),
    dg.TableColumn("known_per_1k_chars", "float"),
])


def detections_table(stats: DetectionStats) -> dg.TableMetadataValue:
    """What detection found in the partition's free text, per entity type: counts and rates, never a value."""
    return dg.MetadataValue.table(
        [dg.TableRecord({"entity": entity, "detected": stats.detected[entity], "known": stats.known[entity],
                         "detected_per_1k_chars": round(per_1k(stats.detected[entity], stats.chars), 4),
                         "known_per_1k_chars": round(per_1k(stats.known[entity], stats.chars), 4)})
         for entity in sorted(set(stats.detected) | set(stats.known))],
        schema=DETECTIONS_SCHEMA,
    )


@dg.asset(
    key=dg.AssetKey(["vectors", "record_embeddings"]),
    deps=[encrypted_records],
    partitions_def=stream_batches,
    group_name="vectors",
    kinds={"lancedb"},
    description="all-MiniLM-L6-v2 vectors of the anonymized records in LanceDB (ids and vectors only, no text).",
    retry_policy=INFRA_RETRY,
)
def record_embeddings(
    context: dg.AssetExecutionContext,
    redis: RedisResource,
    vault: VaultResource,
    keys: KeyringResource,
    embedder: EmbedderResource,
    lancedb: LanceDBResource,
) -> dg.MaterializeResult:
    """Open the partition's records from the vault, embed them and merge-insert the vectors."""
    # the partition's raw entries are still in Redis (trimmed only after the run succeeds): their identifiers
    # feed the fail-closed guard in front of the vector store
    rng = StreamRange.from_partition_key(context.partition_key)
    raw = known_pii_of_range(rng, redis.streams(), keys.keyring(), keys.anonymizer())
    report = embed_partition(context.partition_key, vault.vault(), keys.keyring(), embedder.embedder(),
                             lancedb.store(), raw_identifiers=raw)
    context.log.info(f"partition {context.partition_key}: {report.records} records, {report.chunks} vectors")
    return dg.MaterializeResult(metadata={
        "records_embedded": report.records,
        "vectors_written": report.chunks,
        "held_back_by_leak_guard": len(report.blocked),
        "raw_identifiers_guarded": len(raw),
        "unreadable_envelopes": len(report.unreadable),
        "model": embedder.embedder().name,
        "duration_s": round(report.seconds, 3),
        "records_per_s": round(report.records / report.seconds, 1) if report.seconds else 0.0,
    })
