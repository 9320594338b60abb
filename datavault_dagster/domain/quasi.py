"""Quasi-identifiers: per-subject date shifting (structured and written dates) and k-anonymity by generalization
within a batch."""

from __future__ import annotations

import hashlib
import hmac
import re
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


# --- dates written in free text -------------------------------------------------------------------------------
# Reads what detect.py's date recognizers find (and month-year or a bare year, should a recognizer ever emit them).

_MONTH_NAMES = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
                "november", "december")
_WEEKDAY_WORD = r"(?:(?:mon|tues?|wed(?:nes)?|thu(?:rs)?|fri|sat(?:ur)?|sun)(?:day)?\.?,?\s+)?"
_ORDINAL = r"(?:st|nd|rd|th)?"
_WRITTEN = (
    ("ymd", re.compile(r"(?P<year>\d{4})(?P<sep>[-/.])(?P<m>\d{1,2})(?P=sep)(?P<d>\d{1,2})")),
    ("numeric", re.compile(r"(?P<a>\d{1,2})(?P<sep>[-/.])(?P<b>\d{1,2})(?P=sep)(?P<year>\d{4}|\d{2})")),
    ("month-day", re.compile(
        rf"{_WEEKDAY_WORD}(?P<mon>[a-z]{{3,9}})\.?\s+(?P<d>\d{{1,2}}){_ORDINAL}(?:,?\s+(?P<year>\d{{4}}|'\d{{2}}))?")),
    ("day-month", re.compile(
        rf"{_WEEKDAY_WORD}(?P<d>\d{{1,2}}){_ORDINAL}(?:\s+(?:of\s+)?|-)(?P<mon>[a-z]{{3,9}})\.?"
        r"(?:,?[\s-]+(?P<year>\d{4})|-(?P<year2>\d{2}))?")),
    ("month-year", re.compile(r"(?P<mon>[a-z]{3,9})\.?,?\s+(?P<year>\d{4}|'\d{2})")),
    ("year-month", re.compile(r"(?P<year>\d{4})[-/](?P<m>\d{1,2})")),
    ("month/year", re.compile(r"(?P<m>\d{1,2})/(?P<year>\d{4})")),
    ("year", re.compile(r"(?P<year>\d{4})")),
)


@dataclass(frozen=True)
class WrittenDate:
    """A date read from free text, at the precision it was written ("day", "month" or "year").

    `value` is the reading used (the 1st of the month or of January below day precision); `readings` holds it and
    every other plausible reading of an ambiguous form (day and month swapped, the other century of a two-digit
    year), so that a date can be recognized as a given one however it was written.
    """

    value: date
    precision: str
    readings: tuple[date, ...]


def _month_number(name: str) -> int | None:
    """1-12 for a month name or its abbreviation of three letters or more ("Sept", "Mar"), else None."""
    name = name.lower()
    return next((i for i, full in enumerate(_MONTH_NAMES, 1) if full.startswith(name)), None)


def _years(written: str, pivot_year: int) -> list[int]:
    """A four-digit year as is; a two-digit one in the century that puts it at most 10 years after `pivot_year`,
    then in the century before."""
    digits = written.lstrip("'")
    if len(digits) == 4:
        return [int(digits)]
    year = pivot_year // 100 * 100 + int(digits)
    if year > pivot_year + 10:
        year -= 100
    return [year, year - 100]


def _valid(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def parse_written_date(text: str, pivot_year: int) -> WrittenDate | None:
    """Read a date as written in free text; None when it is not a real calendar date or has no year.

    Numeric day-month orders: `/` and `-` are read month first (US), `.` day first (European), and the other
    order when the first is impossible (13/05/2024). Two-digit years are read around `pivot_year` (see `_years`).
    A day and month without a year ("March 5") is None: it cannot be placed, let alone shifted.
    """
    text = " ".join(text.strip().split())
    for name, pattern in _WRITTEN:
        m = pattern.fullmatch(text.lower())
        if m is None:
            continue
        groups = m.groupdict()
        year_text = groups.get("year") or groups.get("year2")
        if year_text is None:
            return None
        years = _years(year_text, pivot_year)
        month = _month_number(groups["mon"]) if groups.get("mon") else int(groups.get("m") or 1)
        if month is None:
            return None
        if name == "numeric":
            a, b = int(groups["a"]), int(groups["b"])
            orders = [(b, a), (a, b)] if groups["sep"] == "." else [(a, b), (b, a)]
            cands = [_valid(y, mo, d) for mo, d in orders for y in years]
        elif groups.get("d"):
            cands = [_valid(y, month, int(groups["d"])) for y in years]
        else:
            cands = [_valid(y, month, 1) for y in years]
        readings = tuple(dict.fromkeys(c for c in cands if c is not None))
        if not readings:
            return None
        precision = "day" if name in ("ymd", "numeric", "month-day", "day-month") else \
            "year" if name == "year" else "month"
        return WrittenDate(readings[0], precision, readings)
    return None


def shift_written_date(written: WrittenDate, days: int) -> str | None:
    """A written date shifted by `days` at its precision, in ISO form; None when it cannot be.

    A day moves by the days ("2024-03-05" → "2024-06-13" for +100), so intervals to the subject's other dates are
    exact. A month moves by the whole months nearest to the days ("2024-03" → "2024-06"), so two months of one
    subject keep their distance. A bare year is None: a shift of at most 180 days is no shift at year precision,
    and the real year alone would be left.
    """
    try:
        if written.precision == "day":
            return (written.value + timedelta(days=days)).isoformat()
    except OverflowError:
        return None
    if written.precision == "month":
        index = written.value.year * 12 + written.value.month - 1 + round(days * 12 / 365.2425)
        year, month = divmod(index, 12)
        return f"{year:04d}-{month + 1:02d}" if 1 <= year <= 9999 else None
    return None


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
