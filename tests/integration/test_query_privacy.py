"""Query-side privacy: a real name in a question becomes the pseudonym its records carry, and retrieves them."""

from __future__ import annotations

import json

from datavault_dagster import orchestrate, runtime
from datavault_dagster.cli import produce
from datavault_dagster.pipeline import answer_question
from datavault_dagster.services.identities import Identities
from datavault_dagster.services.settings import Settings
from datavault_dagster.services.vault import Vault
from datavault_dagster.services.vectors import VectorStore
from simulations import generate_records


def test_question_naming_a_person_retrieves_their_records_and_never_sends_the_name(dv_env, monkeypatch):
    monkeypatch.setenv("DATAVAULT_BATCH_SIZE", "100")
    settings = Settings.from_env()
    produce(settings, "healthcare", 45, seed=31, progress=False)
    assert all(o.success for o in orchestrate.process(settings.home, progress=False))

    records = generate_records("healthcare", 45, seed=31)
    by_patient: dict[str, list[dict]] = {}
    for r in records:
        by_patient.setdefault(r["patient"]["patient_id"], []).append(r)
    patient_records = max(by_patient.values(), key=len)  # someone with several visits
    p = patient_records[0]["patient"]
    name = f"{p['first_name']} {p['last_name']}"

    keyring = runtime.keyring_for(settings)
    vault = Vault(settings.postgres_url)
    identities = Identities(settings.postgres_url)
    prompts: list[list[dict[str, str]]] = []

    def record_prompt(messages: list[dict[str, str]]) -> str:
        prompts.append(messages)
        return "noted [1]"

    answer = answer_question(
        f"What was prescribed to {name.upper()}?", anonymizer=runtime.anonymizer_for(keyring),
        embedder=runtime.embedder(), vectors=VectorStore(settings.lancedb_uri), vault=vault, keyring=keyring,
        complete=record_prompt, model="recording", k=4, identities=identities,
    )
    pseudonym = runtime.anonymizer_for(keyring).pseudonyms.person(name)
    assert pseudonym in answer.question and p["last_name"].lower() not in answer.question.lower()
    expected = {r["record_id"] for r in patient_records}
    got = [s.record_id for s in answer.sources]
    assert got[: min(4, len(expected))] and set(got[: min(4, len(expected))]) <= expected
    assert all(pseudonym in s.text for s in answer.sources if s.record_id in expected)
    sent = json.dumps(prompts).lower()
    assert p["last_name"].lower() not in sent and p["ssn"] not in sent and pseudonym.lower() in sent
    identities.close()
    vault.close()
