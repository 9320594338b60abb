"""The pipeline's Dagster definitions against real Redis, PostgreSQL, LanceDB and the real embedding model."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import psycopg
import pytest

from datavault_dagster import orchestrate
from datavault_dagster.domain.batches import StreamRange, parse_stream_id
from datavault_dagster.services.settings import Settings
from datavault_dagster.services.streams import Streams
from datavault_dagster.services.vault import Vault
from datavault_dagster.services.vectors import VectorStore
from simulations import generate_records, pii_values


def _produce(domain: str, count: int, seed: int = 1, malformed: int = 0) -> list[dict]:
    from datavault_dagster.cli import produce

    produce(Settings.from_env(), domain, count, seed, malformed=malformed, progress=False)
    return generate_records(domain, count, seed=seed)


@pytest.fixture
def defs(dv_env: Path) -> dg.Definitions:
    return orchestrate.load_definitions()


def test_sensor_turns_stream_entries_into_exact_range_partitions(monkeypatch, dv_env, instance, defs):
    monkeypatch.setenv("DATAVAULT_BATCH_SIZE", "10")
    _produce("healthcare", 25)
    _produce("finance", 7)
    streams = Streams(Settings.from_env().redis_url)
    hc_ids = streams.ids_after("healthcare", None, 1000)
    fn_ids = streams.ids_after("finance", None, 1000)

    sensor = defs.resolve_sensor_def("redis_stream_sensor")
    with dg.build_sensor_context(instance=instance, resources=defs.resources, definitions=defs) as ctx:
        result = sensor(ctx)
    assert isinstance(result, dg.SensorResult)
    keys = [r.partition_key for r in result.run_requests]
    ranges = [StreamRange.from_partition_key(k) for k in keys]
    assert [(r.domain, r.start, r.end) for r in ranges] == [
        ("healthcare", hc_ids[0], hc_ids[9]),
        ("healthcare", hc_ids[10], hc_ids[19]),
        ("healthcare", hc_ids[20], hc_ids[24]),
        ("finance", fn_ids[0], fn_ids[6]),
    ]
    assert [r.run_key for r in result.run_requests] == keys  # one run per partition, deduplicated by key
    assert list(result.dynamic_partitions_requests[0].partition_keys) == keys
    # the cursor holds stream ids only: no payloads, no PII
    assert set(parse_stream_id(v) for v in __import__("json").loads(result.cursor).values())

    # once those partitions exist, a second tick plans nothing; new entries get a new range
    instance.add_dynamic_partitions("stream_batches", keys)
    with dg.build_sensor_context(instance=instance, cursor=result.cursor, resources=defs.resources,
                                 definitions=defs) as ctx:
        assert isinstance(sensor(ctx), dg.SkipReason)
    _produce("finance", 3, seed=2)
    with dg.build_sensor_context(instance=instance, cursor=result.cursor, resources=defs.resources,
                                 definitions=defs) as ctx:
        again = sensor(ctx)
    new = [StreamRange.from_partition_key(r.partition_key) for r in again.run_requests]
    assert len(new) == 1 and new[0].domain == "finance"
    assert parse_stream_id(new[0].start) > parse_stream_id(fn_ids[-1])


def _vault_snapshot(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT domain, record_id, stream_id, partition_key, subject_pseudonym, key_id, envelope, created_at "
            "FROM datavault.records ORDER BY domain, record_id"
        ).fetchall()


def test_partition_run_seals_embeds_dead_letters_and_replays_idempotently(monkeypatch, dv_env, instance, defs):
    monkeypatch.setenv("DATAVAULT_BATCH_SIZE", "100")
    records = _produce("healthcare", 30, malformed=3)
    settings = Settings.from_env()
    streams = Streams(settings.redis_url)
    all_ids = streams.ids_after("healthcare", None, 1000)
    keys = orchestrate.evaluate_sensor(instance, defs)
    assert len(keys) == 1
    key = keys[0]

    outcome = orchestrate.run_partition(instance, defs, key)
    assert outcome.success
    assert all(outcome.checks.values()) and set(outcome.checks) == {
        "vault_has_no_plaintext_pii", "every_blob_decrypts", "dead_letter_depth", "quasi_identifiers_k_anonymous",
        "vector_count_matches_records", "vectors_have_no_pii", "detection_rates_are_stable",
    }
    meta = outcome.metadata["vault/encrypted_records"]
    assert meta["entries_read"] == 33 and meta["records_sealed"] == 30 and meta["dead_letters"] == 3
    assert meta["rows_inserted"] == 30 and meta["key_id"] == "k1"
    assert outcome.metadata["vectors/record_embeddings"]["vectors_written"] >= 30

    vault = Vault(settings.postgres_url)
    rows = vault.partition_records(key)
    assert {r.record_id for r in rows} == {r["record_id"] for r in records}  # every valid neighbour landed
    letters = vault.dead_letters(key)
    assert sorted((d.record_id, d.field, d.reason_code) for d in letters) == [
        ("bad-healthcare-1-0", "payload", "invalid_json"),
        ("bad-healthcare-1-1", "patient.ssn", "invalid_pattern"),
        ("bad-healthcare-1-2", "patient.email", "missing"),
    ]
    assert streams.dead_letter_length("healthcare") == 3
    store = VectorStore(settings.lancedb_uri)
    assert store.record_ids(key) == {("healthcare", r.record_id) for r in rows}
    # raw entries are trimmed only after the run succeeded
    assert streams.length("healthcare") == 0 and len(all_ids) == 33

    # no plaintext column holds PII; sealed envelopes are not plaintext JSON
    snapshot = _vault_snapshot(settings.postgres_url)
    pii = {v.lower() for r in records for v in pii_values(r, "healthcare") if len(v) >= 4}
    for row in snapshot:
        text = " ".join(str(c) for c in row[:6]).lower()
        assert not any(v in text for v in pii)
        assert b'"note"' not in bytes(row[6])

    # re-materializing the same partition writes nothing new and keeps every row byte-identical
    vectors_before = store.count()
    detections = vault.detection_stats(key)
    assert detections is not None and detections.records == 30 and detections.detected["PERSON"] > 0
    again = orchestrate.run_partition(instance, defs, key)
    assert again.success
    assert again.metadata["vault/encrypted_records"]["rows_inserted"] == 0
    assert _vault_snapshot(settings.postgres_url) == snapshot
    assert store.count() == vectors_before
    assert vault.detection_stats(key) == detections  # the re-run read a trimmed range: the first counts stay
    assert len(vault.dead_letters()) == 3 and streams.dead_letter_length("healthcare") == 3


def test_replay_of_untrimmed_range_reprocesses_exactly_that_range(monkeypatch, dv_env, instance, defs):
    monkeypatch.setenv("DATAVAULT_BATCH_SIZE", "5")
    _produce("finance", 12)
    keys = orchestrate.evaluate_sensor(instance, defs)
    assert len(keys) == 3
    job = defs.resolve_job_def("ingest_partition")
    # run the middle partition only, without the trim step: exactly its 5 records land
    result = job.execute_in_process(instance=instance, partition_key=keys[1],
                                    run_config=orchestrate.QUIET_RUN_CONFIG)
    assert result.success
    settings = Settings.from_env()
    vault = Vault(settings.postgres_url)
    rng = StreamRange.from_partition_key(keys[1])
    ids = [e.stream_id for e in Streams(settings.redis_url).read_range(rng)]
    rows = vault.partition_records(keys[1])
    assert len(rows) == 5 and sorted(r.stream_id for r in rows) == sorted(ids)
    assert vault.counts()["finance"]["records"] == 5
    first = _vault_snapshot(settings.postgres_url)
    assert job.execute_in_process(instance=instance, partition_key=keys[1],
                                  run_config=orchestrate.QUIET_RUN_CONFIG).success
    assert _vault_snapshot(settings.postgres_url) == first


def test_process_runs_every_pending_partition_and_status_reports(monkeypatch, dv_env):
    from datavault_dagster.cli import status

    monkeypatch.setenv("DATAVAULT_BATCH_SIZE", "20")
    _produce("healthcare", 30, malformed=1)
    _produce("finance", 15)
    outcomes = orchestrate.process(Settings.from_env().home, progress=False)
    assert len(outcomes) == 3 and all(o.success for o in outcomes)
    report = status(Settings.from_env())
    assert report["domains"]["healthcare"]["vault_records"] == 30
    assert report["domains"]["healthcare"]["dead_letters"] == 1
    assert report["domains"]["finance"]["vault_records"] == 15
    assert report["vectors"] >= 45 and report["partitions_pending"] == 0
    assert report["domains"]["healthcare"]["raw_stream_entries"] == 0
    # nothing new: a second process run does nothing
    assert orchestrate.process(Settings.from_env().home, progress=False) == []
