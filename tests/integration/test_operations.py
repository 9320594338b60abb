"""Operating the pipeline on the real services: no false alarms, a way out of a true one, retries, clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
import redis

from datavault_dagster import cli, orchestrate, runtime
from datavault_dagster.domain.anonymize import Anonymizer
from datavault_dagster.domain.records import stream_fields
from datavault_dagster.pipeline import open_record
from datavault_dagster.services.settings import Settings
from datavault_dagster.services.streams import Streams
from datavault_dagster.services.vault import Vault
from datavault_dagster.services.vectors import VectorStore
from simulations import generate_records


def _produce(settings: Settings, domain: str, records: list[dict]) -> list[str]:
    return Streams(settings.redis_url).add_many(domain, (stream_fields(domain, r) for r in records))


def _docs(settings: Settings) -> dict[str, dict]:
    vault, keyring = Vault(settings.postgres_url), runtime.keyring_for(settings)
    try:
        return {r.record_id: open_record(r, keyring) for key in vault.partition_keys()
                for r in vault.partition_records(key)}
    finally:
        vault.close()


def test_a_city_that_prefixes_another_records_words_is_no_leak(dv_env: Path, monkeypatch):
    """The false alarm that stalled partitions: one record's city ("Lake") is a prefix of a branch name in another
    record's note ("Lakewood"), which a substring scan took for a leak. Whole-value matching in the guard and the
    check alike: the partition lands, the branch name is kept, and a city named whole is still replaced."""
    monkeypatch.setenv("DATAVAULT_BATCH_SIZE", "50")
    settings = Settings.from_env()
    records = generate_records("finance", 12, seed=41)
    records[0]["customer"]["address"]["city"] = "Lake"
    records[1]["customer"]["address"]["city"] = "Brightwater"
    records[2]["note"] = "Customer visited the Lakewood branch to dispute a charge; moved from Brightwater last year."
    _produce(settings, "finance", records)
    outcomes = orchestrate.process(settings.home, progress=False)
    assert [o.success for o in outcomes] == [True]
    assert outcomes[0].checks["vault_has_no_plaintext_pii"] is True
    note = _docs(settings)[records[2]["record_id"]]["note"]
    assert "Lakewood branch" in note and "Brightwater" not in note and "[CITY]" in note
    assert Vault(settings.postgres_url).dead_letters() == []


def _slipping_neighbour(settings: Settings) -> tuple[list[dict], dict]:
    records = generate_records("healthcare", 8, seed=43)
    victim = records[0]["patient"]
    slipped = json.loads(json.dumps(records[4]))
    slipped["record_id"] = "neighbour-note"
    slipped["note"] = f"A neighbour drove her in; call him at {victim['email']}."
    _produce(settings, "healthcare", [*records, slipped])
    return records, slipped


def test_a_true_alarm_is_named_quarantined_retried_and_replayed_after_the_fix(dv_env: Path, monkeypatch, capsys):
    """A leak that truly slips through (a detector bug that leaves a note as it was, and the guard bypassed): the
    blocking check fails the partition, `status` and `partitions --failed` name the record and
    field (never the value), `partitions quarantine` moves it to the dead letters, `partitions retry` passes and
    the partition is trimmed; once the bug is fixed, `deadletters replay` sends it through again and it lands
    with the address replaced."""
    from datavault_dagster import pipeline

    monkeypatch.setenv("DATAVAULT_BATCH_SIZE", "50")
    settings = Settings.from_env()
    with monkeypatch.context() as bug:
        real = Anonymizer.anonymize_record

        def misses_the_email(self, record, others=None):  # noqa: ANN001, ANN202 - the detector bug
            anon = real(self, record, others)
            if record.record_id == "neighbour-note":
                anon.document["note"] = record.payload["note"]
            return anon

        bug.setattr(Anonymizer, "anonymize_record", misses_the_email)
        bug.setattr(pipeline, "anonymize_parsed", lambda record, anonymizer, others=None, context=None:
                    anonymizer.anonymize_record(record, others))
        records, slipped = _slipping_neighbour(settings)
        victim = records[0]["patient"]
        outcomes = orchestrate.process(settings.home, progress=False)
        assert [o.success for o in outcomes] == [False]  # a failed check is not retried: the same data fails again
        key = outcomes[0].partition_key

        report = cli.status(settings)
        assert report["partitions_by_status"]["failed"] == 1
        [failed] = report["partitions_failed"]
        assert failed["partition_key"] == key and failed["failed_runs"] == 1
        check = failed["failed_checks"]["vault_has_no_plaintext_pii"]
        assert check["failing_record_ids"] == "neighbour-note" and check["records_with_findings"] == 1
        shown = json.dumps(report) + json.dumps(cli.partitions(settings, "failed"))
        assert victim["email"] not in shown and victim["email"].split("@")[0] not in shown

        assert cli.main(["partitions", "quarantine", key]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out == [{"partition_key": key, "findings": out[0]["findings"], "quarantined": ["neighbour-note"],
                        "raw_entry_missing": 0}]
        vault = Vault(settings.postgres_url)
        [letter] = vault.dead_letters()
        assert (letter.record_id, letter.reason_code, letter.field) == ("neighbour-note", "pii_leak_blocked", "note")
        assert cli.main(["partitions", "retry", key]) == 0  # the quarantined entry is not sealed again
        assert capsys.readouterr().out.startswith(f"{key}: succeeded")
        assert orchestrate.partition_states_for(settings.home)[key].status == "succeeded"
        assert redis.Redis.from_url(settings.redis_url).xlen("datavault:raw:healthcare") == 0
        assert "neighbour-note" not in _docs(settings)

    # the detector is fixed: replay the quarantined record
    assert cli.main(["deadletters", "replay", "--reason", "pii_leak_blocked"]) == 0
    assert json.loads(capsys.readouterr().out)["replayed"] == 1
    assert vault.dead_letters() == []
    outcomes = orchestrate.process(settings.home, progress=False)
    assert [o.success for o in outcomes] == [True]
    docs = _docs(settings)
    assert docs["neighbour-note"]["note"] == "A neighbour drove her in; call him at [EMAIL]."
    assert len(docs) == len(records) + 1
    assert VectorStore(settings.lancedb_uri).record_ids(outcomes[0].partition_key) == {("healthcare", "neighbour-note")}


def test_infrastructure_errors_are_retried_with_backoff_then_the_partition_is_left_visible(dv_env: Path, monkeypatch):
    """A step that meets PostgreSQL failing retries itself (the asset's RetryPolicy) and the run succeeds; when it
    keeps failing, `process` retries the run up to MAX_ATTEMPTS failed runs, then leaves the partition failed for
    an operator (not retried forever), and `partitions retry` finishes it once the server is back."""
    from datavault_dagster.services import vault as vault_module

    monkeypatch.setenv("DATAVAULT_BATCH_SIZE", "50")
    monkeypatch.setattr(orchestrate, "BACKOFF_S", 0.05)
    settings = Settings.from_env()
    _produce(settings, "finance", generate_records("finance", 6, seed=5))
    real = vault_module.Vault.upsert_records
    calls = {"n": 0, "fail_first": 2}

    def flaky(self, rows):  # noqa: ANN001, ANN202
        calls["n"] += 1
        if calls["n"] <= calls["fail_first"]:
            raise psycopg.OperationalError("connection refused (simulated)")
        return real(self, rows)

    monkeypatch.setattr(vault_module.Vault, "upsert_records", flaky)
    outcomes = orchestrate.process(settings.home, progress=False)
    assert [o.success for o in outcomes] == [True] and calls["n"] == 3  # two step retries inside one run

    _produce(settings, "finance", generate_records("finance", 4, seed=6))
    calls.update(n=0, fail_first=10**6)
    outcomes = orchestrate.process(settings.home, progress=False)
    assert [o.success for o in outcomes] == [False]
    states = orchestrate.partition_states_for(settings.home)
    failed = [s for s in states.values() if s.status == "failed"]
    assert len(failed) == 1 and failed[0].attempts == orchestrate.MAX_ATTEMPTS and not failed[0].retryable
    assert calls["n"] == orchestrate.MAX_ATTEMPTS * 3  # 3 runs x (1 try + 2 step retries)
    assert orchestrate.process(settings.home, progress=False) == []  # given up: not retried silently
    assert cli.status(settings)["partitions_failed"][0]["gave_up"] is True

    monkeypatch.setattr(vault_module.Vault, "upsert_records", real)  # the server is back
    assert cli.main(["partitions", "retry", failed[0].partition_key]) == 0
    assert orchestrate.partition_states_for(settings.home)[failed[0].partition_key].status == "succeeded"
    assert sum(c["records"] for c in Vault(settings.postgres_url).counts().values()) == 10


def _datavault(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "datavault_dagster.cli", *args], env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize(("variable", "value", "says"), [
    ("DATAVAULT_BATCH_SIZE", "abc", "DATAVAULT_BATCH_SIZE must be a whole number"),
    ("DATAVAULT_MIN_K", "0", "DATAVAULT_MIN_K must be >= 1"),
    ("DATAVAULT_REDIS_URL", "localhost:6379", "DATAVAULT_REDIS_URL must be a URL"),
    ("DATAVAULT_POSTGRES_URL", "postgresql://dv:s3cr3t-pw@127.0.0.1:1/vault", "cannot reach PostgreSQL at "
                                                                              "DATAVAULT_POSTGRES_URL"),
    ("DATAVAULT_REDIS_URL", "redis://:s3cr3t-pw@127.0.0.1:1/0", "cannot reach Redis at DATAVAULT_REDIS_URL"),
    ("DATAVAULT_KEY_BACKEND", "kms", "DATAVAULT_KEY_BACKEND must be one of"),
    ("DATAVAULT_MASTER_KEYS", "k1:not-base64!", "set both DATAVAULT_MASTER_KEYS and DATAVAULT_PSEUDONYM_KEY"),
])
def test_a_bad_or_unreachable_setting_is_one_line_naming_it_and_exit_code_2(dv_env: Path, variable: str,
                                                                            value: str, says: str):
    env = {**os.environ, variable: value}
    result = _datavault(env, "status")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"datavault: {says}"), result.stderr
    assert "Traceback" not in result.stderr and "s3cr3t-pw" not in result.stderr + result.stdout


def test_the_command_run_in_process_leaves_the_callers_embedded_servers_running(dv_env: Path, monkeypatch, capsys):
    """`cli.main` releases only the embedded servers it started itself: a notebook or test that started one first
    (and pointed DATAVAULT_REDIS_URL at it) keeps it."""
    from datavault_dagster.services import embedded
    from tests.support import embedded_home

    home = embedded_home("datavault-test-held-")
    url = embedded.start_redis(home)
    try:
        monkeypatch.setenv("DATAVAULT_REDIS_URL", url)
        assert cli.main(["status"]) == 0
        assert json.loads(capsys.readouterr().out)["partitions"] == 0
        assert redis.Redis.from_url(url).ping()
    finally:
        embedded.stop(home)
