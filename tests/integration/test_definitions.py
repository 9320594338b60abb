"""The Dagster project as users drive it: definitions, `dagster asset materialize`, the RAG job, compose files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import dagster as dg
import yaml

from datavault_dagster import orchestrate
from datavault_dagster.domain.batches import StreamRange
from datavault_dagster.services.settings import Settings
from datavault_dagster.services.streams import Streams
from datavault_dagster.services.vault import Vault
from simulations import generate_records, pii_values

ROOT = Path(__file__).resolve().parents[2]
DAGSTER = str(Path(sys.executable).parent / "dagster")


def test_definitions_hold_the_assets_checks_sensors_and_jobs(dv_env):
    defs = orchestrate.load_definitions()
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert keys == {"raw/healthcare_stream", "raw/finance_stream", "vault/encrypted_records",
                    "vectors/record_embeddings"}
    specs = {spec.name: spec for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)
             for spec in a.check_specs}
    specs |= {spec.name: spec for c in defs.asset_checks or [] for spec in c.check_specs}
    blocking = {name for name, spec in specs.items() if spec.blocking}
    assert blocking == {"vault_has_no_plaintext_pii", "every_blob_decrypts", "vector_count_matches_records",
                        "vectors_have_no_pii", "quasi_identifiers_k_anonymous"}
    assert "dead_letter_depth" in specs and "detection_rates_are_stable" in specs  # both warn, never block
    sensor = defs.resolve_sensor_def("redis_stream_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert defs.resolve_sensor_def("trim_ingested_ranges")
    assert defs.resolve_job_def("ingest_partition").partitions_def.name == "stream_batches"
    assert defs.resolve_job_def("rag_query")
    assert defs.resolve_job_def("rotate_keys").partitions_def is None
    forget = defs.resolve_job_def("forget_subject")
    assert set(forget.run_config_schema.config_type.fields["ops"].config_type.fields["forget"].config_type
               .fields["config"].config_type.fields) == {"subject_pseudonym", "subject_pseudonyms"}  # pseudonyms only
    assert set(defs.resources) == {"redis", "vault", "keys", "lancedb", "embedder", "llm"}


def test_dagster_cli_validates_and_materializes_a_partition(dv_env):
    from datavault_dagster.cli import produce

    env = dict(os.environ)
    result = subprocess.run([DAGSTER, "definitions", "validate", "-m", "datavault_dagster.definitions"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]

    settings = Settings.from_env()
    produce(settings, "finance", 8, seed=4, progress=False)
    ids = Streams(settings.redis_url).ids_after("finance", None, 100)
    key = StreamRange("finance", ids[0], ids[-1]).partition_key
    with dg.DagsterInstance.get() as instance:
        instance.add_dynamic_partitions("stream_batches", [key])
    result = subprocess.run(
        [DAGSTER, "asset", "materialize", "-m", "datavault_dagster.definitions",
         "--select", "vault/encrypted_records", "--partition", key],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = Vault(settings.postgres_url).partition_records(key)
    assert len(rows) == 8
    # nothing Dagster printed (its event log on the console) holds any raw identifier
    needles = {v.lower() for r in generate_records("finance", 8, seed=4) for v in pii_values(r, "finance")
               if len(v) >= 6}
    printed = (result.stdout + result.stderr).lower()
    assert not [n for n in needles if n in printed]


def test_rag_query_job_answers_from_the_vault_with_the_real_llm(dv_env, monkeypatch):
    from datavault_dagster.cli import produce

    monkeypatch.setenv("DATAVAULT_BATCH_SIZE", "50")
    settings = Settings.from_env()
    produce(settings, "healthcare", 40, seed=8, progress=False)
    outcomes = orchestrate.process(settings.home, progress=False)
    assert outcomes and all(o.success for o in outcomes)

    out = orchestrate.ask_via_dagster(settings.home, "Which patients were prescribed metformin?", 3)
    assert out["answer"].strip()
    assert out["sources"] and set(out["citations"]) <= set(out["sources"])
    with dg.DagsterInstance.get() as instance:
        run = instance.get_run_by_id(out["run_id"])
        assert run.job_name == "rag_query" and run.is_success


def test_compose_and_instance_files_are_consistent():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert set(compose["services"]) == {"redis", "postgres", "code-server", "webserver", "daemon"}
    env = compose["x-datavault-env"]
    for name in ("DATAVAULT_REDIS_URL", "DATAVAULT_POSTGRES_URL", "DATAVAULT_LANCEDB_URI",
                 "DATAVAULT_MASTER_KEYS", "DATAVAULT_PSEUDONYM_KEY", "DATAVAULT_LLM_MODEL",
                 "DATAVAULT_KEY_BACKEND", "VAULT_ADDR", "VAULT_TOKEN"):
        assert name in env
    for service in ("code-server", "webserver", "daemon"):
        assert compose["services"][service]["environment"] == env
    instance = yaml.safe_load((ROOT / "deploy" / "dagster.yaml").read_text())
    assert instance["storage"]["postgres"]["postgres_db"]["scheme"] == "postgresql+psycopg2"
    from dagster._core.instance.config import dagster_instance_config

    pg_env = {"DAGSTER_PG_USER": "u", "DAGSTER_PG_PASSWORD": "p", "DAGSTER_PG_HOST": "h", "DAGSTER_PG_DB": "d"}
    with mock.patch.dict(os.environ, pg_env):
        validated, _ = dagster_instance_config(str(ROOT / "deploy"))  # Dagster's own schema check of the file
    assert validated["compute_logs"]["config"]["base_dir"].startswith("/data/")  # on the shared volume
    workspace = yaml.safe_load((ROOT / "deploy" / "workspace.yaml").read_text())
    assert workspace["load_from"][0]["grpc_server"] == {"host": "code-server", "port": 4000,
                                                       "location_name": "datavault"}
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert dockerfile.index("torch==2.13.0") < dockerfile.index("pip install -e '.[vault]'")
    local = yaml.safe_load((ROOT / "workspace.yaml").read_text())
    assert local["load_from"][0]["python_module"]["module_name"] == "datavault_dagster.definitions"
