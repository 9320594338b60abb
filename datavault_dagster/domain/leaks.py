"""The leak guard's one matcher: does an anonymized record still hold a raw identifier or a PII pattern?

The guard before sealing and the blocking checks after it call the same functions with the same identifier
lists (`record_leaks`), so a record that would fail a check is quarantined before it is sealed, and a check
fails only for something that truly slipped through. Matching is whole-value and case-insensitive (`detect.joins`
says where a value ends): a city "Lake" is not found inside "Lakewood", a name part "Ann" not inside "Annual",
but a phone before "_", a superscript or a Chinese character is found. Findings
name the field and the kind, never the value.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from .detect import CARDLIKE, EMAIL, PHONE, SSN, fold, is_card, whole_at

OWN_MIN_LEN = 3  # a record's own identifiers, single name parts included ("Ann" in her own note is her)
BATCH_MIN_LEN = 4  # other records' whole identifiers (full names, numbers, streets, cities)


@dataclass(frozen=True)
class Leak:
    """One finding: where (a column, or a path in the document such as `transactions.2.merchant`) and what kind."""

    field: str
    kind: str  # own_identifier, batch_identifier, email, ssn, phone, card


class IdentifierMatcher:
    """Whole-value occurrences of many identifiers at once (one Aho-Corasick automaton, via pyahocorasick)."""

    def __init__(self, values: Iterable[str], min_len: int = BATCH_MIN_LEN) -> None:
        import ahocorasick

        self.values = sorted({fold(v.strip()) for v in values if len(v.strip()) >= min_len})
        self._automaton = ahocorasick.Automaton()
        for value in self.values:
            self._automaton.add_word(value, len(value))
        if self.values:
            self._automaton.make_automaton()

    def __len__(self) -> int:
        return len(self.values)

    def search(self, text: str) -> bool:
        """True if any identifier occurs in `text` as a whole value (not inside a longer word or number)."""
        if not self.values or not text:
            return False
        folded = fold(text)
        for end, length in self._automaton.iter(folded):
            start, stop = end + 1 - length, end + 1
            if whole_at(folded, start, stop, folded[start:stop]):
                return True
        return False


def pattern_kinds(text: str) -> list[str]:
    """PII patterns still in a text (email, SSN, phone, card by Luhn): the fail-closed part of the guard."""
    kinds = [kind for kind, pattern in (("email", EMAIL), ("ssn", SSN), ("phone", PHONE)) if pattern.search(text)]
    if any(is_card(m.group(0)) for m in CARDLIKE.finditer(text)):
        kinds.append("card")
    return kinds


def string_leaves(doc: Any) -> Iterator[tuple[str, str]]:
    """(path, text) of every string in a JSON-like document, keys included as their own path (iterative)."""
    stack: list[tuple[str, Any]] = [("", doc)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, str):
            yield path or "<record>", node
        elif isinstance(node, dict):
            for key, value in node.items():
                child = f"{path}.{key}" if path else str(key)
                yield child, str(key)
                stack.append((child, value))
        elif isinstance(node, list):
            stack.extend((f"{path}.{i}" if path else str(i), value) for i, value in enumerate(node))


def text_leaks(field: str, text: str, own: IdentifierMatcher | None, batch: IdentifierMatcher | None,
               patterns: bool = True) -> list[Leak]:
    """Findings in one text (`patterns=False` for values DataVault makes itself: a stream id's digits can pass Luhn)."""
    found = [Leak(field, kind) for kind in pattern_kinds(text)] if patterns else []
    if own is not None and own.search(text):
        found.append(Leak(field, "own_identifier"))
    if batch is not None and batch.search(text):
        found.append(Leak(field, "batch_identifier"))
    return found


def record_id_leaks(record_id: str, own: IdentifierMatcher | None, batch: IdentifierMatcher | None) -> list[Leak]:
    """Findings in a record id (the one plaintext column a producer chooses)."""
    return text_leaks("record_id", record_id, own, batch)


def record_leaks(record_id: str, document: Any, own: IdentifierMatcher | None,
                 batch: IdentifierMatcher | None) -> list[Leak]:
    """Every finding in what the vault keeps of a record: its record id column and its anonymized document."""
    found = record_id_leaks(record_id, own, batch)
    for path, text in string_leaves(document):
        found += text_leaks(path, text, own, batch)
    return found


def describe(leaks: Iterable[Leak]) -> str:
    """`field:kind` pairs, sorted and unique (a reason detail that holds no value)."""
    return ",".join(sorted({f"{leak.field}:{leak.kind}" for leak in leaks}))
