"""Deployment-specific recognizers from a YAML file (DATAVAULT_RECOGNIZERS): words, exceptions and patterns, no code.

```yaml
version: 1
deny:        # always PII: whole words or phrases, any case
  - entity: PERSON
    values: ["Dr. Who", "Ziggy"]
allow:       # never redacted: a phrase (whole words, any case), or a regex (any case)
  - "St. Olav"
  - regex: "SKU-\\d+"
patterns:    # a regex, optionally only with a context word within `window` characters before it
  - name: hospital-mrn
    entity: ID
    regex: "\\bHOS-\\d{6}\\b"
    score: 0.9
    context: ["mrn", "patient"]
    window: 40
entities:    # switch built-in entity types off (or on); all on by default
  AGE: false
```

The file is validated strictly when it is loaded: an unknown key, a wrong type, an empty value, a regex that does
not compile or an entity type not in `detect.ENTITIES` is one `ConfigError` naming the file, the section and the
item (counted from 1), never a listed value (a deny value is PII). Precedence, from strongest: the record's own
identifiers and the deny list (neither `allow` nor `entities` drops them), then `allow` (drops any other span lying
inside an allowed phrase, the deployment's patterns included), then `entities` (switches off built-in recognizers
only: a deny entry or pattern of a switched-off type still applies).
"""

from __future__ import annotations

import difflib
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .detect import ENTITIES, Span, fold, whole_at
from .errors import ConfigError

__all__ = ["CustomRules", "Pattern", "load_custom_rules", "parse_custom_rules"]

VERSION = 1
DEFAULT_SCORE = 0.85
DEFAULT_WINDOW = 40
MAX_WINDOW = 1000
MIN_VALUE_LEN = 2  # a one-letter deny value would redact every "a"

_SECTIONS = ("version", "deny", "allow", "patterns", "entities")
_DENY_KEYS = ("entity", "values")
_ALLOW_KEYS = ("regex",)
_PATTERN_KEYS = ("name", "entity", "regex", "score", "context", "window")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
_SPACE = re.compile(r"\s")
_DENY_SOURCE = "custom-deny"


# --- the rules --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Pattern:
    """One pattern recognizer of the deployment: a regex, its entity type and optional context words before it."""

    name: str
    entity: str
    regex: re.Pattern[str]
    score: float = DEFAULT_SCORE
    context: re.Pattern[str] | None = None
    window: int = DEFAULT_WINDOW

    def spans(self, text: str) -> Iterator[Span]:
        """Every non-empty match (with a context word in the `window` characters before it, if context is set)."""
        for m in self.regex.finditer(text):
            if m.end() == m.start():
                continue
            if self.context is not None and not self.context.search(text, max(0, m.start() - self.window),
                                                                    m.start()):
                continue
            yield Span(m.start(), m.end(), self.entity, self.score, _source(self.entity, f"custom:{self.name}"))


def _source(entity: str, what: str) -> str:
    # a person span ranks like the name rules (the longer of it and an NER name wins, so "Ziggy" listed never cuts
    # "Ziggy Stardust" in two); any other ranks with the built-in patterns
    return f"name-rule:{what}" if entity == "PERSON" else f"pattern:{what}"


def _is_deny(span: Span) -> bool:
    return span.source.endswith(":" + _DENY_SOURCE)


def _is_custom(span: Span) -> bool:
    return ":custom" in span.source


def _is_own(span: Span) -> bool:
    """The record's own identifiers: never dropped (the leak guard would stop the record anyway)."""
    return span.source in ("known", "known-name")


def _phrase(value: str) -> str:
    """A listed phrase as it is matched: folded, runs of white space one space."""
    return " ".join(fold(value).split())


class _Phrases:
    """Whole-word, any-case occurrences of many phrases at once (one Aho-Corasick automaton)."""

    def __init__(self, phrases: dict[str, str]) -> None:
        import ahocorasick

        self.size = len(phrases)
        self._automaton = ahocorasick.Automaton()
        for phrase, entity in phrases.items():
            self._automaton.add_word(phrase, (len(phrase), entity))
        if phrases:
            self._automaton.make_automaton()

    def find(self, text: str) -> Iterator[tuple[int, int, str]]:
        """(start, end, entity) of every whole occurrence; a white space character in the text matches a space."""
        if not self.size or not text:
            return
        folded = _SPACE.sub(" ", fold(text))  # same length: offsets stay the text's
        for end, (length, entity) in self._automaton.iter(folded):
            start, stop = end + 1 - length, end + 1
            if whole_at(folded, start, stop, folded[start:stop]):
                yield start, stop, entity


class CustomRules:
    """A deployment's recognizers: `spans` adds the deny list and patterns, `filter` applies allow and entities."""

    def __init__(self, *, source: str = "<rules>", deny: dict[str, str] | None = None,
                 allow_phrases: Iterable[str] = (), allow_regexes: Iterable[re.Pattern[str]] = (),
                 patterns: Sequence[Pattern] = (), entities: dict[str, bool] | None = None) -> None:
        self.source = source
        self._deny = _Phrases({_phrase(v): e for v, e in (deny or {}).items()})
        self._allow = _Phrases(dict.fromkeys((_phrase(v) for v in allow_phrases), ""))
        self._allow_regexes = tuple(allow_regexes)
        self.patterns = tuple(patterns)
        self.entities = dict(entities or {})

    def __repr__(self) -> str:  # counts only: the deny values are PII
        off = sorted(e for e, on in self.entities.items() if not on)
        return (f"CustomRules({self.source}: {self._deny.size} deny values, "
                f"{self._allow.size + len(self._allow_regexes)} allow entries, {len(self.patterns)} patterns, "
                f"off: {', '.join(off) or 'none'})")

    def spans(self, text: str) -> list[Span]:
        """The deny list's and the patterns' spans in `text` (overlaps are left to `detect.resolve`)."""
        out = [Span(a, b, entity, 1.0, _source(entity, _DENY_SOURCE)) for a, b, entity in self._deny.find(text)]
        for pattern in self.patterns:
            out.extend(pattern.spans(text))
        return out

    def enabled(self, entity: str) -> bool:
        """False if the file switches the built-in recognizers of this entity type off."""
        return self.entities.get(entity, True)

    def allowed(self, text: str, span: Span) -> bool:
        """True if the span lies inside an allowed phrase or regex match (and is neither the record's own
        identifier nor on the deny list): it is not PII here."""
        return self._allowed(span, self._allowed_ranges(text))

    def filter(self, text: str, spans: Sequence[Span]) -> list[Span]:
        """`spans` without those of switched-off built-in types and those inside an allowed phrase."""
        ranges: list[tuple[int, int]] | None = None
        out = []
        for span in spans:
            if not (_is_own(span) or _is_custom(span) or self.enabled(span.entity)):
                continue
            if self._allow.size or self._allow_regexes:
                ranges = self._allowed_ranges(text) if ranges is None else ranges
                if self._allowed(span, ranges):
                    continue
            out.append(span)
        return out

    def _allowed_ranges(self, text: str) -> list[tuple[int, int]]:
        ranges = [(a, b) for a, b, _ in self._allow.find(text)]
        for regex in self._allow_regexes:
            ranges += [(m.start(), m.end()) for m in regex.finditer(text)
                       if m.end() > m.start() and whole_at(text, m.start(), m.end(), m.group(0))]
        return ranges

    @staticmethod
    def _allowed(span: Span, ranges: list[tuple[int, int]]) -> bool:
        if _is_own(span) or _is_deny(span):
            return False
        return any(a <= span.start and span.end <= b for a, b in ranges)


# --- reading the file -------------------------------------------------------------------------------------------

class _StrictLoader(yaml.SafeLoader):
    """Safe YAML that refuses a key given twice (PyYAML would keep the last one silently)."""


def _mapping_once(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            twice = key in seen
            seen.add(key)
        except TypeError:  # unhashable: construct_mapping says so
            continue
        if twice:
            raise yaml.constructor.ConstructorError(None, None, "a key is given twice", key_node.start_mark)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_once)


class _Invalid(Exception):
    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}" if where else problem)


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "a " + type(value).__name__  # dates: YAML reads 2024-01-01 as one


def _keys(item: dict, allowed: tuple[str, ...], required: tuple[str, ...], where: str, echo: bool = True) -> None:
    """Unknown keys (named, unless `echo` is off and the key is no near miss of an allowed one) and missing ones."""
    for key in item:
        if key in allowed:
            continue
        near = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6) if isinstance(key, str) else []
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        named = f"unknown key {str(key)[:40]!r}" if echo or near else "an unknown key"
        raise _Invalid(where, f"{named}{hint}; expected {', '.join(allowed)}")
    for key in required:
        if key not in item:
            raise _Invalid(where, f"missing {key!r}")


def _text(value: Any, where: str, what: str = "text", min_len: int = 1) -> str:
    if not isinstance(value, str):
        raise _Invalid(where, f"must be {what}, got {_kind(value)} (quote it in YAML)")
    if len(value.strip()) < min_len:
        raise _Invalid(where, "must not be empty" if min_len == 1 else f"must be at least {min_len} characters")
    return value


def _list(value: Any, where: str, what: str, empty_ok: bool = False) -> list:
    if not isinstance(value, list):
        raise _Invalid(where, f"must be a list of {what}, got {_kind(value)}")
    if not value and not empty_ok:
        raise _Invalid(where, f"must list at least one of {what}")
    return value


def _entity(value: Any, where: str) -> str:
    if value not in ENTITIES:  # never echoed: a name typed in the wrong place is PII
        raise _Invalid(where, f"must be one of {', '.join(ENTITIES)}")
    return value


def _regex(value: Any, where: str, flags: int = 0) -> re.Pattern[str]:
    text = _text(value, where, "a regular expression")
    try:
        compiled = re.compile(text, flags)
    except re.error as exc:
        raise _Invalid(where, f"does not compile: {exc.msg} at position {exc.pos}") from None
    if compiled.fullmatch(""):
        raise _Invalid(where, "matches the empty text")
    return compiled


def _deny(section: Any, deny: dict[str, str], where: str) -> None:
    seen: dict[str, int] = {}
    for i, item in enumerate(_list(section, where, "{entity, values} items", empty_ok=True), 1):
        at = f"{where} item {i}"
        if not isinstance(item, dict):
            raise _Invalid(at, f"must be a mapping with entity and values, got {_kind(item)}")
        _keys(item, _DENY_KEYS, _DENY_KEYS, at, echo=False)
        entity = _entity(item["entity"], f"{at}: entity")
        for j, value in enumerate(_list(item["values"], f"{at}: values", "words or phrases"), 1):
            spot = f"{at}: values item {j}"
            phrase = _phrase(_text(value, spot, min_len=MIN_VALUE_LEN))
            if phrase in seen:
                raise _Invalid(spot, f"listed twice (also {where} item {seen[phrase]})")
            seen[phrase] = i
            deny[value] = entity


def _allow(section: Any, phrases: list[str], regexes: list[re.Pattern[str]], where: str) -> None:
    for i, item in enumerate(_list(section, where, "phrases or {regex: ...} items", empty_ok=True), 1):
        at = f"{where} item {i}"
        if isinstance(item, dict):
            _keys(item, _ALLOW_KEYS, _ALLOW_KEYS, at)
            regexes.append(_regex(item["regex"], f"{at}: regex", re.IGNORECASE))
        else:
            phrases.append(_text(item, at, "a phrase, or a mapping {regex: ...}"))


def _patterns(section: Any, out: list[Pattern], where: str) -> None:
    names: dict[str, int] = {}
    for i, item in enumerate(_list(section, where, "{name, entity, regex, ...} items", empty_ok=True), 1):
        at = f"{where} item {i}"
        if not isinstance(item, dict):
            raise _Invalid(at, f"must be a mapping with name, entity and regex, got {_kind(item)}")
        _keys(item, _PATTERN_KEYS, ("name", "entity", "regex"), at)
        name = _text(item["name"], f"{at}: name")
        if not _NAME.fullmatch(name):
            raise _Invalid(f"{at}: name", "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or "
                                          "digit")
        if name in names:
            raise _Invalid(f"{at}: name", f"{name!r} is also the name of {where} item {names[name]}")
        names[name] = i
        entity = _entity(item["entity"], f"{at}: entity")
        regex = _regex(item["regex"], f"{at}: regex")
        score = item.get("score", DEFAULT_SCORE)
        if isinstance(score, bool) or not isinstance(score, int | float):
            raise _Invalid(f"{at}: score", f"must be a number above 0 and at most 1, got {_kind(score)}")
        if not 0 < score <= 1:
            raise _Invalid(f"{at}: score", "must be above 0 and at most 1")
        context = None
        if "context" in item:
            words = [_text(w, f"{at}: context item {j}")
                     for j, w in enumerate(_list(item["context"], f"{at}: context", "words"), 1)]
            alternatives = "|".join(r"\s+".join(re.escape(p) for p in w.split()) for w in words)
            context = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)
        window = item.get("window", DEFAULT_WINDOW)
        if "window" in item and context is None:
            raise _Invalid(f"{at}: window", "only means something with context words")
        if isinstance(window, bool) or not isinstance(window, int) or not 1 <= window <= MAX_WINDOW:
            raise _Invalid(f"{at}: window", f"must be a whole number of characters from 1 to {MAX_WINDOW}")
        out.append(Pattern(name, entity, regex, float(score), context, window))


def _entities(section: Any, out: dict[str, bool], where: str) -> None:
    if not isinstance(section, dict):
        raise _Invalid(where, f"must be a mapping of entity type to true/false, got {_kind(section)}")
    for entity, on in section.items():
        at = f"{where}: {entity}" if entity in ENTITIES else where
        if entity not in ENTITIES:
            raise _Invalid(where, f"an unknown entity type; expected {', '.join(ENTITIES)}")
        if not isinstance(on, bool):
            raise _Invalid(at, f"must be true or false, got {_kind(on)}")
        out[entity] = on


_QUOTED = re.compile(r"'([^']*)'")


def _mask(m: re.Match[str]) -> str:
    """PyYAML quotes what it stumbled on (an alias, a tag): keep punctuation and '<token>' names, never a word."""
    inner = m.group(1)
    return m.group(0) if inner.startswith("<") or len(re.findall(r"\w", inner)) < 3 else "'…'"


def parse_custom_rules(text: str, source: str = "<rules>") -> CustomRules:
    """Validate and compile the rules in YAML `text`; any problem is one ConfigError naming `source` and the item."""
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        problem = _QUOTED.sub(_mask, problem)
        raise ConfigError(f"{source}: not valid YAML{at}: {problem}") from None
    deny: dict[str, str] = {}
    phrases: list[str] = []
    regexes: list[re.Pattern[str]] = []
    patterns: list[Pattern] = []
    entities: dict[str, bool] = {}
    try:
        if not isinstance(data, dict):
            raise _Invalid("", f"must be a mapping with 'version: {VERSION}' and deny, allow, patterns, entities; "
                               f"got {_kind(data)}")
        _keys(data, _SECTIONS, ("version",), "")
        if isinstance(data["version"], bool) or data["version"] != VERSION:
            raise _Invalid("version", f"must be {VERSION}")
        # a section left empty (all its items commented out) is no section
        if data.get("deny") is not None:
            _deny(data["deny"], deny, "deny")
        if data.get("allow") is not None:
            _allow(data["allow"], phrases, regexes, "allow")
        if data.get("patterns") is not None:
            _patterns(data["patterns"], patterns, "patterns")
        if data.get("entities") is not None:
            _entities(data["entities"], entities, "entities")
        clash = {_phrase(v) for v in deny} & {_phrase(p) for p in phrases}
        if clash:
            raise _Invalid("allow", f"{len(clash)} phrase(s) also on the deny list")
    except _Invalid as exc:
        raise ConfigError(f"{source}: {exc}") from None
    return CustomRules(source=source, deny=deny, allow_phrases=phrases, allow_regexes=regexes, patterns=patterns,
                       entities=entities)


_cache: dict[Path, tuple[tuple[int, int], CustomRules]] = {}
_cache_lock = threading.Lock()


def load_custom_rules(path: str | Path | None) -> CustomRules | None:
    """The rules in the YAML file at `path` (None: no file, no rules); parsed again only when the file changes."""
    if path is None:
        return None
    path = Path(path)
    try:
        stat = path.stat()
        version = (stat.st_mtime_ns, stat.st_size)
        with _cache_lock:
            hit = _cache.get(path)
        if hit is not None and hit[0] == version:
            return hit[1]
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror or type(exc).__name__})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    rules = parse_custom_rules(text, str(path))
    with _cache_lock:
        _cache[path] = (version, rules)
    return rules
