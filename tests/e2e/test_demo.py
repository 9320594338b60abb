"""End to end: `datavault demo` on the embedded default with the real local LLM, then a privacy scan."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import psycopg
import pytest

from datavault_dagster import cli
from datavault_dagster.services import embedded, llm
from datavault_dagster.services.settings import Settings
from simulations import generate_records
from tests.support import embedded_home

COUNT = 60
SEED = 11
QUESTIONS = (
    "Which patients were prescribed metformin, and what was their diagnosis?",
    "Which customers disputed a charge or were flagged for possible fraud?",
)


def _identifiers(record: dict, domain: str) -> set[str]:
    """Names, SSN, phone, email, account/card/routing numbers and MRN of a generated raw record."""
    person = record["patient"] if domain == "healthcare" else record["customer"]
    values = {
        f"{person['first_name']} {person['last_name']}", person["ssn"], person["phone"], person["email"],
        person["address"]["street"],
    }
    if domain == "healthcare":
        values.add(person["mrn"])
    else:
        acct = record["account"]
        values |= {acct["account_number"], acct["card_number"], acct["routing_number"]}
    return {v.lower() for v in values}


def _scan_bytes(root: Path, needles: set[str]) -> list[tuple[str, str]]:
    """(file, kind) for every file under root whose bytes contain a needle (case-insensitive)."""
    hits = []
    encoded = [n.encode() for n in needles]
    for path in root.rglob("*"):
        if path.is_file() and path.stat().st_size < 200_000_000:
            data = path.read_bytes().lower()
            for needle in encoded:
                if needle in data:
                    hits.append((str(path.relative_to(root)), "pii"))
                    break
    return hits


@pytest.fixture
def demo_env(monkeypatch: pytest.MonkeyPatch) -> Path:
    home = embedded_home("datavault-e2e-") / "home"
    monkeypatch.setenv("DATAVAULT_HOME", str(home))
    for name in ("DATAVAULT_REDIS_URL", "DATAVAULT_POSTGRES_URL", "DATAVAULT_LANCEDB_URI", "DAGSTER_HOME",
                 "DATAVAULT_MASTER_KEYS", "DATAVAULT_PSEUDONYM_KEY", "DATAVAULT_LLM_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATAVAULT_BATCH_SIZE", "40")
    home.mkdir()
    yield home
    embedded.stop(home)
    shutil.rmtree(home.parent, ignore_errors=True)


def test_demo_runs_end_to_end_with_real_llm_and_leaks_no_pii(demo_env: Path, monkeypatch: pytest.MonkeyPatch):
    prompts: list[list[dict[str, str]]] = []
    real_complete = llm.complete

    def recording_complete(model, messages, **kwargs):  # the real LLM, with the prompts kept for the scan
        prompts.append(messages)
        return real_complete(model, messages, **kwargs)

    monkeypatch.setattr(llm, "complete", recording_complete)
    settings = Settings.from_env()
    out = io.StringIO()
    result = cli.demo(settings, COUNT, SEED, QUESTIONS, out=out)
    printed = out.getvalue()

    # what it produced: every valid record sealed and indexed, the malformed ones dead-lettered
    assert result["produced"] == {"healthcare": COUNT + 2, "finance": COUNT + 2}
    outcomes = result["outcomes"]
    assert outcomes and all(o.success for o in outcomes)
    assert len(outcomes) == 4  # 62 entries per domain in batches of 40
    report = result["status"]
    for domain in ("healthcare", "finance"):
        assert report["domains"][domain]["vault_records"] == COUNT
        assert report["domains"][domain]["dead_letters"] == 2
        assert report["domains"][domain]["raw_stream_entries"] == 0  # trimmed once durable
    assert report["vectors"] >= 2 * COUNT  # one or more chunks per record
    assert report["partitions_pending"] == 0
    assert "embedded" in printed and "Summary" in printed and "vault rows       120" in printed

    # answers from the real local LLM, grounded in cited records
    answers = result["answers"]
    assert len(answers) == 2 and all(a.text and a.sources for a in answers)
    assert any(a.citations for a in answers)
    assert all(c in a.sources for a in answers for c in a.citations)
    metformin = answers[0]
    assert any(s.domain == "healthcare" and "metformin" in s.text.lower() for s in metformin.sources)
    assert len(prompts) == 2

    # privacy: no identifier of any generated raw record anywhere we stored or sent data
    needles: set[str] = set()
    for domain in ("healthcare", "finance"):
        for record in generate_records(domain, COUNT, seed=SEED):
            needles |= _identifiers(record, domain)
    assert len(needles) > 200  # ~20 people per domain (repeated across records), 6-8 identifiers each

    prompt_text = json.dumps(prompts).lower()
    assert not [n for n in needles if n in prompt_text]
    answers_text = " ".join(a.text + a.question for a in answers).lower()
    assert not [n for n in needles if n in answers_text]

    with psycopg.connect(embedded.start_postgres(demo_env)) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'datavault'"
        ).fetchall()
        assert {t[0] for t in tables} >= {"records", "dead_letters", "subject_keys", "erasure_receipts"}
        for (table,) in tables:
            rows = conn.execute(f"SELECT * FROM datavault.{table}").fetchall()
            assert rows or table in {"erasure_receipts", "reidentification_audit"}  # the demo erases and
            # re-identifies nobody
            for row in rows:
                for cell in row:
                    text = (bytes(cell) if isinstance(cell, (bytes, memoryview)) else str(cell).encode()).lower()
                    assert not any(n.encode() in text for n in needles), f"PII in datavault.{table}"

    assert _scan_bytes(demo_env / "lancedb", needles) == []
    dagster_home = demo_env / "dagster"
    assert any(dagster_home.rglob("*.db"))  # the event log really is there
    assert _scan_bytes(dagster_home, needles) == []
