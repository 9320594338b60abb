"""Canary identities planted in the input never show up anywhere DataVault writes or sends data."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import psycopg
import pytest
import redis

from datavault_dagster import orchestrate, runtime
from datavault_dagster.domain.anonymize import Anonymizer
from datavault_dagster.domain.detect import OtherPeople
from datavault_dagster.domain.records import SCHEMAS, stream_fields
from datavault_dagster.pipeline import answer_question, open_record
from datavault_dagster.services.identities import Identities
from datavault_dagster.services.settings import Settings
from datavault_dagster.services.streams import Streams
from datavault_dagster.services.vault import Vault
from datavault_dagster.services.vectors import VectorStore
from simulations import generate_records

CANARY = {
    "first_name": "Zebulon", "last_name": "Quaxworth", "ssn": "078-05-1120", "phone": "(212) 555-0187",
    "email": "zebulon.quaxworth@canary-mail.test", "dob": "1961-07-19", "mrn": "MRN-7391046",
    "street": "8813 Quillfeather Lane",
}
THIRD_PARTY = "Ottoline Vexbridge"
ROOT = Path(__file__).resolve().parents[2]
DAEMON = str(Path(sys.executable).parent / "dagster-daemon")
BAD_DOB = "1961-19-07"  # the canary's birth date with day and month swapped: matches the pattern, is no date
NEEDLES = ["quaxworth", "zebulon", "078-05-1120", "555-0187", "canary-mail", "7391046", "quillfeather",
           "vexbridge", "ottoline", "1961-07-19", BAD_DOB]
CANARY_TEXT = f"Zebulon Quaxworth SSN {CANARY['ssn']} {CANARY['email']} sister {THIRD_PARTY}"


def _canary_records() -> list[dict]:
    records = generate_records("healthcare", 9, seed=41)
    planted = []
    for n, base in enumerate(records[:3]):
        rec = json.loads(json.dumps(base))
        rec["record_id"] = f"canary-{n}"
        p = rec["patient"]
        p.update({k: CANARY[k] for k in ("first_name", "last_name", "ssn", "phone", "email", "dob", "mrn")})
        p["patient_id"] = "PAT-CANARY"
        p["address"]["street"] = CANARY["street"]
        rec["note"] = (f"ZEBULON QUAXWORTH (DOB 07/19/1961, {CANARY['mrn']}) seen with his sister {THIRD_PARTY}; "
                       f"call {CANARY['phone']} or {CANARY['email']}, lives at {CANARY['street']}. "
                       f"Mr. Quaxworth started metformin 500 mg twice daily. SSN {CANARY['ssn']}.")
        planted.append(rec)
    return planted + records[3:]


def _overflowing_date(anonymizer: Anonymizer) -> str:
    """An encounter date the canary's secret date shift pushes past the calendar (a producer's "no date" sentinel)."""
    shift = anonymizer.pseudonyms.date_shift(anonymizer.pseudonyms.subject("healthcare", "PAT-CANARY"))
    assert shift != 0
    return "9999-12-31" if shift > 0 else "0001-01-01"


def _malformed_canaries(anonymizer: Anonymizer) -> list[tuple[dict[str, str], str, str, str]]:
    """Stream entries that fail each kind of validation while carrying the canary's PII, each with the record id,
    field and reason code its dead letter must name (record id "" when only the stream id can name it)."""
    base = _canary_records()[0]
    schema = SCHEMAS["healthcare"]
    planted: list[tuple[dict[str, str], str, str, str]] = []

    def plant(rid: str, field: str, code: str, fields: dict[str, str]) -> None:
        planted.append((fields, rid, field, code))

    def record(rid: str, change) -> dict:  # noqa: ANN001
        rec = json.loads(json.dumps(base))
        rec["record_id"] = rid
        change(rec)
        return rec

    def patient(key: str, value: object):  # noqa: ANN202
        return lambda rec: rec["patient"].__setitem__(key, value)

    # entry level: broken JSON, JSON that is no object, a "sealed" value that is plaintext, an unknown schema
    plant("bad-json", "payload", "invalid_json", {"record_id": "bad-json", "schema": schema,
          "payload": '{"record_id": "bad-json", "note": "' + CANARY_TEXT + '", "patient": {"ssn": "078-05-1120"'})
    plant("bad-not-object", "payload", "not_an_object", {"record_id": "bad-not-object", "schema": schema,
          "payload": json.dumps([CANARY_TEXT])})
    plant("bad-sealed", "sealed", "cannot_open", {"record_id": "bad-sealed", "schema": schema,
          "sealed": CANARY_TEXT})
    rec = record("bad-schema-v2", lambda r: None)
    plant("bad-schema-v2", "schema", "unknown_schema", {**stream_fields("healthcare", rec), "schema": "healthcare.v2"})
    # the stream's record id: missing, too long (both named by stream id only), not the payload's
    rec = record("bad-no-id", lambda r: None)
    plant("", "record_id", "missing", {k: v for k, v in stream_fields("healthcare", rec).items() if k != "record_id"})
    long_id = "bad-long-" + "9" * 130
    plant("", "record_id", "invalid_format", stream_fields("healthcare", record(long_id, lambda r: None)))
    rec = record("canary-0", lambda r: None)
    plant("bad-mismatch", "record_id", "mismatch_with_stream_field",
          {**stream_fields("healthcare", rec), "record_id": "bad-mismatch"})
    # schema: an invalid value that IS the canary's PII, a wrong type, a missing field, an extra field (one top
    # level, one keyed by a person's name), a note over the size limit
    for rid, field, code, change in [
        ("bad-ssn", "patient.ssn", "invalid_pattern", patient("ssn", CANARY["ssn"] + "x")),
        ("bad-email", "patient.email", "invalid_pattern", patient("email", "zebulon.quaxworth@canary-mail")),
        ("bad-dob-text", "patient.dob", "invalid_pattern", patient("dob", "Zebulon Quaxworth, 19 July 1961")),
        ("bad-first-name", "patient.first_name", "invalid_type", patient("first_name", [78, 5, 1120])),
        ("bad-missing-ssn", "patient.ssn", "missing", lambda r: r["patient"].pop("ssn")),
        ("bad-schema-version", "<record>", "unexpected_field", lambda r: r.__setitem__("schema_version", 2)),
        ("bad-extra-person", "patient", "unexpected_field", patient(THIRD_PARTY, "sister, same household")),
        ("bad-note-size", "note", "invalid_maxLength", lambda r: r.__setitem__("note", (CANARY_TEXT + ". ") * 250)),
        # valid by the schema, but not a calendar date / shifted out of the calendar: the anonymizer refuses them
        ("bad-dob-date", "<record>", "cannot_anonymize", patient("dob", BAD_DOB)),
        ("bad-date-overflow", "<record>", "cannot_anonymize",
         lambda r: r["encounter"].__setitem__("date", _overflowing_date(anonymizer))),
    ]:
        plant(rid, field, code, stream_fields("healthcare", record(rid, change)))
    return planted


def _phone_with_letters() -> dict:
    """A canary record whose phone holds letters and a name: the schema only asks for 7 characters, so it is valid."""
    rec = json.loads(json.dumps(_canary_records()[0]))
    rec["record_id"] = "canary-phone-letters"
    rec["patient"]["phone"] = f"{CANARY['phone']} ask for Zebulon"
    return rec


def _hits(data: bytes) -> list[str]:
    low = data.lower()
    return [n for n in NEEDLES if n.encode() in low]


@contextmanager
def _dagster_daemon(log_path: Path) -> Iterator[subprocess.Popen]:
    """`dagster-daemon run` on the repo's workspace.yaml: `dagster dev` without the UI, docker-compose's daemon."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    with open(log_path, "wb") as log:
        daemon = subprocess.Popen([DAEMON, "run", "-w", str(ROOT / "workspace.yaml")], cwd=ROOT, env=env,
                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            yield daemon
        finally:
            daemon.send_signal(signal.SIGTERM)  # shuts its code server down too
            try:
                daemon.wait(timeout=60)
            finally:
                try:
                    os.killpg(daemon.pid, signal.SIGKILL)  # anything of ours it left behind
                except ProcessLookupError:
                    pass


def _run_via_daemon(dagster_home: Path, raw_stream: str, log_path: Path, timeout: float = 300) -> list[dg.DagsterRun]:
    """Let the daemon's Redis sensor launch the partition runs (queued run coordinator -> DefaultRunLauncher ->
    run worker -> in-process executor, every step in the run worker) and its run-status sensor trim the stream."""
    shutil.copy(ROOT / "dagster.yaml", dagster_home / "dagster.yaml")
    client = redis.Redis.from_url(Settings.from_env().redis_url)
    # the SQLite storage is created before the daemon and its code server open it, as `dagster dev` does
    with dg.DagsterInstance.get() as instance, _dagster_daemon(log_path) as daemon:
        deadline = time.monotonic() + timeout
        while True:
            runs = instance.get_runs(dg.RunsFilter(job_name=orchestrate.JOB))
            finished = bool(runs) and all(r.is_finished for r in runs)
            if finished and (client.xlen(raw_stream) == 0 or not all(r.is_success for r in runs)):
                return runs
            log = log_path.read_text(errors="replace")
            assert daemon.poll() is None and "Error loading repository location" not in log, log[-3000:]
            assert time.monotonic() < deadline, f"runs {[r.status for r in runs]}:\n{log[-3000:]}"
            time.sleep(1)


def _assert_no_canary_stored(settings: Settings, dagster_home: Path, keep: str | None = None,
                             embedded: bool = True) -> set[str]:
    """No canary in any store: PostgreSQL, Redis streams (but `keep`), LanceDB files (there are some if `embedded`),
    DAGSTER_HOME; returns the Redis keys scanned."""
    # PostgreSQL: every column of every DataVault table, text and bytes
    with psycopg.connect(settings.postgres_url) as conn:
        tables = [t for (t,) in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'datavault'")]
        for table in tables:
            for row in conn.execute(f"SELECT * FROM datavault.{table}"):
                for cell in row:
                    data = bytes(cell) if isinstance(cell, (bytes, memoryview)) else str(cell).encode()
                    assert _hits(data) == [], f"canary in datavault.{table}"
    # Redis: whatever is left in any stream (raw entries are trimmed; dead letters are sealed)
    client = redis.Redis.from_url(settings.redis_url)
    for key in client.scan_iter("datavault:*"):
        if key.decode() == keep:
            continue
        for _, fields in client.xrange(key):
            assert _hits(b" ".join(fields.values())) == [], f"canary in {key!r}"
    # LanceDB files, and Dagster's storage: event log, run records, compute logs (and the daemon's own output)
    for root in (Path(settings.lancedb_uri), dagster_home):
        files = [p for p in root.rglob("*") if p.is_file()]
        assert files or (root != dagster_home and not embedded)
        assert [str(p) for p in files if _hits(p.read_bytes())] == []
    return {k.decode() for k in client.scan_iter("datavault:*")} - {keep}


@pytest.mark.parametrize("launch", ["datavault-process", "dagster-daemon"])
def test_planted_canaries_reach_no_store_log_or_prompt(dv_env: Path, monkeypatch, caplog, launch: str):
    monkeypatch.setenv("DATAVAULT_BATCH_SIZE", "50")
    caplog.set_level(logging.WARNING, logger="datavault_dagster")
    settings = Settings.from_env()
    keyring = runtime.keyring_for(settings)  # created before the runs: the planted overflow depends on its key
    streams = Streams(settings.redis_url)
    good = _canary_records() + [_phone_with_letters()]
    malformed = _malformed_canaries(runtime.anonymizer_for(keyring))
    # the bad entries sit between good ones in the same partition: the good ones after them must still be sealed
    entries = ([stream_fields("healthcare", r) for r in good[:5]] + [m[0] for m in malformed]
               + [stream_fields("healthcare", r) for r in good[5:]])
    stream_ids = streams.add_many("healthcare", entries)
    planted = dict(zip(stream_ids, entries, strict=True))
    bad_ids = stream_ids[5 : 5 + len(malformed)]
    expected = {(rid or f"<stream {sid}>"): (field, code)
                for sid, (_, rid, field, code) in zip(bad_ids, malformed, strict=True)}
    raw = b" ".join(v for _, f in redis.Redis.from_url(settings.redis_url).xrange("datavault:raw:healthcare")
                    for v in f.values())
    assert set(_hits(raw)) == set(NEEDLES)  # the scan sees every canary in the input
    for fields, *_ in malformed:  # and every bad entry carries some of them
        assert _hits(json.dumps(fields).encode()), fields.get("record_id")
    dagster_home = Path(os.environ["DAGSTER_HOME"])
    daemon_log = dv_env / "dagster-daemon.log"
    if launch == "datavault-process":  # the CLI: in-process runs, one quiet capture per run
        outcomes = orchestrate.process(settings.home, progress=False)
        assert outcomes and all(o.success for o in outcomes)
    else:
        runs = _run_via_daemon(dagster_home, "datavault:raw:healthcare", daemon_log)
        assert runs and all(r.is_success for r in runs), [r.status for r in runs]
        assert {r.tags.get("dagster/sensor_name") for r in runs} == {"redis_stream_sensor"}

    # the bad entries are dead letters naming record id, field and reason; the good ones are all in the vault
    vault, identities = Vault(settings.postgres_url), Identities(settings.postgres_url)
    letters = vault.dead_letters()
    assert {d.record_id: (d.field, d.reason_code) for d in letters} == expected
    assert len(letters) == len(expected) == len(malformed)
    for d in letters:  # each keeps its whole raw entry, sealed
        opened = keyring.open(d.sealed_payload, domain="deadletter:healthcare", record_id=d.stream_id)
        assert json.loads(opened) == planted[d.stream_id]
    with psycopg.connect(settings.postgres_url) as conn:
        sealed_ids = {rid for (rid,) in conn.execute("SELECT record_id FROM datavault.records")}
    assert sealed_ids == {r["record_id"] for r in good}
    dead_stream = list(streams.scan("healthcare", dead_letters=True))
    assert {e.fields["record_id"]: (e.fields["field"], e.fields["reason_code"]) for e in dead_stream} == expected
    # what the runs recorded about them: reason codes in the materialization, field:reason in the dead-letter check
    by_field = dict(Counter(f"{field}:{code}" for field, code in expected.values()))
    with dg.DagsterInstance.get() as instance:
        run_ids = [r.run_id for r in instance.get_runs(dg.RunsFilter(job_name=orchestrate.JOB))]
        checks = [e.dagster_event.event_specific_data for rid in run_ids
                  for e in instance.all_logs(rid, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)]
        mats = [e.dagster_event.event_specific_data.materialization for rid in run_ids
                for e in instance.all_logs(rid, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)]
    depth = [c for c in checks if c.check_name == "dead_letter_depth"]
    assert [c.metadata["by_field_and_reason"].value for c in depth] == [by_field]
    sealed_mat = [m for m in mats if m.asset_key == dg.AssetKey(["vault", "encrypted_records"])]
    assert [m.metadata["dead_letters"].value for m in sealed_mat] == [len(expected)]
    # the log line of each dead letter names its record id and field, never a value
    lines = [f"record {rid!r}: field {field!r}: {code}" for rid, (field, code) in expected.items()]
    if launch == "datavault-process":
        logged = "\n".join(r.getMessage() for r in caplog.records if r.getMessage().startswith("dead letter:"))
        assert logged.count("dead letter:") == len(expected)
        assert [line for line in lines if line not in logged] == []
        assert _hits(logged.encode()) == []

    prompts: list[list[dict[str, str]]] = []

    def capture(messages: list[dict[str, str]]) -> str:
        prompts.append(messages)
        return "noted [1]"

    answer = answer_question(
        "What was prescribed to Zebulon Quaxworth, and how is Ottoline Vexbridge related?",
        anonymizer=runtime.anonymizer_for(keyring), embedder=runtime.embedder(),
        vectors=VectorStore(settings.lancedb_uri), vault=vault, keyring=keyring, complete=capture,
        model="capture", k=4, identities=identities,
    )
    assert any(s.record_id.startswith("canary-") for s in answer.sources)  # the canary's records were found
    assert _hits(json.dumps(prompts).encode()) == [] and _hits(answer.question.encode()) == []

    scanned = _assert_no_canary_stored(settings, dagster_home)
    assert "datavault:deadletter:healthcare" in scanned  # the sealed dead letters were scanned too
    if launch == "dagster-daemon":
        # the captured logs were really written and hold our own log lines, so their scan above is not vacuous:
        # one stderr file per run (the ingest job runs its steps in one process, so Dagster captures the run's
        # console log plus every step's context.log lines in one file), and the trim sensor's tick log; the
        # daemon's output (its code server's and run workers') has no canary either
        run_logs = sorted((dagster_home / "storage").glob("*/compute_logs/*.err"))
        with dg.DagsterInstance.get() as instance:
            steps = [e for r in runs for e in instance.all_logs(r.run_id, of_type=dg.DagsterEventType.STEP_START)]
        assert len(run_logs) == len(runs) and len(steps) >= 8 and all(p.stat().st_size for p in run_logs)
        captured = b"".join(p.read_bytes() for p in (dagster_home / "storage").rglob("*.err"))
        assert b" sealed, " in captured and b" vectors" in captured
        assert f"trimmed {len(entries)} raw entries".encode() in captured
        assert [line for line in lines if line.encode() not in captured] == []  # the dead letters' log lines
        assert _hits(daemon_log.read_bytes()) == []
    identities.close()
    vault.close()


def _neighbour_note(records: list[dict]) -> dict:
    slipped = json.loads(json.dumps(records[5]))  # not the canary's record: its own identifiers do not cover him
    slipped["record_id"] = "neighbour-note"
    slipped["note"] = "Neighbour quaxworth, zebulon drove her in; he lives at 8813 quillfeather lane."
    return slipped


def _run_with_neighbour_note(monkeypatch):  # noqa: ANN001, ANN202
    """The canary records plus another patient's note naming him, in one partition, run in-process."""
    monkeypatch.setenv("DATAVAULT_BATCH_SIZE", "50")
    settings = Settings.from_env()
    records = _canary_records()
    Streams(settings.redis_url).add_many("healthcare", (stream_fields("healthcare", r)
                                                        for r in [*records, _neighbour_note(records)]))
    return settings, records, orchestrate.process(settings.home, progress=False)


def test_a_note_naming_another_person_of_the_batch_gets_that_persons_pseudonym(dv_env: Path, monkeypatch):
    """Another patient's note names the canary in lower case, as "last, first", with his street: NER misses it and
    that record's own identifiers do not cover him, but the batch's other people do: the note carries his
    pseudonym, the partition goes through, and no store holds the canary."""
    settings, records, outcomes = _run_with_neighbour_note(monkeypatch)
    assert [o.success for o in outcomes] == [True]
    assert outcomes[0].checks["vault_has_no_plaintext_pii"] is True

    keyring = runtime.keyring_for(settings)
    vault = Vault(settings.postgres_url)
    docs = {r.record_id: open_record(r, keyring) for r in vault.partition_records(vault.partition_keys()[0])}
    his = docs["canary-0"]["patient"]["pseudonym"]
    assert docs["neighbour-note"]["note"] == f"Neighbour {his} drove her in; he lives at [ADDRESS]."
    _assert_no_canary_stored(settings, Path(os.environ["DAGSTER_HOME"]), embedded=True)


def test_a_detector_miss_is_quarantined_before_sealing_not_a_failed_partition(dv_env: Path, monkeypatch):
    """With the batch's other people switched off (standing in for any detector miss), the neighbour's note keeps
    the canary's name; the guard before sealing compares it with the same batch identifiers the blocking check
    uses, so that one record becomes a `pii_leak_blocked` dead letter (named by record id and field) and the rest
    of the partition lands: the check passes and nothing stalls."""
    monkeypatch.setattr(Anonymizer, "other_people", lambda self, records: OtherPeople({}))
    settings, records, outcomes = _run_with_neighbour_note(monkeypatch)
    assert [o.success for o in outcomes] == [True]
    assert outcomes[0].checks["vault_has_no_plaintext_pii"] is True
    vault = Vault(settings.postgres_url)
    letters = vault.dead_letters()
    assert [(d.record_id, d.reason_code, d.field) for d in letters] == [("neighbour-note", "pii_leak_blocked", "note")]
    assert len(vault.partition_records(vault.partition_keys()[0])) == len(records)
    _assert_no_canary_stored(settings, Path(os.environ["DAGSTER_HOME"]), embedded=True)


def test_privacy_check_step_failure_carries_no_canary(dv_env: Path, monkeypatch):
    """A step failure with the canary in play: with the batch's other people switched off AND the guard before
    sealing bypassed (standing in for a bug in it), the neighbour's note is sealed with the canary's name; the
    blocking vault check finds his identifiers in the sealed document and fails the run before anything is
    embedded, naming the record and field. The failure events (message, stack, causes), the check's metadata and
    every store hold no canary."""
    from datavault_dagster import pipeline

    monkeypatch.setattr(Anonymizer, "other_people", lambda self, records: OtherPeople({}))
    monkeypatch.setattr(pipeline, "anonymize_parsed", lambda record, anonymizer, others=None, context=None:
                        anonymizer.anonymize_record(record, others))
    settings, records, outcomes = _run_with_neighbour_note(monkeypatch)
    assert [o.success for o in outcomes] == [False]
    assert outcomes[0].checks["vault_has_no_plaintext_pii"] is False
    with dg.DagsterInstance.get() as instance:
        events = [e.dagster_event for e in instance.all_logs(outcomes[0].run_id)
                  if e.dagster_event is not None]
    failures = [e.event_specific_data.error for e in events
                if e.event_type in (dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.RUN_FAILURE)]
    assert len(failures) == 2 and all("vault_has_no_plaintext_pii" in f.to_string() for f in failures)
    assert _hits(json.dumps([f.to_string() for f in failures]).encode()) == []  # message, stack and causes
    check = next(e.event_specific_data for e in events if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
                 and e.event_specific_data.check_name == "vault_has_no_plaintext_pii")
    assert check.metadata["records_with_findings"].value == 1  # named by id and field, never the value
    assert check.metadata["failing_record_ids"].value == "neighbour-note"
    assert "| neighbour-note | note | batch_identifier |" in check.metadata["failing_records"].value
    assert not [e for e in events if e.step_key == "vectors__record_embeddings" and e.is_step_start]

    # the failed partition's raw entries stay in Redis for a re-run (by design); nothing else holds the canary
    client = redis.Redis.from_url(settings.redis_url)
    assert client.xlen("datavault:raw:healthcare") == len(records) + 1
    _assert_no_canary_stored(settings, Path(os.environ["DAGSTER_HOME"]), keep="datavault:raw:healthcare",
                             embedded=False)
    with psycopg.connect(settings.postgres_url) as conn:  # the record is in the vault, sealed
        assert ("neighbour-note",) in conn.execute("SELECT record_id FROM datavault.records").fetchall()
