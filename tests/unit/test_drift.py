"""Unit tests of the detection drift decision (pure: no Dagster, no services) and of the counts it is fed."""

from __future__ import annotations

from collections import Counter

import pytest

from datavault_dagster.domain import records
from datavault_dagster.domain.anonymize import Anonymizer, Pseudonymizer
from datavault_dagster.domain.crypto import Keyring
from datavault_dagster.domain.detect import Span
from datavault_dagster.domain.drift import (
    DetectionStats,
    DriftThresholds,
    TextScan,
    detection_drift,
)
from simulations import generate_records

CHARS = 10_000  # a partition of ~40 notes
# per 10,000 characters: what the simulations' healthcare notes give, roughly
USUAL = {"PERSON": 40, "EMAIL": 12, "AGE": 18, "DATE": 9, "ZIP": 10}
USUAL_KNOWN = {"PERSON": 30, "MRN": 20}


def stats(detected: dict[str, int] | None = None, known: dict[str, int] | None = None, chars: int = CHARS,
          records: int = 40) -> DetectionStats:
    return DetectionStats(records, records * 2, chars, Counter(USUAL if detected is None else detected),
                          Counter(USUAL_KNOWN if known is None else known))


def history(n: int = 10) -> list[DetectionStats]:
    """n earlier partitions with the usual counts, +-10 % so that the median is a real median."""
    return [stats({k: round(v * (0.9 + 0.2 * (i % 3) / 2)) for k, v in USUAL.items()}) for i in range(n)]


def by_entity(report):  # noqa: ANN001, ANN201
    return {e.entity: e for e in report.entities}


# --- the counts -------------------------------------------------------------------------------------------------


def test_text_scan_tallies_detector_and_known_spans_apart_and_counts_characters() -> None:
    texts = ["Seen by Dr. Ann Lee today.", "Call 555-123-4567."]
    spans = [
        [Span(8, 19, "PERSON", 0.75, "name-rule:title"), Span(0, 4, "PERSON", 1.0, "known-name", name="x")],
        [Span(5, 17, "PHONE", 1.0, "known", replacement="[PHONE]"), Span(0, 4, "DATE", 0.8, "pattern:date/iso")],
    ]
    scan = TextScan.of(texts, spans)
    assert scan == TextScan(2, sum(map(len, texts)), {"PERSON": 1, "DATE": 1}, {"PERSON": 1, "PHONE": 1})


def test_partition_stats_add_records_and_round_trip_as_json() -> None:
    total = DetectionStats()
    total.add(TextScan(2, 300, {"PERSON": 2}, {"EMAIL": 1}))
    total.add(TextScan(1, 200, {"PERSON": 1, "ZIP": 1}, {}))
    assert (total.records, total.texts, total.chars) == (2, 3, 500)
    assert total.series() == {"EMAIL (known)": 1, "PERSON": 3, "ZIP": 1}
    assert total.per_1k_chars() == {"EMAIL (known)": 2.0, "PERSON": 6.0, "ZIP": 2.0}
    assert DetectionStats.from_json(total.to_json()) == total
    assert DetectionStats().per_1k_chars() == {}


def test_an_anonymized_records_scan_counts_its_free_text_and_holds_no_value() -> None:
    keyring = Keyring(keys={"k1": bytes(range(32))}, primary="k1", pseudonym_key=bytes(range(32)))
    rec = generate_records("healthcare", 1, seed=3)[0]
    raw = records.parse_entry("healthcare", "1-0", records.stream_fields("healthcare", rec), keyring)
    scan = Anonymizer(Pseudonymizer(keyring.pseudonym_key)).anonymize_record(raw).scan
    free = list(dict.fromkeys([rec["note"], rec["encounter"]["reason"]]))
    assert (scan.texts, scan.chars) == (len(free), sum(map(len, free)))
    assert sum(scan.detected.values()) + sum(scan.known.values()) > 0
    patient = rec["patient"]
    shown = repr(scan)
    assert not [v for v in (patient["first_name"], patient["last_name"], patient["email"], patient["mrn"])
                if v in shown]


# --- the decision -----------------------------------------------------------------------------------------------


def test_similar_rates_pass() -> None:
    report = detection_drift(stats({"PERSON": 44, "EMAIL": 10, "AGE": 20, "DATE": 8, "ZIP": 11}), history())
    assert report.judged and report.stable and report.history == 10
    assert "within" in report.note
    person = by_entity(report)["PERSON"]
    assert person.median == pytest.approx(4.0) and person.ratio == pytest.approx(1.1) and person.status == "ok"


def test_a_collapsed_entity_warns_low() -> None:
    report = detection_drift(stats({**USUAL, "PERSON": 6}), history())
    assert [(e.entity, e.status) for e in report.drifted] == [("PERSON", "low")]
    person = by_entity(report)["PERSON"]
    assert person.expected == pytest.approx(40) and person.ratio == pytest.approx(0.15)
    assert "PERSON" in report.note


def test_a_surging_entity_warns_high() -> None:
    report = detection_drift(stats({**USUAL, "ZIP": 45}), history())
    assert [(e.entity, e.status) for e in report.drifted] == [("ZIP", "high")]


def test_an_entity_usually_found_that_is_absent_warns_absent() -> None:
    # 6 expected: too few for the 1/3 rule, enough for "absent" (it was found in every recent partition)
    report = detection_drift(stats({**USUAL, "DATE": 0}, chars=6_700), history())
    assert [(e.entity, e.status) for e in report.drifted] == [("DATE", "absent")]


def test_a_small_partition_is_not_judged_on_noise() -> None:
    # 1,000 characters: 4 PERSON and 1 DATE expected; none found is no alarm
    small = stats({"PERSON": 0, "EMAIL": 1, "AGE": 2, "DATE": 0, "ZIP": 1}, {"PERSON": 3, "MRN": 2}, chars=1_000)
    report = detection_drift(small, history())
    assert report.judged and report.stable


def test_an_entity_new_in_bulk_warns_high_without_ratio() -> None:
    report = detection_drift(stats({**USUAL, "CARD": 25}), history())
    [card] = report.drifted
    assert (card.entity, card.status, card.median, card.ratio) == ("CARD", "high", 0.0, None)


def test_a_rare_entity_never_warns_absent() -> None:
    # found in 3 of 10 recent partitions: its absence is normal
    past = history()
    for h in past[:3]:
        h.detected["URL"] = 20
    assert detection_drift(stats(), past).stable


def test_known_value_matches_are_their_own_series() -> None:
    report = detection_drift(stats(known={"PERSON": 2, "MRN": 20}), history())
    assert [(e.entity, e.status) for e in report.drifted] == [("PERSON (known)", "low")]


@pytest.mark.parametrize("earlier", [0, 4])
def test_fewer_than_five_earlier_partitions_pass_with_a_note(earlier: int) -> None:
    report = detection_drift(stats({"PERSON": 0, "ZIP": 3}), history(earlier))
    assert not report.judged and report.stable
    assert report.note.startswith("not enough history") and f"{earlier} earlier" in report.note
    assert by_entity(report)["ZIP"].count == 3 and by_entity(report)["ZIP"].rate == pytest.approx(0.3)


def test_partitions_without_free_text_are_no_history_and_get_no_verdict() -> None:
    empty = [stats({}, {}, chars=0, records=0)] * 10
    report = detection_drift(stats({"PERSON": 0}), empty + history(4))
    assert not report.judged and report.history == 4
    report = detection_drift(stats({}, {}, chars=0, records=0), history())
    assert not report.judged and report.stable and report.note.startswith("no free text")


def test_only_the_last_n_partitions_make_the_baseline() -> None:
    old = [stats({**USUAL, "PERSON": 400})] * 30  # long ago, before a producer change
    current = stats()
    assert detection_drift(current, old + history(20)).stable
    assert not detection_drift(current, old + history(20), DriftThresholds(history=40)).stable


def test_thresholds_are_adjustable() -> None:
    current = stats({**USUAL, "PERSON": 20})  # half the median
    assert detection_drift(current, history()).stable
    assert [e.entity for e in detection_drift(current, history(), DriftThresholds(low=0.6)).drifted] == ["PERSON"]
