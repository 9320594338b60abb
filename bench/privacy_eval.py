"""PII detection quality: our detector against Presidio's default AnalyzerEngine, per labelled source.

    python bench/privacy_eval.py                                   # every source present, both systems
    python bench/privacy_eval.py --sources generator tune --limit 200 --systems datavault
    python bench/privacy_eval.py --by genre --json /tmp/privacy.json
    python bench/privacy_eval.py --misses PERSON                   # missed spans of the `tune` source only
    python bench/privacy_eval.py --throughput 1000                 # records/s of Anonymizer.anonymize_record

Sources, each scored on its own and never merged (format and entities: bench/privacy_data/LABELS.md):
- `handwritten`, `faker_locales`: `bench/privacy_data/<source>/texts.jsonl`, held out. Read their aggregate
  figures, never their texts: this harness prints no text of them, and a source that is missing or not (yet)
  well-formed is skipped with a message.
- `tune`: `bench/privacy_data/tune/texts.jsonl`, the set the detector is tuned on (`--misses` shows its misses).
- `generator`: built in memory from `simulations/pii_eval.py`, 250 texts of its "dev" templates (seed 1) and 250
  of its "holdout" templates (seed 2), interleaved, so `--limit` keeps both. Its labels map onto LABELS.md's
  (`GENERATOR_ENTITIES`): SSN, MRN (which also carries member and policy ids) -> ID; ROUTING, ACCOUNT (IBANs
  included) -> ACCOUNT; its ADDRESS spans already hold "street, city", so a city inside an address is ADDRESS;
  LAST4 (the last four digits of a card, "card ending in 4821") is *neutral*: not PII under LABELS.md (it
  identifies no card and no person), so it is neither required for recall nor a false positive when a detector
  flags it. `genre` is the generator's kind (clinical, advisor, message, form, question), `template` its
  template set. The detector was tuned on it, so it is named "tuned on" in every table, like `tune`.

Systems:
- `datavault`: `shared_detector().detect_many(batch)` on the text alone (no record fields), `--batch` texts at a
  time (NER runs over the batch as one spaCy pipe; with no record the result is the same as per-text `detect`).
- `presidio`: `AnalyzerEngine` with its default recognizer registry (the recognizers the registry enables by
  default for "en") and default score threshold (0), on the offline en_core_web_md. Its NLP configuration is
  Presidio's own `conf/default.yaml` with the model swapped for the offline path, so its NER keeps Presidio's
  default `labels_to_ignore` (ORGANIZATION, CARDINAL, MONEY ...). Every result counts, whatever its type.

Scoring (character offsets; types are ignored: a span is hidden whatever label hid it):
- tokens are `\\w+` runs; a token is *covered* when a detected span overlaps it by at least one character;
- the *identifying tokens* of a labelled span are its tokens minus `GENERIC_WORDS` (see there; in a PERSON span
  only `PERSON_GENERIC_WORDS`, the name particles); a labelled span is *caught* when all of its identifying
  tokens are covered (so a span with none is caught). Span recall per entity, over all spans ("all") and over
  the `CORE` entities; token recall = share of identifying tokens covered;
- precision = share of detected spans that overlap at least one labelled span of any entity (overlapping
  detections are first merged into one, since Presidio returns overlapping results and ours never does; a
  detection that touches only a neutral region is not counted); F2 = 5PR / (4P + R) with R the overall span
  recall;
- ordinary words kept = share of the tokens outside every labelled span (and neutral region) that contain a
  letter which no detected span covers (what the redacted text still reads like);
- texts/s: detection time only; model load (with one warm-up call) is timed and printed separately.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `python bench/privacy_eval.py` scores this checkout's detector

DATA = ROOT / "bench" / "privacy_data"
FILE_SOURCES = ("handwritten", "faker_locales", "tune")
SOURCES = (*FILE_SOURCES, "generator")
TUNED = frozenset({"tune", "generator"})  # the detector was tuned on these: say so next to every figure
MISSES_SOURCE = "tune"  # the only source whose texts --misses may print
SYSTEMS = ("datavault", "presidio")

# LABELS.md's entities (the same tuple as bench/privacy_data/markup.py) and the ones every figure is about
ENTITIES = ("PERSON", "ADDRESS", "ZIP", "PHONE", "ID", "DATE", "AGE", "EMAIL", "CARD", "ACCOUNT", "IP", "URL")
CORE = ("PERSON", "ADDRESS", "ZIP", "PHONE", "ID", "DATE", "AGE")

GENERATOR_SEEDS = {"dev": 1, "holdout": 2}  # template set -> seed (the old bench's defaults)
GENERATOR_TEXTS = 500
# simulations.pii_eval labels -> LABELS.md entities; None = neutral (neither required nor a false positive)
GENERATOR_ENTITIES: dict[str, str | None] = {
    "PERSON": "PERSON", "DATE": "DATE", "AGE": "AGE", "PHONE": "PHONE", "EMAIL": "EMAIL", "ADDRESS": "ADDRESS",
    "CITY": "ADDRESS", "ZIP": "ZIP", "SSN": "ID", "MRN": "ID", "ACCOUNT": "ACCOUNT", "ROUTING": "ACCOUNT",
    "CARD": "CARD", "IP": "IP", "URL": "URL", "LAST4": None,
}

# --- generic words -------------------------------------------------------------------------------------------
# Words inside a labelled span that identify nobody, so a detector need not cover them for the span to count as
# caught (compared case-folded, so "Straße" and "STRASSE" both match "strasse"). Leaving "Street" of
# "12 Elm Street" or "years old" of "82 years old" readable leaks nothing; leaving "Elm" or "82" does.

_STREET_AND_UNIT_WORDS = (
    # English street types, directions, units, post boxes, APO/DPO
    "street", "st", "road", "rd", "avenue", "ave", "av", "lane", "ln", "drive", "dr", "court", "ct", "place", "pl",
    "way", "boulevard", "blvd", "terrace", "terr", "crescent", "cres", "close", "square", "sq", "parkway", "pkwy",
    "highway", "hwy", "circle", "cir", "trail", "trl", "alley", "mews", "row", "route", "rte", "rr",
    "north", "south", "east", "west", "n", "s", "e", "w", "ne", "nw", "se", "sw",
    "apt", "apartment", "flat", "unit", "suite", "ste", "floor", "fl", "level", "lvl", "room", "rm", "building",
    "bldg", "block", "blk", "no", "nr", "nº", "number", "num", "box", "po", "p", "o", "c", "pmb", "bus", "attn",
    "apo", "fpo", "dpo", "psc", "cmr",
    # German
    "straße", "strasse", "str", "weg", "platz", "pl", "gasse", "allee", "ring", "damm", "ufer", "chaussee",
    "steig", "pfad", "markt", "postfach", "stock", "og", "eg", "hinterhaus", "vorderhaus", "wohnung", "whg",
    # Nordic (Norwegian, Danish, Swedish, Finnish)
    "gate", "gata", "gatan", "vei", "veien", "vegen", "veg", "vej", "vejen", "gade", "gaden", "väg", "vägen",
    "allé", "alle", "plads", "plass", "torg", "torget", "torv", "stig", "stien", "gränd", "backe", "lgh",
    "lägenhet", "leilighet", "sal", "tv", "th", "mf", "postboks", "box", "katu", "tie", "kuja", "polku", "tori",
    "kaari", "rinne",
    # French
    "rue", "avenue", "boulevard", "bd", "chemin", "ch", "allée", "allee", "impasse", "imp", "quai", "place",
    "route", "cours", "square", "voie", "passage", "faubourg", "fg", "lieu", "dit", "résidence", "residence",
    "bâtiment", "batiment", "bât", "bat", "escalier", "esc", "appartement", "appt", "app", "étage", "etage",
    "porte", "bp", "cs", "cedex",
    # Italian
    "via", "viale", "piazza", "p", "za", "pza", "corso", "largo", "vicolo", "strada", "contrada", "località",
    "localita", "loc", "frazione", "fraz", "piano", "scala", "sc", "interno", "int", "casella", "postale", "cp",
    "snc",
    # Spanish, Catalan, Portuguese
    "calle", "c", "cl", "avenida", "avda", "plaza", "pza", "paseo", "camino", "carretera", "ctra", "ronda",
    "travesía", "travesia", "glorieta", "piso", "puerta", "pta", "bajo", "izquierda", "izq", "izda", "derecha",
    "dcha", "apartado", "correos", "carrer", "avinguda", "passeig", "plaça", "rua", "r", "travessa", "praça",
    "praca", "alameda", "estrada", "apto", "apartamento", "andar", "bloco", "lote", "caixa", "sn",
    # Dutch, Flemish
    "laan", "straat", "str", "plein", "gracht", "kade", "singel", "dijk", "steeg", "pad", "postbus", "hs", "bis",
    "ter",
    # Polish
    "ul", "ulica", "al", "aleja", "plac", "os", "osiedle", "lok", "lokal", "m",
    # more unit words, and street words of other languages (Romanian, Turkish, Malay, Vietnamese)
    "depto", "dpto", "departamento", "ap", "house", "bl", "bloc", "cad", "caddesi", "sk", "sok", "sokak", "mah",
    "mahallesi", "jalan", "jln", "lorong", "số", "ngõ", "ngách", "hẻm", "đường", "phố", "phường", "quận", "huyện",
    "xã", "thôn",
)
_NAME_PARTICLES = (
    # particles of names ("Ludwig van Beethoven", "María de la Cruz y Ortega"), also in street names
    "de", "du", "des", "la", "le", "les", "del", "della", "delle", "dei", "degli", "di", "da", "das", "do", "dos",
    "van", "der", "den", "ter", "von", "zu", "y", "e",
)
_STOPWORDS = (
    # small words that join the parts of a date or an address ("the 5th of May", "5 de mayo", "den 5. Mai")
    "the", "of", "and", "at", "on", "in", "zum", "zur", "i", "et", "und", "och", "og", "en", "el", "al", "am",
    "im", "à", "a",
)
_MONTHS_AND_WEEKDAYS = (
    # English
    "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
    "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
    "mon", "tue", "tues", "wed", "thu", "thur", "thurs", "fri", "sat", "sun",
    # German
    "januar", "jänner", "februar", "märz", "maerz", "mai", "juni", "juli", "oktober", "dezember",
    "mär", "mrz", "okt", "dez", "montag", "dienstag", "mittwoch", "donnerstag", "freitag", "samstag",
    "sonnabend", "sonntag", "mo", "di", "mi", "do", "fr", "sa", "so",
    # French
    "janvier", "février", "fevrier", "mars", "avril", "juin", "juillet", "août", "aout", "septembre", "octobre",
    "novembre", "décembre", "decembre", "janv", "févr", "fevr", "fév", "fev", "avr", "juil", "déc",
    "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche", "lun", "mer", "jeu", "ven", "sam",
    "dim",
    # Spanish
    "enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "setiembre",
    "octubre", "noviembre", "diciembre", "ene", "abr", "ago", "set", "dic",
    "lunes", "martes", "miércoles", "miercoles", "jueves", "viernes", "sábado", "sabado", "domingo",
    "mié", "mie", "jue", "vie", "sáb", "sab", "dom",
    # Italian
    "gennaio", "febbraio", "aprile", "maggio", "giugno", "luglio", "settembre", "ottobre", "dicembre",
    "gen", "mag", "giu", "lug", "ott", "lunedì", "lunedi", "martedì", "martedi", "mercoledì", "mercoledi",
    "giovedì", "giovedi", "venerdì", "venerdi", "sabato", "domenica",
    # Dutch
    "januari", "februari", "maart", "mei", "augustus", "mrt", "maandag", "dinsdag", "woensdag", "donderdag",
    "vrijdag", "zaterdag", "zondag", "ma", "wo", "vr", "za", "zo",
    # Swedish, Danish, Norwegian
    "maj", "augusti", "marts", "desember", "måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag",
    "mandag", "tirsdag", "lørdag", "søndag",
    # Finnish (nominative and the partitive of dates: "5. toukokuuta")
    "tammikuu", "helmikuu", "maaliskuu", "huhtikuu", "toukokuu", "kesäkuu", "heinäkuu", "elokuu", "syyskuu",
    "lokakuu", "marraskuu", "joulukuu", "tammikuuta", "helmikuuta", "maaliskuuta", "huhtikuuta", "toukokuuta",
    "kesäkuuta", "heinäkuuta", "elokuuta", "syyskuuta", "lokakuuta", "marraskuuta", "joulukuuta",
    "maanantai", "tiistai", "keskiviikko", "torstai", "perjantai", "lauantai", "sunnuntai",
    # Portuguese and Polish (Faker locales of the generator)
    "janeiro", "fevereiro", "março", "marco", "maio", "junho", "julho", "setembro", "outubro", "novembro",
    "dezembro", "segunda", "terça", "terca", "quarta", "quinta", "sexta", "feira",
    "styczeń", "stycznia", "luty", "lutego", "marzec", "marca", "kwiecień", "kwietnia", "maja", "czerwiec",
    "czerwca", "lipiec", "lipca", "sierpień", "sierpnia", "wrzesień", "września", "październik", "października",
    "listopad", "listopada", "grudzień", "grudnia",
    # times of day in a timestamp
    "am", "pm", "a", "m", "h", "uhr", "um", "kl", "klo", "utc", "gmt",
)
_AGE_UNITS = (
    "year", "years", "yr", "yrs", "old", "yo", "y", "o", "aged", "age", "ages", "month", "months", "mo", "mos",
    "week", "weeks", "wk", "wks", "day", "days", "jahr", "jahre", "jahren", "alt", "ans", "an", "âgé", "âgée",
    "age", "año", "años", "anos", "anni", "anno", "jaar", "jaren", "oud", "år", "gammel", "gammal", "gamla",
    "vuotias", "vuotta", "lat", "lata", "j", "jährig", "jährige", "jähriger", "jährigen", "tuổi", "만",
)
_CUE_WORDS = (
    # cue words that some sources keep inside an identifier span ("MRN-0012345", "555-0100 ext. 12")
    "mrn", "ssn", "id", "ref", "ext", "extn", "x", "tel",
)
GENERIC_WORDS = frozenset(w.casefold() for w in (
    *_STREET_AND_UNIT_WORDS, *_NAME_PARTICLES, *_STOPWORDS, *_MONTHS_AND_WEEKDAYS, *_AGE_UNITS, *_CUE_WORDS,
))
# In a PERSON span only the name particles are generic: "Lane", "Court", "May", "June", "Al" are names there.
PERSON_GENERIC_WORDS = frozenset(w.casefold() for w in _NAME_PARTICLES)

TOKEN = re.compile(r"\w+")


# --- data ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Label:
    """One labelled span: [start, end) of the text."""

    start: int
    end: int
    entity: str


@dataclass(frozen=True)
class Doc:
    """One labelled text. `neutral` regions are neither required nor counted against a detector."""

    id: str
    text: str = field(repr=False)
    labels: tuple[Label, ...] = field(repr=False)
    genre: str = ""
    lang: str = ""
    template: str = ""
    neutral: tuple[tuple[int, int], ...] = ()


class SourceUnavailable(Exception):
    """A source that cannot be scored now (missing, empty or malformed); the message names no text."""


def parse_record(record: dict, where: str) -> Doc:
    """A JSON-lines record of LABELS.md -> Doc, checking its spans (errors name the place, never the text)."""
    if not isinstance(record, dict) or not isinstance(record.get("text"), str):
        raise SourceUnavailable(f"{where}: no text")
    text, labels = record["text"], []
    for k, span in enumerate(record.get("spans") or []):
        try:
            start, end, entity = int(span["start"]), int(span["end"]), span["entity"]
        except (KeyError, TypeError, ValueError):
            raise SourceUnavailable(f"{where}: span {k} lacks start/end/entity") from None
        if entity not in ENTITIES:
            raise SourceUnavailable(f"{where}: span {k} has unknown entity {entity!r}")
        if not 0 <= start < end <= len(text):
            raise SourceUnavailable(f"{where}: span {k} ({entity}) has offsets outside the text")
        if "text" in span and text[start:end] != span["text"]:
            raise SourceUnavailable(f"{where}: span {k} ({entity}): its text differs from the offsets'")
        labels.append(Label(start, end, entity))
    return Doc(str(record.get("id", where)), text, tuple(labels), str(record.get("genre") or ""),
               str(record.get("lang") or ""))


def load_file_source(name: str, limit: int | None = None, data: Path = DATA) -> list[Doc]:
    """The first `limit` texts of bench/privacy_data/<name>/texts.jsonl."""
    path = data / name / "texts.jsonl"
    if not path.is_file():
        raise SourceUnavailable(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} not found")
    docs = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if limit is not None and len(docs) >= limit:
                break
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise SourceUnavailable(f"{name}/texts.jsonl line {n}: not JSON ({exc.msg})") from None
            docs.append(parse_record(record, f"{name}/texts.jsonl line {n}"))
    if not docs:
        raise SourceUnavailable(f"{name}/texts.jsonl holds no text")
    return docs


def generator_docs(limit: int | None = None) -> list[Doc]:
    """`GENERATOR_TEXTS` texts of simulations.pii_eval (both template sets, interleaved), labels mapped."""
    from simulations.pii_eval import generate

    total = GENERATOR_TEXTS if limit is None else min(limit, GENERATOR_TEXTS)
    per_set = math.ceil(total / len(GENERATOR_SEEDS))
    sets = {ts: generate(per_set, seed=seed, template_set=ts) for ts, seed in GENERATOR_SEEDS.items()}
    docs = []
    for i in range(per_set):
        for ts, examples in sets.items():
            ex = examples[i]
            labels, neutral = [], []
            for g in ex.spans:
                entity = GENERATOR_ENTITIES[g.label]
                if entity is None:
                    neutral.append((g.start, g.end))
                else:
                    labels.append(Label(g.start, g.end, entity))
            docs.append(Doc(f"generator-{ts}-{i + 1}", ex.text, tuple(labels), ex.kind, "en", ts, tuple(neutral)))
    return docs[:total]


def load_source(name: str, limit: int | None = None) -> list[Doc]:
    return generator_docs(limit) if name == "generator" else load_file_source(name, limit)


# --- scoring -----------------------------------------------------------------------------------------------------

Interval = tuple[int, int]


def overlaps(a: Interval, b: Interval) -> bool:
    """Whether two half-open intervals share at least one character."""
    return a[0] < b[1] and b[0] < a[1]


def merge(spans: Iterable[Interval]) -> list[Interval]:
    """Detected spans with the overlapping ones merged (touching ones stay apart); empty spans dropped."""
    out: list[list[int]] = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if out and start < out[-1][1]:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return [(s, e) for s, e in out]


def is_generic(word: str, entity: str) -> bool:
    """Whether a token of a labelled span of `entity` identifies nobody (see GENERIC_WORDS)."""
    return word.casefold() in (PERSON_GENERIC_WORDS if entity == "PERSON" else GENERIC_WORDS)


def identifying_tokens(text: str, label: Label) -> list[Interval]:
    """The \\w+ tokens of a labelled span, minus the generic words."""
    return [(m.start(), m.end()) for m in TOKEN.finditer(text, label.start, label.end)
            if not is_generic(m.group(), label.entity)]


def f2(precision: float, recall: float) -> float:
    """F-beta with beta = 2 (recall weighs four times as much as precision); nan when either is undefined."""
    if math.isnan(precision) or math.isnan(recall):
        return float("nan")
    if precision + recall == 0:
        return 0.0
    return 5 * precision * recall / (4 * precision + recall)


def _share(part: int, whole: int) -> float:
    return part / whole if whole else float("nan")


@dataclass
class EntityTally:
    """Counts of one entity (or a group of entities)."""

    spans: int = 0
    caught: int = 0
    tokens: int = 0
    tokens_covered: int = 0

    @property
    def span_recall(self) -> float:
        return _share(self.caught, self.spans)

    @property
    def token_recall(self) -> float:
        return _share(self.tokens_covered, self.tokens)

    def add(self, other: EntityTally) -> None:
        self.spans += other.spans
        self.caught += other.caught
        self.tokens += other.tokens
        self.tokens_covered += other.tokens_covered

    def as_dict(self) -> dict:
        return {"spans": self.spans, "caught": self.caught, "span_recall": _num(self.span_recall),
                "tokens": self.tokens, "tokens_covered": self.tokens_covered, "token_recall": _num(self.token_recall)}


@dataclass
class Tally:
    """Everything one system scored on a set of texts."""

    entities: dict[str, EntityTally] = field(default_factory=lambda: defaultdict(EntityTally))
    texts: int = 0
    detected: int = 0  # merged detected spans, neutral-only ones left out
    detected_hits: int = 0  # of which overlap a labelled span
    words: int = 0  # tokens with a letter outside every labelled span
    words_kept: int = 0  # of which no detection covers
    seconds: float = 0.0  # detection time

    def group(self, entities: Iterable[str] | None = None) -> EntityTally:
        """The entities' counts summed (all entities when None)."""
        out = EntityTally()
        for entity, t in self.entities.items():
            if entities is None or entity in entities:
                out.add(t)
        return out

    @property
    def all(self) -> EntityTally:
        return self.group()

    @property
    def core(self) -> EntityTally:
        return self.group(CORE)

    @property
    def precision(self) -> float:
        return _share(self.detected_hits, self.detected)

    @property
    def f2(self) -> float:
        return f2(self.precision, self.all.span_recall)

    @property
    def words_kept_share(self) -> float:
        return _share(self.words_kept, self.words)

    @property
    def texts_per_s(self) -> float:
        return self.texts / self.seconds if self.seconds > 0 else float("nan")

    def min_core(self) -> tuple[str, float] | None:
        """The core entity (present here) with the lowest span recall, and that recall."""
        present = [(t.span_recall, e) for e, t in self.entities.items() if e in CORE and t.spans]
        if not present:
            return None
        recall, entity = min(present)
        return entity, recall

    def add(self, other: Tally) -> None:
        for entity, t in other.entities.items():
            self.entities[entity].add(t)
        self.texts += other.texts
        self.detected += other.detected
        self.detected_hits += other.detected_hits
        self.words += other.words
        self.words_kept += other.words_kept
        self.seconds += other.seconds

    def as_dict(self) -> dict:
        low = self.min_core()
        return {
            "texts": self.texts,
            "entities": {e: self.entities[e].as_dict() for e in ENTITIES if e in self.entities},
            "all": self.all.as_dict(), "core": self.core.as_dict(),
            "min_core": {"entity": low[0], "span_recall": _num(low[1])} if low else None,
            "detected": self.detected, "detected_hits": self.detected_hits, "precision": _num(self.precision),
            "f2": _num(self.f2), "words": self.words, "words_kept": self.words_kept,
            "words_kept_share": _num(self.words_kept_share), "seconds": round(self.seconds, 4),
            "texts_per_s": _num(self.texts_per_s),
        }


@dataclass(frozen=True)
class SpanResult:
    """How one labelled span fared: caught, and the identifying tokens left uncovered."""

    label: Label
    caught: bool
    left: tuple[Interval, ...]


def score_text(
    text: str, labels: Sequence[Label], detected: Iterable[Interval], neutral: Sequence[Interval] = ()
) -> tuple[Tally, list[SpanResult]]:
    """Score one system's detections (character intervals, any type) on one labelled text."""
    found = merge(detected)
    tally, results = Tally(texts=1), []

    def covered(token: Interval) -> bool:
        return any(overlaps(token, d) for d in found)

    for label in labels:
        ident = identifying_tokens(text, label)
        left = tuple(t for t in ident if not covered(t))
        t = tally.entities[label.entity]
        t.spans += 1
        t.caught += not left
        t.tokens += len(ident)
        t.tokens_covered += len(ident) - len(left)
        results.append(SpanResult(label, not left, left))

    spans = [(lab.start, lab.end) for lab in labels]
    for d in found:
        if any(overlaps(d, s) for s in spans):
            tally.detected += 1
            tally.detected_hits += 1
        elif not any(overlaps(d, n) for n in neutral):
            tally.detected += 1

    for m in TOKEN.finditer(text):
        token = (m.start(), m.end())
        if not any(c.isalpha() for c in m.group()) or any(overlaps(token, s) for s in (*spans, *neutral)):
            continue
        tally.words += 1
        tally.words_kept += not covered(token)
    return tally, results


def _num(x: float) -> float | None:
    return None if math.isnan(x) else round(x, 4)


# --- systems ---------------------------------------------------------------------------------------------------

Detect = Callable[[Sequence[str]], list[list[Interval]]]
WARM_UP = "Warm-up: Jane Doe, 12 Elm Street, Springfield, 555-201-3344, jane@example.com, born 3 May 1970."


def load_datavault(batch: int) -> Detect:
    """Our detector on the text alone; `batch` texts per detect_many call."""
    from datavault_dagster.domain.detect import shared_detector

    detector = shared_detector().load()
    detector.detect(WARM_UP)

    def detect(texts: Sequence[str]) -> list[list[Interval]]:
        out: list[list[Interval]] = []
        for i in range(0, len(texts), batch):
            out += [[(s.start, s.end) for s in spans] for spans in detector.detect_many(texts[i:i + batch])]
        return out

    return detect


def presidio_configuration() -> dict:
    """Presidio's default NLP configuration (its conf/default.yaml), with the offline en_core_web_md."""
    import presidio_analyzer
    import yaml

    from datavault_dagster.domain.detect import spacy_model_path

    conf = yaml.safe_load((Path(presidio_analyzer.__file__).parent / "conf" / "default.yaml").read_text())
    conf["models"] = [{"lang_code": "en", "model_name": spacy_model_path()}]
    return conf


def load_presidio() -> Detect:
    """Presidio's AnalyzerEngine with its default registry and threshold, offline."""
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    from datavault_dagster.domain.detect import offline_tldextract

    offline_tldextract()
    nlp = NlpEngineProvider(nlp_configuration=presidio_configuration()).create_engine()
    engine = AnalyzerEngine(nlp_engine=nlp, supported_languages=["en"])
    engine.analyze(WARM_UP, language="en")

    def detect(texts: Sequence[str]) -> list[list[Interval]]:
        return [[(r.start, r.end) for r in engine.analyze(text, language="en")] for text in texts]

    return detect


# --- running and reporting -------------------------------------------------------------------------------------


@dataclass
class SourceRun:
    """One source scored by every system: per-text tallies and span results, kept for the breakdowns."""

    name: str
    docs: list[Doc]
    tallies: dict[str, list[Tally]] = field(default_factory=dict)
    results: dict[str, list[list[SpanResult]]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def total(self, system: str, docs: Iterable[int] | None = None) -> Tally:
        out = Tally()
        for i in range(len(self.docs)) if docs is None else docs:
            out.add(self.tallies[system][i])
        if docs is None:
            out.seconds = self.seconds[system]
        return out

    @property
    def title(self) -> str:
        return f"{self.name} (tuned on)" if self.name in TUNED else self.name


def run_source(name: str, docs: list[Doc], systems: dict[str, Detect]) -> SourceRun:
    run = SourceRun(name, docs)
    texts = [d.text for d in docs]
    for system, detect in systems.items():
        t = time.perf_counter()
        detected = detect(texts)
        run.seconds[system] = time.perf_counter() - t
        scored = [score_text(d.text, d.labels, found, d.neutral) for d, found in zip(docs, detected, strict=True)]
        run.tallies[system] = [s[0] for s in scored]
        run.results[system] = [s[1] for s in scored]
    return run


def _f(x: float) -> str:
    return "–" if math.isnan(x) else f"{x:.3f}"


def _rate(x: float) -> str:
    return "–" if math.isnan(x) else f"{x:.1f}"


def source_table(run: SourceRun) -> str:
    systems = list(run.tallies)
    totals = {s: run.total(s) for s in systems}
    first = totals[systems[0]]
    spans = sum(len(d.labels) for d in run.docs)
    head = ["entity", "n spans"]
    for s in systems:
        head += [f"{s} span recall", f"{s} token recall"]
    lines = [f"### {run.title}: {len(run.docs)} texts, {spans} labelled spans", "",
             "| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    rows = [(e, lambda t, e=e: t.entities[e] if e in t.entities else EntityTally())
            for e in ENTITIES if e in first.entities]
    rows += [("all", lambda t: t.all), ("core", lambda t: t.core)]
    for name, pick in rows:
        cells = [name, str(pick(first).spans)]
        for s in systems:
            t = pick(totals[s])
            cells += [_f(t.span_recall), _f(t.token_recall)]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    for s in systems:
        t = totals[s]
        lines.append(f"- {s}: precision {_f(t.precision)} ({t.detected_hits}/{t.detected} detected spans), "
                     f"F2 {_f(t.f2)}, ordinary words kept {_f(t.words_kept_share)} ({t.words_kept}/{t.words}), "
                     f"{_rate(t.texts_per_s)} texts/s")
    return "\n".join(lines)


def breakdown_table(run: SourceRun, key: str) -> str:
    groups: dict[str, list[int]] = defaultdict(list)
    for i, d in enumerate(run.docs):
        groups[getattr(d, key) or "(none)"].append(i)
    systems = list(run.tallies)
    head = [key, "texts", "spans"]
    for s in systems:
        head += [f"{s} recall", f"{s} core", f"{s} precision", f"{s} words kept"]
    lines = [f"#### {run.title} by {key}", "", "| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for group in sorted(groups):
        idx = groups[group]
        cells = [group, str(len(idx)), str(sum(len(run.docs[i].labels) for i in idx))]
        for s in systems:
            t = run.total(s, idx)
            cells += [_f(t.all.span_recall), _f(t.core.span_recall), _f(t.precision), _f(t.words_kept_share)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary_table(runs: Sequence[SourceRun]) -> str:
    head = ["source", "system", "span recall", "core recall", "min core entity", "precision", "F2", "words kept",
            "texts/s"]
    lines = ["### Summary", "", "| " + " | ".join(head) + " |", "|---|---|" + "---:|" * (len(head) - 2)]
    for run in runs:
        for s in run.tallies:
            t = run.total(s)
            low = t.min_core()
            cells = [run.title, s, _f(t.all.span_recall), _f(t.core.span_recall),
                     f"{_f(low[1])} ({low[0]})" if low else "–", _f(t.precision), _f(t.f2),
                     _f(t.words_kept_share), _rate(t.texts_per_s)]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def print_misses(run: SourceRun, entity: str, context: int = 40) -> None:
    """The missed spans of `entity` with `context` characters either side (the tuning set only)."""
    if run.name != MISSES_SOURCE:
        raise ValueError(f"--misses prints texts of the {MISSES_SOURCE!r} source only")
    for system, per_doc in run.results.items():
        missed = [(d, r) for d, results in zip(run.docs, per_doc, strict=True) for r in results
                  if not r.caught and entity in (r.label.entity, "all")]
        print(f"\n#### {system}: {len(missed)} missed {entity} spans in {run.name}")
        for d, r in missed:
            s, e = r.label.start, r.label.end
            shown = (d.text[max(0, s - context):s] + "⟦" + d.text[s:e] + "⟧" + d.text[e:e + context])
            left = " ".join(d.text[a:b] for a, b in r.left)
            print(f"- {d.id} {r.label.entity}: {shown.replace(chr(10), ' ⏎ ')}   [left: {left}]")


def throughput(records: int, rounds: int = 3) -> None:
    """Records/s of `Anonymizer.anonymize_record` on simulated records (best of `rounds`, after a warm-up).

    Imports only APIs that predate the detector, so the same function measures an older checkout:
    `PYTHONPATH=<old checkout> python bench/privacy_eval.py --throughput N`.
    """
    from datavault_dagster.domain.anonymize import Anonymizer, Pseudonymizer
    from datavault_dagster.domain.crypto import Keyring
    from datavault_dagster.domain.records import parse_entry, stream_fields
    from simulations import generate_records

    keyring = Keyring.generate()
    anonymizer = Anonymizer(Pseudonymizer(keyring.pseudonym_key))
    print(f"record anonymization, {os.cpu_count()} cores, {records} records per domain, best of {rounds}")
    for domain in ("healthcare", "finance"):
        raws = [parse_entry(domain, f"{i + 1}-0", stream_fields(domain, r), keyring)
                for i, r in enumerate(generate_records(domain, records, seed=99))]
        anonymizer.anonymize_record(raws[0])  # loads the models, if any
        best = min(_seconds(anonymizer.anonymize_record, raws) for _ in range(rounds))
        print(f"[{domain}] {records / best:8.1f} records/s ({best / records * 1000:.2f} ms/record)")


def _seconds(fn: Callable[[object], object], items: Sequence[object]) -> float:
    t = time.perf_counter()
    for item in items:
        fn(item)
    return time.perf_counter() - t


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sources", nargs="+", choices=SOURCES, help="default: every source present")
    parser.add_argument("--systems", nargs="+", choices=SYSTEMS, default=list(SYSTEMS))
    parser.add_argument("--limit", type=int, metavar="N", help="first N texts of each source")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write every figure (no text) as JSON")
    parser.add_argument("--by", choices=("genre", "lang", "template"), help="also break each source down by this")
    parser.add_argument("--batch", type=int, default=16, help="texts per datavault detect_many call (default 16)")
    parser.add_argument("--misses", choices=(*ENTITIES, "all"), metavar="ENTITY",
                        help=f"print the missed spans of ENTITY (or 'all') with context; {MISSES_SOURCE!r} only")
    parser.add_argument("--throughput", type=int, metavar="RECORDS", help="only measure record anonymization")
    args = parser.parse_args(argv)
    if args.misses:
        if args.sources and set(args.sources) != {MISSES_SOURCE}:
            parser.error(f"--misses prints texts, so it runs on the {MISSES_SOURCE!r} source only "
                         "(the held-out sets are never shown)")
        args.sources = [MISSES_SOURCE]
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    if args.batch < 1:
        parser.error("--batch must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.throughput:
        throughput(args.throughput)
        return 0

    sources: dict[str, list[Doc]] = {}
    for name in args.sources or SOURCES:
        try:
            sources[name] = load_source(name, args.limit)
        except SourceUnavailable as exc:
            print(f"skip {name}: {exc}")
    if not sources:
        print("no source to score")
        return 1

    loaders = {"datavault": lambda: load_datavault(args.batch), "presidio": load_presidio}
    systems: dict[str, Detect] = {}
    load_seconds: dict[str, float] = {}
    for name in args.systems:
        t = time.perf_counter()
        systems[name] = loaders[name]()
        load_seconds[name] = time.perf_counter() - t
    print("model load (with one warm-up call): "
          + ", ".join(f"{s} {sec:.1f} s" for s, sec in load_seconds.items()))
    print(f"{os.cpu_count()} cores; datavault batch {args.batch}; presidio one analyze call per text\n")

    runs = []
    for name, docs in sources.items():
        run = run_source(name, docs, systems)
        runs.append(run)
        print(source_table(run) + "\n")
        if args.by:
            print(breakdown_table(run, args.by) + "\n")
    print(summary_table(runs))

    if args.misses:
        print_misses(runs[0], args.misses)

    if args.json:
        out = {
            "config": {"sources": list(sources), "systems": list(systems), "limit": args.limit,
                       "batch": args.batch, "generator_seeds": GENERATOR_SEEDS, "generator_texts": GENERATOR_TEXTS,
                       "core": list(CORE), "cpu_count": os.cpu_count()},
            "load_seconds": {s: round(sec, 3) for s, sec in load_seconds.items()},
            "sources": {},
        }
        for run in runs:
            entry: dict = {"tuned": run.name in TUNED, "texts": len(run.docs),
                           "spans": sum(len(d.labels) for d in run.docs),
                           "systems": {s: run.total(s).as_dict() for s in run.tallies}}
            if args.by:
                groups: dict[str, list[int]] = defaultdict(list)
                for i, d in enumerate(run.docs):
                    groups[getattr(d, args.by) or "(none)"].append(i)
                entry["by"] = {args.by: {g: {s: run.total(s, idx).as_dict() for s in run.tallies}
                                         for g, idx in sorted(groups.items())}}
            out["sources"][run.name] = entry
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"\nfigures written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
