"""Unit tests for stream-id ranges, batch planning and the sensor's per-tick planning logic."""

from __future__ import annotations

import bisect

import pytest

from datavault_dagster.domain.batches import (
    StreamRange,
    last_planned_id,
    max_stream_id,
    parse_stream_id,
    plan_batches,
    plan_tick,
)

# --- stream ids ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stream_id", "parsed"),
    [("0-0", (0, 0)), ("1-0", (1, 0)), ("1700000000000-3", (1700000000000, 3)), ("10-25", (10, 25)),
     ("18446744073709551615-18446744073709551615", (2**64 - 1, 2**64 - 1))],
)
def test_parse_stream_id(stream_id: str, parsed: tuple[int, int]) -> None:
    assert parse_stream_id(stream_id) == parsed


@pytest.mark.parametrize(
    "bad",
    ["", "1", "1-", "-1", "1-2-3", "a-1", "1-a", " 1-0", "1-0 ", "1_0", "1.5-0", "+1-0", "1-0\n", "*", "$", ">"],
)
def test_parse_stream_id_rejects_anything_else(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_stream_id(bad)


@pytest.mark.parametrize(
    ("ids", "expected"),
    [
        (("9-0", "10-0"), "10-0"),  # numeric, not lexicographic ("9-0" > "10-0" as strings)
        (("10-0", "9-0"), "10-0"),
        (("1-9", "1-10"), "1-10"),
        (("2-0", "1-99"), "2-0"),
        (("5-5",), "5-5"),
        ((None, "3-0", None), "3-0"),
        (("", "3-0"), "3-0"),
        ((None, None), None),
        ((), None),
    ],
)
def test_max_stream_id(ids: tuple, expected: str | None) -> None:
    assert max_stream_id(*ids) == expected


# --- ranges / partition keys --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("domain", "start", "end"),
    [("healthcare", "1-0", "1-0"), ("healthcare", "1700000000000-0", "1700000000005-3"), ("finance", "9-0", "10-0"),
     ("a_b2", "0-0", "0-1")],
)
def test_partition_key_roundtrip(domain: str, start: str, end: str) -> None:
    rng = StreamRange(domain, start, end)
    assert rng.partition_key == f"{domain}:{start}:{end}"
    assert StreamRange.from_partition_key(rng.partition_key) == rng


@pytest.mark.parametrize(
    "key",
    [
        "",
        "healthcare",
        "healthcare:1-0",
        "healthcare:1-0:2-0:3-0",
        "healthcare:1:2",
        "Healthcare:1-0:2-0",
        "1health:1-0:2-0",
        ":1-0:2-0",
        "health care:1-0:2-0",
        "healthcare:1-0:x-0",
        "healthcare:2-0:1-0",  # start after end
        "healthcare:1-1:1-0",
        "healthcare:10-0:9-0",
        "healthcare:1-0:2-0\n",
    ],
)
def test_from_partition_key_rejects_bad_keys(key: str) -> None:
    with pytest.raises(ValueError):
        StreamRange.from_partition_key(key)


@pytest.mark.parametrize(("start", "end"), [("2-0", "1-0"), ("1-1", "1-0"), ("10-0", "9-99")])
def test_range_rejects_start_after_end(start: str, end: str) -> None:
    with pytest.raises(ValueError):
        StreamRange("healthcare", start, end)


@pytest.mark.parametrize(("start", "end"), [("x", "1-0"), ("1-0", "")])
def test_range_rejects_non_ids(start: str, end: str) -> None:
    with pytest.raises(ValueError):
        StreamRange("healthcare", start, end)


# --- plan_batches -------------------------------------------------------------------------------------------


def _ids(n: int, first_ms: int = 1000) -> list[str]:
    """n ascending stream ids, several per millisecond, crossing digit-count boundaries."""
    return [f"{first_ms + i // 3}-{i % 3}" for i in range(n)]


@pytest.mark.parametrize(
    ("n", "batch_size", "sizes"),
    [(10, 3, [3, 3, 3, 1]), (9, 3, [3, 3, 3]), (1, 5, [1]), (5, 5, [5]), (6, 5, [5, 1]), (4, 1, [1, 1, 1, 1]),
     (7, 100, [7])],
)
def test_plan_batches_sizes_and_boundaries(n: int, batch_size: int, sizes: list[int]) -> None:
    ids = _ids(n)
    ranges = plan_batches("finance", ids, batch_size)
    assert all(r.domain == "finance" for r in ranges)
    assert len(ranges) == len(sizes)
    pos = 0
    for rng, size in zip(ranges, sizes, strict=True):
        assert rng.start == ids[pos]
        assert rng.end == ids[pos + size - 1]
        pos += size
    assert pos == n
    # consecutive ranges neither overlap nor leave gaps
    for a, b in zip(ranges, ranges[1:], strict=False):
        assert ids.index(b.start) == ids.index(a.end) + 1


def test_plan_batches_exact_ranges() -> None:
    ids = ["9-0", "9-1", "10-0", "11-0", "100-0"]
    assert plan_batches("healthcare", ids, 2) == [
        StreamRange("healthcare", "9-0", "9-1"),
        StreamRange("healthcare", "10-0", "11-0"),
        StreamRange("healthcare", "100-0", "100-0"),
    ]


def test_plan_batches_batch_size_one() -> None:
    ids = ["1-0", "2-0", "3-0"]
    assert [(r.start, r.end) for r in plan_batches("finance", ids, 1)] == [("1-0", "1-0"), ("2-0", "2-0"),
                                                                           ("3-0", "3-0")]


def test_plan_batches_empty() -> None:
    assert plan_batches("finance", [], 10) == []


def test_plan_batches_accepts_any_sequence() -> None:
    assert plan_batches("finance", ("1-0", "2-0"), 5) == [StreamRange("finance", "1-0", "2-0")]


@pytest.mark.parametrize("ids", [["2-0", "1-0"], ["1-0", "1-0"], ["10-0", "9-0"], ["1-0", "3-0", "2-0"],
                                 ["1-1", "1-0"]])
def test_plan_batches_rejects_unsorted_or_duplicate(ids: list[str]) -> None:
    with pytest.raises(ValueError):
        plan_batches("finance", ids, 2)


def test_plan_batches_sorted_numerically_not_lexicographically() -> None:
    ids = ["9-0", "10-0"]  # lexicographically descending, numerically ascending
    assert plan_batches("finance", ids, 5) == [StreamRange("finance", "9-0", "10-0")]


@pytest.mark.parametrize("batch_size", [0, -1])
def test_plan_batches_rejects_bad_batch_size(batch_size: int) -> None:
    with pytest.raises(ValueError):
        plan_batches("finance", ["1-0"], batch_size)


def test_plan_batches_rejects_junk_ids() -> None:
    with pytest.raises(ValueError):
        plan_batches("finance", ["1-0", "nope"], 2)


# --- last_planned_id ----------------------------------------------------------------------------------------


def test_last_planned_id_uses_numeric_max_and_ignores_other_domains_and_junk() -> None:
    keys = [
        "healthcare:1-0:9-0",
        "healthcare:10-0:19-0",
        "finance:1-0:500-0",
        "healthcare",  # junk
        "not a key",
        "healthcare:30-0:20-0",  # start after end: not a valid range
        "legacy-partition-2024-01-01",
    ]
    assert last_planned_id("healthcare", keys) == "19-0"
    assert last_planned_id("finance", keys) == "500-0"
    assert last_planned_id("legal", keys) is None
    assert last_planned_id("healthcare", []) is None


# --- plan_tick ----------------------------------------------------------------------------------------------


class FakeStreams:
    """In-memory sorted stream ids per domain with an XRANGE-like `fetch(domain, after, count)`."""

    def __init__(self, **streams: list[str]) -> None:
        self.streams = {d: list(ids) for d, ids in streams.items()}
        self.calls: list[tuple[str, str | None, int]] = []

    def add(self, domain: str, *ids: str) -> None:
        self.streams.setdefault(domain, []).extend(ids)

    def fetch(self, domain: str, after: str | None, count: int) -> list[str]:
        self.calls.append((domain, after, count))
        ids = self.streams.get(domain, [])
        keys = [parse_stream_id(i) for i in ids]
        start = 0 if after is None else bisect.bisect_right(keys, parse_stream_id(after))
        return ids[start : start + count]


DOMAINS = ("healthcare", "finance")


def test_first_tick_plans_from_start_and_second_plans_nothing() -> None:
    streams = FakeStreams(healthcare=_ids(7), finance=_ids(2, first_ms=50))
    ranges, cursor = plan_tick(DOMAINS, {}, [], streams.fetch, batch_size=3, max_batches=10)
    assert [r.partition_key for r in ranges] == [
        "healthcare:1000-0:1000-2",
        "healthcare:1001-0:1001-2",
        "healthcare:1002-0:1002-0",
        "finance:50-0:50-1",
    ]
    assert cursor == {"healthcare": "1002-0", "finance": "50-1"}
    assert streams.calls[:2] == [("healthcare", None, 30), ("finance", None, 30)]

    existing = [r.partition_key for r in ranges]
    again, cursor2 = plan_tick(DOMAINS, cursor, existing, streams.fetch, batch_size=3, max_batches=10)
    assert again == []
    assert cursor2 == cursor


def test_new_ids_after_cursor_are_planned() -> None:
    streams = FakeStreams(healthcare=["1-0", "2-0"], finance=[])
    ranges, cursor = plan_tick(DOMAINS, {}, [], streams.fetch, batch_size=10, max_batches=5)
    assert [r.partition_key for r in ranges] == ["healthcare:1-0:2-0"]
    assert cursor == {"healthcare": "2-0"}  # nothing seen yet for finance: no cursor entry

    streams.add("healthcare", "9-0", "10-0")
    streams.add("finance", "3-0")
    ranges, cursor = plan_tick(DOMAINS, cursor, ["healthcare:1-0:2-0"], streams.fetch, batch_size=10, max_batches=5)
    assert [r.partition_key for r in ranges] == ["healthcare:9-0:10-0", "finance:3-0:3-0"]
    assert cursor == {"healthcare": "10-0", "finance": "3-0"}


def test_existing_partitions_beyond_cursor_are_not_replanned() -> None:
    """A lost/stale cursor must not replan ranges that already exist as partitions."""
    streams = FakeStreams(healthcare=[f"{i}-0" for i in range(1, 11)], finance=[])
    existing = ["healthcare:1-0:4-0", "healthcare:5-0:8-0", "finance:1-0:1-0"]
    ranges, cursor = plan_tick(DOMAINS, {"healthcare": "2-0"}, existing, streams.fetch, batch_size=4, max_batches=5)
    assert [r.partition_key for r in ranges] == ["healthcare:9-0:10-0"]
    assert streams.calls[0] == ("healthcare", "8-0", 20)
    assert streams.calls[1] == ("finance", "1-0", 20)
    assert cursor == {"healthcare": "10-0", "finance": "1-0"}  # the cursor catches up with planned partitions


def test_cursor_beyond_partitions_wins() -> None:
    streams = FakeStreams(healthcare=[f"{i}-0" for i in range(1, 11)], finance=[])
    ranges, cursor = plan_tick(("healthcare",), {"healthcare": "9-0"}, ["healthcare:1-0:4-0"], streams.fetch,
                               batch_size=4, max_batches=5)
    assert [r.partition_key for r in ranges] == ["healthcare:10-0:10-0"]
    assert cursor == {"healthcare": "10-0"}


def test_max_batches_caps_work_per_tick_and_later_ticks_continue() -> None:
    ids = [f"{i}-0" for i in range(1, 26)]  # 25 entries
    streams = FakeStreams(healthcare=ids)
    planned: list[StreamRange] = []
    cursor: dict[str, str] = {}
    ticks = 0
    while True:
        ranges, cursor = plan_tick(("healthcare",), cursor, [r.partition_key for r in planned], streams.fetch,
                                   batch_size=4, max_batches=2)
        assert len(ranges) <= 2
        if not ranges:
            break
        planned += ranges
        ticks += 1
        assert ticks < 10
    assert ticks == 4  # 25 entries / (4 * 2) per tick
    assert [(r.start, r.end) for r in planned][:3] == [("1-0", "4-0"), ("5-0", "8-0"), ("9-0", "12-0")]
    assert planned[-1].end == "25-0"
    # every id is covered exactly once
    covered = [i for r in planned for i in ids if parse_stream_id(r.start) <= parse_stream_id(i)
               <= parse_stream_id(r.end)]
    assert covered == ids


def test_plan_tick_keeps_unrelated_cursor_entries_and_does_not_mutate_input() -> None:
    streams = FakeStreams(healthcare=["1-0"])
    cursor = {"legal": "5-0"}
    _, new_cursor = plan_tick(("healthcare",), cursor, [], streams.fetch, batch_size=2, max_batches=1)
    assert new_cursor == {"legal": "5-0", "healthcare": "1-0"}
    assert cursor == {"legal": "5-0"}


def test_plan_tick_with_nothing_anywhere() -> None:
    streams = FakeStreams()
    assert plan_tick(DOMAINS, {}, [], streams.fetch, batch_size=5, max_batches=5) == ([], {})
