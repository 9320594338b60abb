"""The right to erasure against real Redis, PostgreSQL, LanceDB (files on disk) and the real embedding model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from datavault_dagster import orchestrate, runtime
from datavault_dagster.cli import forget, produce, subject_pseudonym
from datavault_dagster.domain.batches import StreamRange
from datavault_dagster.domain.crypto import key_id_of
from datavault_dagster.domain.embed import chunk_text, record_text
from datavault_dagster.domain.errors import InvalidToken
from datavault_dagster.domain.records import stream_fields
from datavault_dagster.pipeline import answer_question, open_record, seal_partition
from datavault_dagster.services.identities import Identities
from datavault_dagster.services.settings import Settings
from datavault_dagster.services.streams import Streams
from datavault_dagster.services.vault import Vault, VaultRow
from datavault_dagster.services.vectors import VectorStore
from simulations import generate_records
from tests.support import files_holding as _files_holding
from tests.support import ingest as _ingest
from tests.support import subject_id as _subject_id
from tests.support import vectors_by_record as _vectors_by_record

ROOT = Path(__file__).resolve().parents[2]
DATAVAULT = str(Path(sys.executable).parent / "datavault")


class RecordingLLM:
    """A `complete` function that records the prompts it is given (the retrieval is real; no LLM needed)."""

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def __call__(self, messages: list[dict[str, str]]) -> str:
        self.prompts.append("\n".join(m["content"] for m in messages))
        return "recorded"


def _ask(settings: Settings, vault: Vault, question: str) -> tuple[list[tuple[str, str]], RecordingLLM]:
    keyring = runtime.keyring_for(settings)
    llm = RecordingLLM()
    answer = answer_question(question, anonymizer=runtime.anonymizer_for(keyring), embedder=runtime.embedder(),
                             vectors=VectorStore(settings.lancedb_uri), vault=vault, keyring=keyring,
                             complete=llm, model="recording", k=4)
    return [(s.domain, s.record_id) for s in answer.sources], llm


def test_forget_shreds_one_subject_everywhere_and_leaves_everyone_else(monkeypatch, dv_env):
    settings = _ingest(monkeypatch, ("healthcare", 30, 5, 3), ("finance", 12, 5, 0))
    records = generate_records("healthcare", 30, seed=5)
    victim_id = _subject_id("healthcare", records[1])  # bad-healthcare-5-1 copies records[1]: a dead letter too
    subject = subject_pseudonym(settings, "healthcare", victim_id)
    mine = {("healthcare", r["record_id"]) for r in records if _subject_id("healthcare", r) == victim_id}
    assert len(mine) >= 2

    keyring = runtime.keyring_for(settings)
    vault, streams, store = Vault(settings.postgres_url), Streams(settings.redis_url), VectorStore(settings.lancedb_uri)
    rows = {(r.domain, r.record_id): r for key in vault.partition_keys() for r in vault.partition_records(key)}
    victim_rows = [rows[k] for k in mine]
    others = [r for k, r in rows.items() if k not in mine]
    assert all(r.subject_pseudonym == subject for r in victim_rows) and len(rows) == 42
    vectors = _vectors_by_record(store)
    victim_vectors = [v for k in mine for v in vectors[k]]
    other_vectors = [v for k, vs in vectors.items() if k not in mine for v in vs]
    lance_dir = Path(settings.lancedb_uri)
    assert _files_holding(lance_dir, victim_vectors) == len(victim_vectors)  # the scan does find them

    # the subject's entries still in Redis: plain and sealed with the ingest key; and someone else's
    other_record = next(r for r in records if _subject_id("healthcare", r) != victim_id)
    streams.add("healthcare", stream_fields("healthcare", records[1]))
    streams.add("healthcare", stream_fields("healthcare", records[1], keyring))
    streams.add("healthcare", stream_fields("healthcare", other_record))
    assert len(vault.dead_letters()) == 3 and streams.dead_letter_length("healthcare") == 3
    identities = Identities(settings.postgres_url)
    names_before = identities.conn.execute("SELECT count(*) FROM datavault.identities").fetchone()[0]
    assert identities.count_subject(subject) >= 1  # the subject's name, sealed for audited re-identification

    # before: a question drawn from one of the subject's records retrieves it
    question = chunk_text(record_text(open_record(victim_rows[0], keyring)))[0]
    sources, _ = _ask(settings, vault, question)
    assert set(sources) & mine

    receipt = forget(settings, subject, progress=False)

    removed = receipt["removed"]
    assert receipt["subject_pseudonym"] == subject and receipt["resumed"] is False
    assert removed["subject_keys_destroyed"] == 1
    assert removed["vault_records_deleted"] == len(mine) == removed["vault_records_deleted_by_domain"]["healthcare"]
    assert removed["vectors_deleted"] == len(victim_vectors)
    assert removed["raw_stream_entries_deleted"] == 2
    assert removed["dead_letters_deleted"] == 1 and removed["dead_letter_stream_entries_deleted"] == 1
    assert removed["identities_deleted"] >= 1 and identities.count_subject(subject) == 0
    assert identities.conn.execute("SELECT count(*) FROM datavault.identities").fetchone()[0] == \
        names_before - removed["identities_deleted"]
    assert receipt["verified"] == {"subject_keys_left": 0, "vault_records_left": 0, "identities_left": 0,
                                   "vectors_left": 0, "lancedb_versions_left": 1}
    assert datetime.fromisoformat(receipt["requested_at"]) <= datetime.fromisoformat(receipt["completed_at"])
    assert datetime.fromisoformat(receipt["completed_at"]) <= datetime.now(UTC)
    stored = vault.erasure_receipts(subject)
    assert len(stored) == 1 and stored[0]["status"] == "complete"
    assert {k: v for k, v in stored[0].items() if k != "status"} == receipt
    with psycopg.connect(settings.postgres_url) as conn:  # the ids of the erased records are not kept
        assert conn.execute("SELECT pending_record_ids FROM datavault.erasure_receipts").fetchone()[0] == []

    # crypto-shredded: the subject's envelopes no longer open (the key is gone), wherever copies of them live
    for r in victim_rows:
        with pytest.raises(InvalidToken):
            keyring.open(r.envelope, domain=r.domain, record_id=r.record_id)
        with pytest.raises(InvalidToken):
            open_record(VaultRow(*[getattr(r, f) for f in ("domain", "record_id", "stream_id", "partition_key",
                                                           "subject_pseudonym", "key_id", "envelope")]), keyring)
    assert vault.get_records(sorted(mine)) == {}
    # everyone else stays: every other record opens; those whose class of quasi-identifiers shrank below k
    # when the subject left were coarsened again (and nothing else about them changed); the rest are untouched
    after = {(r.domain, r.record_id): r for key in vault.partition_keys() for r in vault.partition_records(key)}
    assert set(after) == {(r.domain, r.record_id) for r in others}
    regeneralized: set[tuple[str, str]] = set()
    for r in others:
        old, new = open_record(r, keyring), open_record(after[(r.domain, r.record_id)], keyring)
        if after[(r.domain, r.record_id)].envelope == r.envelope:
            continue
        regeneralized.add((r.domain, r.record_id))
        block = "patient" if r.domain == "healthcare" else "customer"
        changed = {f for f in old[block] if old[block][f] != new[block][f]}
        assert changed and changed <= {"age_band", "sex", "state", "zip3"}
        assert {k: v for k, v in old.items() if k != block} == {k: v for k, v in new.items() if k != block}
        assert all(new[block][f] == "*" or "-" in new[block][f] for f in changed)
    assert len(regeneralized) == receipt["k_anonymity"]["records_regeneralized"] >= 1  # seed 5: a class shrank
    assert receipt["k_anonymity"]["records_reembedded"] == len(regeneralized)
    assert receipt["k_anonymity"]["target_k"] == 3 and receipt["k_anonymity"]["partitions_checked"] >= 1

    # vectors: gone from the table, from every version, and from every file on disk
    assert store.count_records(sorted(mine)) == 0 and store.versions() == 1
    assert store.count() == len(other_vectors)
    assert _files_holding(lance_dir, victim_vectors) == 0
    # the coarsened neighbours were re-embedded: their finer old vectors are gone too, everyone else's stay
    kept = [v for k, vs in vectors.items() if k not in mine and k not in regeneralized for v in vs]
    assert _files_holding(lance_dir, [v for k in regeneralized for v in vectors[k]]) == 0
    assert _files_holding(lance_dir, kept[:20]) == 20
    # raw and dead-letter entries: only the subject's are gone
    left = [e.fields for e in streams.scan("healthcare")]
    assert left == [stream_fields("healthcare", other_record)]
    dead = vault.dead_letters()
    assert sorted(d.record_id for d in dead) == ["bad-healthcare-5-0", "bad-healthcare-5-2"]
    assert sorted(e.fields["record_id"] for e in streams.scan("healthcare", dead_letters=True)) == \
        ["bad-healthcare-5-0", "bad-healthcare-5-2"]

    # retrieval: the same question never brings the subject back; the prompt holds none of them
    sources, llm = _ask(settings, vault, question)
    assert sources and not set(sources) & mine
    assert llm.prompts and not any(subject in p or any(rid in p for _, rid in mine) for p in llm.prompts)

    # a partition that held the subject replays cleanly (its blocking checks pass, nothing comes back)
    with dg.instance_for_test(temp_dir=str(dv_env / "dagster")) as instance:
        defs = orchestrate.load_definitions()
        outcome = orchestrate.run_partition(instance, defs, victim_rows[0].partition_key)
    assert outcome.success and all(outcome.checks.values())
    assert vault.subject_record_count(subject) == 0 and vault.subject_key_count(subject) == 0


def test_tombstone_blocks_a_run_racing_the_erasure_and_the_subject_may_come_back(monkeypatch, dv_env):
    settings = _ingest(monkeypatch, ("finance", 9, 6, 0))
    records = generate_records("finance", 9, seed=6)
    victim_id = _subject_id("finance", records[0])
    subject = subject_pseudonym(settings, "finance", victim_id)
    keyring = runtime.keyring_for(settings)
    vault, streams = Vault(settings.postgres_url), Streams(settings.redis_url)
    old = [r for r in vault.partition_records(vault.partition_keys()[0]) if r.subject_pseudonym == subject]
    assert old

    # a run read the subject's entry before the erasure removed it, and writes after the tombstone
    sid = streams.add("finance", stream_fields("finance", records[0]))
    rng = StreamRange("finance", sid, sid)
    vault.start_erasure("race", subject, datetime.now(UTC), streams.time_ms())
    report = seal_partition(rng, streams, vault, keyring, runtime.anonymizer_for(keyring))
    assert report.skipped_erased == 1 and report.sealed == 0
    receipt = forget(settings, subject, progress=False)
    assert receipt["receipt_id"] == "race" and receipt["resumed"] is True
    assert receipt["removed"]["vault_records_deleted"] == len(old)
    assert receipt["removed"]["raw_stream_entries_deleted"] == 1

    # the vault refuses an old entry of the subject even when written directly
    key = vault.subject_keys("finance", [subject], create=keyring.new_subject_key)[subject]
    env = keyring.seal(b"{}", domain="finance", record_id="late", subject_key=key)
    counts = vault.upsert_records([VaultRow("finance", "late", sid, rng.partition_key, subject, key.key_id, env)])
    assert counts.skipped_erased == 1 and counts.inserted == 0

    # the subject comes back later with new data: a new key with a new id, which opens none of the old envelopes
    produce(settings, "finance", 1, 6, progress=False)  # records[0] again, under a new stream id
    outcomes = orchestrate.process(settings.home, progress=False)
    assert len(outcomes) == 1 and outcomes[0].success
    back = [r for r in vault.partition_records(outcomes[0].partition_key) if r.subject_pseudonym == subject]
    assert len(back) == 1 and open_record(back[0], keyring)["record_id"] == records[0]["record_id"]
    assert back[0].subject_key.subject_key_id not in {key_id_of(r.envelope) for r in old}
    for r in old:
        with pytest.raises(InvalidToken):
            keyring.open(r.envelope, domain=r.domain, record_id=r.record_id, subject_key=back[0].subject_key)


def test_an_interrupted_erasure_is_finished_by_running_it_again(monkeypatch, dv_env):
    settings = _ingest(monkeypatch, ("finance", 9, 7, 0))
    record = generate_records("finance", 9, seed=7)[0]
    subject = subject_pseudonym(settings, "finance", _subject_id("finance", record))
    vault, store = Vault(settings.postgres_url), VectorStore(settings.lancedb_uri)
    cutoff = Streams(settings.redis_url).time_ms()
    vault.start_erasure("crashed", subject, datetime.now(UTC), cutoff)
    shred = vault.shred_subject(subject, "crashed")  # ... and the process died before LanceDB
    assert shred.record_keys and store.count_records(shred.record_keys) == len(shred.record_keys)

    receipt = forget(settings, subject, progress=False)
    assert receipt["receipt_id"] == "crashed" and receipt["resumed"] is True
    assert receipt["removed"]["vault_records_deleted"] == 0  # done before the crash
    assert receipt["removed"]["vectors_deleted"] == len(shred.record_keys)
    assert store.count_records(shred.record_keys) == 0 and receipt["verified"]["vectors_left"] == 0
    assert [r["status"] for r in vault.erasure_receipts(subject)] == ["complete"]
    # forgetting someone unknown (or twice) is harmless and still leaves a receipt
    again = forget(settings, subject, progress=False)
    assert again["removed"]["vault_records_deleted"] == 0 and again["removed"]["vectors_deleted"] == 0
    assert len(vault.erasure_receipts(subject)) == 2


def test_forget_subject_job_takes_the_pseudonym_only(monkeypatch, dv_env, instance):
    settings = _ingest(monkeypatch, ("finance", 9, 8, 0))
    record = generate_records("finance", 9, seed=8)[0]
    subject = subject_pseudonym(settings, "finance", _subject_id("finance", record))
    job = orchestrate.load_definitions().resolve_job_def("forget_subject")
    config = {"ops": {"forget": {"config": {"subject_pseudonym": subject}}}}

    result = job.execute_in_process(instance=instance, run_config=config)
    assert result.success
    receipt = result.output_for_node("forget")
    assert receipt["subject_pseudonym"] == subject and receipt["removed"]["vault_records_deleted"] >= 1
    assert receipt["verified"]["vectors_left"] == 0
    assert Vault(settings.postgres_url).erasure_receipts(subject)[0]["receipt_id"] == receipt["receipt_id"]
    assert instance.get_run_by_id(result.run_id).run_config == config
    messages = " ".join(e.message for e in instance.all_logs(result.run_id) if e.message)
    assert "erasure of " + subject in messages and "vectors" in messages

    # anything but a pseudonym is refused, and the failure does not repeat it
    name = f"{record['customer']['first_name']} {record['customer']['last_name']}"
    bad = job.execute_in_process(instance=instance, raise_on_error=False,
                                 run_config={"ops": {"forget": {"config": {"subject_pseudonym": name}}}})
    assert not bad.success
    failure = next(e for e in bad.all_events if e.event_type_value == "STEP_FAILURE")
    error = failure.event_specific_data.error.to_string()
    assert "not a subject pseudonym" in error and name not in error


def test_forget_command_pseudonymizes_the_subject_id_locally(monkeypatch, dv_env):
    settings = _ingest(monkeypatch, ("finance", 6, 9, 0))
    record = generate_records("finance", 6, seed=9)[0]
    subject_id = _subject_id("finance", record)
    subject = subject_pseudonym(settings, "finance", subject_id)
    env = dict(os.environ)
    result = subprocess.run([DATAVAULT, "forget", "--domain", "finance", "--subject-id", subject_id], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    receipt = json.loads(result.stdout)
    assert receipt["subject_pseudonym"] == subject and receipt["removed"]["subject_keys_destroyed"] == 1
    assert subject_id not in result.stdout + result.stderr
    bad = subprocess.run([DATAVAULT, "forget", "Jane Doe"], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=600)
    assert bad.returncode == 2 and "not a subject pseudonym" in bad.stderr and "Jane Doe" not in bad.stderr
    with psycopg.connect(settings.postgres_url) as conn:
        stored = conn.execute("SELECT receipt FROM datavault.erasure_receipts").fetchall()
    assert [r[0]["receipt_id"] for r in stored] == [receipt["receipt_id"]]
