"""The scoring rule of bench/privacy_eval.py on tiny hand-made texts (pure logic: no model is loaded)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bench.privacy_eval import (
    CORE,
    ENTITIES,
    GENERATOR_ENTITIES,
    GENERIC_WORDS,
    PERSON_GENERIC_WORDS,
    Label,
    SourceUnavailable,
    Tally,
    f2,
    generator_docs,
    identifying_tokens,
    is_generic,
    load_file_source,
    merge,
    parse_args,
    score_text,
)


def _label(text: str, piece: str, entity: str) -> Label:
    start = text.index(piece)
    return Label(start, start + len(piece), entity)


def _at(text: str, piece: str) -> tuple[int, int]:
    start = text.index(piece)
    return start, start + len(piece)


# --- spans caught, partly caught, missed -------------------------------------------------------------------------

TEXT = "Call Ingrid Berg on 95 87 33 33 at 12 Elm Street."
LABELS = [_label(TEXT, "Ingrid Berg", "PERSON"), _label(TEXT, "95 87 33 33", "PHONE"),
          _label(TEXT, "12 Elm Street", "ADDRESS")]


def test_a_span_is_caught_only_when_every_identifying_token_is_covered() -> None:
    detected = [_at(TEXT, "Ingrid Berg"), _at(TEXT, "95 87"), _at(TEXT, "12 Elm")]
    tally, results = score_text(TEXT, LABELS, detected)
    caught = {r.label.entity: r.caught for r in results}
    assert caught == {"PERSON": True, "PHONE": False, "ADDRESS": True}  # "Street" need not be covered
    phone = next(r for r in results if r.label.entity == "PHONE")
    assert [TEXT[a:b] for a, b in phone.left] == ["33", "33"]
    assert tally.entities["PHONE"].span_recall == 0.0
    assert tally.entities["PHONE"].token_recall == 0.5  # 2 of its 4 tokens
    assert tally.all.spans == 3 and tally.all.caught == 2


def test_one_character_of_overlap_covers_a_token() -> None:
    text = "Patient Ingrid Berg."
    label = _label(text, "Ingrid Berg", "PERSON")
    start, end = _at(text, "Ingrid Berg")
    tally, _ = score_text(text, [label], [(start + 5, start + 8)])  # "d B": the last letter of one, first of other
    assert tally.all.caught == 1
    tally, _ = score_text(text, [label], [(start, start + 6), (end, end + 1)])  # the full stop is no token of it
    assert tally.all.caught == 0 and tally.all.tokens_covered == 1


def test_a_missed_span_and_no_detection_at_all() -> None:
    tally, results = score_text(TEXT, LABELS, [])
    assert not any(r.caught for r in results)
    assert tally.all.span_recall == 0.0 and tally.all.token_recall == 0.0
    assert math.isnan(tally.precision) and math.isnan(tally.f2)  # no detection: precision undefined


# --- generic words ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "piece", "entity", "identifying"), [
    ("lives at 12 Elm Street, Apt 4", "12 Elm Street, Apt 4", "ADDRESS", ["12", "Elm", "4"]),
    ("wohnt in der Hauptstraße 5", "Hauptstraße 5", "ADDRESS", ["Hauptstraße", "5"]),  # a compound stays whole
    ("Karl Johans gate 22", "Karl Johans gate 22", "ADDRESS", ["Karl", "Johans", "22"]),
    ("12 RUE DE LA PAIX", "12 RUE DE LA PAIX", "ADDRESS", ["12", "PAIX"]),
    ("P.O. Box 4471", "P.O. Box 4471", "ADDRESS", ["4471"]),
    ("an 82 yo man", "82 yo", "AGE", ["82"]),
    ("a 54-year-old", "54-year-old", "AGE", ["54"]),
    ("seen Tuesday, 5 March 2024 at 10:30 am", "Tuesday, 5 March 2024 at 10:30 am", "DATE",
     ["5", "2024", "10", "30"]),
    ("le 3 février 2021", "3 février 2021", "DATE", ["3", "2021"]),
    ("chart MRN-0012345", "MRN-0012345", "ID", ["0012345"]),
    ("Ludwig van Beethoven", "Ludwig van Beethoven", "PERSON", ["Ludwig", "Beethoven"]),
    ("April Lane, May Court", "April Lane, May Court", "PERSON", ["April", "Lane", "May", "Court"]),  # names
])
def test_identifying_tokens_drop_generic_words(text: str, piece: str, entity: str, identifying: list[str]) -> None:
    assert [text[a:b] for a, b in identifying_tokens(text, _label(text, piece, entity))] == identifying


def test_generic_words_are_case_folded_and_a_span_of_generic_words_only_is_caught() -> None:
    assert is_generic("STRASSE", "ADDRESS") and is_generic("Straße", "ADDRESS") and is_generic("Mai", "DATE")
    assert not is_generic("Mai", "PERSON") and is_generic("van", "PERSON")
    assert PERSON_GENERIC_WORDS < GENERIC_WORDS
    text = "born in March"
    tally, results = score_text(text, [_label(text, "March", "DATE")], [])
    assert results[0].caught and tally.all.tokens == 0
    assert math.isnan(tally.all.token_recall)


# --- precision, words kept, F2 -----------------------------------------------------------------------------------


def test_precision_counts_detections_that_touch_any_labelled_span() -> None:
    detected = [_at(TEXT, "Ingrid"), _at(TEXT, "33 33"), _at(TEXT, "Call"), _at(TEXT, "at")]
    tally, _ = score_text(TEXT, LABELS, detected)
    assert (tally.detected_hits, tally.detected) == (2, 4) and tally.precision == 0.5
    # the type does not matter: a PHONE detection over the person's name is a hit


def test_overlapping_detections_count_once_and_neutral_regions_count_for_nothing() -> None:
    assert merge([(5, 9), (0, 3), (2, 4), (9, 12), (7, 7)]) == [(0, 4), (5, 9), (9, 12)]
    text = "Card ending in 4821, call Ingrid."
    neutral = [_at(text, "4821")]
    labels = [_label(text, "Ingrid", "PERSON")]
    tally, _ = score_text(text, labels, [_at(text, "4821"), _at(text, "Ingrid"), _at(text, "grid")], neutral)
    assert (tally.detected_hits, tally.detected) == (1, 1)
    tally, _ = score_text(text, labels, [_at(text, "Card")], neutral)
    assert (tally.detected_hits, tally.detected) == (0, 1)


def test_ordinary_words_kept() -> None:
    # words outside labelled spans with a letter: Call, on, at (+ Ingrid etc. are inside spans; 95 has no letter)
    tally, _ = score_text(TEXT, LABELS, [_at(TEXT, "Call Ingrid Berg")])
    assert (tally.words, tally.words_kept) == (3, 2)
    text = "Ref 2024 x9 done"  # "2024" has no letter: not a word; "x9" is
    tally, _ = score_text(text, [], [_at(text, "x9")])
    assert (tally.words, tally.words_kept) == (3, 2)


def test_f2_weighs_recall() -> None:
    assert f2(1.0, 1.0) == 1.0 and f2(0.0, 0.0) == 0.0
    assert f2(0.5, 1.0) == pytest.approx(5 * 0.5 / (2 + 1))
    assert f2(1.0, 0.5) < f2(0.5, 1.0)
    assert math.isnan(f2(float("nan"), 1.0))


def test_tallies_add_up_and_core_and_min_core() -> None:
    total = Tally()
    text = "Ingrid, 82 yo, Visa 4111 1111 1111 1111"
    labels = [_label(text, "Ingrid", "PERSON"), _label(text, "82 yo", "AGE"),
              _label(text, "4111 1111 1111 1111", "CARD")]
    for detected in ([_at(text, "Ingrid")], [_at(text, "Ingrid"), _at(text, "82")]):
        total.add(score_text(text, labels, detected)[0])
    assert total.texts == 2
    assert (total.entities["PERSON"].caught, total.entities["AGE"].caught, total.entities["CARD"].caught) == (2, 1, 0)
    assert total.all.span_recall == pytest.approx(3 / 6)
    assert total.core.span_recall == pytest.approx(3 / 4)  # CARD is not core
    assert total.min_core() == ("AGE", 0.5)
    assert total.f2 == pytest.approx(f2(1.0, 0.5))


# --- data loading and options --------------------------------------------------------------------------------------


def test_a_missing_or_malformed_source_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(SourceUnavailable, match="not found"):
        load_file_source("nope", data=tmp_path)
    (tmp_path / "s").mkdir()
    good = {"id": "s-1", "text": "Hi Ingrid", "spans": [{"start": 3, "end": 9, "entity": "PERSON", "text": "Ingrid"}]}
    bad = {**good, "spans": [{"start": 3, "end": 9, "entity": "PERSON", "text": "Ingrix"}]}
    path = tmp_path / "s" / "texts.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n", encoding="utf-8")
    assert [d.labels for d in load_file_source("s", limit=1, data=tmp_path)] == [(Label(3, 9, "PERSON"),)]
    with pytest.raises(SourceUnavailable, match="line 2") as err:
        load_file_source("s", data=tmp_path)
    assert "Ingri" not in str(err.value)  # a message never carries the text
    path.write_text(json.dumps(good) + "\n" + '{"id": "s-2", "te', encoding="utf-8")  # being written
    with pytest.raises(SourceUnavailable, match="not JSON"):
        load_file_source("s", data=tmp_path)


def test_generator_labels_map_onto_labels_md() -> None:
    assert {e for e in GENERATOR_ENTITIES.values() if e} <= set(ENTITIES) and set(CORE) <= set(ENTITIES)
    docs = generator_docs(limit=12)
    assert len(docs) == 12 and {d.template for d in docs} == {"dev", "holdout"}
    assert [d.text for d in generator_docs(limit=4)] == [d.text for d in docs[:4]]  # deterministic
    for d in docs:
        assert all(lab.entity in ENTITIES and 0 <= lab.start < lab.end <= len(d.text) for lab in d.labels)


def test_misses_refuse_any_source_but_tune() -> None:
    assert parse_args(["--misses", "PERSON"]).sources == ["tune"]
    assert parse_args(["--misses", "all", "--sources", "tune"]).sources == ["tune"]
    for other in ("handwritten", "faker_locales", "generator"):
        with pytest.raises(SystemExit):
            parse_args(["--misses", "PERSON", "--sources", "tune", other])
