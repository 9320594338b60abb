"""Quasi-identifiers: per-subject date shifting and k-anonymity by generalization within a batch."""

from __future__ import annotations

import hashlib
import hmac
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

MAX_SHIFT_DAYS = 180


def date_shift_days(key: bytes, subject: str) -> int:
    """A subject's secret, stable shift in [-180, 180] days: HMAC of the subject pseudonym."""
    mac = hmac.new(key, b"dateshift\x00" + subject.encode(), hashlib.sha256).digest()
    return int.from_bytes(mac[:4], "big") % (2 * MAX_SHIFT_DAYS + 1) - MAX_SHIFT_DAYS


def shift_date(iso: str, days: int) -> str:
    """Shift an ISO date by a number of days (intervals between one subject's dates are preserved)."""
    return (date.fromisoformat(iso) + timedelta(days=days)).isoformat()


# Generalization ladder: each step coarsens one quasi-identifier a little more.
def _widen_age(band: str) -> str:
    if band in ("90+", "unknown", "*") or "-" not in band:
        return band
    low = int(band.split("-")[0]) // 20 * 20
    return f"{low}-{low + 19}"


# Location goes first: 50 states and ~900 ZIP3s split a batch far more than 10 age bands and 2 sexes,
# which analysts and the RAG answers also need more.
LADDER: tuple[tuple[str, Callable[[str], str]], ...] = (
    ("zip3", lambda _: "*"),
    ("state", lambda _: "*"),
    ("age_band", _widen_age),
    ("sex", lambda _: "*"),
    ("age_band", lambda _: "*"),
)


@dataclass(frozen=True)
class KReport:
    """k-anonymity of a batch's quasi-identifier combinations."""

    k: int  # smallest equivalence class, in distinct people (0 for an empty batch)
    classes: int
    generalized: int  # records that had at least one quasi-identifier coarsened
    suppressed: int  # records whose quasi-identifiers were all suppressed and still below k


def qi_tuple(qi: dict[str, str], fields: Sequence[str]) -> tuple[str, ...]:
    """The quasi-identifier combination of one record."""
    return tuple(str(qi.get(f, "")) for f in fields)


def _class_sizes(rows: Sequence[dict[str, str]], fields: Sequence[str]) -> dict[tuple[str, ...], int]:
    """Distinct people per quasi-identifier combination: three visits of one patient are a class of one."""
    people: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for i, r in enumerate(rows):
        people[qi_tuple(r, fields)].add(r.get("pseudonym") or f"#{i}")
    return {t: len(p) for t, p in people.items()}


def measure_k(rows: Sequence[dict[str, str]], fields: Sequence[str]) -> tuple[int, int]:
    """(smallest class size in distinct people, number of classes), ignoring fully withheld records.

    A fully suppressed record ("*" everywhere) tells nothing about its subject, whatever its class size.
    """
    suppressed = ("*",) * len(fields)
    sizes = [n for t, n in _class_sizes(rows, fields).items() if t != suppressed]
    return (min(sizes), len(sizes)) if sizes else (0, 0)


def enforce_k(rows: list[dict[str, str]], fields: Sequence[str], k: int) -> KReport:
    """Coarsen quasi-identifiers in place, step by step, for records in classes smaller than k."""
    if k <= 1 or not rows:
        smallest, classes = measure_k(rows, fields)
        return KReport(smallest, classes, 0, 0)
    touched: set[int] = set()
    for name, coarsen in LADDER:
        if name not in fields:
            continue
        sizes = _class_sizes(rows, fields)
        small = [i for i, r in enumerate(rows) if sizes[qi_tuple(r, fields)] < k]
        if not small:
            break
        for i in small:
            before = rows[i].get(name)
            rows[i][name] = coarsen(str(before))
            if rows[i][name] != before:
                touched.add(i)
    suppressed = sum(1 for r in rows if qi_tuple(r, fields) == ("*",) * len(fields))
    smallest, classes = measure_k(rows, fields)
    return KReport(smallest, classes, len(touched), suppressed)


def quasi_identifiers(doc: dict[str, Any]) -> dict[str, str] | None:
    """The mutable quasi-identifier block of an anonymized document (patient or customer)."""
    return doc.get("patient") or doc.get("customer")


QI_FIELDS = ("age_band", "sex", "state", "zip3")


def present_fields(rows: Sequence[dict[str, str]]) -> tuple[str, ...]:
    """The quasi-identifier fields every row has (finance records carry no sex, for instance)."""
    return tuple(f for f in QI_FIELDS if rows and all(f in r for r in rows))
