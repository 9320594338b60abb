"""fork_map: the same list as a comprehension, split over forked processes."""

from __future__ import annotations

import os
import pickle

import pytest

from datavault_dagster.domain.errors import InvalidRecord
from datavault_dagster.forkmap import chunks, fork_map


@pytest.mark.parametrize(("n", "parts"), [(0, 1), (1, 1), (10, 3), (101, 2), (7, 7)])
def test_chunks_cover_the_range_in_order(n, parts):
    bounds = chunks(n, parts)
    assert len(bounds) == parts
    assert [i for a, b in bounds for i in range(a, b)] == list(range(n))
    assert max(b - a for a, b in bounds) - min(b - a for a, b in bounds) <= 1


def test_results_keep_their_order_and_come_from_two_processes():
    items = list(range(300))
    out = fork_map(lambda x: (x * x, os.getpid()), items, workers=2)
    assert [v for v, _ in out] == [x * x for x in items]
    assert len({pid for _, pid in out}) == 2
    assert out[0][1] == os.getpid()  # the first chunk runs here


def test_small_batches_and_one_worker_stay_in_this_process():
    assert {pid for pid in fork_map(lambda _: os.getpid(), list(range(60)), workers=2)} == {os.getpid()}
    assert {pid for pid in fork_map(lambda _: os.getpid(), list(range(500)), workers=1)} == {os.getpid()}


def test_an_exception_escaping_in_a_child_fails_the_call():
    def boom(x):
        if x == 250:
            raise ValueError("bad item")
        return x

    with pytest.raises(ValueError, match="bad item"):
        fork_map(boom, list(range(300)), workers=2)


def test_invalid_record_crosses_a_process_boundary_whole():
    exc = pickle.loads(pickle.dumps(InvalidRecord("r-1", "patient.dob", "bad_date", "ValueError")))
    assert (exc.record_id, exc.field, exc.code, exc.detail) == ("r-1", "patient.dob", "bad_date", "ValueError")
    assert str(exc) == "record 'r-1': field 'patient.dob': bad_date (ValueError)"
