"""How ordinary a word is, and how much it is a person's name, in many languages.

Read from `data/lexicon.json.gz`, built offline by `scripts/build_lexicons.py` from `wordfreq` (word frequencies of
26 languages) and `names-dataset` (first and last names of 105 countries, ranked by popularity per country). Names
are frequent words in their own language's text ("Ingrid" has a Zipf frequency of 4.2 in Norwegian), and many
words turn up as someone's name somewhere ("Bei", "Street"), so neither list alone decides:

- `ordinary(word)`: frequent in some language (Zipf >= 3.4) and not a popular name (top 500 of a country), unless
  very frequent (>= 5.0) and not among a country's top 20 names;
- `name_like(word)`: ranked in the top 3,000 first or last names of some country and not ordinary;
- `plain(word)`: a frequent word that is not a name at all (or so frequent that it does not matter): what NER takes
  into a name by mistake ("Termin bei", "Bei Fragen", "Patientin").
"""

from __future__ import annotations

import gzip
import json
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

PATH = Path(__file__).resolve().parent / "data" / "lexicon.json.gz"
ORDINARY_ZIPF = 3.4
VERY_FREQUENT_ZIPF = 5.0
POPULAR_NAME_RANK = 500
NAME_RANK = 3000
TOP_NAME_RANK = 20
PLAIN_NAME_RANK = 200


def key(word: str) -> str:
    """The lexicon's key of a word: NFC, case-folded, without possessive or edge punctuation."""
    word = word.strip(".,;:!?()[]{}\"'’")
    for suffix in ("'s", "’s"):
        if word.endswith(suffix):
            word = word[: -len(suffix)]
    return unicodedata.normalize("NFC", word).casefold()


@dataclass(frozen=True)
class Lexicon:
    """Zipf frequencies of words and best popularity ranks of names."""

    words: dict[str, float]
    first_names: dict[str, int]
    last_names: dict[str, int]

    def zipf(self, word: str) -> float:
        return self.words.get(key(word), 0.0)

    def name_rank(self, word: str) -> int | None:
        k = key(word)
        ranks = [r for r in (self.first_names.get(k), self.last_names.get(k)) if r is not None]
        return min(ranks) if ranks else None

    def ordinary(self, word: str) -> bool:
        zipf = self.zipf(word)
        if zipf < ORDINARY_ZIPF:
            return False
        rank = self.name_rank(word)
        # "Carlos" (Zipf 5.1), "Hana" (5.8): names among the 20 most popular of a country stay names
        return rank is None or rank > POPULAR_NAME_RANK or (zipf >= VERY_FREQUENT_ZIPF and rank > TOP_NAME_RANK)

    def name_like(self, word: str) -> bool:
        rank = self.name_rank(word)
        return rank is not None and rank <= NAME_RANK and not self.ordinary(word)

    def plain(self, word: str) -> bool:
        zipf = self.zipf(word)
        if zipf < ORDINARY_ZIPF:
            return False
        rank = self.name_rank(word)
        # "bei" (Zipf 6.7, a name ranked 343rd somewhere) is plain; "Andre" (6.3, 63rd), "Will" (6.5, 138th) are not
        return rank is None or rank > NAME_RANK or (zipf >= VERY_FREQUENT_ZIPF and rank > PLAIN_NAME_RANK)


_lock = threading.Lock()
_shared: Lexicon | None = None


def shared() -> Lexicon:
    """The process-wide lexicon (about 1 s to load, on first use)."""
    global _shared
    if _shared is None:
        with _lock:
            if _shared is None:
                with gzip.open(PATH, "rt", encoding="utf-8") as fh:
                    data = json.load(fh)
                _shared = Lexicon(data["words"], data["first_names"], data["last_names"])
    return _shared
