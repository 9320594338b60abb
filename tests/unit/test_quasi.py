"""Quasi-identifiers: per-subject date shifts and k-anonymity by generalization."""

from __future__ import annotations

import random
from datetime import date

import pytest

from datavault_dagster.domain.quasi import (
    MAX_SHIFT_DAYS,
    date_shift_days,
    enforce_k,
    measure_k,
    parse_written_date,
    present_fields,
    shift_date,
    shift_written_date,
)

KEY = b"k" * 32
FIELDS = ("age_band", "sex", "state", "zip3")


def test_date_shift_is_stable_per_subject_and_secret_per_key() -> None:
    subjects = [f"S-{i:010d}" for i in range(2000)]
    shifts = [date_shift_days(KEY, s) for s in subjects]
    assert shifts == [date_shift_days(KEY, s) for s in subjects]
    assert all(-MAX_SHIFT_DAYS <= d <= MAX_SHIFT_DAYS for d in shifts)
    assert len(set(shifts)) > 300  # spread over the whole window
    other = [date_shift_days(b"o" * 32, s) for s in subjects]
    assert sum(a == b for a, b in zip(shifts, other, strict=True)) < 30  # another key, other shifts


def test_shifting_preserves_intervals_between_one_subjects_dates() -> None:
    days = date_shift_days(KEY, "S-abc")
    visits = ["2024-01-31", "2024-02-29", "2024-12-31"]
    shifted = [date.fromisoformat(shift_date(v, days)) for v in visits]
    real = [date.fromisoformat(v) for v in visits]
    assert [(b - a).days for a, b in zip(shifted, shifted[1:], strict=False)] == [
        (b - a).days for a, b in zip(real, real[1:], strict=False)
    ]
    assert (shifted[0] - real[0]).days == days


@pytest.mark.parametrize(
    "written",
    [
        "2024-03-05", "2024/03/05", "2024.3.5", "03/05/2024", "3/5/2024", "3/5/24", "03-05-2024", "05.03.2024",
        "March 5, 2024", "March 5 2024", "Mar 5 2024", "Mar. 5, 2024", "March 5th, 2024", "Mar 5, '24",
        "Tuesday, March 5, 2024", "5 March 2024", "5th of March 2024", "05-Mar-2024", "05-Mar-24", "  march  5,  2024 ",
        "MARCH 5, 2024", "Sept 5, 2024",
    ],
)
def test_written_full_dates_are_read_to_the_day(written: str) -> None:
    parsed = parse_written_date(written, 2024)
    expected = date(2024, 9, 5) if written.startswith("Sept") else date(2024, 3, 5)
    assert parsed is not None and parsed.precision == "day" and parsed.value == expected


@pytest.mark.parametrize(
    ("written", "value", "readings"),
    [
        ("13/05/2024", date(2024, 5, 13), 1),  # month 13 is impossible: day first
        ("05/13/2024", date(2024, 5, 13), 1),
        ("03/05/2024", date(2024, 3, 5), 2),  # US order first, the European reading kept as an alternative
        ("05.03.2024", date(2024, 3, 5), 2),  # dots: day first
        ("3/4/80", date(1980, 3, 4), 4),  # two-digit years around the pivot, then a century earlier
        ("1/2/34", date(2034, 1, 2), 4),  # at most 10 years after the pivot ...
        ("1/2/35", date(1935, 1, 2), 4),  # ... else the century before
    ],
)
def test_ambiguous_written_dates_keep_their_other_readings(written: str, value: date, readings: int) -> None:
    parsed = parse_written_date(written, 2024)
    assert parsed is not None and parsed.value == value and parsed.readings[0] == value
    assert len(parsed.readings) == readings


@pytest.mark.parametrize(
    "written", ["2024-02-30", "02/30/2024", "2023-02-29", "31/31/2024", "March 32, 2024", "Marching 5, 2024",
                "March 5", "5 March", "5th of March", "Tuesday", "", "2024-13-01"],
)
def test_impossible_or_yearless_written_dates_are_none(written: str) -> None:
    assert parse_written_date(written, 2024) is None


@pytest.mark.parametrize(
    ("written", "days", "shifted"),
    [
        ("2024-03-05", 100, "2024-06-13"),
        ("March 5, 2024", -65, "2023-12-31"),
        ("2024-02-28", 1, "2024-02-29"),
        ("3/5/24", 0, "2024-03-05"),  # rendered in ISO whatever the written form
        ("March 2024", 100, "2024-06"),  # whole months nearest to 100 days
        ("March 2024", -180, "2023-09"),
        ("2024-03", 14, "2024-03"),
        ("Dec 2024", 20, "2025-01"),
        ("2024", 180, None),  # a bare year cannot be shifted
        ("0001-01-01", -1, None),  # before the calendar starts: None, not an exception
    ],
)
def test_shift_written_date(written: str, days: int, shifted: str | None) -> None:
    parsed = parse_written_date(written, 2024)
    assert parsed is not None
    assert shift_written_date(parsed, days) == shifted


def test_written_months_of_one_subject_keep_their_distance() -> None:
    for days in range(-MAX_SHIFT_DAYS, MAX_SHIFT_DAYS + 1, 7):
        a, b = (parse_written_date(m, 2024) for m in ("Nov 2023", "Feb 2024"))
        assert a is not None and b is not None
        ya, ma = map(int, str(shift_written_date(a, days)).split("-"))
        yb, mb = map(int, str(shift_written_date(b, days)).split("-"))
        assert (yb * 12 + mb) - (ya * 12 + ma) == 3


def _row(age: str, sex: str, state: str, zip3: str) -> dict[str, str]:
    return {"age_band": age, "sex": sex, "state": state, "zip3": zip3}


def test_already_k_anonymous_batch_is_left_alone() -> None:
    rows = [_row("40-49", "F", "CA", "941") for _ in range(3)] + [_row("50-59", "M", "NY", "100") for _ in range(3)]
    before = [dict(r) for r in rows]
    report = enforce_k(rows, FIELDS, 3)
    assert rows == before and report.k == 3 and report.generalized == 0 and report.classes == 2


def test_rare_combinations_are_generalized_zip_first() -> None:
    rows = [_row("40-49", "F", "CA", "941") for _ in range(3)] + [_row("40-49", "F", "CA", "945"),
                                                                   _row("40-49", "F", "CA", "946")]
    report = enforce_k(rows, FIELDS, 2)
    assert report.k == 2 and report.generalized == 2 and report.suppressed == 0
    # the two rare records lose only their ZIP3 and form a class together; the common ones keep theirs
    assert rows[3] == rows[4] == _row("40-49", "F", "CA", "*")
    assert all(r["zip3"] == "941" for r in rows[:3])


def test_a_lone_outlier_is_withheld_not_the_batch() -> None:
    rows = [_row("40-49", "F", "CA", "941") for _ in range(3)] + [_row("80-89", "M", "AK", "995")]
    report = enforce_k(rows, FIELDS, 2)
    assert rows[3] == _row("*", "*", "*", "*") and report.suppressed == 1
    assert all(r == _row("40-49", "F", "CA", "941") for r in rows[:3])


def test_measure_k_ignores_fully_withheld_records() -> None:
    rows = [_row("*", "*", "*", "*"), _row("40-49", "F", "CA", "941"), _row("40-49", "F", "CA", "941")]
    assert measure_k(rows, FIELDS) == (2, 1)
    assert measure_k([], FIELDS) == (0, 0)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("k", [2, 3, 5])
def test_enforce_k_always_reaches_k_or_withholds(seed: int, k: int) -> None:
    rng = random.Random(seed)
    rows = [
        _row(f"{rng.randrange(0, 9) * 10}-{rng.randrange(0, 9) * 10 + 9}", rng.choice("FM"),
             rng.choice(["CA", "NY", "TX", "WA"]), f"{rng.randrange(100, 999)}")
        for _ in range(rng.randrange(1, 200))
    ]
    report = enforce_k(rows, FIELDS, k)
    smallest, classes = measure_k(rows, FIELDS)
    assert classes == 0 or smallest >= k
    assert report.k == smallest


def test_present_fields_follow_the_domain() -> None:
    assert present_fields([_row("1", "F", "CA", "1")]) == FIELDS
    assert present_fields([{"age_band": "1", "state": "CA", "zip3": "1", "pseudonym": "P"}]) == (
        "age_band", "state", "zip3")


def test_k_counts_people_not_records() -> None:
    same_person = [{**_row("40-49", "F", "CA", "941"), "pseudonym": "P-one"} for _ in range(3)]
    assert measure_k(same_person, FIELDS) == (1, 1)  # three visits of one patient identify her
    others = [{**_row("40-49", "F", "CA", "941"), "pseudonym": f"P-{n}"} for n in ("two", "three")]
    rows = same_person + others
    assert measure_k(rows, FIELDS) == (3, 1)
    lonely = [{**_row("70-79", "M", "TX", "750"), "pseudonym": "P-four"} for _ in range(4)]
    report = enforce_k(rows + lonely, FIELDS, 3)
    assert report.k == 3 and all(r["state"] == "*" or r["zip3"] == "*" for r in lonely)
