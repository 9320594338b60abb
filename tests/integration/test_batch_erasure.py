"""Batch erasure and the re-embedding of coarsened neighbours, against real Redis, PostgreSQL, LanceDB and the
real embedding model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import psycopg
import pytest

from datavault_dagster import orchestrate, runtime
from datavault_dagster.cli import forget, forget_batch, subject_pseudonym
from datavault_dagster.domain.embed import chunk_text, record_text
from datavault_dagster.domain.errors import InvalidSubject, InvalidToken
from datavault_dagster.domain.records import stream_fields
from datavault_dagster.pipeline import open_record
from datavault_dagster.services.identities import Identities
from datavault_dagster.services.settings import Settings
from datavault_dagster.services.streams import Streams
from datavault_dagster.services.vault import Vault
from datavault_dagster.services.vectors import VectorStore
from simulations import generate_records
from tests.support import files_holding, ingest, subject_id, vectors_by_record

ROOT = Path(__file__).resolve().parents[2]
DATAVAULT = str(Path(sys.executable).parent / "datavault")


def _all_rows(vault: Vault) -> dict:
    return {(r.domain, r.record_id): r for key in vault.partition_keys() for r in vault.partition_records(key)}


def _subjects(settings: Settings, domain: str, records: list[dict], n: int) -> list[str]:
    """The pseudonyms of the first n distinct subjects of the records."""
    ids = list(dict.fromkeys(subject_id(domain, r) for r in records))[:n]
    return [subject_pseudonym(settings, domain, i) for i in ids]


def test_a_batch_erases_every_subject_in_one_pass_and_leaves_everyone_else(monkeypatch, dv_env):
    settings = ingest(monkeypatch, ("healthcare", 30, 5, 3), ("finance", 12, 5, 0))
    health, money = generate_records("healthcare", 30, seed=5), generate_records("finance", 12, seed=5)
    keyring = runtime.keyring_for(settings)
    vault, streams, store = Vault(settings.postgres_url), Streams(settings.redis_url), VectorStore(settings.lancedb_uri)
    identities = Identities(settings.postgres_url)
    # records[1]'s patient also has a dead letter (bad-healthcare-5-1 copies it)
    first = subject_pseudonym(settings, "healthcare", subject_id("healthcare", health[1]))
    second = next(s for s in _subjects(settings, "healthcare", health, 10) if s != first)
    third = _subjects(settings, "finance", money, 1)[0]
    batch = [first, second, third]
    rows = _all_rows(vault)
    mine = {k for k, r in rows.items() if r.subject_pseudonym in batch}
    assert {rows[k].subject_pseudonym for k in mine} == set(batch)
    vectors = vectors_by_record(store)
    victim_vectors = [v for k in mine for v in vectors[k]]
    assert all(identities.count_subject(s) >= 1 for s in batch)
    # raw entries of two of them still in Redis (plain and producer-sealed), and someone else's
    bystander = next(r for r in money if subject_pseudonym(settings, "finance", subject_id("finance", r)) not in batch)
    streams.add("healthcare", stream_fields("healthcare", health[1]))
    streams.add("finance", stream_fields("finance", money[0], keyring))
    streams.add("finance", stream_fields("finance", bystander))

    result = forget_batch(settings, [first, second, third, first], progress=False)

    summary, receipts = result["summary"], result["receipts"]
    assert [r["subject_pseudonym"] for r in receipts] == batch
    assert summary["subjects"] == 3 and summary["duplicates_ignored"] == 1 and summary["resumed"] == 0
    assert summary["receipt_ids"] == {r["subject_pseudonym"]: r["receipt_id"] for r in receipts}
    assert {r["batch"]["batch_id"] for r in receipts} == {summary["batch_id"]}
    for r in receipts:
        own = [k for k in mine if rows[k].subject_pseudonym == r["subject_pseudonym"]]
        assert r["removed"]["subject_keys_destroyed"] == 1
        assert r["removed"]["vault_records_deleted"] == len(own)
        assert r["removed"]["vectors_deleted"] == sum(len(vectors[k]) for k in own)
        assert r["removed"]["identities_deleted"] >= 1
        assert r["verified"] == {"subject_keys_left": 0, "vault_records_left": 0, "identities_left": 0,
                                 "vectors_left": 0, "lancedb_versions_left": 1}
    assert [r["removed"]["raw_stream_entries_deleted"] for r in receipts] == [1, 0, 1]
    assert [r["removed"]["dead_letters_deleted"] for r in receipts] == [1, 0, 0]
    assert [r["removed"]["dead_letter_stream_entries_deleted"] for r in receipts] == [1, 0, 0]
    assert summary["removed"]["vault_records_deleted"] == len(mine)
    assert summary["removed"]["vectors_deleted"] == len(victim_vectors)
    assert summary["verified"]["subjects_with_data_left"] == 0
    assert summary["k_anonymity"]["records_regeneralized"] >= 1  # seed 5: a class shrank
    stored = {r["subject_pseudonym"]: r for r in vault.erasure_receipts()}
    assert set(stored) == set(batch) and all(r["status"] == "complete" for r in stored.values())
    assert all({k: v for k, v in stored[r["subject_pseudonym"]].items() if k != "status"} == r for r in receipts)
    with psycopg.connect(settings.postgres_url) as conn:  # no record ids are kept once complete
        assert conn.execute("SELECT DISTINCT pending_record_ids, pending_reembed "
                            "FROM datavault.erasure_receipts").fetchall() == [([], [])]

    # crypto-shredded, gone from the vault, the identities, the table, every version and every file
    for k in mine:
        with pytest.raises(InvalidToken):
            keyring.open(rows[k].envelope, domain=rows[k].domain, record_id=rows[k].record_id)
    assert vault.get_records(sorted(mine)) == {}
    assert all(identities.count_subject(s) == 0 for s in batch)
    assert store.count_records(sorted(mine)) == 0 and store.versions() == 1
    assert files_holding(Path(settings.lancedb_uri), victim_vectors) == 0
    # everyone else: every record still opens, and the untouched ones kept their vectors on disk
    after = _all_rows(vault)
    assert set(after) == set(rows) - mine
    assert all(open_record(r, keyring) for r in after.values())
    untouched = [v for k, r in after.items() if r.envelope == rows[k].envelope for v in vectors[k]]
    assert files_holding(Path(settings.lancedb_uri), untouched[:20]) == 20
    assert store.count() == sum(len(vs) for k, vs in vectors.items() if k not in mine)
    # raw and dead-letter entries: only theirs are gone
    assert list(streams.scan("healthcare")) == []
    assert [e.fields for e in streams.scan("finance")] == [stream_fields("finance", bystander)]
    assert sorted(d.record_id for d in vault.dead_letters()) == ["bad-healthcare-5-0", "bad-healthcare-5-2"]


def test_erasure_reembeds_exactly_the_neighbours_it_coarsened(monkeypatch, dv_env):
    settings = ingest(monkeypatch, ("healthcare", 30, 5, 0))
    records = generate_records("healthcare", 30, seed=5)
    subject = subject_pseudonym(settings, "healthcare", subject_id("healthcare", records[1]))
    keyring = runtime.keyring_for(settings)
    vault, store = Vault(settings.postgres_url), VectorStore(settings.lancedb_uri)
    before, old_vectors = _all_rows(vault), vectors_by_record(store)

    receipt = forget(settings, subject, progress=False)

    after, new_vectors = _all_rows(vault), vectors_by_record(store)
    coarsened = {k for k, r in after.items() if r.envelope != before[k].envelope}
    assert coarsened and receipt["k_anonymity"]["records_regeneralized"] == len(coarsened)
    assert receipt["k_anonymity"]["records_reembedded"] == len(coarsened)
    assert receipt["k_anonymity"]["vectors_reembedded"] == sum(len(new_vectors[k]) for k in coarsened)
    assert receipt["k_anonymity"]["reembed_held_back"] == 0
    embedder = runtime.embedder()
    for k in coarsened:  # the vectors of the coarser text now in the vault, not of the finer text they had
        expected = embedder.embed(chunk_text(record_text(open_record(after[k], keyring))))
        stale = embedder.embed(chunk_text(record_text(open_record(before[k], keyring))))
        assert np.allclose(np.stack(new_vectors[k]), expected, atol=1e-5)
        assert np.allclose(np.stack(old_vectors[k]), stale, atol=1e-5)
        assert not np.allclose(np.stack(new_vectors[k]), np.stack(old_vectors[k]), atol=1e-3)
    for k in set(after) - coarsened:  # the others: the very same vectors
        assert [v.tobytes() for v in new_vectors[k]] == [v.tobytes() for v in old_vectors[k]]
    # the finer old vectors left the files with the old versions; the replacements are on disk
    lance_dir = Path(settings.lancedb_uri)
    assert files_holding(lance_dir, [v for k in coarsened for v in old_vectors[k]]) == 0
    assert files_holding(lance_dir, [v for k in coarsened for v in new_vectors[k]]) == \
        sum(len(new_vectors[k]) for k in coarsened)
    assert store.versions() == 1


def test_a_batch_interrupted_midway_completes_when_run_again(monkeypatch, dv_env):
    settings = ingest(monkeypatch, ("healthcare", 30, 5, 0))
    records = generate_records("healthcare", 30, seed=5)
    first = subject_pseudonym(settings, "healthcare", subject_id("healthcare", records[1]))
    batch = [first, *[s for s in _subjects(settings, "healthcare", records, 4) if s != first][:2]]
    vault, store = Vault(settings.postgres_url), VectorStore(settings.lancedb_uri)
    keyring = runtime.keyring_for(settings)
    rows = _all_rows(vault)
    mine = {k for k, r in rows.items() if r.subject_pseudonym in batch}
    vectors = vectors_by_record(store)

    # the process dies after re-sealing the coarsened neighbours, before LanceDB
    def crash(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise RuntimeError("killed")

    monkeypatch.setattr(VectorStore, "erase_records", crash)
    with pytest.raises(RuntimeError):
        forget_batch(settings, batch, progress=False)
    monkeypatch.undo()
    assert [r["status"] for r in vault.erasure_receipts()] == ["in_progress"] * 3
    assert vault.get_records(sorted(mine)) == {} and store.count_records(sorted(mine)) == len(mine)
    coarsened = {k for k, r in _all_rows(vault).items() if r.envelope != rows[k].envelope}
    assert coarsened  # re-sealed coarser, their vectors still the finer old ones
    with psycopg.connect(settings.postgres_url) as conn:
        noted = {tuple(k[:2]) for (ks,) in conn.execute("SELECT pending_reembed FROM datavault.erasure_receipts")
                 for k in ks}
    assert noted == coarsened

    again = forget_batch(settings, batch, progress=False)
    summary = again["summary"]
    assert summary["resumed"] == 3 and summary["removed"]["vault_records_deleted"] == 0  # done before the crash
    assert summary["removed"]["vectors_deleted"] == sum(len(vectors[k]) for k in mine)
    assert summary["k_anonymity"]["records_regeneralized"] == 0  # already coarse ...
    assert summary["k_anonymity"]["records_reembedded"] == len(coarsened)  # ... but still re-embedded
    assert summary["verified"]["subjects_with_data_left"] == 0 and store.count_records(sorted(mine)) == 0
    after = vectors_by_record(store)
    embedder = runtime.embedder()
    current = _all_rows(vault)
    for k in coarsened:
        expected = embedder.embed(chunk_text(record_text(open_record(current[k], keyring))))
        assert np.allclose(np.stack(after[k]), expected, atol=1e-5)
    assert files_holding(Path(settings.lancedb_uri), [v for k in coarsened for v in vectors[k]]) == 0
    assert sorted(r["receipt_id"] for r in vault.erasure_receipts()) == \
        sorted(r["receipt_id"] for r in again["receipts"])
    assert all(r["status"] == "complete" for r in vault.erasure_receipts())

    # erasing them once more is harmless: a new receipt each, saying nothing was left (as for one subject)
    third = forget_batch(settings, batch, progress=False)
    assert all(r["resumed"] is False for r in third["receipts"])
    assert {k: v for k, v in third["summary"]["removed"].items() if not k.startswith("lancedb")} == \
        dict.fromkeys(("subject_keys_destroyed", "vault_records_deleted", "vectors_deleted",
                       "raw_stream_entries_deleted", "dead_letters_deleted", "dead_letter_stream_entries_deleted",
                       "identities_deleted"), 0)
    assert len(vault.erasure_receipts()) == 6


def _run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DATAVAULT, *args], cwd=ROOT, env=dict(os.environ), input=stdin, capture_output=True,
                          text=True, timeout=600)


def test_forget_command_takes_a_batch_from_arguments_a_file_or_stdin(monkeypatch, dv_env, tmp_path):
    settings = ingest(monkeypatch, ("finance", 12, 9, 0))
    records = generate_records("finance", 12, seed=9)
    a, b, c = _subjects(settings, "finance", records, 3)
    name = f"{records[0]['customer']['first_name']} {records[0]['customer']['last_name']}"
    vault = Vault(settings.postgres_url)
    counts = vault.counts()

    # a bad line refuses the whole batch, naming its line and not its value; nothing is erased
    with pytest.raises(InvalidSubject) as info:
        forget_batch(settings, [a, name, b], progress=False)
    assert "item 2 of 3" in str(info.value) and name not in str(info.value)
    bad = tmp_path / "bad.txt"
    bad.write_text(f"{a}\n# from the DSAR queue\n{name}\n{b}\n")
    result = _run("forget", "--file", str(bad))
    assert result.returncode == 2 and "line 3: not a subject pseudonym" in result.stderr
    assert name not in result.stdout + result.stderr and "nothing erased" in result.stderr
    assert vault.erasure_receipts() == [] and vault.counts() == counts

    good = tmp_path / "subjects.txt"
    good.write_text(f"# DSAR queue, week 12\n\n{a}\n   {b}   # ticket 4711\n\n")
    result = _run("forget", "--file", str(good))
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout)
    assert out["summary"]["subjects"] == 2 and [r["subject_pseudonym"] for r in out["receipts"]] == [a, b]
    assert all(r["removed"]["subject_keys_destroyed"] == 1 for r in out["receipts"])

    result = _run("forget", "--file", "-", stdin=f"{c}\n")
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout)
    assert [r["subject_pseudonym"] for r in out["receipts"]] == [c] and out["summary"]["subjects"] == 1
    assert out["receipts"][0]["removed"]["vault_records_deleted"] >= 1

    # several as arguments (already erased: receipts saying nothing was left); one argument: its receipt as before
    result = _run("forget", a, c)
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout)
    assert [r["removed"]["vault_records_deleted"] for r in out["receipts"]] == [0, 0]
    result = _run("forget", b)
    assert result.returncode == 0 and json.loads(result.stdout)["subject_pseudonym"] == b
    assert _run("forget", "--file", "-", stdin="# nobody\n").returncode == 2
    assert len(vault.erasure_receipts()) == 6 and all(r["status"] == "complete" for r in vault.erasure_receipts())
    assert vault.subjects_left([a, b, c]) == {a: (0, 0), b: (0, 0), c: (0, 0)}


def test_forget_subject_job_takes_a_list_of_pseudonyms(monkeypatch, dv_env, instance):
    settings = ingest(monkeypatch, ("finance", 9, 8, 0))
    records = generate_records("finance", 9, seed=8)
    batch = _subjects(settings, "finance", records, 2)
    names = [f"{r['customer']['first_name']} {r['customer']['last_name']}" for r in records]
    job = orchestrate.load_definitions().resolve_job_def("forget_subject")
    config = {"ops": {"forget": {"config": {"subject_pseudonyms": batch}}}}

    result = job.execute_in_process(instance=instance, run_config=config)
    assert result.success
    out = result.output_for_node("forget")
    assert [r["subject_pseudonym"] for r in out["receipts"]] == batch and out["summary"]["subjects"] == 2
    assert out["summary"]["verified"]["subjects_with_data_left"] == 0
    assert {r["receipt_id"] for r in Vault(settings.postgres_url).erasure_receipts()} == \
        {r["receipt_id"] for r in out["receipts"]}
    assert instance.get_run_by_id(result.run_id).run_config == config
    events = instance.all_logs(result.run_id)
    messages = " ".join(e.message for e in events if e.message)
    assert all(f"erasure of {s}: receipt" in messages for s in batch) and "erasure of 2 subjects" in messages
    output = next(e for e in result.all_events if e.event_type_value == "STEP_OUTPUT")
    metadata = str(output.event_specific_data.metadata)
    assert all(s in metadata for s in batch)
    written = messages + metadata + json.dumps(out)
    assert not [n for n in names if n in written]

    # anything but pseudonyms is refused, before anything is erased and without repeating it
    for bad_config in ({"subject_pseudonyms": [batch[0], names[3]]},
                       {"subject_pseudonym": batch[0], "subject_pseudonyms": batch}, {}):
        bad = job.execute_in_process(instance=instance, raise_on_error=False,
                                     run_config={"ops": {"forget": {"config": bad_config}}})
        assert not bad.success
        failure = next(e for e in bad.all_events if e.event_type_value == "STEP_FAILURE")
        assert names[3] not in failure.event_specific_data.error.to_string()
    assert len(Vault(settings.postgres_url).erasure_receipts()) == 2
