"""Canary identities planted in the input never show up anywhere DataVault writes or sends data."""

from __future__ import annotations

import json
import os
from pathlib import Path

import psycopg
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


def test_planted_canaries_reach_no_store_log_or_prompt(dv_env: Path, monkeypatch):
    monkeypatch.setenv("DATAVAULT_BATCH_SIZE", "50")
    settings = Settings.from_env()
    streams = Streams(settings.redis_url)
    streams.add_many("healthcare", (stream_fields("healthcare", r) for r in _canary_records()))
    raw = b" ".join(v for _, f in redis.Redis.from_url(settings.redis_url).xrange("datavault:raw:healthcare")
                    for v in f.values())
    assert set(_hits(raw)) == set(NEEDLES)  # the scan sees every canary in the input
    outcomes = orchestrate.process(settings.home, progress=False)
    assert outcomes and all(o.success for o in outcomes)

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
    # LanceDB files, and Dagster's storage: event log, run records, compute logs
    for root in (Path(settings.lancedb_uri), Path(os.environ["DAGSTER_HOME"])):
        files = [p for p in root.rglob("*") if p.is_file()]
        assert files
        assert [str(p) for p in files if _hits(p.read_bytes())] == []
    identities.close()
    vault.close()
