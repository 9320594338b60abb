"""Deployment-specific recognizers (DATAVAULT_RECOGNIZERS) through the real pipeline, run as a user runs it.

An outside producer XADDs records whose notes hold a hospital MRN format (`HOS-` and six digits) and names on the
deployment's deny list that no built-in recognizer finds; `datavault process` seals and embeds them. The values are
in no opened vault document (replaced by `[MRN]` and the names' pseudonyms), no PostgreSQL column, LanceDB file,
Dagster storage file, log record or output, and an allowed hospital name is kept. A malformed file stops `datavault
process` before it touches anything: one line naming the variable, the file and the item, exit code 2; the Dagster
code location fails to load with the same message.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import psycopg
import pytest
import redis

from datavault_dagster import cli, orchestrate, runtime
from datavault_dagster.domain.detect import shared_detector
from datavault_dagster.domain.errors import ConfigError
from datavault_dagster.domain.records import SCHEMAS
from datavault_dagster.pipeline import open_record
from datavault_dagster.services.settings import Settings
from datavault_dagster.services.vault import Vault
from datavault_dagster.services.vectors import VectorStore
from simulations import generate_records

RULES = r"""
version: 1
deny:
  - entity: PERSON
    values: ["Dr. Who", "Nightowl"]
allow:
  - "Johns Hopkins"
patterns:
  - name: hospital-mrn
    entity: MRN
    regex: "\\bHOS-\\d{6}\\b"
    score: 0.9
    context: ["mrn", "patient"]
    window: 40
"""
NOTES = {
    0: "Patient MRN HOS-482913 transferred from Johns Hopkins; seen by Dr. Who on the ward.",
    1: "Forms dropped off by nightowl at reception. Patient chart HOS-771204 needs a follow-up.",
}
NEEDLES = ["dr. who", "nightowl", "482913", "771204"]  # what must be nowhere but in the raw stream entries
DOMAIN = "healthcare"


def _hits(data: str | bytes) -> list[str]:
    low = (data.encode() if isinstance(data, str) else data).lower()
    return [n for n in NEEDLES if n.encode() in low]


def _xadd(settings: Settings, records: list[dict]) -> None:
    """Raw XADDs, as an outside producer writes them."""
    client = redis.Redis.from_url(settings.redis_url)
    try:
        for rec in records:
            client.xadd(f"datavault:raw:{DOMAIN}", {"record_id": rec["record_id"], "schema": SCHEMAS[DOMAIN],
                                                    "payload": json.dumps(rec)})
    finally:
        client.close()


def _records() -> list[dict]:
    records = generate_records(DOMAIN, 6, seed=4711)
    for i, note in NOTES.items():
        records[i]["note"] = note
    return records


def test_deny_names_and_an_mrn_pattern_are_replaced_everywhere_and_an_allowed_name_is_kept(
        dv_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog, capsys):
    rules = tmp_path / "recognizers.yaml"
    rules.write_text(RULES, encoding="utf-8")
    monkeypatch.setenv("DATAVAULT_RECOGNIZERS", str(rules))
    monkeypatch.setenv("DATAVAULT_BATCH_SIZE", "1000")  # one partition
    settings = Settings.from_env()
    assert settings.recognizers_path == rules.resolve()
    records = _records()
    _xadd(settings, records)

    caplog.set_level(logging.DEBUG)
    capsys.readouterr()
    assert cli.main(["process"]) == 0
    captured = capsys.readouterr()
    assert "ran 1 partitions: 1 succeeded, 0 failed" in captured.out

    keyring = runtime.keyring_for(settings)
    pseudonyms = runtime.anonymizer_for(keyring).pseudonyms
    vault = Vault(settings.postgres_url)
    try:
        docs = {r.record_id: open_record(r, keyring) for key in vault.partition_keys()
                for r in vault.partition_records(key)}
        assert vault.dead_letters() == []
    finally:
        vault.close()
    assert sorted(docs) == sorted(r["record_id"] for r in records)
    for rid, doc in docs.items():
        assert _hits(json.dumps(doc)) == [], rid
    first, second = docs[records[0]["record_id"]]["note"], docs[records[1]["record_id"]]["note"]
    assert first == (f"Patient MRN [MRN] transferred from Johns Hopkins; seen by {pseudonyms.person('Dr. Who')} "
                     "on the ward.")
    assert second == (f"Forms dropped off by {pseudonyms.person('Nightowl')} at reception. Patient chart [MRN] needs "
                      "a follow-up.")

    # every vault table, the LanceDB table and files, Dagster's storage, logs and output
    with psycopg.connect(settings.postgres_url) as conn:
        tables = [t for (t,) in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'datavault'")]
        assert "records" in tables
        for table in tables:
            for row in conn.execute(f"SELECT * FROM datavault.{table}"):
                for cell in row:
                    data = bytes(cell) if isinstance(cell, bytes | memoryview) else str(cell).encode()
                    assert _hits(data) == [], f"datavault.{table}"
    store = VectorStore(settings.lancedb_uri)
    assert store.count() >= len(records)
    arrow = store.table().to_arrow()
    for name in arrow.column_names:
        if name != "vector":
            assert _hits(json.dumps(arrow.column(name).to_pylist(), default=str)) == [], name
    for root in (Path(settings.lancedb_uri), Path(os.environ["DAGSTER_HOME"])):
        files = [p for p in root.rglob("*") if p.is_file()]
        assert files and [str(p) for p in files if _hits(p.read_bytes())] == [], root
    assert caplog.records and _hits(caplog.text) == []
    assert _hits("\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)) == []
    assert _hits(captured.out) == [] and _hits(captured.err) == []

    # the rules did it: without them, the built-in recognizers leave the names and take the MRN for an ID
    monkeypatch.delenv("DATAVAULT_RECOGNIZERS")
    plain = shared_detector()
    assert plain.custom is None
    for note in NOTES.values():
        found = {note[s.start:s.end]: s.entity for s in plain.detect(note)}
        assert not any(n in (k.lower() for k in found) for n in ("dr. who", "nightowl"))
        assert "MRN" not in found.values()


def _datavault(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "datavault_dagster.cli", *args], env=dict(os.environ),
                          capture_output=True, text=True, timeout=300)


def test_a_malformed_recognizers_file_stops_process_with_one_line_and_exit_code_2(
        dv_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    bad = tmp_path / "recognizers.yaml"
    bad.write_text(RULES.replace("entity: PERSON", "entity: PEOPLE").replace('"Nightowl"', '"Nightowl", 42'),
                   encoding="utf-8")
    settings = Settings.from_env()
    _xadd(settings, _records())
    monkeypatch.setenv("DATAVAULT_RECOGNIZERS", str(bad))

    result = _datavault("process")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines == [f"datavault: DATAVAULT_RECOGNIZERS: {bad.resolve()}: deny item 1: entity: must be one of "
                     "PERSON, DATE, AGE, SSN, PHONE, EMAIL, ADDRESS, ZIP, ACCOUNT, CARD, ROUTING, MRN, IP, URL, LAST4, "
                     "CITY, ID"], result.stderr
    assert result.stdout == "" and _hits(result.stderr) == []

    # it stopped before touching anything: the entries wait in the stream, no vault, no run
    client = redis.Redis.from_url(settings.redis_url)
    try:
        assert client.xlen(f"datavault:raw:{DOMAIN}") == len(_records())
    finally:
        client.close()
    with psycopg.connect(settings.postgres_url) as conn:
        assert conn.execute("SELECT to_regclass('datavault.records')").fetchone() == (None,)
    with dg.DagsterInstance.get() as instance:
        assert instance.get_runs() == []

    # the next problem in the same file is named once the first is fixed; so is the Dagster code location's failure
    bad.write_text(RULES.replace('"Nightowl"', '"Nightowl", 42'), encoding="utf-8")
    result = _datavault("process")
    assert result.returncode == 2 and result.stderr.strip().endswith(
        "deny item 1: values item 3: must be text, got a number (quote it in YAML)"), result.stderr
    try:
        orchestrate.load_definitions()
    except Exception as raised:  # noqa: BLE001 - Dagster wraps the error of a @definitions function
        exc: BaseException | None = raised
    else:
        pytest.fail("the code location loaded with a malformed recognizers file")
    chain = []
    while exc is not None:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    config = [e for e in chain if isinstance(e, ConfigError)]
    assert config and str(config[0]).startswith(f"DATAVAULT_RECOGNIZERS: {bad.resolve()}: deny item 1: values item 3")
