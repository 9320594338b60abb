"""Stream-id ranges: the pure "what is new" logic behind the Redis sensor and partition keys."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

_ID = re.compile(r"^(\d+)-(\d+)$")
_KEY = re.compile(r"^(?P<domain>[a-z][a-z0-9_]*):(?P<start>\d+-\d+):(?P<end>\d+-\d+)$")


def parse_stream_id(stream_id: str) -> tuple[int, int]:
    """`"1700000000000-3"` -> `(1700000000000, 3)`; ValueError for anything else."""
    m = _ID.fullmatch(stream_id)
    if not m:
        raise ValueError(f"not a Redis stream id: {stream_id!r}")
    return int(m.group(1)), int(m.group(2))


def max_stream_id(*ids: str | None) -> str | None:
    """The greatest of the given stream ids, ignoring None."""
    present = [i for i in ids if i]
    return max(present, key=parse_stream_id) if present else None


@dataclass(frozen=True)
class StreamRange:
    """An inclusive range of entries of one domain's stream: one Dagster partition."""

    domain: str
    start: str
    end: str

    def __post_init__(self) -> None:
        if parse_stream_id(self.start) > parse_stream_id(self.end):
            raise ValueError(f"range start {self.start} is after end {self.end}")

    @property
    def partition_key(self) -> str:
        """`healthcare:<first id>:<last id>`: names the exact range, holds no payload."""
        return f"{self.domain}:{self.start}:{self.end}"

    @classmethod
    def from_partition_key(cls, key: str) -> StreamRange:
        """Parse a partition key made by `partition_key`."""
        m = _KEY.fullmatch(key)
        if not m:
            raise ValueError(f"not a stream-range partition key: {key!r}")
        return cls(m.group("domain"), m.group("start"), m.group("end"))


def plan_batches(domain: str, entry_ids: Sequence[str], batch_size: int) -> list[StreamRange]:
    """Cut the new entry ids of one stream (ascending) into consecutive ranges of at most batch_size."""
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    ids = list(entry_ids)
    if any(parse_stream_id(a) >= parse_stream_id(b) for a, b in zip(ids, ids[1:], strict=False)):
        raise ValueError("entry ids must be strictly ascending")
    return [
        StreamRange(domain, ids[i], ids[min(i + batch_size, len(ids)) - 1])
        for i in range(0, len(ids), batch_size)
    ]


def last_planned_id(domain: str, partition_keys: Sequence[str]) -> str | None:
    """The highest end id among existing partitions of a domain (so no range is planned twice)."""
    ends = []
    for key in partition_keys:
        try:
            rng = StreamRange.from_partition_key(key)
        except ValueError:
            continue
        if rng.domain == domain:
            ends.append(rng.end)
    return max_stream_id(*ends)


def plan_tick(
    domains: Sequence[str],
    cursor: dict[str, str],
    existing_keys: Sequence[str],
    fetch_ids: Callable[[str, str | None, int], list[str]],
    batch_size: int,
    max_batches: int,
) -> tuple[list[StreamRange], dict[str, str]]:
    """One sensor tick: new ranges per domain after max(cursor, highest planned partition), and the new cursor."""
    ranges: list[StreamRange] = []
    new_cursor = dict(cursor)
    for domain in domains:
        after = max_stream_id(cursor.get(domain), last_planned_id(domain, existing_keys))
        ids = fetch_ids(domain, after, batch_size * max_batches)
        ranges += plan_batches(domain, ids, batch_size)
        if ids:
            new_cursor[domain] = ids[-1]
        elif after:
            new_cursor[domain] = after
    return ranges, new_cursor
