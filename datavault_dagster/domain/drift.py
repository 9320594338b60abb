"""Detection drift: how much PII the detector finds per 1,000 characters of free text, and whether a partition
departs from its domain's recent partitions. Counts and rates only: nothing here ever holds a value.

A producer that changes its note format, or a detector regression (a model that no longer loads, a pattern that
stopped matching), shows as a collapse or a surge of one entity's rate while every record still seals: the leak
guard only sees what the detector and the record's own fields know, so drift is the signal left.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

# spans of these sources are the record's own (or its batch's) known values, not the detector's own finding
KNOWN_SOURCES = frozenset({"known", "known-name"})
KNOWN_SUFFIX = " (known)"  # series name of an entity's known-value matches, beside the detector's own


class SpanLike(Protocol):
    """What a detector span tells the tally: its entity type and source (never its text)."""

    entity: str
    source: str


@dataclass(frozen=True)
class TextScan:
    """What detection found in one record's free text: per entity type, by the detector's own recognizers
    (`detected`: patterns, NER, name rules, Presidio) and as the record's or its batch's known values (`known`)."""

    texts: int = 0
    chars: int = 0
    detected: Mapping[str, int] = field(default_factory=dict)
    known: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, texts: Sequence[str], spans: Sequence[Iterable[SpanLike]]) -> TextScan:
        """Tally the spans found in `texts` (one span list per text)."""
        detected: Counter[str] = Counter()
        known: Counter[str] = Counter()
        for found in spans:
            for span in found:
                (known if span.source in KNOWN_SOURCES else detected)[span.entity] += 1
        return cls(len(texts), sum(len(t) for t in texts), dict(detected), dict(known))


@dataclass
class DetectionStats:
    """One partition's detection counts over the free text of the records it sealed."""

    records: int = 0
    texts: int = 0
    chars: int = 0
    detected: Counter[str] = field(default_factory=Counter)
    known: Counter[str] = field(default_factory=Counter)

    def add(self, scan: TextScan) -> None:
        """Add one sealed record's scan."""
        self.records += 1
        self.texts += scan.texts
        self.chars += scan.chars
        self.detected.update(scan.detected)
        self.known.update(scan.known)

    def series(self) -> dict[str, int]:
        """Counts per series: `PERSON` (the detector's own finds) and `PERSON (known)` (known-value matches)."""
        out = {entity: n for entity, n in self.detected.items() if n}
        out.update((entity + KNOWN_SUFFIX, n) for entity, n in self.known.items() if n)
        return dict(sorted(out.items()))

    def per_1k_chars(self) -> dict[str, float]:
        """Each series' detections per 1,000 characters of free text (empty without free text)."""
        return {name: round(per_1k(n, self.chars), 4) for name, n in self.series().items()} if self.chars else {}

    def to_json(self) -> dict[str, object]:
        """JSON-ready form (as persisted)."""
        return {"records": self.records, "texts": self.texts, "chars": self.chars,
                "detected": dict(sorted(self.detected.items())), "known": dict(sorted(self.known.items()))}

    @classmethod
    def from_json(cls, data: Mapping[str, object] | str) -> DetectionStats:
        """Inverse of `to_json` (a dict or its JSON text)."""
        d = json.loads(data) if isinstance(data, str) else data
        return cls(int(d.get("records", 0)), int(d.get("texts", 0)), int(d.get("chars", 0)),  # type: ignore[arg-type]
                   Counter({str(k): int(v) for k, v in dict(d.get("detected") or {}).items()}),  # type: ignore[call-overload]
                   Counter({str(k): int(v) for k, v in dict(d.get("known") or {}).items()}))  # type: ignore[call-overload]


def per_1k(count: int, chars: int) -> float:
    """Detections per 1,000 characters."""
    return 1000.0 * count / chars if chars else 0.0


@dataclass(frozen=True)
class DriftThresholds:
    """When a partition's rate of an entity counts as drifted from the median of its domain's recent partitions."""

    history: int = 20  # the last N earlier partitions of the domain (with free text) make the baseline
    min_history: int = 5  # fewer earlier partitions: no verdict ("not enough history")
    low: float = 1 / 3  # rate below low x median ...
    high: float = 3.0  # ... or above high x median is drift,
    min_expected: float = 10.0  # when at least this many detections were expected (low) or found (high)
    usual: float = 0.8  # an entity found in at least this share of recent partitions ...
    absent_min_expected: float = 5.0  # ... and absent here while this many were expected is drift too


@dataclass(frozen=True)
class EntityDrift:
    """One series of one partition against its baseline."""

    entity: str
    count: int
    rate: float  # detections per 1,000 characters here
    median: float  # median rate of the recent partitions
    ratio: float | None  # rate / median (None when the median is 0)
    expected: float  # median x this partition's characters / 1,000
    seen_in: float  # share of recent partitions with at least one detection
    status: str  # "ok", "low", "high" or "absent"

    @property
    def drifted(self) -> bool:
        """Is this a departure worth a warning?"""
        return self.status != "ok"


@dataclass(frozen=True)
class DriftReport:
    """The verdict for one partition: every series' rate against its baseline, and the note that explains it."""

    history: int  # earlier partitions (with free text) in the baseline
    chars: int
    entities: list[EntityDrift]
    note: str
    judged: bool  # False: too little history or no free text, so no verdict (passes)

    @property
    def drifted(self) -> list[EntityDrift]:
        """The series that departed from the baseline."""
        return [e for e in self.entities if e.drifted]

    @property
    def stable(self) -> bool:
        """No series drifted (always True without a verdict)."""
        return not self.drifted


def _status(count: int, expected: float, seen_in: float, t: DriftThresholds) -> str:
    if count == 0 and seen_in >= t.usual and expected >= t.absent_min_expected:
        return "absent"
    if expected >= t.min_expected and count < t.low * expected:
        return "low"
    if count >= t.min_expected and count > t.high * expected:
        return "high"
    return "ok"


def detection_drift(current: DetectionStats, history: Sequence[DetectionStats],
                    thresholds: DriftThresholds = DriftThresholds()) -> DriftReport:
    """Compare a partition's per-series rates with the medians of `history` (earlier partitions of the same
    domain, oldest first; only the last `thresholds.history` with free text count).

    A series drifts when its rate falls below `low` x or rises above `high` x the median with at least
    `min_expected` detections expected (low) or found (high), so that small partitions do not raise noise; or
    when a series found in at least `usual` of the recent partitions is absent while `absent_min_expected`
    detections were expected.
    """
    t = thresholds
    baseline = [h for h in history if h.chars > 0][-t.history:] if t.history > 0 else []
    if current.chars <= 0:
        return DriftReport(len(baseline), 0, [], "no free text in this partition: nothing to compare", False)
    now = current.series()
    past = [h.series() for h in baseline]
    names = sorted(set(now).union(*past))
    if len(baseline) < t.min_history:
        rows = [EntityDrift(n, now.get(n, 0), per_1k(now.get(n, 0), current.chars), 0.0, None, 0.0, 0.0, "ok")
                for n in names]
        return DriftReport(len(baseline), current.chars, rows,
                           f"not enough history: {len(baseline)} earlier partition(s) of this domain, "
                           f"{t.min_history} needed", False)
    rows = []
    for name in names:
        rates = [per_1k(s.get(name, 0), h.chars) for s, h in zip(past, baseline, strict=True)]
        median = statistics.median(rates)
        count = now.get(name, 0)
        rate = per_1k(count, current.chars)
        expected = median * current.chars / 1000.0
        seen_in = sum(1 for r in rates if r > 0) / len(rates)
        rows.append(EntityDrift(name, count, rate, median, rate / median if median else None, expected, seen_in,
                                _status(count, expected, seen_in, t)))
    drifted = [r.entity for r in rows if r.drifted]
    note = (f"drifted against the median of {len(baseline)} earlier partitions: {', '.join(drifted)}" if drifted
            else f"every rate within {t.low:.2g}x-{t.high:.2g}x of the median of {len(baseline)} earlier partitions")
    return DriftReport(len(baseline), current.chars, rows, note, True)
