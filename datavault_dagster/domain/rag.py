"""Retrieval ranking, prompt building and citations for answers over the anonymized vault."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

SYSTEM_PROMPT = (
    "You answer questions about records. Answer from the context; if it is not there, say you don't know. "
    "Cite the records you used with their numbers in square brackets, like [1]."
)


@dataclass(frozen=True)
class Hit:
    """One vector-search result: a chunk of a record and its distance (lower is closer)."""

    domain: str
    record_id: str
    chunk: int
    distance: float


@dataclass(frozen=True)
class Source:
    """A record opened from the vault to serve as context; `number` is what the LLM cites."""

    number: int
    domain: str
    record_id: str
    text: str

    @property
    def citation(self) -> str:
        """How an answer names this record: domain/record_id (producer ids are opaque, never PII)."""
        return f"{self.domain}/{self.record_id}"


@dataclass(frozen=True)
class Answer:
    """An LLM answer with the records it cites."""

    question: str  # the anonymized question, as the LLM saw it
    text: str
    citations: list[Source]
    sources: list[Source]
    model: str


def rank_records(hits: Iterable[Hit], k: int) -> list[Hit]:
    """Best chunk per record, closest first, at most k records."""
    best: dict[tuple[str, str], Hit] = {}
    for hit in hits:
        key = (hit.domain, hit.record_id)
        if key not in best or hit.distance < best[key].distance:
            best[key] = hit
    return sorted(best.values(), key=lambda h: (h.distance, h.domain, h.record_id))[:k]


def shorten(text: str, max_chars: int) -> str:
    """Cut text at a word boundary so the prompt stays within the small model's budget."""
    if len(text) <= max_chars:
        return text
    cut = text[:max_chars].rsplit(" ", 1)[0]
    return cut + " …"


def build_messages(question: str, sources: Sequence[Source], max_chars_per_source: int = 700) -> list[dict[str, str]]:
    """Chat messages: a plain system prompt, then numbered context and the (anonymized) question."""
    context = "\n".join(f"[{s.number}] {shorten(s.text, max_chars_per_source)}" for s in sources)
    user = f"Context:\n{context}\n\nQuestion: {question}\nAnswer briefly and cite the record numbers."
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


_CITE = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


_SUBJECT_TOKEN = re.compile(r"\b(?:P|ACCT|CARD)-[a-z2-7]{10}\b")


def _structured_part(text: str) -> str:
    # the record's own fields come before its free-text note (which may name clinicians or advisors)
    return re.split(r" (?:Advisor note|Note): ", text, maxsplit=1)[0]


def subject_tokens(text: str) -> set[str]:
    """Pseudonyms and account tokens in a text (the record's subject first of all)."""
    return set(_SUBJECT_TOKEN.findall(text))


def cited_sources(answer_text: str, sources: Sequence[Source]) -> list[Source]:
    """Sources the answer cites by [n], then sources it names by the subject's pseudonym; de-duplicated, in order.

    Small local models often name the pseudonymous person instead of writing [n]; that still grounds the answer
    in exactly the records that hold the pseudonym it repeats. Numbers that match no source are ignored.
    """
    by_number = {s.number: s for s in sources}
    seen: list[Source] = []
    for group in _CITE.findall(answer_text):
        for n in re.split(r"\s*,\s*", group):
            src = by_number.get(int(n))
            if src and src not in seen:
                seen.append(src)
    named = subject_tokens(answer_text)
    for src in sources:
        if src not in seen and named & subject_tokens(_structured_part(src.text)):
            seen.append(src)
    return seen
