"""Key rotation and retirement against real Redis, PostgreSQL and LanceDB, through the CLI functions and Dagster."""

from __future__ import annotations

import base64
import io
import json
import os
import threading

import psycopg

from datavault_dagster import orchestrate, runtime
from datavault_dagster.cli import keys_report, keys_retire, keys_rotate, produce, status
from datavault_dagster.domain.crypto import Keyring, envelope_version, key_id_of
from datavault_dagster.pipeline import open_record
from datavault_dagster.services.identities import Identities
from datavault_dagster.services.settings import Settings
from datavault_dagster.services.streams import Streams
from datavault_dagster.services.vault import Vault
from tests.support import ingest as _ingest


def _all_rows(vault: Vault):
    return [r for key in vault.partition_keys() for r in vault.partition_records(key)]


def _json_out(text: str) -> dict:
    return json.loads(text[text.index("{"):])


def test_rotate_rewraps_subject_keys_moves_key_ids_and_retire_refuses_then_succeeds(monkeypatch, dv_env, capsys):
    settings = _ingest(monkeypatch, ("healthcare", 25, 3, 3), ("finance", 12, 3, 0))
    vault = Vault(settings.postgres_url)
    ring = runtime.keyring_for(settings)
    rows = _all_rows(vault)
    subjects = {(r.domain, r.subject_pseudonym) for r in rows}
    assert len(rows) == 37 and vault.key_id_counts() == {"k1": 37}
    assert vault.subject_key_counts() == {"k1": len(subjects)}
    assert all(envelope_version(r.envelope) == 2 and r.subject_key.key_id == "k1" for r in rows)
    identities = Identities(settings.postgres_url)
    people = identities.key_usage("k1")
    assert people >= len(subjects)  # one sealed name per person pseudonym

    # a record as it was sealed before subject keys existed (a v1 envelope under the master key)
    legacy = rows[0]
    v1 = ring.seal(json.dumps(open_record(legacy, ring)).encode(), domain=legacy.domain, record_id=legacy.record_id)
    with psycopg.connect(settings.postgres_url, autocommit=True) as conn:
        conn.execute("UPDATE datavault.records SET envelope = %s WHERE domain = %s AND record_id = %s",
                     (v1, legacy.domain, legacy.record_id))
    assert open_record(next(r for r in _all_rows(vault) if r.record_id == legacy.record_id), ring)
    # two producer entries sealed with the ingest key (k1) still waiting in Redis
    produce(settings, "finance", 2, 9, sealed=True, progress=False)
    envelopes_before = {(r.domain, r.record_id): r.envelope for r in rows}

    out = io.StringIO()
    assert keys_rotate(settings, progress=False, out=out) == 0
    assert "added master key 'k2'" in out.getvalue()
    summary = _json_out(out.getvalue())
    assert summary["primary"] == "k2" and summary["partitions"] == 5
    assert summary["subject_keys_rewrapped"] == len(subjects)
    assert summary["records_upgraded"] == 1 and summary["records_moved"] == 36
    assert summary["dead_letters_resealed"] == 3 and summary["dead_letter_stream_entries_resealed"] == 3
    assert summary["identities_resealed"] == people and identities.key_usage("k1") == 0
    assert identities.key_usage("k2") == people
    assert summary["records_per_key_id"] == {"k2": 37} == vault.key_id_counts()
    assert summary["subject_keys_per_key_id"] == {"k2": len(subjects)}

    ring2 = runtime.keyring_for(settings)
    assert ring2.primary == "k2" and set(ring2.keys) == {"k1", "k2"}
    assert (settings.keyring_path.stat().st_mode & 0o777) == 0o600
    after = _all_rows(vault)
    only_k2 = ring2.without(["k1"])
    for r in after:  # everything opens without k1; v2 envelopes were not rewritten, only their subject keys
        assert r.key_id == "k2" and r.subject_key.key_id == "k2"
        assert open_record(r, only_k2)["record_id"] == r.record_id
        assert envelope_version(r.envelope) == 2 and key_id_of(r.envelope) == r.subject_key.subject_key_id
        if r.record_id != legacy.record_id:
            assert r.envelope == envelopes_before[(r.domain, r.record_id)]
    letters = vault.dead_letters()
    assert len(letters) == 3 and {d.key_id for d in letters} == {"k2"}
    for d in letters:
        only_k2.open(d.sealed_payload, domain=f"deadletter:{d.domain}", record_id=d.stream_id)
    streams = Streams(settings.redis_url)
    assert {e.fields["key_id"] for e in streams.scan("healthcare", dead_letters=True)} == {"k2"}
    name_rows = identities.conn.execute("SELECT domain, pseudonym, envelope FROM datavault.identities").fetchall()
    for domain, pseudonym, envelope in name_rows:  # the sealed names open without k1
        assert json.loads(only_k2.open(bytes(envelope), domain=f"identity:{domain}", record_id=pseudonym))["name"]
    # `keys list` shows what still needs k1: the producer entries sealed with it
    assert keys_report(settings)["keys"]["k1"]["sealed_raw_stream_entries"] == 2

    # retire refuses: k2 is the primary; k1 still opens the sealed raw entries waiting in Redis
    capsys.readouterr()
    assert keys_retire(settings, "k2") == 1
    assert "primary" in capsys.readouterr().err
    assert keys_retire(settings, "k1") == 1
    err = capsys.readouterr().err
    assert "still in use" in err and "2 sealed_raw_stream_entries" in err
    assert set(runtime.keyring_for(settings).keys) == {"k1", "k2"}

    # once they are processed (sealed under subject keys wrapped by k2), k1 can go
    outcomes = orchestrate.process(settings.home, progress=False)
    assert len(outcomes) == 1 and outcomes[0].success
    assert outcomes[0].metadata["vault/encrypted_records"]["records_per_key_id"] == {"k2": 2}
    assert keys_retire(settings, "k1", out=io.StringIO()) == 0
    ring3 = runtime.keyring_for(settings)
    assert ring3.key_ids == ["k2"]
    assert all(open_record(r, ring3) for r in _all_rows(vault))
    report = status(settings)
    assert report["records_per_key_id"] == {"k2": 39} and report["subject_keys_per_key_id"] == {"k2": len(subjects) + 2}
    assert keys_retire(settings, "k1") == 1  # no such key any more


def test_rotate_keys_job_rewraps_partition_by_partition_with_progress(monkeypatch, dv_env, instance):
    settings = _ingest(monkeypatch, ("healthcare", 20, 4, 0))
    vault = Vault(settings.postgres_url)
    partitions = vault.partition_keys()
    assert len(partitions) == 2 and vault.key_id_counts() == {"k1": 20}
    runtime.save_keyring_file(settings, runtime.keyring_for(settings).with_new_primary("2026-q1"))

    job = orchestrate.load_definitions().resolve_job_def("rotate_keys")
    result = job.execute_in_process(instance=instance)
    assert result.success
    output = result.output_for_node("rewrap_keys")
    assert output["primary"] == "2026-q1" and output["records_per_key_id"] == {"2026-q1": 20}
    assert output["records_moved"] == 20 and output["partitions"] == 2
    outputs = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    meta = {k: v.value for k, v in outputs[0].event_specific_data.metadata.items()}
    assert meta["records_per_key_id_before"] == {"k1": 20} and meta["records_per_key_id"] == {"2026-q1": 20}
    observed = {e.event_specific_data.asset_observation.partition: e.event_specific_data.asset_observation.metadata
                for e in result.all_events if e.event_type_value == "ASSET_OBSERVATION"}
    assert set(observed) == set(partitions)
    assert sum(m["records_per_key_id"].value["2026-q1"] for m in observed.values()) == 20
    messages = [e.message for e in instance.all_logs(result.run_id) if e.message]
    assert any("[1/2] partition" in m for m in messages) and any("[2/2] partition" in m for m in messages)

    # idempotent: a second run has nothing left to do, and the partitions' blocking checks still pass
    again = job.execute_in_process(instance=instance).output_for_node("rewrap_keys")
    assert again["subject_keys_rewrapped"] == 0 and again["records_per_key_id"] == {"2026-q1": 20}
    assert orchestrate.run_partition(instance, orchestrate.load_definitions(), partitions[0]).success


def test_keys_from_the_environment_are_never_rewritten(monkeypatch, dv_env, capsys):
    k1, k2, pk = (base64.b64encode(os.urandom(32)).decode() for _ in range(3))
    monkeypatch.setenv("DATAVAULT_MASTER_KEYS", f"k1:{k1}")
    monkeypatch.setenv("DATAVAULT_PSEUDONYM_KEY", pk)
    settings = _ingest(monkeypatch, ("finance", 6, 2, 0))
    assert keys_rotate(settings, progress=False) == 2  # nothing to do until a new primary is in the env
    err = capsys.readouterr().err
    assert "DATAVAULT_MASTER_KEYS" in err and "k2:" in err and k1 not in err
    assert not settings.keyring_path.exists()

    monkeypatch.setenv("DATAVAULT_MASTER_KEYS", f"k2:{k2},k1:{k1}")
    settings = Settings.from_env()
    out = io.StringIO()
    assert keys_rotate(settings, progress=False, out=out) == 0
    assert _json_out(out.getvalue())["records_per_key_id"] == {"k2": 6}
    out = io.StringIO()
    assert keys_retire(settings, "k1", out=out) == 0
    assert "remove its entry from DATAVAULT_MASTER_KEYS" in out.getvalue()
    assert not settings.keyring_path.exists() and k2 not in out.getvalue()


def test_concurrent_first_use_of_subject_keys_agrees_on_one_key_per_subject(clean_servers):
    Vault(clean_servers.postgres_url).ensure_schema()
    ring = Keyring.generate()
    subjects = [f"S-{n:010d}" for n in range(200)]
    barrier = threading.Barrier(4)
    results: list[dict] = []

    def first_use() -> None:
        vault = Vault(clean_servers.postgres_url)
        barrier.wait()
        results.append(vault.subject_keys("finance", subjects, create=ring.new_subject_key))
        vault.close()

    threads = [threading.Thread(target=first_use) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 and all(r == results[0] for r in results) and len(results[0]) == 200
    with psycopg.connect(clean_servers.postgres_url) as conn:
        assert conn.execute("SELECT count(*) FROM datavault.subject_keys").fetchone()[0] == 200
