"""Key rotation and right-to-erasure timings over a real vault: prints figures, never asserts.

    python bench/keys_bench.py [--records 10000] [--erasures 10] [--batch 100] [--embed]

Produces `--records` simulated records (half healthcare, half finance) into real Redis streams, seals them
with the real pipeline (`seal_partition`: validate, anonymize, subject keys, AES-256-GCM) into a real
PostgreSQL vault in partitions of 500, and writes one vector per record into LanceDB, partition by
partition. By default the vectors are random unit vectors written directly through VectorStore (embedding
10,000 records takes ~7 minutes on 2 cores); `--embed` uses the real model instead. About 1 % of the entries
are malformed on purpose, so there are dead letters to scan and re-seal. Then it times a master key rotation
(re-wrap every subject key, move every record's key id, re-seal dead letters and identities), the retirement
of the old key, and `--erasures` erasures of random subjects (tombstone, Redis scan, dead letters, key
shredding and identities, k-anonymity restored in the partitions they left and the coarsened neighbours
re-embedded, LanceDB rewrite + cleanup of old versions, receipt). Last, `--batch` N other subjects erased
one after the other and N more erased as one batch (`forget_subjects`), timed against each other.

Servers: DATAVAULT_REDIS_URL / DATAVAULT_POSTGRES_URL if set (a throw-away database is created on that
PostgreSQL server and dropped afterwards; the Redis database is used as is, so point it at a spare one),
else embedded Redis and PostgreSQL in a temporary directory.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

PARTITION = 500


def _fmt(seconds: float, n: int, unit: str) -> str:
    return f"{seconds:8.3f} s  ({n / seconds:10.1f} {unit}/s)" if seconds else f"{seconds:8.3f} s"


def _database(admin_url: str) -> tuple[str, str]:
    import psycopg

    name = f"datavault_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    info = psycopg.conninfo.conninfo_to_dict(admin_url)
    info["dbname"] = name
    return psycopg.conninfo.make_conninfo(**info), name


def _records_and_vectors(pg_url: str, store, subjects: list[str]) -> tuple[list[tuple], list[bytes]]:  # noqa: ANN001
    """The subjects' (domain, record id) pairs and the raw bytes of their vectors, to look for after erasure."""
    import numpy as np
    import psycopg

    with psycopg.connect(pg_url) as conn:
        mine = [tuple(r) for r in conn.execute(
            "SELECT domain, record_id FROM datavault.records WHERE subject_pseudonym = ANY(%s)", (subjects,))]
    arrow = store.table().search().where(
        " OR ".join(f"(domain = '{d}' AND record_id = '{rid}')" for d, rid in mine)).limit(None).to_arrow()
    return mine, [np.asarray(v, dtype=np.float32).tobytes() for v in arrow.column("vector").to_pylist()]


def main() -> None:  # noqa: PLR0915
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=10_000, help="records in total (half per domain)")
    parser.add_argument("--erasures", type=int, default=10, help="subjects to erase, one after the other")
    parser.add_argument("--batch", type=int, default=100,
                        help="then erase N subjects one by one and N others as one batch (0: skip)")
    parser.add_argument("--embed", action="store_true", help="embed with the real model instead of random vectors")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    import numpy as np
    import psycopg

    from datavault_dagster.cli import _malformed_entry
    from datavault_dagster.domain.anonymize import Anonymizer, Pseudonymizer
    from datavault_dagster.domain.batches import StreamRange
    from datavault_dagster.domain.crypto import Keyring
    from datavault_dagster.domain.embed import DIMENSIONS, MODEL_NAME, Embedder, embedding_id
    from datavault_dagster.domain.records import DOMAINS, stream_fields
    from datavault_dagster.erasure import forget_subject, forget_subjects
    from datavault_dagster.pipeline import embed_partition, open_record, seal_partition
    from datavault_dagster.rotation import key_usage, retire, rotate_all
    from datavault_dagster.services import embedded
    from datavault_dagster.services.identities import Identities
    from datavault_dagster.services.settings import Settings
    from datavault_dagster.services.streams import Streams
    from datavault_dagster.services.vault import Vault
    from datavault_dagster.services.vectors import VectorRow, VectorStore
    from simulations import generate_records

    home = Path(tempfile.mkdtemp(prefix="dv-keys-bench-"))
    admin_pg = os.environ.get("DATAVAULT_POSTGRES_URL")
    urls = embedded.resolve_urls(home, os.environ.get("DATAVAULT_REDIS_URL"), admin_pg)
    pg_url, dbname = _database(urls.postgres_url) if admin_pg else (urls.postgres_url, "")
    keyring = Keyring.generate()
    anonymizer = Anonymizer(Pseudonymizer(keyring.pseudonym_key))
    streams, vault = Streams(urls.redis_url), Vault(pg_url)
    vault.ensure_schema()
    identities = Identities(pg_url)
    identities.ensure_schema()
    min_k = Settings.from_env().min_k
    store = VectorStore(str(home / "lancedb"))
    rng = np.random.default_rng(args.seed)
    where = "configured" if admin_pg else "embedded"
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"cpu cores: {os.cpu_count()}  records: {args.records}  servers: {where}  data dir: {home}")
    print("vectors: " + ("all-MiniLM-L6-v2 embeddings (embed_partition)" if args.embed else
                         "random unit vectors written directly through VectorStore (one per record, not embedded)"))

    # --- setup: produce -> seal (real pipeline) -> vectors ----------------------------------------------
    t0 = time.perf_counter()
    sealed = partitions = 0
    seal_s = vec_s = 0.0
    # erasure re-embeds the neighbours it coarsens, so the model is needed (loaded on first use) either way
    embedder = Embedder()
    per_domain = {DOMAINS[0]: args.records - args.records // 2, DOMAINS[1]: args.records // 2}
    for domain, count in per_domain.items():
        records = generate_records(domain, count, seed=args.seed)
        entries = [stream_fields(domain, r) for r in records]
        for n in range(count // 100):  # ~1 % malformed entries become dead letters (sealed raw payloads)
            entries.insert(n * 100 + 50, _malformed_entry(domain, records, n, args.seed))
        ids = streams.add_many(domain, entries)
        for i in range(0, len(ids), PARTITION):
            part = StreamRange(domain, ids[i], ids[min(i + PARTITION, len(ids)) - 1])
            t = time.perf_counter()
            report = seal_partition(part, streams, vault, keyring, anonymizer, min_k=min_k, identities=identities)
            seal_s += time.perf_counter() - t
            sealed += report.sealed
            partitions += 1
            t = time.perf_counter()
            if args.embed:
                embed_partition(part.partition_key, vault, keyring, embedder, store)
            else:
                rows = vault.partition_records(part.partition_key)
                vecs = rng.standard_normal((len(rows), DIMENSIONS)).astype(np.float32)
                vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
                store.upsert([VectorRow(embedding_id(r.domain, r.record_id, 0), r.record_id, r.domain,
                                        part.partition_key, 0, vecs[n], MODEL_NAME) for n, r in enumerate(rows)])
            vec_s += time.perf_counter() - t
            streams.delete_range(part)  # trimmed after success, as in production
    subjects = vault.subject_key_counts()
    n_subjects = sum(subjects.values())
    print(f"\nsetup        {time.perf_counter() - t0:8.1f} s: {sealed} records sealed in {partitions} partitions "
          f"({sealed / seal_s:.0f} records/s incl. anonymization, k={min_k}), {n_subjects} subject keys, "
          f"{identities.key_usage(keyring.primary)} sealed identities, {store.count()} vectors ({vec_s:.1f} s), "
          f"{len(vault.dead_letters())} dead letters")

    # --- rotation -------------------------------------------------------------------------------------
    rotated = keyring.with_new_primary()
    t = time.perf_counter()
    rotation = rotate_all(vault, rotated, streams, identities=identities)
    rot_s = time.perf_counter() - t
    resealed = rotation.total("dead_letters_resealed"), rotation.total("dead_letter_stream_entries_resealed")
    print(f"\nrotation k1 -> {rotated.primary} (re-wrap every subject key, move records' key id, {partitions} "
          f"partitions + sweep)")
    print(f"  rotate_all                        {_fmt(rot_s, sealed, 'records')}  "
          f"{rotation.total('subject_keys_rewrapped')} subject keys re-wrapped "
          f"({rotation.total('subject_keys_rewrapped') / rot_s:.0f}/s), "
          f"{rotation.total('records_moved')} records moved, {resealed[0]} dead letters, {resealed[1]} "
          f"dead-letter stream entries and {rotation.total('identities_resealed')} identities re-sealed")
    print(f"  records per key id after          {rotation.records_per_key_id}")
    t = time.perf_counter()
    again = rotate_all(vault, rotated, streams, identities=identities)
    print(f"  rotate_all again (nothing to do)  {time.perf_counter() - t:8.3f} s  "
          f"({again.total('subject_keys_rewrapped')} re-wrapped)")
    t = time.perf_counter()
    usage = key_usage("k1", vault, streams, identities)
    retired = retire("k1", rotated, vault, streams, identities)
    print(f"  retire k1 (usage check)           {time.perf_counter() - t:8.3f} s  usage {usage}")
    t = time.perf_counter()
    opened = sum(1 for p in vault.partition_keys() for r in vault.partition_records(p) if open_record(r, retired))
    print(f"  open every record without k1      {_fmt(time.perf_counter() - t, opened, 'records')}  "
          f"{opened} opened")

    # --- erasure --------------------------------------------------------------------------------------
    with psycopg.connect(pg_url) as conn:
        population = [r[0] for r in conn.execute(
            "SELECT DISTINCT subject_pseudonym FROM datavault.records ORDER BY 1").fetchall()]
    chosen = random.Random(args.seed).sample(population, min(args.erasures + 2 * args.batch, len(population)))
    victims, batch_victims = chosen[:args.erasures], chosen[args.erasures:]
    lance_dir = home / "lancedb"
    t = time.perf_counter()
    embedder.embed(["warm up"])  # load the model outside the timings (erasure re-embeds coarsened neighbours)
    print(f"\nembedding model loaded in {time.perf_counter() - t:.1f} s (not counted below)")
    services = {"streams": streams, "vault": vault, "vectors": store, "keyring": retired,
                "pseudonym": anonymizer.pseudonyms.subject, "identities": identities, "min_k": min_k,
                "embedder": embedder, "anonymizer": anonymizer}
    print(f"\nerasure of {len(victims)} subjects, one after the other ({store.count()} vectors, "
          f"{store.versions()} LanceDB versions before the first)")
    totals: list[float] = []
    steps: dict[str, list[float]] = {}
    removed_records = removed_vectors = 0
    for subject in victims:
        mine, victim_vectors = _records_and_vectors(pg_url, store, [subject])
        marks = [("start", time.perf_counter())]
        receipt = forget_subject(subject, **services,
                                 on_step=lambda step, counts, marks=marks: marks.append((step, time.perf_counter())))
        totals.append(marks[-1][1] - marks[0][1])
        for (_, a), (step, b) in zip(marks, marks[1:], strict=False):
            steps.setdefault(step, []).append(b - a)
        removed_records += receipt["removed"]["vault_records_deleted"]
        removed_vectors += receipt["removed"]["vectors_deleted"]
        blobs = [p.read_bytes() for p in lance_dir.rglob("*") if p.is_file()]
        left_on_disk = sum(any(v in b for b in blobs) for v in victim_vectors)
        print(f"  {subject}: {receipt['removed']['vault_records_deleted']} records, "
              f"{receipt['removed']['identities_deleted']} identities, "
              f"{receipt['k_anonymity']['records_regeneralized']} neighbours re-generalized "
              f"({receipt['k_anonymity']['records_reembedded']} re-embedded), "
              f"{receipt['removed']['vectors_deleted']} vectors, {receipt['removed']['lancedb_fragments_rewritten']} "
              f"fragment(s) rewritten, {receipt['removed']['lancedb_old_versions_removed']} old versions removed "
              f"-> {totals[-1]:.3f} s; vectors left on disk: {left_on_disk}")
    print(f"  per erasure: mean {statistics.mean(totals):.3f} s, median {statistics.median(totals):.3f} s, "
          f"max {max(totals):.3f} s ({removed_records} records, {removed_vectors} vectors erased in total)")
    for step, values in steps.items():
        print(f"    {step:<26} mean {statistics.mean(values) * 1000:8.1f} ms  max {max(values) * 1000:8.1f} ms")
    print(f"  after: {store.count()} vectors, {store.versions()} LanceDB version(s), "
          f"{len(vault.erasure_receipts())} receipts stored")

    # --- batch erasure ----------------------------------------------------------------------------------
    if len(batch_victims) >= 2:
        singles, batch = batch_victims[: len(batch_victims) // 2], batch_victims[len(batch_victims) // 2 :]
        n = len(batch)
        print(f"\nbatch erasure: {len(singles)} subjects one after the other vs {n} others as one batch "
              f"({vault.counts()} in the vault, {store.count()} vectors)")
        single_steps: dict[str, float] = {}
        t = time.perf_counter()
        single_receipts = []
        for s in singles:
            marks = [("start", time.perf_counter())]
            single_receipts.append(forget_subject(
                s, **services, on_step=lambda step, counts, marks=marks: marks.append((step, time.perf_counter()))))
            for (_, a), (step, b) in zip(marks, marks[1:], strict=False):
                single_steps[step] = single_steps.get(step, 0.0) + b - a
        single_s = time.perf_counter() - t
        mine, victim_vectors = _records_and_vectors(pg_url, store, batch)
        marks = [("start", time.perf_counter())]
        result = forget_subjects(batch, **services,
                                 on_step=lambda step, counts: marks.append((step, time.perf_counter())))
        batch_s = marks[-1][1] - marks[0][1]
        summary = result["summary"]
        blobs = [p.read_bytes() for p in lance_dir.rglob("*") if p.is_file()]
        left_on_disk = sum(any(v in b for b in blobs) for v in victim_vectors)
        records_single = sum(r["removed"]["vault_records_deleted"] for r in single_receipts)
        print(f"  {len(singles)} single erasures   {single_s:8.3f} s  ({single_s / len(singles) * 1000:7.1f} ms per "
              f"subject; {records_single} records, "
              f"{sum(r['k_anonymity']['records_reembedded'] for r in single_receipts)} neighbours re-embedded)")
        print(f"  one batch of {n}       {batch_s:8.3f} s  ({batch_s / n * 1000:7.1f} ms per subject; "
              f"{summary['removed']['vault_records_deleted']} records, {summary['removed']['vectors_deleted']} "
              f"vectors, {summary['k_anonymity']['partitions_checked']} partitions re-checked, "
              f"{summary['k_anonymity']['records_reembedded']} neighbours re-embedded, "
              f"{summary['removed']['lancedb_fragments_rewritten']} fragment(s) rewritten once)")
        print(f"  speed-up {single_s / len(singles) * n / batch_s:.1f}x per subject; {len(result['receipts'])} "
              f"receipts; subjects with data left {summary['verified']['subjects_with_data_left']}; "
              f"their vectors left on disk: {left_on_disk}")
        batch_steps = {step: b - a for (_, a), (step, b) in zip(marks, marks[1:], strict=False)}
        print(f"    {'step':<26} {len(singles)} singles (sum)   one batch of {n}")
        for step, seconds in batch_steps.items():
            print(f"    {step:<26} {single_steps.get(step, 0.0):10.3f} s   {seconds:10.3f} s")
        rest = single_s - single_steps.get("re-embed", 0.0), batch_s - batch_steps.get("re-embed", 0.0)
        print(f"  without the re-embedding (model time for the coarsened neighbours, the same work either way): "
              f"{rest[0]:.3f} s vs {rest[1]:.3f} s ({rest[0] / len(singles) * n / rest[1]:.1f}x per subject)")

    identities.close()
    vault.close()
    streams.close()
    if dbname:
        with psycopg.connect(urls.postgres_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
    embedded.stop(home)


if __name__ == "__main__":
    main()
