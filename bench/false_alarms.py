"""No false alarms at scale: generated data, several seeds, through `datavault process`; prints, never asserts.

    python bench/false_alarms.py --count 3000 --seeds 41 42 43 [--batch-size 500]

For each seed, in a fresh data dir, Dagster home, Redis database and PostgreSQL database: produce `--count`
simulated records per domain (plus a few malformed ones), run every partition the way `datavault process` does
(the sensor, the real runs with every asset check, the trim), then print the partitions, the runs and checks that
failed, the dead letters by reason (a `pii_leak_blocked` there is a record the guard quarantined before sealing)
and what landed. Servers: --redis-url / --postgres-url (an admin URL: a database is created per seed), default
the machine's 127.0.0.1 ones; `--embedded` starts embedded ones instead.

`--checks-only` skips Dagster and the embedding (the slow part: ~30 records/s on 2 cores): every range is sealed
with `seal_partition` and checked with the blocking vault checks' own code (the leak scan, every envelope opens,
k-anonymity), so many more records fit in the same time.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from keys_bench import _database  # noqa: E402 - bench/ is the script's own folder on sys.path

BLOCKING = ("vault_has_no_plaintext_pii", "every_blob_decrypts", "quasi_identifiers_k_anonymous",
            "vector_count_matches_records", "vectors_have_no_pii")


def _drop(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def checks_only(settings, count: int, seed: int) -> dict:  # noqa: ANN001
    """Seal every range and run the blocking vault checks' code on it, without Dagster or embedding."""
    from datavault_dagster import runtime
    from datavault_dagster.domain.batches import plan_batches
    from datavault_dagster.domain.errors import InvalidToken
    from datavault_dagster.domain.quasi import measure_k, present_fields, quasi_identifiers
    from datavault_dagster.pipeline import open_record, scan_partition, seal_partition
    from datavault_dagster.services.streams import Streams
    from datavault_dagster.services.vault import Vault

    keyring = runtime.keyring_for(settings)
    anonymizer = runtime.anonymizer_for(keyring)
    streams, vault = Streams(settings.redis_url), Vault(settings.postgres_url)
    vault.ensure_schema()
    failed: Counter[str] = Counter()
    partitions = 0
    for domain in ("healthcare", "finance"):
        ids = streams.ids_after(domain, None, 10 * count)
        for rng in plan_batches(domain, ids, settings.batch_size):
            partitions += 1
            seal_partition(rng, streams, vault, keyring, anonymizer, min_k=settings.min_k)
            scan = scan_partition(rng, streams, vault, keyring, anonymizer)
            if scan.findings:
                failed["vault_has_no_plaintext_pii"] += 1
                print(f"  {rng.partition_key}: findings {scan.findings[:5]}", flush=True)
            qis, unopened = [], 0
            for row in vault.partition_records(rng.partition_key):
                try:
                    qis.append(quasi_identifiers(open_record(row, keyring)))
                except InvalidToken:
                    unopened += 1
            failed["every_blob_decrypts"] += bool(unopened)
            k, classes = measure_k(qis, present_fields(qis))
            failed["quasi_identifiers_k_anonymous"] += bool(classes and k < settings.min_k)
    streams.close()
    vault.close()
    return {"partitions": partitions, "failed_checks": {k: v for k, v in failed.items() if v}}


def run_seed(seed: int, count: int, batch_size: int, redis_url: str, admin_pg: str, only_checks: bool = False) -> dict:
    """One seed end to end; returns its figures."""
    import dagster as dg
    import redis

    from datavault_dagster import orchestrate
    from datavault_dagster.cli import produce
    from datavault_dagster.services.settings import Settings
    from datavault_dagster.services.vault import Vault
    from datavault_dagster.services.vectors import VectorStore

    work = Path(tempfile.mkdtemp(prefix=f"dv-false-alarms-{seed}-"))
    pg_url, dbname = _database(admin_pg)
    redis.Redis.from_url(redis_url).flushdb()
    os.environ.update({
        "DATAVAULT_HOME": str(work / "home"), "DAGSTER_HOME": str(work / "dagster"),
        "DATAVAULT_LANCEDB_URI": str(work / "lancedb"), "DATAVAULT_REDIS_URL": redis_url,
        "DATAVAULT_POSTGRES_URL": pg_url, "DATAVAULT_BATCH_SIZE": str(batch_size),
    })
    (work / "dagster").mkdir(parents=True)
    settings = Settings.from_env()
    try:
        t = time.perf_counter()
        produced = {d: produce(settings, d, count, seed, malformed=3, progress=False)
                    for d in ("healthcare", "finance")}
        if only_checks:
            result = checks_only(settings, count, seed)
            vault = Vault(pg_url)
            counts = vault.counts()
            reasons = Counter(d.reason_code for d in vault.dead_letters())
            vault.close()
            return {"seed": seed, "produced": sum(produced.values()), "partitions": result["partitions"],
                    "runs": 0, "runs_failed": 0, "partitions_failed": 0, "failed_checks": result["failed_checks"],
                    "vault_rows": sum(c.get("records", 0) for c in counts.values()), "vectors": 0,
                    "dead_letters": dict(sorted(reasons.items())), "raw_entries_left": -1,
                    "seconds": round(time.perf_counter() - t, 1)}
        outcomes = orchestrate.process(settings.home, progress=True)
        seconds = time.perf_counter() - t
        failed_checks: Counter[str] = Counter()
        with dg.DagsterInstance.get() as instance:
            for outcome in outcomes:
                failed_checks.update(list(orchestrate.failed_checks(instance, outcome.run_id)))
            states = orchestrate.partition_states(instance)
        vault = Vault(pg_url)
        counts = vault.counts()
        reasons = Counter(d.reason_code for d in vault.dead_letters())
        vault.close()
        client = redis.Redis.from_url(redis_url)
        return {
            "seed": seed, "produced": sum(produced.values()), "partitions": len(states),
            "runs": len(outcomes), "runs_failed": sum(not o.success for o in outcomes),
            "partitions_failed": sum(s.status == "failed" for s in states.values()),
            "failed_checks": dict(failed_checks),
            "vault_rows": sum(c.get("records", 0) for c in counts.values()),
            "vectors": VectorStore(settings.lancedb_uri).count(),
            "dead_letters": dict(sorted(reasons.items())),
            "raw_entries_left": sum(client.xlen(f"datavault:raw:{d}") for d in ("healthcare", "finance")),
            "seconds": round(seconds, 1),
        }
    finally:
        _drop(admin_pg, dbname)
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=3000, help="records per domain per seed (default 3000)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[41, 42, 43])
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/10")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--embedded", action="store_true", help="start embedded Redis and PostgreSQL instead")
    parser.add_argument("--checks-only", action="store_true", help="seal + the blocking vault checks' code, no "
                                                                   "Dagster, no embedding")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    redis_url, admin_pg = args.redis_url, args.postgres_url
    if args.embedded:
        from datavault_dagster.services import embedded

        home = Path(tempfile.mkdtemp(prefix="dv-false-alarms-servers-"))
        redis_url, admin_pg = embedded.start_redis(home), embedded.start_postgres(home)
    rows = []
    for seed in args.seeds:
        row = run_seed(seed, args.count, args.batch_size, redis_url, admin_pg, args.checks_only)
        rows.append(row)
        print(row, flush=True)
    print(f"\n{'seed':>6} {'produced':>9} {'partitions':>10} {'failed':>7} {'vault':>7} {'vectors':>8} "
          f"{'raw left':>8} {'seconds':>8}  failed checks / dead letters by reason")
    for r in rows:
        print(f"{r['seed']:>6} {r['produced']:>9} {r['partitions']:>10} {r['partitions_failed']:>7} "
              f"{r['vault_rows']:>7} {r['vectors']:>8} {r['raw_entries_left']:>8} {r['seconds']:>8}  "
              f"{r['failed_checks'] or 'none'} / {r['dead_letters']}")
    total = sum(r["produced"] for r in rows)
    false = sum(n for r in rows for name, n in r["failed_checks"].items() if name in BLOCKING)
    warned = sum(n for r in rows for name, n in r["failed_checks"].items() if name not in BLOCKING)
    print(f"\n{total} records over {len(rows)} seeds: {false} failed blocking checks, {warned} warnings, "
          f"{sum(r['partitions_failed'] for r in rows)} failed partitions")


if __name__ == "__main__":
    main()
