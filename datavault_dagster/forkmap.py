"""Spread one partition's CPU-bound work (anonymization) over forked worker processes.

Anonymizing is pure Python and NumPy under the GIL: threads would not use a second core. Forked children inherit
the loaded models and the partition's records, so nothing but the results crosses a pipe, and a child costs
milliseconds to start. Where `fork` does not exist (Windows, macOS' default), or the batch is small, the work runs
here, in order, as it would without workers.
"""

from __future__ import annotations

import multiprocessing
import threading
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

# the work a forked child inherits: (function, items); set only while `fork_map` runs, one call at a time
_work: tuple[Callable[[Any], Any], Sequence[Any]] | None = None
_lock = threading.Lock()


def _run(bounds: tuple[int, int]) -> list[Any]:
    assert _work is not None, "fork_map's work is set before its children fork"
    fn, items = _work
    return [fn(item) for item in items[bounds[0]:bounds[1]]]


def chunks(n: int, parts: int) -> list[tuple[int, int]]:
    """`parts` contiguous (start, stop) ranges covering range(n), sizes differing by at most one."""
    size, extra = divmod(n, parts)
    out, start = [], 0
    for i in range(parts):
        stop = start + size + (i < extra)
        out.append((start, stop))
        start = stop
    return out


def fork_map(fn: Callable[[Any], Any], items: Sequence[Any], workers: int, *, min_chunk: int = 50) -> list[Any]:
    """`[fn(x) for x in items]`, with the items split over up to `workers` processes (this one included).

    `fn` must return picklable values and handle its own errors: an exception escaping `fn` in a child fails
    the whole call (as would a child killed by the OS: `BrokenProcessPool`), which callers treat like an
    infrastructure error. Chunks are at least `min_chunk` items: below that a fork costs more than it saves.
    """
    parts = max(1, min(workers, len(items) // max(1, min_chunk)))
    if parts == 1 or "fork" not in multiprocessing.get_all_start_methods():
        return [fn(item) for item in items]
    global _work
    with _lock:
        _work = (fn, items)
        try:
            bounds = chunks(len(items), parts)
            with ProcessPoolExecutor(parts - 1, mp_context=multiprocessing.get_context("fork")) as pool:
                with warnings.catch_warnings():  # inherited by the children, whose LanceDB hook warns at fork
                    # the children never touch LanceDB (nor Redis, PostgreSQL or torch): only the detector
                    warnings.filterwarnings("ignore", "lancedb fork support", RuntimeWarning)
                    futures = [pool.submit(_run, b) for b in bounds[1:]]
                out = _run(bounds[0])
                for future in futures:
                    out.extend(future.result())
            return out
        finally:
            _work = None
