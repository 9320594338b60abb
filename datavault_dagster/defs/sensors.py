"""The Redis sensor (new stream entries -> dynamic partitions -> runs) and the trim-after-success sensor."""

import json

import dagster as dg

from ..domain.batches import StreamRange, plan_tick
from ..domain.records import DOMAINS
from ..services.settings import Settings
from ..services.streams import Streams
from .jobs import ingest_partition
from .partitions import stream_batches
from .resources import RedisResource

MAX_BATCHES_PER_TICK = 20


@dg.sensor(job=ingest_partition, minimum_interval_seconds=15, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Turns new entries of datavault:raw:<domain> into stream-range partitions and runs them.")
def redis_stream_sensor(context: dg.SensorEvaluationContext, redis: RedisResource) -> dg.SensorResult | dg.SkipReason:
    """Cursor = last planned stream id per domain; one partition and one run per batch of new entries."""
    streams = redis.streams()
    cursor = json.loads(context.cursor) if context.cursor else {}
    existing = context.instance.get_dynamic_partitions(stream_batches.name)
    ranges, new_cursor = plan_tick(
        DOMAINS, cursor, existing, streams.ids_after, Settings.from_env().batch_size, MAX_BATCHES_PER_TICK
    )
    if not ranges:
        return dg.SkipReason(f"no new entries after {new_cursor or 'the start'}")
    keys = [r.partition_key for r in ranges]
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=k, partition_key=k) for k in keys],
        dynamic_partitions_requests=[stream_batches.build_add_request(keys)],
        cursor=json.dumps(new_cursor, sort_keys=True),
    )


def trim_partition(partition_key: str | None, streams: Streams) -> int:
    """Delete a partition's raw entries from Redis (only ever called after its run succeeded)."""
    if not partition_key:
        return 0
    return streams.delete_range(StreamRange.from_partition_key(partition_key))


@dg.run_status_sensor(run_status=dg.DagsterRunStatus.SUCCESS, monitored_jobs=[ingest_partition],
                      default_status=dg.DefaultSensorStatus.RUNNING, minimum_interval_seconds=5,
                      description="Once a partition is durably in the vault and indexed, trim its raw entries.")
def trim_ingested_ranges(context: dg.RunStatusSensorContext, redis: RedisResource) -> None:
    """Raw PII leaves Redis only after its run (and its blocking privacy checks) succeeded."""
    deleted = trim_partition(context.dagster_run.tags.get("dagster/partition"), redis.streams())
    context.log.info(f"trimmed {deleted} raw entries")


@dg.sensor(minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Trims raw entries that partitions which already succeeded left in Redis (a trim that a crash "
                       "or a daemon restart interrupted). Never touches a partition that has not succeeded.")
def reconcile_trims(context: dg.SensorEvaluationContext, redis: RedisResource) -> dg.SkipReason:
    """Raw PII of finished partitions leaves Redis even if the run-status sensor missed their success."""
    from ..orchestrate import trim_succeeded

    deleted = trim_succeeded(context.instance, redis.streams())
    return dg.SkipReason(f"trimmed {deleted} left-over raw entries of succeeded partitions" if deleted
                         else "no left-over raw entries")


@dg.sensor(minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Reports runs failed whose process is gone (a killed run worker, or one that died with its code "
                       "server or host), so run retries re-run them; seen dead on two ticks in a row first.")
def fail_dead_runs(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    """DefaultRunLauncher has no run-worker health check (run monitoring leaves such a run STARTED for ever): this
    sensor is it. It runs in the code server, where the run workers are local processes (see orchestrate.dead_runs);
    a run is failed only when its process was already gone at the previous tick, by when the code server that
    launched it, if alive, has reported it itself."""
    from ..orchestrate import dead_runs, fail_runs

    seen = set(json.loads(context.cursor)) if context.cursor else set()
    dead = dead_runs(context.instance, run_workers=True)
    failed = fail_runs(context.instance, [r for r in dead if r.run_id in seen], "its run worker process is gone")
    for run_id in failed:
        context.log.warning(f"run {run_id}: its process is gone; reported failed (run retries re-run it)")
    context.update_cursor(json.dumps(sorted(r.run_id for r in dead if r.run_id not in failed)))
    if failed:
        return dg.SkipReason(f"reported {len(failed)} run(s) failed whose process is gone: {', '.join(failed)}")
    return dg.SkipReason(f"{len(dead)} run(s) whose process is gone, to be failed at the next tick" if dead
                         else "every unfinished run has a live process")
