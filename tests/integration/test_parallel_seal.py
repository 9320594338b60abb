"""A partition anonymized in two forked processes lands exactly as it does in one: the same documents, the same
dead letters, in the same order, on the real Redis and PostgreSQL.

Entries are raw XADDs as an outside producer writes them, good records with bad ones among them (unparseable JSON,
a missing field, a record id that is the subject's SSN) so that every kind of per-record outcome
crosses the process boundary.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import psycopg
import pytest
import redis

from datavault_dagster import pipeline
from datavault_dagster.domain.anonymize import Anonymizer, Pseudonymizer
from datavault_dagster.domain.batches import StreamRange
from datavault_dagster.domain.crypto import Keyring
from datavault_dagster.domain.records import SCHEMAS, stream_fields
from datavault_dagster.pipeline import open_record, seal_partition
from datavault_dagster.services.streams import Streams
from datavault_dagster.services.vault import Vault
from simulations import generate_records

GOOD = 140  # two chunks of at least fork_map's 50 each
ANONYMIZE = pipeline.anonymize_parsed


def _entries() -> list[dict[str, str]]:
    records = generate_records("healthcare", GOOD, seed=31)
    out = [stream_fields("healthcare", r) for r in records]
    bad_json = {"record_id": "bad-json", "schema": SCHEMAS["healthcare"], "payload": '{"record_id": "bad-json",'}
    missing = dict(records[0], record_id="no-patient")
    del missing["patient"]
    pii_id = json.loads(json.dumps(records[1]))
    pii_id["record_id"] = pii_id["patient"]["ssn"]  # caught inside anonymize_parsed, whatever the keys
    # spread the bad ones over both halves of the partition
    out.insert(10, bad_json)
    out.insert(70, stream_fields("healthcare", missing))
    out.insert(120, stream_fields("healthcare", pii_id))
    return out


def _seal(servers, keyring: Keyring, rng: StreamRange, workers: int, pids: Path, monkeypatch) -> tuple[list, list]:
    with psycopg.connect(servers.postgres_url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS datavault CASCADE")
    vault = Vault(servers.postgres_url)
    vault.ensure_schema()

    def spy(*args, **kwargs):
        with pids.open("a") as f:
            f.write(f"{os.getpid()}\n")
        return ANONYMIZE(*args, **kwargs)

    monkeypatch.setattr(pipeline, "anonymize_parsed", spy)
    anonymizer = Anonymizer(Pseudonymizer(keyring.pseudonym_key))
    report = seal_partition(rng, Streams(servers.redis_url), vault, keyring, anonymizer, workers=workers)
    docs = [(row.stream_id, open_record(row, keyring)) for row in
            sorted(vault.partition_records(rng.partition_key), key=lambda r: r.stream_id)]
    letters = [(d.stream_id, d.reason_code, d.field, d.record_id) for d in
               sorted(vault.dead_letters(rng.partition_key), key=lambda d: d.stream_id)]
    assert report.sealed == len(docs)
    assert anonymizer.detector._primed == {}  # noqa: SLF001 - the notes read ahead do not outlive the partition
    return docs, letters


def test_two_processes_seal_what_one_does(clean_servers, tmp_path, monkeypatch):
    streams = Streams(clean_servers.redis_url)
    client = redis.Redis.from_url(clean_servers.redis_url)
    ids = [client.xadd("datavault:raw:healthcare", fields).decode() for fields in _entries()]
    rng = StreamRange("healthcare", ids[0], ids[-1])
    keyring = Keyring.generate()

    one, two = tmp_path / "one.pids", tmp_path / "two.pids"
    docs1, letters1 = _seal(clean_servers, keyring, rng, 1, one, monkeypatch)
    docs2, letters2 = _seal(clean_servers, keyring, rng, 2, two, monkeypatch)

    assert len(set(one.read_text().split())) == 1
    assert len(set(two.read_text().split())) == 2, "the second half ran in a forked child"
    assert len(docs1) == GOOD and len(letters1) == 3  # the bad ones are copies beside their originals
    assert {code for _, code, _, _ in letters1} == {"invalid_json", "missing", "looks_like_pii"}
    assert docs2 == docs1
    assert letters2 == letters1
    assert streams.client.xlen("datavault:raw:healthcare") == len(ids)  # sealing never trims


def test_a_child_killed_by_the_os_fails_the_partition_for_a_retry(clean_servers, monkeypatch):
    client = redis.Redis.from_url(clean_servers.redis_url)
    records = generate_records("finance", 120, seed=5)
    ids = [client.xadd("datavault:raw:finance", stream_fields("finance", r)).decode() for r in records]
    rng = StreamRange("finance", ids[0], ids[-1])
    vault = Vault(clean_servers.postgres_url)
    vault.ensure_schema()
    keyring = Keyring.generate()
    parent = os.getpid()

    def die_in_child(*args, **kwargs):
        if os.getpid() != parent:
            os._exit(9)  # what the OOM killer leaves behind
        return ANONYMIZE(*args, **kwargs)

    monkeypatch.setattr(pipeline, "anonymize_parsed", die_in_child)
    from concurrent.futures.process import BrokenProcessPool

    with pytest.raises(BrokenProcessPool):
        seal_partition(rng, Streams(clean_servers.redis_url), vault, keyring,
                       Anonymizer(Pseudonymizer(keyring.pseudonym_key)), workers=2)
    assert vault.partition_records(rng.partition_key) == []
