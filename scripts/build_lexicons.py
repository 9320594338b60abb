"""Build datavault_dagster/domain/data/lexicon.json.gz from two well-kept offline resources (run once, committed):

- `wordfreq` (MIT; word frequencies of Wikipedia, subtitles, news, books, web text… per language): every word with
  a Zipf frequency >= MIN_ZIPF in one of LANGUAGES, with its highest Zipf frequency: how ordinary a word is.
- `names-dataset` (Apache-2.0; first and last names of 105 countries with their popularity rank per country): every
  first or last name ranked <= MAX_RANK in some country, with its best rank: how much a word is a name.

Neither package is needed at run time (names-dataset alone takes ~1 GB of memory to load); the detector reads the
compact file. Rebuild with `pip install wordfreq==3.1.1 names-dataset==3.3.1 && python scripts/build_lexicons.py`.
"""

from __future__ import annotations

import gzip
import json
import os
import pickle
import sys
import unicodedata
from pathlib import Path

LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "nb", "da", "sv", "fi", "pt", "pl", "tr", "cs", "ro", "hu", "id",
             "ms", "vi", "ca", "is", "sk", "sl", "lt", "lv", "fil")
MIN_ZIPF = 3.4
MAX_RANK = 3000
OUT = Path(__file__).resolve().parent.parent / "datavault_dagster" / "domain" / "data" / "lexicon.json.gz"


def _key(word: str) -> str:
    return unicodedata.normalize("NFC", word).casefold()


def words() -> dict[str, float]:
    import wordfreq

    out: dict[str, float] = {}
    for lang in LANGUAGES:
        for word, freq in wordfreq.get_frequency_dict(lang, wordlist="best").items():
            zipf = round(wordfreq.freq_to_zipf(freq), 2) if freq > 0 else 0.0
            if zipf < MIN_ZIPF:
                continue
            if not any(c.isalpha() for c in word) or " " in word:
                continue
            k = _key(word)
            if zipf > out.get(k, 0.0):
                out[k] = zipf
    return out


def names() -> tuple[dict[str, int], dict[str, int]]:
    import names_dataset

    folder = Path(names_dataset.__file__).parent / "v3"
    result = []
    for part in ("first_names", "last_names"):
        with gzip.open(folder / f"{part}.pkl.gz") as fh:
            table = pickle.load(fh)  # noqa: S301 - the package's own data file
        best: dict[str, int] = {}
        for name, info in table.items():
            ranks = [r for r in (info.get("rank") or {}).values() if r]
            if not ranks or min(ranks) > MAX_RANK or len(name) < 2 or not any(c.isalpha() for c in name):
                continue
            k = _key(name)
            best[k] = min(best.get(k, MAX_RANK + 1), min(ranks))
        del table
        result.append(best)
    return result[0], result[1]


def main() -> int:
    w = words()
    first, last = names()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    data = {"source": {"wordfreq": "3.1.1", "names-dataset": "3.3.1", "languages": LANGUAGES, "min_zipf": MIN_ZIPF,
                       "max_rank": MAX_RANK},
            "words": w, "first_names": first, "last_names": last}
    with gzip.open(OUT, "wt", encoding="utf-8", compresslevel=9) as fh:
        json.dump(data, fh, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    print(f"{len(w)} words, {len(first)} first names, {len(last)} last names -> {OUT} "
          f"({os.path.getsize(OUT) / 1e6:.1f} MB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
