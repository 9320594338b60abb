"""PII detection quality: our Detector against Presidio's default AnalyzerEngine on the same labelled data.

    python bench/privacy_eval.py [--n 600] [--dev-seed 1] [--holdout-seed 2] [--no-presidio]
    python bench/privacy_eval.py --throughput 1000     # records/s of Anonymizer.anonymize_record per domain

Data: `simulations.pii_eval.generate` (seeded templates + Faker identities, gold character spans), once with the
"dev" template set the detector was tuned on and once with the "holdout" set (other sentences, structures and
formats) under another seed. Columns, per entity and overall (micro): precision, recall and F2 under the rule
in `simulations/pii_eval.py` (a gold span is found when predictions of a compatible type cover >= 50 % of it;
a prediction is correct when >= 50 % of it lies in gold spans of a compatible type), plus the share of gold
spans fully covered by any prediction ("redacted"). Detectors:

- ours+rec: `Detector.detect(text, known)` with the record subject's structured fields (as the pipeline runs it);
- ours: `Detector.detect(text)` with the text alone (as the query path runs it);
- presidio: `AnalyzerEngine()` with its default recognizers and en_core_web_md (spaCy NER), default threshold,
  its labels mapped to ours (`PRESIDIO_LABELS`); labels without a counterpart are left out of both precision
  and recall (they still count towards "redacted").

Prints tables; never asserts (tests/unit/test_privacy_eval.py holds the targets).
"""

from __future__ import annotations

import argparse
import math
import os
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datavault_dagster.domain.detect import Detector, KnownPII
    from simulations.pii_eval import Counts, Example

os.environ.setdefault("HF_HUB_OFFLINE", "1")

# Presidio's labels -> ours. spaCy tags ages ("54-year-old") as DATE, so DATE_TIME may stand for either;
# LOCATION (spaCy GPE/LOC/FAC) is the nearest thing Presidio has to a street address.
PRESIDIO_LABELS: dict[str, tuple[str, ...]] = {
    "PERSON": ("PERSON",),
    "EMAIL_ADDRESS": ("EMAIL",),
    "PHONE_NUMBER": ("PHONE",),
    "US_SSN": ("SSN",),
    "CREDIT_CARD": ("CARD",),
    "US_BANK_NUMBER": ("ACCOUNT",),
    "IBAN_CODE": ("ACCOUNT",),
    "ABA_ROUTING_NUMBER": ("ROUTING",),
    "IP_ADDRESS": ("IP",),
    "URL": ("URL",),
    "DATE_TIME": ("DATE", "AGE"),
    "LOCATION": ("ADDRESS",),
}

Predictions = list[tuple[int, int, "str | tuple[str, ...]"]]


def known_of(ex: Example) -> KnownPII | None:
    """The record subject's structured identifiers, as the anonymizer builds them (None for questions)."""
    from datavault_dagster.domain.detect import KnownPII

    s = ex.subject
    if s is None:
        return None
    values = {s["ssn"]: "[SSN]", s["phone"]: "[PHONE]", s["email"]: "[EMAIL]", s["dob"]: "[DOB]",
              s["street"]: "[ADDRESS]", s["city"]: "[CITY]"}
    return KnownPII(names=[f"{s['first_name']} {s['last_name']}"], values={k: v for k, v in values.items() if k})


def ours(detector: Detector, *, with_record: bool) -> Callable[[Example], Predictions]:
    """Our detector as a harness function."""
    def run(ex: Example) -> Predictions:
        return [(s.start, s.end, s.entity) for s in detector.detect(ex.text, known_of(ex) if with_record else None)]
    return run


def presidio_default() -> Callable[[Example], Predictions]:
    """Presidio's default AnalyzerEngine on en_core_web_md, offline, as a harness function."""
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    from datavault_dagster.domain.detect import offline_tldextract, spacy_model_path

    offline_tldextract()
    nlp = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": spacy_model_path()}],
    }).create_engine()
    engine = AnalyzerEngine(nlp_engine=nlp, supported_languages=["en"])

    def run(ex: Example) -> Predictions:
        out: Predictions = []
        for r in engine.analyze(ex.text, language="en"):
            out.append((r.start, r.end, PRESIDIO_LABELS.get(r.entity_type, ("OTHER:" + r.entity_type,))))
        return out
    return run


def timed(examples: Sequence[Example], fn: Callable[[Example], Predictions]) -> tuple[dict[str, Counts], float]:
    from simulations.pii_eval import evaluate

    fn(examples[0])  # warm up (model load) outside the timing
    t = time.perf_counter()
    counts = evaluate(examples, fn)
    return counts, (time.perf_counter() - t) / len(examples) * 1000


def _fmt(x: float) -> str:
    return "   - " if math.isnan(x) else f"{x:5.3f}"


def table(title: str, results: dict[str, tuple[dict[str, Counts], float]]) -> str:
    from simulations.pii_eval import LABELS

    names = list(results)
    head = f"{'entity':8} {'gold':>5} | " + " | ".join(f"{n:^23}" for n in names)
    sub = f"{'':8} {'':>5} | " + " | ".join(f"{'P':>5} {'R':>5} {'F2':>5} {'red':>5}" for _ in names)
    lines = [title, head, sub, "-" * len(sub)]
    for label in (*LABELS, "ALL"):
        gold = results[names[0]][0][label].gold
        if not gold and label != "ALL":
            continue
        if label == "ALL":
            lines.append("-" * len(sub))
        cells = []
        for n in names:
            c = results[n][0][label]
            cells.append(f"{_fmt(c.precision)} {_fmt(c.recall)} {_fmt(c.f())} "
                         f"{_fmt(c.redacted / c.gold if c.gold else float('nan'))}")
        lines.append(f"{label:8} {gold:>5} | " + " | ".join(cells))
    lines.append(f"{'ms/text':8} {'':>5} | " + " | ".join(f"{results[n][1]:>23.1f}" for n in names))
    return "\n".join(lines)


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=600, help="examples per data set")
    parser.add_argument("--dev-seed", type=int, default=1)
    parser.add_argument("--holdout-seed", type=int, default=2)
    parser.add_argument("--no-presidio", action="store_true", help="skip the Presidio baseline (faster)")
    parser.add_argument("--throughput", type=int, metavar="RECORDS", help="only measure record anonymization")
    args = parser.parse_args()
    if args.throughput:
        throughput(args.throughput)
        return

    from datavault_dagster.domain.detect import Detector
    from simulations.pii_eval import generate

    detector = Detector().load()
    baseline = None if args.no_presidio else presidio_default()
    for template_set, seed in (("dev", args.dev_seed), ("holdout", args.holdout_seed)):
        examples = generate(args.n, seed=seed, template_set=template_set)
        results = {
            "ours+rec": timed(examples, ours(detector, with_record=True)),
            "ours": timed(examples, ours(detector, with_record=False)),
        }
        if baseline is not None:
            results["presidio"] = timed(examples, baseline)
        chars = sum(len(ex.text) for ex in examples) / len(examples)
        print(table(f"\n== {template_set} templates, seed {seed}: {len(examples)} texts, "
                    f"{sum(len(ex.spans) for ex in examples)} gold spans, ~{chars:.0f} chars/text ==", results))


if __name__ == "__main__":
    main()
