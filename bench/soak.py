"""Soak: records keep arriving for minutes through the sensor-driven pipeline under the real dagster-daemon while run
workers are SIGKILLed at random; then production stops, the pipeline drains, and everything is reconciled.

    python bench/soak.py --minutes 10 --rate 2 --kill-every 120 [--kill-daemon-every 300] [--flush-every 120]
        [--batch-size 500] [--redis-url redis://127.0.0.1:6379/9 | --embedded]
        [--postgres-url postgresql://postgres@127.0.0.1:5432/postgres] [--drain-timeout 3600] [--keep]

An outside producer XADDs simulated healthcare and finance records (`simulations.generate_records`, a distinct seed
per batch, so every record id is new) at `--rate` records/s in all, plus a malformed entry every `--malformed-every`
records, writing what came in every `--flush-every` seconds (and the rest when it stops), like a batching producer.
The pipeline is the repo's own: `dagster-daemon run -w workspace.yaml` with the repo's dagster.yaml in a fresh
DAGSTER_HOME and DATAVAULT_HOME (a temp dir), on the servers named by --redis-url (that database is FLUSHED: give it
one of its own) and --postgres-url (an admin URL: a fresh database is created, and dropped at the end), or embedded
ones. Every `--kill-every` seconds (+-50 % jitter) the run worker of a random STARTED ingest_partition run gets
SIGKILL; with `--kill-daemon-every`, the daemon's whole process group (code server, run workers, steps) is SIGKILLed
too and a new daemon started, like a container crash. After `--minutes` the producer stops, the kills stop, and the
bench waits for the pipeline to drain (no active run, every partition finished, nothing unplanned). Then it prints
a reconciliation table (counts only: no record, id or value) and exits 1 if a produced record is missing or
duplicated, or the pipeline did not drain within `--drain-timeout` seconds.

Why the producer flushes every 120 s by default: the sensor plans one partition per domain per tick (15 s) as soon
as anything new is there, and under the daemon each partition is a run of 9 step processes that each import Dagster,
the definitions and their models: ~3-5 min per run on 2 busy cores, 2 at a time. A steady trickle (`--flush-every
1`) then plans partitions ~8x faster than they run, whatever the rate (measured: 1 record/s for 3 min planned 14
partitions; 11 ran in the next 25 min). Records per run cost little (embedding ~30 records/s), so larger, rarer
partitions keep up.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DAEMON = str(Path(sys.executable).parent / "dagster-daemon")
JOB = "ingest_partition"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --- servers --------------------------------------------------------------------------------------------------------

def _fresh_database(admin_url: str) -> tuple[str, str]:
    import psycopg

    name = f"datavault_soak_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    info = psycopg.conninfo.conninfo_to_dict(admin_url)
    info["dbname"] = name
    return psycopg.conninfo.make_conninfo(**info), name


def _drop_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- the producer ---------------------------------------------------------------------------------------------------

class Producer(threading.Thread):
    """XADDs records at `rate`/s (domains alternating) and a malformed entry every `malformed_every` records, in
    flushes every `flush_every` seconds; keeps every acknowledged stream id."""

    def __init__(self, redis_url: str, rate: float, flush_every: float, malformed_every: int, seed: int) -> None:
        super().__init__(daemon=True)
        self.redis_url, self.rate, self.flush_every = redis_url, rate, max(flush_every, 0.2)
        self.malformed_every, self.seed = malformed_every, seed
        self.stop = threading.Event()
        self.valid: dict[str, dict[str, str]] = {}  # domain -> record_id -> stream id
        self.malformed: dict[str, list[str]] = {}
        self.sent = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        from datavault_dagster.domain.records import DOMAINS, SCHEMAS, stream_fields
        from datavault_dagster.services.streams import Streams
        from simulations import generate_records

        self.valid = {d: {} for d in DOMAINS}
        self.malformed = {d: [] for d in DOMAINS}
        streams = Streams(self.redis_url)
        started, batch = time.monotonic(), 0
        try:
            while True:
                stopping = self.stop.wait(self.flush_every)  # what came in meanwhile; on stop, the rest (a close)
                due = int(self.rate * (time.monotonic() - started)) - self.sent
                if due > 0:
                    for n, domain in enumerate(DOMAINS):
                        count = due // len(DOMAINS) + (1 if n < due % len(DOMAINS) else 0)
                        if not count:
                            continue
                        batch += 1
                        records = generate_records(domain, count, seed=self.seed + batch)
                        ids = streams.add_many(domain, (stream_fields(domain, r) for r in records))
                        self.valid[domain].update((r["record_id"], sid) for r, sid in zip(records, ids, strict=True))
                        before = self.sent
                        self.sent += count
                        for _ in range(self.sent // self.malformed_every - before // self.malformed_every):
                            rid = f"bad-{domain}-{self.seed}-{batch}"
                            self.malformed[domain].append(streams.add(domain, {
                                "record_id": rid, "schema": SCHEMAS[domain],
                                "payload": '{"record_id": "' + rid + '", "trunc'}))
                if stopping:
                    return
        except BaseException as exc:  # noqa: BLE001 - reported at the end
            self.error = exc
        finally:
            streams.close()


# --- the daemon and the run workers ---------------------------------------------------------------------------------

def start_daemon(env: dict[str, str], log_path: Path) -> subprocess.Popen:
    with open(log_path, "ab") as out:
        return subprocess.Popen([DAEMON, "run", "-w", str(ROOT / "workspace.yaml")], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def stop_daemon(daemon: subprocess.Popen, graceful: bool = True) -> None:
    """SIGTERM (or SIGKILL: a crash) the daemon, then SIGKILL whatever is left of its process group."""
    if daemon.poll() is None:
        daemon.send_signal(signal.SIGTERM if graceful else signal.SIGKILL)
        try:
            daemon.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(daemon.pid, signal.SIGKILL)  # its code server, run workers and step processes, if any are left
    except ProcessLookupError:
        pass
    daemon.wait()


def kill_a_run_worker(instance, rng: random.Random) -> str | None:  # noqa: ANN001
    """SIGKILL the run worker of a random STARTED ingest_partition run; returns its run id."""
    import dagster as dg

    from datavault_dagster.orchestrate import process_alive, run_worker_pid

    runs = instance.get_runs(dg.RunsFilter(job_name=JOB, statuses=[dg.DagsterRunStatus.STARTED]))
    rng.shuffle(runs)
    for run in runs:
        worker = run_worker_pid(instance, run.run_id)
        if worker is not None and process_alive(worker[0], started_by=worker[1]):
            try:
                os.kill(worker[0], signal.SIGKILL)
            except ProcessLookupError:
                continue
            return run.run_id
    return None


def pipeline_state(instance, redis_url: str) -> dict:  # noqa: ANN001
    """Partitions, runs and raw backlog as the instance and Redis see them now."""
    import dagster as dg
    import redis

    from datavault_dagster.domain.batches import last_planned_id
    from datavault_dagster.domain.records import DOMAINS
    from datavault_dagster.orchestrate import partition_states
    from datavault_dagster.services.streams import Streams

    states = partition_states(instance)
    runs = instance.get_runs(dg.RunsFilter(job_name=JOB))
    keys = instance.get_dynamic_partitions("stream_batches")
    streams = Streams(redis_url)
    try:
        unplanned = sum(len(streams.ids_after(d, last_planned_id(d, keys), 1_000_000)) for d in DOMAINS)
    finally:
        streams.close()
    client = redis.Redis.from_url(redis_url)
    waiting_retry = [r for r in runs if r.status == dg.DagsterRunStatus.FAILURE
                     and r.tags.get("dagster/will_retry") != "false"
                     and not any(c.parent_run_id == r.run_id for c in runs)]
    return {
        "partitions": len(states),
        "by_status": Counter(s.status for s in states.values()),
        "runs": Counter(r.status.value for r in runs),
        "active": sum(not r.is_finished for r in runs),
        "waiting_retry": len(waiting_retry),
        "unplanned": unplanned,
        "raw": sum(client.xlen(f"datavault:raw:{d}") for d in DOMAINS),
    }


def drained(state: dict) -> bool:
    return (state["active"] == 0 and state["waiting_retry"] == 0 and state["unplanned"] == 0
            and state["by_status"]["pending"] == 0 and state["by_status"]["running"] == 0)


# --- reconciliation -------------------------------------------------------------------------------------------------

def reconcile(settings, producer: Producer, instance, kills: int, daemon_kills: int) -> dict:  # noqa: ANN001
    import dagster as dg
    import psycopg
    import redis

    from datavault_dagster.domain.batches import StreamRange, parse_stream_id
    from datavault_dagster.domain.records import DOMAINS
    from datavault_dagster.services.vectors import VectorStore

    with psycopg.connect(settings.postgres_url) as conn:
        rows = conn.execute("SELECT domain, record_id, stream_id, extract(epoch FROM created_at) FROM "
                            "datavault.records").fetchall()
        dup_rows = conn.execute("SELECT count(*) FROM (SELECT 1 FROM datavault.records GROUP BY domain, record_id "
                                "HAVING count(*) > 1) d").fetchone()[0]
        letters = conn.execute("SELECT domain, stream_id, record_id FROM datavault.dead_letters").fetchall()
    client = redis.Redis.from_url(settings.redis_url)
    in_dl_stream = Counter((d, f[b"stream_id"].decode()) for d in DOMAINS
                           for _, f in client.xrange(f"datavault:deadletter:{d}"))
    vault = {(d, r): (s, float(t)) for d, r, s, t in rows}
    produced = {(d, r): s for d in DOMAINS for r, s in producer.valid[d].items()}
    malformed = {(d, s) for d in DOMAINS for s in producer.malformed[d]}
    lettered = {(d, s) for d, s, _ in letters}
    valid_lettered = {(d, r) for d, s, r in letters if (d, s) not in malformed}
    missing = [k for k, s in produced.items() if k not in vault and (k[0], s) not in lettered]

    arrow = VectorStore(settings.lancedb_uri).table().to_arrow()
    per_record: dict[tuple[str, str], list[int]] = {}
    for d, r, c in zip(arrow.column("domain").to_pylist(), arrow.column("record_id").to_pylist(),
                       arrow.column("chunk").to_pylist(), strict=True):
        per_record.setdefault((d, r), []).append(c)
    dup_vectors = sum(len(c) != len(set(c)) for c in per_record.values())
    orphans = sum(k not in vault for k in per_record)

    keys = instance.get_dynamic_partitions("stream_batches")
    coverage_errors = 0
    for domain in DOMAINS:
        ranges = sorted((StreamRange.from_partition_key(k) for k in keys if k.startswith(f"{domain}:")),
                        key=lambda x: parse_stream_id(x.start))
        coverage_errors += sum(parse_stream_id(a.end) >= parse_stream_id(b.start)
                               for a, b in zip(ranges, ranges[1:], strict=False))
        bounds = [(parse_stream_id(x.start), parse_stream_id(x.end)) for x in ranges]
        for sid in list(producer.valid[domain].values()) + producer.malformed[domain]:
            p = parse_stream_id(sid)
            coverage_errors += sum(lo <= p <= hi for lo, hi in bounds) != 1

    runs = instance.get_runs(dg.RunsFilter(job_name=JOB))
    failed = [r for r in runs if r.status == dg.DagsterRunStatus.FAILURE]
    by_sensor = sum(any("its run worker process is gone" in (e.message or "")
                        for e in instance.all_logs(r.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)) for r in failed)
    latencies = sorted(vault[k][1] * 1000 - parse_stream_id(s)[0] for k, s in produced.items() if k in vault)

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] / 1000 if latencies else float("nan")

    return {
        "produced valid": len(produced),
        "produced malformed": len(malformed),
        "in vault": sum(k in vault for k in produced),
        "records with vectors": sum(k in per_record for k in vault),
        "dead-lettered (table)": len(letters),
        "dead-lettered (stream)": sum(in_dl_stream.values()),
        "  of them valid records": len(valid_lettered),
        "malformed not dead-lettered": len(malformed - lettered),
        "missing": len(missing),
        "duplicated vault rows": dup_rows,
        "duplicated vector sets": dup_vectors,
        "orphan vectors (records)": orphans,
        "dead letters duplicated in stream": sum(n > 1 for n in in_dl_stream.values()),
        "raw entries left": sum(client.xlen(f"datavault:raw:{d}") for d in DOMAINS),
        "partitions": len(keys),
        "partition overlaps/gaps": coverage_errors,
        "runs launched": len(runs),
        "runs succeeded": sum(r.status == dg.DagsterRunStatus.SUCCESS for r in runs),
        "runs failed": len(failed),
        "  failed by fail_dead_runs": by_sensor,
        "runs retried (re-executions)": sum(bool(r.parent_run_id) for r in runs),
        "partitions left failed": sum(1 for k in keys if _latest(runs, k) == dg.DagsterRunStatus.FAILURE),
        "kills (run workers)": kills,
        "kills (daemon process group)": daemon_kills,
        "XADD->vault latency p50 (s)": round(pct(0.50), 1),
        "XADD->vault latency p95 (s)": round(pct(0.95), 1),
    }


def _latest(runs, key: str):  # noqa: ANN001, ANN202
    mine = [r for r in runs if r.tags.get("dagster/partition") == key]  # newest first
    return mine[0].status if mine else None


# --- main -----------------------------------------------------------------------------------------------------------

def main() -> int:  # noqa: PLR0915
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="minutes of production")
    parser.add_argument("--rate", type=float, default=1.0, help="records per second, both domains together")
    parser.add_argument("--kill-every", type=float, default=120.0, help="seconds between run-worker SIGKILLs (0: none)")
    parser.add_argument("--kill-daemon-every", type=float, default=0.0,
                        help="seconds between SIGKILLs of the daemon's process group, then a new daemon (0: none)")
    parser.add_argument("--flush-every", type=float, default=120.0, help="seconds between the producer's XADD flushes")
    parser.add_argument("--batch-size", type=int, default=500, help="DATAVAULT_BATCH_SIZE")
    parser.add_argument("--malformed-every", type=int, default=150)
    parser.add_argument("--seed", type=int, default=7000)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/9", help="a database of its own: flushed")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="admin URL; a fresh database is created and dropped")
    parser.add_argument("--embedded", action="store_true", help="embedded Redis and PostgreSQL instead")
    parser.add_argument("--drain-timeout", type=float, default=3600.0)
    parser.add_argument("--keep", action="store_true", help="keep the temp dir and the database")
    args = parser.parse_args()

    import dagster as dg
    import redis

    from datavault_dagster.services.settings import Settings

    work = Path(tempfile.mkdtemp(prefix="dv-soak-"))
    (work / "dagster").mkdir()
    shutil.copy(ROOT / "dagster.yaml", work / "dagster" / "dagster.yaml")
    admin_pg, dbname = args.postgres_url, None
    if args.embedded:
        from datavault_dagster.services import embedded

        embedded_home = Path(tempfile.mkdtemp(prefix="dv-soak-servers-"))
        redis_url, pg_url = embedded.start_redis(embedded_home), embedded.start_postgres(embedded_home)
    else:
        redis_url = args.redis_url
        redis.Redis.from_url(redis_url).flushdb()
        pg_url, dbname = _fresh_database(admin_pg)
    env = dict(os.environ, DATAVAULT_HOME=str(work / "home"), DAGSTER_HOME=str(work / "dagster"),
               DATAVAULT_LANCEDB_URI=str(work / "lancedb"), DATAVAULT_REDIS_URL=redis_url,
               DATAVAULT_POSTGRES_URL=pg_url, DATAVAULT_BATCH_SIZE=str(args.batch_size),
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    for k in ("DATAVAULT_MASTER_KEYS", "DATAVAULT_PSEUDONYM_KEY"):
        env.pop(k, None)
    os.environ.update({k: env[k] for k in ("DATAVAULT_HOME", "DAGSTER_HOME", "DATAVAULT_LANCEDB_URI",
                                           "DATAVAULT_REDIS_URL", "DATAVAULT_POSTGRES_URL", "DATAVAULT_BATCH_SIZE")})
    settings = Settings.from_env()
    daemon_log = work / "dagster-daemon.log"
    rng = random.Random(args.seed)
    log(f"soak: {args.minutes} min at {args.rate} records/s (flush every {args.flush_every} s), a run worker killed "
        f"every ~{args.kill_every} s, batch size {args.batch_size}; work dir {work}")
    kills = daemon_kills = 0
    exit_code = 0
    daemon = None
    try:
        with dg.DagsterInstance.get() as instance:
            daemon = start_daemon(env, daemon_log)
            producer = Producer(redis_url, args.rate, args.flush_every, args.malformed_every, args.seed)
            started = time.monotonic()
            producer.start()
            end = started + args.minutes * 60
            next_kill = started + args.kill_every * rng.uniform(0.5, 1.5) if args.kill_every else float("inf")
            next_report = started + 30
            next_crash = started + args.kill_daemon_every * rng.uniform(0.5, 1.5) if args.kill_daemon_every \
                else float("inf")
            while time.monotonic() < end:
                time.sleep(1)
                if daemon.poll() is not None:
                    raise RuntimeError(f"dagster-daemon exited: {daemon_log.read_text(errors='replace')[-3000:]}")
                now = time.monotonic()
                if now >= next_kill:
                    victim = kill_a_run_worker(instance, rng)
                    if victim:
                        kills += 1
                        log(f"SIGKILL run worker of run {victim[:8]} (kill {kills})")
                        next_kill = now + args.kill_every * rng.uniform(0.5, 1.5)
                    else:  # runs take seconds: wait for the next one to start rather than skip this kill
                        next_kill = now + 1
                if now >= next_crash:  # the daemon, its code server, run workers and steps: a container crash
                    stop_daemon(daemon, graceful=False)
                    daemon = start_daemon(env, daemon_log)
                    daemon_kills += 1
                    log(f"SIGKILL the daemon's process group, started a new daemon (crash {daemon_kills})")
                    next_crash = now + args.kill_daemon_every * rng.uniform(0.5, 1.5)
                if now >= next_report:
                    s = pipeline_state(instance, redis_url)
                    log(f"t={now - started:5.0f}s produced {producer.sent}; partitions {s['partitions']} "
                        f"{dict(s['by_status'])}; runs {dict(s['runs'])}; raw {s['raw']}, unplanned {s['unplanned']}")
                    next_report = now + 30
            producer.stop.set()
            producer.join()
            production_s = time.monotonic() - started
            if producer.error is not None:
                raise RuntimeError(f"producer failed: {producer.error!r}")
            log(f"production stopped after {production_s:.0f} s: {producer.sent} records; draining")
            deadline = time.monotonic() + args.drain_timeout
            drain_started = time.monotonic()
            next_report = drain_started + 60
            while True:
                s = pipeline_state(instance, redis_url)
                if drained(s):
                    break
                if time.monotonic() > deadline or daemon.poll() is not None:
                    log(f"NOT drained after {time.monotonic() - drain_started:.0f} s: {s}")
                    exit_code = 1
                    break
                if time.monotonic() >= next_report:
                    log(f"draining: partitions {dict(s['by_status'])}; runs {dict(s['runs'])}; raw {s['raw']}")
                    next_report += 60
                time.sleep(10)
            drain_s = time.monotonic() - drain_started
            if not exit_code:
                log(f"drained in {drain_s:.0f} s: partitions {dict(s['by_status'])}, runs {dict(s['runs'])}")
            stop_daemon(daemon)
            daemon = None
            table = reconcile(settings, producer, instance, kills, daemon_kills)
        table = {"minutes of production": round(production_s / 60, 1), "drain (min)": round(drain_s / 60, 1),
                 "drained": "yes" if not exit_code else "NO (missing counts records still unprocessed)", **table}
        print("\nReconciliation")
        for name, value in table.items():
            print(f"  {name:<36} {value}")
        if table["missing"] or table["duplicated vault rows"] or table["duplicated vector sets"]:
            exit_code = 1
    finally:
        if daemon is not None:
            stop_daemon(daemon)
        if args.embedded:
            from datavault_dagster.services import embedded

            embedded.stop_all()
        elif not args.keep:
            _drop_database(admin_pg, dbname)
            redis.Redis.from_url(redis_url).flushdb()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
