"""Drive the Dagster definitions from the command line: evaluate the sensor, run its partitions, trim."""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from .domain.batches import StreamRange, parse_stream_id
from .domain.records import DOMAINS
from .services.streams import Streams

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
    blocking_failed: list[str] = field(default_factory=list)


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


MAX_ATTEMPTS = 3  # runs of one partition that fail with an error (not a failed check) before it is left failed
BACKOFF_S = 2.0  # seconds before the 2nd attempt, doubled for each further one
_ACTIVE = {dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
           dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING}


@dataclass
class PartitionState:
    """Where one stream-range partition stands, from the runs of `ingest_partition` recorded for it."""

    partition_key: str
    status: str  # "pending" (no run yet), "running", "succeeded", "failed"
    attempts: int = 0  # failed runs since its last success
    last_run_id: str | None = None

    @property
    def retryable(self) -> bool:
        """Failed, but fewer times than MAX_ATTEMPTS: the next `process` runs it again."""
        return self.status == "failed" and self.attempts < MAX_ATTEMPTS


def partition_states(instance: dg.DagsterInstance) -> dict[str, PartitionState]:
    """Every known partition with its state (one query for all runs of the job, newest first)."""
    keys = instance.get_dynamic_partitions("stream_batches")
    states = {k: PartitionState(k, "pending") for k in keys}
    settled: set[str] = set()
    for run in instance.get_runs(dg.RunsFilter(job_name=JOB)):
        key = run.tags.get("dagster/partition")
        state = states.get(key) if key else None
        if state is None or key in settled:
            continue
        if state.last_run_id is None:
            state.last_run_id = run.run_id
            if run.status in _ACTIVE:
                state.status = "running"
                settled.add(key)
                continue
        if run.status == dg.DagsterRunStatus.SUCCESS:
            if state.status == "pending":
                state.status = "succeeded"
            settled.add(key)
        elif run.status in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED):
            state.status = "failed"
            state.attempts += 1
    return states


def partition_states_for(home: Path) -> dict[str, PartitionState]:
    """`partition_states` on the instance of a data directory (DAGSTER_HOME, default <home>/dagster)."""
    ensure_dagster_home(home)
    with dg.DagsterInstance.get() as instance:
        return partition_states(instance)


def pending_partitions(instance: dg.DagsterInstance, defs: dg.Definitions | None = None) -> list[str]:
    """Partitions to run now: never run, or failed fewer than MAX_ATTEMPTS times (in planning order)."""
    return [k for k, s in partition_states(instance).items() if s.status == "pending" or s.retryable]


def failed_partitions(instance: dg.DagsterInstance) -> list[PartitionState]:
    """Partitions whose latest run failed (retried up to MAX_ATTEMPTS; after that they wait for an operator)."""
    return [s for s in partition_states(instance).values() if s.status == "failed"]


def failed_checks(instance: dg.DagsterInstance, run_id: str) -> dict[str, dict[str, object]]:
    """The failed asset checks of a run and their metadata (record ids and fields, never values)."""
    out: dict[str, dict[str, object]] = {}
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = record.dagster_event.event_specific_data  # type: ignore[union-attr]
        if not evaluation.passed:  # type: ignore[union-attr]
            out[evaluation.check_name] = {k: v.value for k, v in evaluation.metadata.items()}  # type: ignore[union-attr]
    return out


def run_partition(instance: dg.DagsterInstance, defs: dg.Definitions, partition_key: str) -> RunOutcome:
    """Materialize one partition (seal + embed + checks) as a real run recorded in the instance."""
    started = time.perf_counter()
    job = defs.resolve_job_def(JOB)
    result = job.execute_in_process(
        instance=instance, partition_key=partition_key, raise_on_error=False, run_config=QUIET_RUN_CONFIG,
        tags={"datavault/launched_by": "datavault process", **_worker_tags()},
    )
    outcome = RunOutcome(partition_key, result.run_id, result.success, time.perf_counter() - started)
    for event in result.all_events:
        if event.event_type_value == "ASSET_MATERIALIZATION":
            mat = event.event_specific_data.materialization  # type: ignore[union-attr]
            outcome.metadata[mat.asset_key.to_user_string()] = {k: v.value for k, v in mat.metadata.items()}
        elif event.event_type_value == "ASSET_CHECK_EVALUATION":
            ev = event.event_specific_data  # type: ignore[assignment]
            outcome.checks[ev.check_name] = ev.passed  # type: ignore[union-attr]
            if not ev.passed and ev.blocking:  # type: ignore[union-attr]
                outcome.blocking_failed.append(ev.check_name)  # type: ignore[union-attr]
    if result.success:
        streams = _streams()
        try:
            streams.delete_range(StreamRange.from_partition_key(partition_key))
        finally:
            streams.close()
    return outcome


def _data_failure(outcome: RunOutcome) -> bool:
    """A run stopped by a failed blocking check: the same data fails the same way, so retrying cannot help."""
    return bool(outcome.blocking_failed)  # a warning (dead_letter_depth) does not make an error run a data failure


def run_with_retries(instance: dg.DagsterInstance, defs: dg.Definitions, partition_key: str,
                     attempts_so_far: int = 0, sleep=time.sleep) -> RunOutcome:  # noqa: ANN001
    """Run a partition; a run that fails with an error (Redis or PostgreSQL away, a killed worker) is retried with
    exponential backoff until MAX_ATTEMPTS runs have failed; a failed blocking check is not retried."""
    attempt = attempts_so_far
    while True:
        outcome = run_partition(instance, defs, partition_key)
        attempt += 1
        if outcome.success or _data_failure(outcome) or attempt >= MAX_ATTEMPTS:
            return outcome
        delay = BACKOFF_S * 2 ** (attempt - attempts_so_far - 1)
        log.warning("run %s of partition %s failed (attempt %d of %d); retrying in %.0f s", outcome.run_id,
                    partition_key, attempt, MAX_ATTEMPTS, delay)
        sleep(delay)


def trim_succeeded(instance: dg.DagsterInstance, streams: Streams) -> int:
    """Delete the raw entries still left in Redis for partitions whose latest run succeeded (a trim that a crash
    interrupted); returns the entries deleted. Ranges before the stream's first entry cost nothing."""
    firsts = {d: streams.first_id(d) for d in DOMAINS}
    deleted = 0
    for state in partition_states(instance).values():
        if state.status != "succeeded":
            continue
        rng = StreamRange.from_partition_key(state.partition_key)
        first = firsts.get(rng.domain)
        if first is not None and parse_stream_id(rng.end) >= parse_stream_id(first):
            deleted += streams.delete_range(rng)
    return deleted


def process(home: Path, progress: bool = True) -> list[RunOutcome]:
    """Evaluate the sensor until no new entries remain and run every pending partition to completion.

    A partition whose earlier runs failed is retried (up to MAX_ATTEMPTS failed runs in all); raw entries of
    partitions that succeeded but were not trimmed (a crash in between) are trimmed."""
    ensure_dagster_home(home)
    defs = load_definitions()
    outcomes: list[RunOutcome] = []
    with dg.DagsterInstance.get() as instance:
        # runs of an earlier `datavault process` that was killed mid-run still say STARTED: they count as failed
        for run_id in fail_runs(instance, dead_runs(instance), "the `datavault process` that ran it is gone"):
            log.warning("run %s was left running by a `datavault process` that is gone: marked failed", run_id)
        while True:
            evaluate_sensor(instance, defs)
            states = partition_states(instance)
            done = {o.partition_key for o in outcomes}
            pending = [s for k, s in states.items() if k not in done and (s.status == "pending" or s.retryable)]
            if not pending:
                break
            bar = _bar(len(pending), "partitions", progress)
            for state in pending:
                outcome = run_with_retries(instance, defs, state.partition_key, state.attempts)
                outcomes.append(outcome)
                if not outcome.success:
                    log.error("partition %s failed (run %s); its raw entries are kept: see `datavault partitions "
                              "--failed`", state.partition_key, outcome.run_id)
                bar.update(1)
            bar.close()
        streams = _streams()
        try:
            trimmed = trim_succeeded(instance, streams)
        finally:
            streams.close()
        if trimmed:
            log.info("trimmed %d raw entries of partitions that had succeeded before", trimmed)
    return outcomes


# --- runs whose process is gone -------------------------------------------------------------------------------
# A run records its outcome itself, so a process that dies with it (SIGKILL, the OOM killer, a host restart) leaves
# it STARTED for ever: `datavault process` would count its partition as running and never retry it, and under the
# daemon nothing does either (run monitoring cannot check a DefaultRunLauncher run worker, and the code server that
# would notice its child died may have died with it). A run knows which process executes it: `datavault process`
# tags its in-process runs with its pid, process start time and host; a run worker of the DefaultRunLauncher logs
# "Started process for run (pid: N)". A run whose process is gone is reported failed (run_retries and
# `datavault process` then retry it, from the step that did not finish: every step is idempotent).

PID_TAG = "datavault/pid"
PID_START_TAG = "datavault/pid_start"  # the process's start time in clock ticks since boot (Linux): no pid reuse
HOST_TAG = "datavault/host"
_STARTED_PROCESS = "Started process for run (pid: "


def _proc_stat(pid: int | str) -> list[str] | None:
    """Fields 3.. of /proc/<pid>/stat (state first), or None (no such process, or not Linux)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rpartition(")")[2].split()


def _worker_tags() -> dict[str, str]:
    stat = _proc_stat("self")
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname(),
            **({PID_START_TAG: stat[19]} if stat else {})}


def _boot_time() -> float:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    raise OSError("no btime in /proc/stat")


def process_alive(pid: int, start_ticks: str | None = None, started_by: float | None = None) -> bool:
    """Is `pid` (on this host) a live process, and the same one: started at `start_ticks` (clock ticks since boot,
    as /proc says), or at the latest at `started_by` (epoch seconds)? A zombie is dead; a later process with the
    same number is not it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        pass
    stat = _proc_stat(pid)
    if stat is None:  # exited meanwhile (Linux), or no /proc: the signal is all we can go by
        return not Path("/proc/self/stat").exists()
    if stat[0] in ("Z", "X"):
        return False
    if start_ticks is not None:
        return stat[19] == start_ticks
    if started_by is not None:
        try:
            started = _boot_time() + int(stat[19]) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError):
            return True
        return started <= started_by + 2.0  # btime has whole seconds
    return True


def run_worker_pid(instance: dg.DagsterInstance, run_id: str) -> tuple[int, float] | None:
    """The pid a run worker logged for itself ("Started process for run (pid: N).") and when."""
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        if record.message.startswith(_STARTED_PROCESS):
            try:
                return int(record.message[len(_STARTED_PROCESS):].split(")")[0]), record.timestamp
            except ValueError:
                return None
    return None


def dead_runs(instance: dg.DagsterInstance, run_workers: bool = False) -> list[dg.DagsterRun]:
    """Runs of `ingest_partition` that are not finished but whose process is gone.

    Always: runs of `datavault process` on this host (by their pid tags). With `run_workers`: STARTED runs that a
    DefaultRunLauncher run worker executes, by the pid it logged; only meaningful where the run workers are local
    processes, i.e. in the code server that launches them (the `fail_dead_runs` sensor)."""
    from dagster._core.launcher import DefaultRunLauncher
    from dagster._core.storage.tags import GRPC_INFO_TAG

    statuses = [s for s in _ACTIVE if s != dg.DagsterRunStatus.CANCELING]
    local_workers = run_workers and isinstance(instance.run_launcher, DefaultRunLauncher)
    host = socket.gethostname()
    dead: list[dg.DagsterRun] = []
    for run in instance.get_runs(dg.RunsFilter(job_name=JOB, statuses=statuses)):
        if PID_TAG in run.tags:
            if run.tags.get(HOST_TAG) == host and not process_alive(int(run.tags[PID_TAG]),
                                                                    run.tags.get(PID_START_TAG)):
                dead.append(run)
        elif local_workers and run.status == dg.DagsterRunStatus.STARTED and GRPC_INFO_TAG in run.tags:
            worker = run_worker_pid(instance, run.run_id)
            if worker is not None and not process_alive(worker[0], started_by=worker[1]):
                dead.append(run)
    return dead


def fail_runs(instance: dg.DagsterInstance, runs: list[dg.DagsterRun], why: str) -> list[str]:
    """Report runs failed that are still unfinished now (a run that finished as its process exited is left alone)."""
    failed = []
    for run in runs:
        current = instance.get_run_by_id(run.run_id)
        if current is None or current.is_finished:
            continue
        instance.report_run_failed(current, f"Marked failed by DataVault: {why}.")
        failed.append(run.run_id)
    return failed


def _streams() -> Streams:
    from . import runtime
    from .services.settings import Settings

    return Streams(runtime.redis_url(Settings.from_env()))


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
