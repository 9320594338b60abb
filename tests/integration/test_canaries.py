"""Canary identities planted in the input never show up anywhere DataVault writes or sends data."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import psycopg
import pytest
import redis

from datavault_dagster import orchestrate, runtime
from datavault_dagster.domain.records import stream_fields
from datavault_dagster.pipeline import answer_question
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
NEEDLES = ["quaxworth", "zebulon", "078-05-1120", "555-0187", "canary-mail", "7391046", "quillfeather",
           "vexbridge", "ottoline", "1961-07-19"]


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
    run worker -> multiprocess executor, one subprocess per step) and its run-status sensor trim the stream."""
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


@pytest.mark.parametrize("launch", ["datavault-process", "dagster-daemon"])
def test_planted_canaries_reach_no_store_log_or_prompt(dv_env: Path, monkeypatch, launch: str):
    monkeypatch.setenv("DATAVAULT_BATCH_SIZE", "50")
    settings = Settings.from_env()
    streams = Streams(settings.redis_url)
    streams.add_many("healthcare", (stream_fields("healthcare", r) for r in _canary_records()))
    raw = b" ".join(v for _, f in redis.Redis.from_url(settings.redis_url).xrange("datavault:raw:healthcare")
                    for v in f.values())
    assert set(_hits(raw)) == set(NEEDLES)  # the scan sees every canary in the input
    dagster_home = Path(os.environ["DAGSTER_HOME"])
    daemon_log = dv_env / "dagster-daemon.log"
    if launch == "datavault-process":  # the CLI: in-process runs, one quiet capture per run
        outcomes = orchestrate.process(settings.home, progress=False)
        assert outcomes and all(o.success for o in outcomes)
    else:
        runs = _run_via_daemon(dagster_home, "datavault:raw:healthcare", daemon_log)
        assert runs and all(r.is_success for r in runs), [r.status for r in runs]
        assert {r.tags.get("dagster/sensor_name") for r in runs} == {"redis_stream_sensor"}

    keyring = runtime.keyring_for(settings)
    prompts: list[list[dict[str, str]]] = []

    def capture(messages: list[dict[str, str]]) -> str:
        prompts.append(messages)
        return "noted [1]"

    vault, identities = Vault(settings.postgres_url), Identities(settings.postgres_url)
    answer = answer_question(
        "What was prescribed to Zebulon Quaxworth, and how is Ottoline Vexbridge related?",
        anonymizer=runtime.anonymizer_for(keyring), embedder=runtime.embedder(),
        vectors=VectorStore(settings.lancedb_uri), vault=vault, keyring=keyring, complete=capture,
        model="capture", k=4, identities=identities,
    )
    assert any(s.record_id.startswith("canary-") for s in answer.sources)  # the canary's records were found
    assert _hits(json.dumps(prompts).encode()) == [] and _hits(answer.question.encode()) == []

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
        for _, fields in client.xrange(key):
            assert _hits(b" ".join(fields.values())) == [], f"canary in {key!r}"
    # LanceDB files, and Dagster's storage: event log, run records, compute logs (and the daemon's own output)
    for root in (Path(settings.lancedb_uri), dagster_home):
        files = [p for p in root.rglob("*") if p.is_file()]
        assert files
        assert [str(p) for p in files if _hits(p.read_bytes())] == []
    if launch == "dagster-daemon":
        # the captured logs were really written and hold our own log lines, so their scan above is not vacuous:
        # one stderr file per step of each run (Dagster's console log plus the assets' context.log lines), and
        # the trim sensor's tick log; the daemon's output (its code server's and run workers') has no canary either
        step_logs = sorted((dagster_home / "storage").glob("*/compute_logs/*.err"))
        with dg.DagsterInstance.get() as instance:
            steps = [e for r in runs for e in instance.all_logs(r.run_id, of_type=dg.DagsterEventType.STEP_START)]
        assert len(step_logs) == len(steps) >= 8 and all(p.stat().st_size for p in step_logs)
        captured = b"".join(p.read_bytes() for p in (dagster_home / "storage").rglob("*.err"))
        assert b" sealed, " in captured and b" vectors" in captured and b"trimmed 9 raw entries" in captured
        assert _hits(daemon_log.read_bytes()) == []
    identities.close()
    vault.close()
