"""The detection drift alarm on the real pipeline: a producer whose notes stop naming people makes PERSON detections
collapse; the non-blocking check warns, and the partition still lands. Counts in metadata, never a value."""

from __future__ import annotations

import json
import re
from pathlib import Path

import dagster as dg
import redis

from datavault_dagster import orchestrate
from datavault_dagster.domain.records import stream_fields
from datavault_dagster.services.settings import Settings
from datavault_dagster.services.streams import Streams
from datavault_dagster.services.vault import Vault
from datavault_dagster.services.vectors import VectorStore
from simulations import generate_records, pii_values

PER_PARTITION = 15
CHECK = "detection_rates_are_stable"
_CLINICIAN = re.compile(r"\bDr\.\s+[A-Z][\w'-]+(?:\s+[A-Z][\w'-]+)?")


def _whole_word(form: str) -> re.Pattern:
    """A name form as a whole word, never inside an email address ("thomas.terrell@...")."""
    return re.compile(rf"(?<![\w.@]){re.escape(form)}(?![\w@]|\.\w)", re.I)


def _without_names(record: dict) -> dict:
    """The record as a producer that stopped naming people in its notes writes it (emails and the rest unchanged)."""
    p = record["patient"]
    first, last = p["first_name"], p["last_name"]
    forms = {f"{first} {last}", f"{last}, {first}", first, last}
    forms |= {f"{h} {last}" for h in ("Mr.", "Ms.", "Mrs.", "Mx.", "Miss")}
    note = _CLINICIAN.sub("the clinician", record["note"])
    for form in sorted(forms, key=len, reverse=True):
        note = _whole_word(form).sub("the patient", note)
    return {**record, "note": note}


def _produce(settings: Settings, records: list[dict]) -> None:
    Streams(settings.redis_url).add_many("healthcare", (stream_fields("healthcare", r) for r in records))


def _events(instance: dg.DagsterInstance, run_id: str, kind: dg.DagsterEventType) -> list:
    return [r.dagster_event.event_specific_data for r in instance.all_logs(run_id, of_type=kind)]


def _check(instance: dg.DagsterInstance, run_id: str):  # noqa: ANN202
    [evaluation] = [e for e in _events(instance, run_id, dg.DagsterEventType.ASSET_CHECK_EVALUATION)
                    if e.check_name == CHECK]
    return evaluation


def _metadata_text(instance: dg.DagsterInstance, run_ids: list[str]) -> str:
    """Every materialization's and check's metadata of the runs, as text (keys and values)."""
    out = []
    for run_id in run_ids:
        for mat in _events(instance, run_id, dg.DagsterEventType.ASSET_MATERIALIZATION):
            out += [f"{k} {v}" for k, v in mat.materialization.metadata.items()]
        for evaluation in _events(instance, run_id, dg.DagsterEventType.ASSET_CHECK_EVALUATION):
            out += [f"{k} {v}" for k, v in evaluation.metadata.items()]
    return "\n".join(out)


def test_person_detections_collapsing_warns_and_the_partition_still_lands(dv_env: Path, monkeypatch):
    monkeypatch.setenv("DATAVAULT_BATCH_SIZE", str(PER_PARTITION))
    settings = Settings.from_env()
    records = generate_records("healthcare", 7 * PER_PARTITION, seed=61)
    usual, stripped = records[:6 * PER_PARTITION], [_without_names(r) for r in records[6 * PER_PARTITION:]]
    assert not [r for r in stripped if _whole_word(r["patient"]["last_name"]).search(r["note"]) or "Dr." in r["note"]]
    assert sum(bool(_whole_word(r["patient"]["last_name"]).search(r["note"])) for r in usual) > PER_PARTITION

    # six partitions as the producer always wrote them: five build the history, the sixth is judged and passes
    _produce(settings, usual)
    outcomes = orchestrate.process(settings.home, progress=False)
    assert [o.success for o in outcomes] == [True] * 6
    # then the producer changes: its notes no longer name anyone
    _produce(settings, stripped)
    [last] = orchestrate.process(settings.home, progress=False)
    outcomes.append(last)

    with dg.DagsterInstance.get() as instance:
        checks = [_check(instance, o.run_id) for o in outcomes]
        metadata = _metadata_text(instance, [o.run_id for o in outcomes])
    for check in checks[:5]:
        assert check.passed and check.metadata["note"].value.startswith("not enough history")
    assert checks[5].passed, checks[5].metadata["note"].value
    assert checks[5].metadata["note"].value.startswith("every rate within")
    assert checks[5].metadata["history_partitions"].value == 5

    warned = checks[6]
    assert not warned.passed and warned.severity == dg.AssetCheckSeverity.WARN and not warned.blocking
    per_entity = warned.metadata["per_entity"].value
    assert per_entity["PERSON"]["status"] in ("low", "absent")
    assert per_entity["PERSON"]["median_per_1k_chars"] > 0 and per_entity["PERSON"]["ratio"] < 1 / 3
    assert "PERSON" in warned.metadata["drifted_entities"].value.split(", ")
    assert "| PERSON |" in warned.metadata["rates"].value
    # the rest of what the notes carry did not move: the alarm names the names
    assert all(e.startswith("PERSON") for e in warned.metadata["drifted_entities"].value.split(", "))

    # non-blocking: the partition landed, was embedded and trimmed like any other
    assert last.success and not last.blocking_failed and last.checks[CHECK] is False
    assert orchestrate.partition_states_for(settings.home)[last.partition_key].status == "succeeded"
    assert len(Vault(settings.postgres_url).partition_records(last.partition_key)) == PER_PARTITION
    assert len(VectorStore(settings.lancedb_uri).record_ids(last.partition_key)) == PER_PARTITION
    assert redis.Redis.from_url(settings.redis_url).xlen("datavault:raw:healthcare") == 0

    # the seal step's metadata holds counts per entity type and rates, never a value
    sealed = outcomes[0].metadata["vault/encrypted_records"]
    assert sealed["free_text_records"] == PER_PARTITION and sealed["free_text_chars"] > 0
    table = {row.data["entity"]: row.data for row in sealed["detections"].records}
    assert table["PERSON"]["detected"] > 0 and table["PERSON"]["detected_per_1k_chars"] > 0
    assert sealed["detections_per_1k_chars"]["PERSON"] == table["PERSON"]["detected_per_1k_chars"]
    assert json.dumps(sealed["detections_per_1k_chars"])  # plain JSON
    # no raw identifier of any record (names, emails, phones, ids...) in any metadata of the runs
    text = metadata.lower()
    values = {v.lower() for r in records for v in pii_values(r, "healthcare") if len(v) >= 4}
    assert not [v for v in values if re.search(rf"(?<![\w@.]){re.escape(v)}(?![\w@])", text)]
