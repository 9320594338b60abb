"""Unit tests for retrieval ranking, prompt building and citation parsing."""

from __future__ import annotations

import pytest

from datavault_dagster.domain.rag import (
    SYSTEM_PROMPT,
    Hit,
    Source,
    build_messages,
    cited_sources,
    rank_records,
    shorten,
)

# --- rank_records -------------------------------------------------------------------------------------------


def test_rank_records_keeps_best_chunk_per_record_sorted_by_distance() -> None:
    hits = [
        Hit("healthcare", "a", 0, 0.50),
        Hit("healthcare", "a", 1, 0.20),  # best chunk of a
        Hit("healthcare", "a", 2, 0.90),
        Hit("finance", "b", 0, 0.30),
        Hit("healthcare", "c", 3, 0.10),
        Hit("finance", "b", 1, 0.35),
    ]
    ranked = rank_records(hits, k=10)
    assert ranked == [Hit("healthcare", "c", 3, 0.10), Hit("healthcare", "a", 1, 0.20), Hit("finance", "b", 0, 0.30)]


def test_rank_records_best_chunk_independent_of_order() -> None:
    hits = [Hit("finance", "x", 0, 0.4), Hit("finance", "x", 5, 0.1), Hit("finance", "x", 2, 0.3)]
    for ordering in (hits, list(reversed(hits)), hits[1:] + hits[:1]):
        assert rank_records(ordering, k=3) == [Hit("finance", "x", 5, 0.1)]


def test_same_record_id_in_different_domains_are_different_records() -> None:
    hits = [Hit("healthcare", "r1", 0, 0.2), Hit("finance", "r1", 0, 0.1)]
    assert rank_records(hits, k=5) == [Hit("finance", "r1", 0, 0.1), Hit("healthcare", "r1", 0, 0.2)]


@pytest.mark.parametrize(("k", "expected"), [(0, []), (1, ["r0"]), (3, ["r0", "r1", "r2"]), (50, [f"r{i}" for i in
                                                                                               range(6)])])
def test_rank_records_k_cap(k: int, expected: list[str]) -> None:
    hits = [Hit("finance", f"r{i}", c, i + c / 10) for i in range(6) for c in range(3)]
    assert [h.record_id for h in rank_records(hits, k)] == expected


def test_rank_records_ties_are_deterministic() -> None:
    hits = [Hit("healthcare", "b", 0, 0.5), Hit("finance", "z", 0, 0.5), Hit("healthcare", "a", 0, 0.5)]
    expected = [("finance", "z"), ("healthcare", "a"), ("healthcare", "b")]
    assert [(h.domain, h.record_id) for h in rank_records(hits, 3)] == expected
    assert [(h.domain, h.record_id) for h in rank_records(reversed(hits), 3)] == expected


def test_rank_records_accepts_a_generator_and_empty_input() -> None:
    assert rank_records((h for h in [Hit("finance", "a", 0, 1.0)]), 2) == [Hit("finance", "a", 0, 1.0)]
    assert rank_records([], 4) == []


# --- shorten / build_messages -------------------------------------------------------------------------------


def test_shorten() -> None:
    assert shorten("short text", 100) == "short text"
    assert shorten("exactly ten", 11) == "exactly ten"
    out = shorten("alpha beta gamma delta epsilon", 14)
    assert out == "alpha beta …"
    assert len(out) <= 14 + 2


def _sources() -> list[Source]:
    return [
        Source(1, "healthcare", "hc-0-000001", "Healthcare encounter 2024-03 for patient P-aaaaaaaaaa on metformin."),
        Source(2, "finance", "fn-0-000002", "Finance record for customer P-bbbbbbbbbb with a disputed charge."),
    ]


def test_build_messages_structure() -> None:
    question = "Which patient takes metformin?"
    messages = build_messages(question, _sources())
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[0]["content"] == SYSTEM_PROMPT
    # the system prompt is plain: no context, no question, no record data
    assert "metformin" not in messages[0]["content"] and "P-" not in messages[0]["content"]
    user = messages[1]["content"]
    assert "[1] Healthcare encounter 2024-03 for patient P-aaaaaaaaaa on metformin." in user
    assert "[2] Finance record for customer P-bbbbbbbbbb with a disputed charge." in user
    assert user.index("[1] ") < user.index("[2] ") < user.index(question)
    assert f"Question: {question}" in user
    assert "cite" in user.lower()


def test_build_messages_uses_source_numbers_not_positions() -> None:
    sources = [Source(7, "finance", "x", "seven"), Source(3, "finance", "y", "three")]
    user = build_messages("q?", sources)[1]["content"]
    assert "[7] seven" in user and "[3] three" in user
    assert "[1]" not in user


def test_build_messages_shortens_long_sources() -> None:
    long_text = " ".join(f"word{i}" for i in range(1000))
    messages = build_messages("What?", [Source(1, "healthcare", "r", long_text)], max_chars_per_source=100)
    user = messages[1]["content"]
    line = next(line for line in user.splitlines() if line.startswith("[1] "))
    body = line[len("[1] "):]
    assert body.endswith(" …")
    assert len(body) <= 100 + 2
    assert long_text.startswith(body[: -len(" …")])
    assert "word999" not in user
    assert " wor …" not in body  # cut at a word boundary


def test_build_messages_without_sources() -> None:
    messages = build_messages("Anything?", [])
    assert messages[0]["content"] == SYSTEM_PROMPT
    assert "Question: Anything?" in messages[1]["content"]


# --- cited_sources ------------------------------------------------------------------------------------------


def _numbered(n: int) -> list[Source]:
    return [Source(i, "finance", f"fn-{i}", f"text {i}") for i in range(1, n + 1)]


@pytest.mark.parametrize(
    ("answer", "numbers"),
    [
        ("P-x takes metformin [1].", [1]),
        ("See [2, 3].", [2, 3]),
        ("See [3,2].", [3, 2]),
        ("See [2 ,  3] and [1].", [2, 3, 1]),
        ("Per [2] and again [2] and [1][2].", [2, 1]),  # de-duplicated, first-mention order
        ("Unknown [9] and [0] but [3].", [3]),
        ("Mixed [4, 9, 1].", [4, 1]),
        ("No citations here.", []),
        ("Not citations: [a], [1a], [], [1.5], (1), {2}.", []),
        ("", []),
    ],
)
def test_cited_sources(answer: str, numbers: list[int]) -> None:
    sources = _numbered(4)
    cited = cited_sources(answer, sources)
    assert [s.number for s in cited] == numbers
    assert all(s in sources for s in cited)


def test_cited_sources_maps_to_source_objects() -> None:
    sources = _sources()
    assert cited_sources("Answer [2].", sources) == [sources[1]]
    assert sources[1].citation == "finance/fn-0-000002"
