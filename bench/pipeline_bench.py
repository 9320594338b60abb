"""Throughput of the pipeline stages on this machine: prints records/s, never asserts.

    python bench/pipeline_bench.py [--records 2000] [--repeat 3] [--seal-only]

Stages: anonymize only; anonymize + AES-256-GCM seal; PostgreSQL upsert (COPY + ON CONFLICT); the full
seal_partition over a real Redis stream into a real PostgreSQL vault; embedding with all-MiniLM-L6-v2;
LanceDB merge-insert. Uses the embedded Redis and PostgreSQL in a temporary data directory, or the
servers in DATAVAULT_REDIS_URL / DATAVAULT_POSTGRES_URL.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _rate(n: int, seconds: float) -> str:
    return f"{n / seconds:10.1f} records/s  ({n} in {seconds:.2f} s)"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=2000, help="records per domain")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="processes that anonymize a partition (DATAVAULT_ANONYMIZE_WORKERS)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="seal this many fresh batches per domain and print each and the median (runs on a "
                             "shared machine vary by 10-20 %%)")
    parser.add_argument("--seal-only", action="store_true", help="skip the anonymize-only and embedding stages")
    args = parser.parse_args()

    from datavault_dagster.domain.anonymize import Anonymizer, Pseudonymizer
    from datavault_dagster.domain.batches import StreamRange
    from datavault_dagster.domain.crypto import Keyring
    from datavault_dagster.domain.embed import Embedder, chunk_text, record_text
    from datavault_dagster.domain.records import parse_entry, stream_fields
    from datavault_dagster.pipeline import anonymize_entry, embed_partition, seal_partition
    from datavault_dagster.services import embedded
    from datavault_dagster.services.streams import Entry, Streams
    from datavault_dagster.services.vault import Vault
    from datavault_dagster.services.vectors import VectorStore
    from simulations import generate_records

    home = Path(tempfile.mkdtemp(prefix="dv-bench-"))
    urls = embedded.resolve_urls(home, os.environ.get("DATAVAULT_REDIS_URL"), os.environ.get("DATAVAULT_POSTGRES_URL"))
    keyring = Keyring.generate()
    anonymizer = Anonymizer(Pseudonymizer(keyring.pseudonym_key))
    streams, vault = Streams(urls.redis_url), Vault(urls.postgres_url)
    vault.ensure_schema()
    store = VectorStore(str(home / "lancedb"))
    embedder = Embedder()
    print(f"cpu cores: {os.cpu_count()}  records per domain: {args.records}  anonymize workers: {args.workers}")

    for domain in ("healthcare", "finance"):
        records = generate_records(domain, args.records, seed=99)
        entries = [Entry(f"{i + 1}-0", stream_fields(domain, r)) for i, r in enumerate(records)]
        if args.seal_only:
            for e in entries[:20]:  # load the models outside the timing
                anonymizer.anonymize_record(parse_entry(domain, e.stream_id, e.fields, keyring))
            rates = []
            for k in range(args.repeat):
                batch = [stream_fields(domain, r) for r in generate_records(domain, args.records, seed=99 + k)]
                ids = streams.add_many(domain, batch)
                rng = StreamRange(domain, ids[0], ids[-1])
                t = time.perf_counter()
                report = seal_partition(rng, streams, vault, keyring, anonymizer, workers=args.workers)
                seal_s = time.perf_counter() - t
                rates.append(report.sealed / seal_s)
                print(f"[{domain}] seal_partition run {k + 1}/{args.repeat}  {_rate(report.sealed, seal_s)}")
                streams.delete_range(rng)
            print(f"[{domain}] seal_partition median of {len(rates)}: {statistics.median(rates):.1f} records/s")
            continue

        t = time.perf_counter()
        for e in entries:
            anonymizer.anonymize_record(parse_entry(domain, e.stream_id, e.fields, keyring))
        print(f"[{domain}] validate + anonymize             {_rate(len(entries), time.perf_counter() - t)}")

        t = time.perf_counter()
        for e in entries:
            anon = anonymize_entry(e, domain, keyring, anonymizer)
            keyring.seal(anon.to_json(), domain=domain, record_id=anon.record_id)
        print(f"[{domain}] validate + anonymize + guard + seal {_rate(len(entries), time.perf_counter() - t)}")

        ids = streams.add_many(domain, (e.fields for e in entries))
        rng = StreamRange(domain, ids[0], ids[-1])
        t = time.perf_counter()
        report = seal_partition(rng, streams, vault, keyring, anonymizer, workers=args.workers)
        seal_s = time.perf_counter() - t
        print(f"[{domain}] seal_partition (Redis -> PostgreSQL)  {_rate(report.sealed, seal_s)}")

        docs = [anonymizer.anonymize_record(parse_entry(domain, e.stream_id, e.fields, keyring)).document
                for e in entries]
        texts = [c for d in docs for c in chunk_text(record_text(d))]
        embedder.embed(texts[:8])  # load the model outside the timing
        t = time.perf_counter()
        embedder.embed(texts)
        emb_s = time.perf_counter() - t
        words = sum(len(x.split()) for x in texts) / len(texts)
        print(f"[{domain}] embed only ({len(texts)} chunks, ~{words:.0f} words) {_rate(len(docs), emb_s)}")

        t = time.perf_counter()
        er = embed_partition(rng.partition_key, vault, keyring, embedder, store)
        print(f"[{domain}] embed_partition (vault -> LanceDB)    {_rate(er.records, time.perf_counter() - t)}")
        streams.delete_range(rng)

    vault.close()
    embedded.stop(home)


if __name__ == "__main__":
    main()
