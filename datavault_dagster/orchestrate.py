"""Drive the Dagster definitions from the command line: evaluate the sensor, run its partitions, trim."""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from .domain.records import DOMAINS

log = logging.getLogger(__name__)

SENSOR = "redis_stream_sensor"
JOB = "ingest_partition"
CURSOR_KEY = "datavault/cli/redis_stream_sensor"
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def ensure_dagster_home(home: Path) -> Path:
    """DAGSTER_HOME, defaulting to <data dir>/dagster with SQLite storage and telemetry off."""
    path = Path(os.environ.get("DAGSTER_HOME") or home / "dagster").resolve()
    path.mkdir(parents=True, exist_ok=True)
    config = path / "dagster.yaml"
    if not config.exists():
        config.write_text("telemetry:\n  enabled: false\n")
    os.environ["DAGSTER_HOME"] = str(path)
    return path


def load_definitions() -> dg.Definitions:
    """The project's Definitions, exactly as `dagster dev` loads them."""
    from .definitions import defs

    return defs()


@dataclass
class RunOutcome:
    """One partition's run."""

    partition_key: str
    run_id: str
    success: bool
    seconds: float
    metadata: dict[str, dict[str, object]] = field(default_factory=dict)  # asset -> metadata
    checks: dict[str, bool] = field(default_factory=dict)


def evaluate_sensor(instance: dg.DagsterInstance, defs: dg.Definitions) -> list[str]:
    """Run one tick of the Redis sensor against the instance; returns the new partition keys."""
    sensor = defs.resolve_sensor_def(SENSOR)
    cursor = instance.run_storage.get_cursor_values({CURSOR_KEY}).get(CURSOR_KEY)
    with dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs, resources=defs.resources,
                                 sensor_name=SENSOR) as context:
        result = sensor(context)
    if not isinstance(result, dg.SensorResult):
        return []
    keys: list[str] = []
    for request in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        keys += list(request.partition_keys)
    if result.cursor:
        instance.run_storage.set_cursor_values({CURSOR_KEY: result.cursor})
    return keys


def pending_partitions(instance: dg.DagsterInstance, defs: dg.Definitions) -> list[str]:
    """Partitions whose vectors were never materialized successfully (new, or failed earlier)."""
    job = defs.resolve_job_def(JOB)
    partitions_def = job.partitions_def
    assert partitions_def is not None
    all_keys = instance.get_dynamic_partitions(partitions_def.name)  # type: ignore[attr-defined]
    done = instance.get_materialized_partitions(dg.AssetKey(["vectors", "record_embeddings"]))
    return [k for k in all_keys if k not in done]


def run_partition(instance: dg.DagsterInstance, defs: dg.Definitions, partition_key: str) -> RunOutcome:
    """Materialize one partition (seal + embed + checks) as a real run recorded in the instance."""
    started = time.perf_counter()
    job = defs.resolve_job_def(JOB)
    result = job.execute_in_process(
        instance=instance, partition_key=partition_key, raise_on_error=False, run_config=QUIET_RUN_CONFIG,
        tags={"datavault/launched_by": "datavault process"},
    )
    outcome = RunOutcome(partition_key, result.run_id, result.success, time.perf_counter() - started)
    for event in result.all_events:
        if event.event_type_value == "ASSET_MATERIALIZATION":
            mat = event.event_specific_data.materialization  # type: ignore[union-attr]
            outcome.metadata[mat.asset_key.to_user_string()] = {k: v.value for k, v in mat.metadata.items()}
        elif event.event_type_value == "ASSET_CHECK_EVALUATION":
            ev = event.event_specific_data  # type: ignore[assignment]
            outcome.checks[ev.check_name] = ev.passed  # type: ignore[union-attr]
    if result.success:
        from . import runtime
        from .defs.sensors import trim_partition
        from .services.settings import Settings
        from .services.streams import Streams

        streams = Streams(runtime.redis_url(Settings.from_env()))
        trim_partition(partition_key, streams)
        streams.close()
    return outcome


def process(home: Path, progress: bool = True) -> list[RunOutcome]:
    """Evaluate the sensor until no new entries remain and run every pending partition to completion."""
    ensure_dagster_home(home)
    defs = load_definitions()
    outcomes: list[RunOutcome] = []
    with dg.DagsterInstance.get() as instance:
        while True:
            evaluate_sensor(instance, defs)
            pending = pending_partitions(instance, defs)
            pending = [k for k in pending if k not in {o.partition_key for o in outcomes}]
            if not pending:
                break
            bar = _bar(len(pending), "partitions", progress)
            for key in pending:
                outcome = run_partition(instance, defs, key)
                outcomes.append(outcome)
                if not outcome.success:
                    log.error("run %s for partition %s failed; its raw entries are kept", outcome.run_id, key)
                bar.update(1)
            bar.close()
    return outcomes


def _bar(total: int, unit: str, enabled: bool):  # noqa: ANN202
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, disable=not enabled, leave=False)


def cursor_state(instance: dg.DagsterInstance) -> dict[str, str]:
    """The CLI's sensor cursor (last planned stream id per domain)."""
    raw = instance.run_storage.get_cursor_values({CURSOR_KEY}).get(CURSOR_KEY)
    return json.loads(raw) if raw else {d: "" for d in DOMAINS}


def ask_via_dagster(home: Path, question: str, top_k: int) -> dict:
    """Run the `rag_query` job on the instance; the question must already be anonymized (it is run config)."""
    ensure_dagster_home(home)
    defs = load_definitions()
    job = defs.resolve_job_def("rag_query")
    run_config = {**QUIET_RUN_CONFIG, "ops": {"answer": {"config": {"question": question, "top_k": top_k}}}}
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(instance=instance, run_config=run_config,
                                        tags={"datavault/launched_by": "datavault ask --via-dagster"})
    return {"run_id": result.run_id, **result.output_for_node("answer")}


def run_job(home: Path, job_name: str, run_config: dict | None = None, launched_by: str = "datavault") -> dict:
    """Run one of the non-partitioned jobs on the instance; returns its run id and its single op's output."""
    ensure_dagster_home(home)
    defs = load_definitions()
    job = defs.resolve_job_def(job_name)
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(instance=instance, run_config={**QUIET_RUN_CONFIG, **(run_config or {})},
                                        tags={"datavault/launched_by": launched_by})
    node = job.graph.node_defs[0].name
    return {"run_id": result.run_id, "output": result.output_for_node(node)}
