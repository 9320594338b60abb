"""Redis Streams: the raw input (`datavault:raw:<domain>`) and the dead-letter stream."""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import redis

from ..domain.batches import StreamRange

RAW_PREFIX = "datavault:raw:"
DEAD_PREFIX = "datavault:deadletter:"


def raw_stream(domain: str) -> str:
    """Stream key of a domain's raw records (contract)."""
    return f"{RAW_PREFIX}{domain}"


def dead_letter_stream(domain: str) -> str:
    """Stream key of a domain's dead letters (sealed payloads only)."""
    return f"{DEAD_PREFIX}{domain}"


@dataclass(frozen=True)
class Entry:
    """One stream entry with decoded fields."""

    stream_id: str
    fields: dict[str, str]


def _decode(fields: dict[Any, Any]) -> dict[str, str]:
    """Fields as text; bytes that are not UTF-8 become lone surrogates (`surrogateescape`), so validation can
    name the field and a dead letter keeps the exact bytes (`encode_fields` gives them back)."""
    return {
        (k.decode("utf-8", "surrogateescape") if isinstance(k, bytes) else k):
        (v.decode("utf-8", "surrogateescape") if isinstance(v, bytes) else v)
        for k, v in fields.items()
    }


def encode_fields(fields: dict[str, str]) -> dict[bytes, bytes]:
    """The exact bytes of decoded fields (the inverse of the stream client's decoding)."""
    return {k.encode("utf-8", "surrogateescape"): v.encode("utf-8", "surrogateescape") for k, v in fields.items()}


_open_clients: weakref.WeakSet[Streams] = weakref.WeakSet()


def close_clients(url: str | None = None) -> None:
    """Close every open Streams client of this process (all, or those of one server URL)."""
    for streams in list(_open_clients):
        if url is None or streams.url == url:
            streams.close()


class Streams:
    """Thin, typed access to the streams DataVault reads and writes."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = redis.Redis.from_url(url)
        _open_clients.add(self)

    def ping(self) -> bool:
        """True if the server answers."""
        return bool(self.client.ping())

    def add(self, domain: str, fields: dict[str, str]) -> str:
        """XADD one entry; returns its stream id."""
        return self.client.xadd(raw_stream(domain), fields).decode()

    def add_many(self, domain: str, entries: Iterable[dict[str, str]], pipeline_size: int = 500) -> list[str]:
        """XADD many entries in pipelined round trips; returns their ids in order."""
        ids: list[str] = []
        pipe = self.client.pipeline(transaction=False)
        pending = 0
        for fields in entries:
            pipe.xadd(raw_stream(domain), fields)
            pending += 1
            if pending >= pipeline_size:
                ids += [i.decode() for i in pipe.execute()]
                pending = 0
        if pending:
            ids += [i.decode() for i in pipe.execute()]
        return ids

    def ids_after(self, domain: str, after: str | None, limit: int) -> list[str]:
        """Ids of up to `limit` entries strictly after `after` (all from the start if None)."""
        start = f"({after}" if after else "-"
        rows = self.client.xrange(raw_stream(domain), min=start, max="+", count=limit)
        return [row[0].decode() for row in rows]

    def read_range(self, rng: StreamRange, page: int = 1000) -> Iterator[Entry]:
        """Every entry of an inclusive range, in order, paged so large ranges stay bounded in memory."""
        start = rng.start
        key = raw_stream(rng.domain)
        while True:
            rows = self.client.xrange(key, min=start, max=rng.end, count=page)
            for sid, fields in rows:
                yield Entry(sid.decode(), _decode(fields))
            if len(rows) < page:
                return
            start = f"({rows[-1][0].decode()}"

    def delete_range(self, rng: StreamRange) -> int:
        """Delete exactly the entries of a range (once they are durably in the vault)."""
        ids = [e.stream_id for e in self.read_range(rng)]
        deleted = 0
        for i in range(0, len(ids), 1000):
            deleted += self.client.xdel(raw_stream(rng.domain), *ids[i : i + 1000])
        return deleted

    def length(self, domain: str) -> int:
        """Entries currently in a domain's raw stream."""
        return int(self.client.xlen(raw_stream(domain)))

    def first_id(self, domain: str) -> str | None:
        """Id of the oldest entry still in a domain's raw stream."""
        rows = self.client.xrange(raw_stream(domain), count=1)
        return rows[0][0].decode() if rows else None

    def unknown_streams(self, domains: Iterable[str]) -> dict[str, int]:
        """Raw streams of domains DataVault does not process (`datavault:raw:<other>`) and their lengths."""
        known = {raw_stream(d) for d in domains}
        out = {}
        for key in self.client.scan_iter(match=f"{RAW_PREFIX}*", count=1000):
            name = key.decode("utf-8", "replace") if isinstance(key, bytes) else key
            if name not in known and self.client.type(key) in (b"stream", "stream"):
                out[name] = int(self.client.xlen(key))
        return dict(sorted(out.items()))

    def last_id(self, domain: str) -> str | None:
        """Id of the newest entry in a domain's raw stream."""
        rows = self.client.xrevrange(raw_stream(domain), count=1)
        return rows[0][0].decode() if rows else None

    def dead_letter(self, domain: str, fields: dict[str, str]) -> str:
        """Record a dead letter (no plaintext payload: callers pass the sealed raw entry)."""
        return self.client.xadd(dead_letter_stream(domain), fields).decode()

    def dead_letter_length(self, domain: str) -> int:
        """Entries in a domain's dead-letter stream."""
        return int(self.client.xlen(dead_letter_stream(domain)))

    def scan(self, domain: str, dead_letters: bool = False, page: int = 1000) -> Iterator[Entry]:
        """Every entry of a domain's raw (or dead-letter) stream, oldest first, paged."""
        key = dead_letter_stream(domain) if dead_letters else raw_stream(domain)
        start = "-"
        while True:
            rows = self.client.xrange(key, min=start, max="+", count=page)
            for sid, fields in rows:
                yield Entry(sid.decode(), _decode(fields))
            if len(rows) < page:
                return
            start = f"({rows[-1][0].decode()}"

    def delete_ids(self, domain: str, ids: Iterable[str], dead_letters: bool = False) -> int:
        """XDEL the given entries of a domain's raw (or dead-letter) stream."""
        key = dead_letter_stream(domain) if dead_letters else raw_stream(domain)
        ids = list(ids)
        return sum(self.client.xdel(key, *ids[i : i + 1000]) for i in range(0, len(ids), 1000))

    def delete_dead_letter_entries(self, domain: str, original_ids: Iterable[str]) -> int:
        """XDEL the dead-letter stream entries of the given original stream ids (field `stream_id`)."""
        wanted = set(original_ids)
        ids = [e.stream_id for e in self.scan(domain, dead_letters=True) if e.fields.get("stream_id") in wanted]
        return self.delete_ids(domain, ids, dead_letters=True)

    def replace_dead_letter(self, domain: str, stream_id: str, fields: dict[str, str]) -> str:
        """Atomically re-add a dead-letter entry with new fields (e.g. re-sealed) and drop the old one."""
        pipe = self.client.pipeline(transaction=True)
        pipe.xadd(dead_letter_stream(domain), fields)
        pipe.xdel(dead_letter_stream(domain), stream_id)
        new_id, _ = pipe.execute()
        return new_id.decode()

    def time_ms(self) -> int:
        """The Redis server's clock in milliseconds (stream ids are drawn from it)."""
        seconds, micros = self.client.time()
        return int(seconds) * 1000 + int(micros) // 1000

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()
