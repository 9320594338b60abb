"""The fail-closed leak guard in front of the vector store, on the real vault, LanceDB and model."""

from __future__ import annotations

import json

from datavault_dagster import runtime
from datavault_dagster.pipeline import embed_partition
from datavault_dagster.services.settings import Settings
from datavault_dagster.services.vault import Vault, VaultRow
from datavault_dagster.services.vectors import VectorStore


def _doc(record_id: str, note: str) -> dict:
    return {
        "record_id": record_id, "domain": "healthcare", "subject": "S-aaaaaaaaaa",
        "patient": {"pseudonym": "P-bbbbbbbbbb", "age_band": "40-49", "sex": "F", "state": "CA", "zip3": "941"},
        "encounter": {"date": "2024-03-07", "facility": "Mercy", "department": "Cardiology", "reason": "palpitations"},
        "diagnoses": [], "medications": [], "note": note,
    }


def test_guard_holds_back_texts_with_raw_identifiers_or_pii_patterns(dv_env):
    settings = Settings.from_env()
    keyring = runtime.keyring_for(settings)
    vault = Vault(settings.postgres_url)
    vault.ensure_schema()
    key = "healthcare:1-0:3-0"
    notes = {
        "ok": "Seen for palpitations; started metoprolol.",
        "canary": "Zebulon Quaxworth asked about palpitations.",  # slipped past anonymization, say
        "ssn": "SSN on file 078-05-1120.",
    }
    rows = [
        VaultRow("healthcare", rid, f"{n + 1}-0", key, "S-aaaaaaaaaa", keyring.primary,
                 keyring.seal(json.dumps(_doc(rid, note)).encode(), domain="healthcare", record_id=rid))
        for n, (rid, note) in enumerate(notes.items())
    ]
    vault.upsert_records(rows)
    store = VectorStore(settings.lancedb_uri)

    report = embed_partition(key, vault, keyring, runtime.embedder(), store,
                             raw_identifiers=["Zebulon Quaxworth", "078-05-1120"])
    assert sorted(report.blocked) == ["canary", "ssn"] and report.records == 1
    assert store.record_ids(key) == {("healthcare", "ok")}
    assert not [c for c in store.scan_strings() if "quaxworth" in c.lower()]
