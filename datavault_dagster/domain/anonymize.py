"""Anonymization: structured PII fields and free-text notes, with consistent keyed pseudonyms.

People become `P-xxxxxxxxxx` (HMAC-SHA256 of the normalized name under the pseudonym key), so the
same person has the same pseudonym in every record, partition, run and query; record subjects get
`S-xxxxxxxxxx` from their producer id. Direct identifiers (SSN, phone, email, account and card
numbers, MRNs, street addresses) are replaced by typed tokens; ages become bands, ZIP codes their
first three digits, and each subject's dates are shifted by a secret per-subject offset (so intervals
between one person's events survive while the calendar dates do not) — in the structured fields and in the
record's free text alike. Free text with no subject (a question, a line for `datavault anonymize`) has no offset
to shift by: its dates become `[DATE]`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from .detect import Detector, KnownPII, OtherPeople, Span, shared_detector
from .drift import TextScan
from .errors import LeakDetected
from .quasi import date_shift_days, parse_written_date, shift_date, shift_written_date
from .records import RawRecord

__all__ = [
    "AnonymizedRecord", "Anonymizer", "KnownPII", "Pseudonymizer", "SubjectDates", "age_band", "age_on", "find_leaks",
    "guard", "normalize_name",
]

PSEUDONYM_CHARS = 10


def normalize_name(name: str) -> str:
    """Case, accent, punctuation and order-insensitive form of a person's name."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    tokens = re.findall(r"[a-z0-9]+", text)
    return " ".join(sorted(tokens))


class Pseudonymizer:
    """Keyed, deterministic pseudonyms: reveal nothing without the key, stable across processes."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("pseudonym key must be at least 16 bytes")
        self._key = key

    def __repr__(self) -> str:
        return "Pseudonymizer(<key hidden>)"

    def token(self, kind: str, value: str) -> str:
        """Base32 HMAC of (kind, value): 50 bits, enough that distinct people never collide in practice."""
        mac = hmac.new(self._key, f"{kind}\x00{value}".encode(), hashlib.sha256).digest()
        return base64.b32encode(mac).decode().lower()[:PSEUDONYM_CHARS]

    def person(self, name: str) -> str:
        """Pseudonym of a person by name (same for 'Jane Doe', 'DOE, jane')."""
        return "P-" + self.token("person", normalize_name(name))

    def subject(self, domain: str, subject_id: str) -> str:
        """Pseudonym of a record's subject (patient, customer) by the producer's subject id."""
        return "S-" + self.token("subject", f"{domain}|{subject_id.strip().lower()}")

    def date_shift(self, subject: str) -> int:
        """The subject's secret date offset in days (same in every record of that subject)."""
        return date_shift_days(self._key, subject)

    def identifier(self, kind: str, value: str) -> str:
        """Stable token for an account-like identifier, e.g. `ACCT-…`."""
        return f"{kind.upper()}-" + self.token(kind, re.sub(r"\D", "", value) or value.strip().lower())


# --- free text ---------------------------------------------------------------------------------
# Free text is read by detect.Detector (the record's own identifiers, pattern recognizers, spaCy NER for
# names); this module turns its spans into tokens and pseudonyms. The leak guard below keeps its own
# (older, stricter-to-change) patterns.

_DIGITS = re.compile(r"\d+")
# a date right after one of these is a date of birth, whoever's ("DOB: 3/4/80", "born on March 4, 1980")
_BIRTH_CUE = re.compile(
    r"(?:\bDOB|\bD\.O\.B\.?|\bdate\s+of\s+birth|\bbirth\s*date|\bbirthday|\bborn(?:\s+(?:on|in))?)\W{0,3}$", re.I
)


_PLACEHOLDER = {
    "SSN": "[SSN]", "PHONE": "[PHONE]", "EMAIL": "[EMAIL]", "ADDRESS": "[ADDRESS]", "ZIP": "[ZIP]",
    "ACCOUNT": "[ACCOUNT]", "CARD": "[CARD]", "ROUTING": "[ROUTING]", "MRN": "[MRN]", "IP": "[IP]", "URL": "[URL]",
    "CITY": "[CITY]", "ID": "[ID]",
}


@dataclass(frozen=True)
class SubjectDates:
    """How the dates in one subject's free text are rewritten: shifted by the subject's offset, births suppressed.

    `pivot_year` is the year two-digit years are read around (the record's own date).
    """

    shift_days: int
    dob: date | None
    pivot_year: int


def age_band(age: int) -> str:
    """Ten-year band; 90 and over are pooled (HIPAA Safe Harbor)."""
    if age < 0:
        return "unknown"
    if age >= 90:
        return "90+"
    low = (age // 10) * 10
    return f"{low}-{low + 9}"


def age_on(dob: str, on: str) -> int:
    """Whole years between two ISO dates."""
    b, d = date.fromisoformat(dob), date.fromisoformat(on)
    return d.year - b.year - ((d.month, d.day) < (b.month, b.day))


class Anonymizer:
    """The one anonymization engine used by the pipeline, the query path and `datavault anonymize`."""

    def __init__(self, pseudonymizer: Pseudonymizer, detector: Detector | None = None) -> None:
        self.pseudonyms = pseudonymizer
        self.detector = detector if detector is not None else shared_detector()

    # free text ----------------------------------------------------------------------------------

    def anonymize_text(self, text: str, known: KnownPII | None = None, *, dates: SubjectDates | None = None) -> str:
        """Replace PII in free text: the record's own identifiers, pattern recognizers and NER person names."""
        if not text:
            return text
        return self.render(text, self.detector.detect(text, known), dates)

    def anonymize_texts(
        self, texts: Sequence[str], known: KnownPII | None = None, *, ner: bool = True,
        dates: SubjectDates | None = None,
    ) -> list[str]:
        """`anonymize_text` for several texts of one record (one NER batch); `ner=False` skips person NER."""
        found = self.detector.detect_many(texts, known, ner=ner)
        return [self.render(t, spans, dates) for t, spans in zip(texts, found, strict=True)]

    def render(self, text: str, spans: Sequence[Span], dates: SubjectDates | None = None) -> str:
        """Replace each (non-overlapping) span by its token, pseudonym, band or (shifted) date."""
        out, at = [], 0
        for span in spans:
            out.append(text[at:span.start])
            out.append(self._replacement(text, span, dates))
            at = span.end
        out.append(text[at:])
        return "".join(out)

    def _replacement(self, text: str, span: Span, dates: SubjectDates | None) -> str:
        if span.replacement is not None:
            return span.replacement
        value = text[span.start:span.end]
        if span.entity == "PERSON":
            return self.pseudonyms.person(span.name or value)
        if span.entity == "AGE":
            years = _DIGITS.search(value)
            band = age_band(int(years.group(0))) if years else "unknown"
            return band if years and years.group(0) == value else f"{band} year old"
        if span.entity == "DATE":
            return self._date_replacement(text, span, dates)
        if span.entity == "LAST4":
            return " [LAST4]" if span.start and text[span.start - 1] in "xX*" else "[LAST4]"
        return _PLACEHOLDER.get(span.entity, "[PII]")

    @staticmethod
    def _date_replacement(text: str, span: Span, dates: SubjectDates | None) -> str:
        """A date in free text: shifted like the subject's structured dates, or a placeholder.

        With a subject: a full date becomes its shifted ISO date (intervals to the record's fields stay exact); a
        month and year the year-month shifted by whole months; a date of birth (the subject's, in any format, or
        any date after "DOB"/"born") `[DOB]`, since a shifted birth date next to shifted visit dates gives the exact
        age; a bare year, a date with no year ("March 5") or no real date (2024-02-30) `[DATE]`. Without a subject
        there is no offset, and a real date, even its year and month, can link a text to an event: `[DATE]`.
        """
        if dates is None:
            return "[DATE]"
        written = parse_written_date(text[span.start:span.end], dates.pivot_year)
        if written is None:
            return "[DATE]"
        if dates.dob in written.readings or _BIRTH_CUE.search(text[max(0, span.start - 24):span.start]):
            return "[DOB]"
        return shift_written_date(written, dates.shift_days) or "[DATE]"

    # structured records ---------------------------------------------------------------------------

    def anonymize_record(self, record: RawRecord, others: OtherPeople | None = None) -> AnonymizedRecord:
        """Anonymize a validated record of any known domain; `others` (`other_people`) also finds the other
        people of its batch in its text, in any case and as "Last, First"."""
        if record.domain == "healthcare":
            return self._healthcare(record, others)
        if record.domain == "finance":
            return self._finance(record, others)
        raise ValueError(f"no anonymizer for domain {record.domain!r}")

    def other_people(self, records: Iterable[RawRecord]) -> OtherPeople:
        """The whole identifying values of everyone in a batch of records, for `anonymize_record(others=)`.

        A note often names another patient or customer of the same batch ("seen with quaxworth, zebulon");
        NER misses a lower-case name, and the batch's leak check would then fail the whole partition. Names
        map to the person's pseudonym, other values to their record's tokens. Dates of birth are left out:
        a visit on the day someone else was born is common, and the date rules shift every date anyway.
        """
        values: dict[str, str] = {}
        for record in records:
            try:
                known = self.known_pii(record)
            except Exception:  # noqa: BLE001 - its own anonymization will dead-letter it
                continue
            values.update((raw, token) for raw, token in known.values.items() if token != "[DOB]")
            for full in known.names:
                parts = full.split()
                token = self.pseudonyms.person(full)
                values[full] = token
                if len(parts) >= 2:
                    values[f"{parts[-1]}, {parts[0]}"] = token
        return OtherPeople(values)

    @contextmanager
    def primed(self, records: Iterable[RawRecord]) -> Iterator[None]:
        """Read the person names of a batch's free text ahead, in one NER batch (faster than one record at a time);
        what was read ahead is dropped when the block ends (`Detector.primed`)."""
        texts: list[str] = []
        for record in records:
            try:
                texts.extend(t for t in self.free_texts(record) if isinstance(t, str))
            except (KeyError, TypeError):  # its own anonymization dead-letters it
                continue
        with self.detector.primed(texts):
            yield

    @staticmethod
    def free_texts(record: RawRecord) -> list[str]:
        """A record's free text: what person NER reads (coded values get the other recognizers only)."""
        if record.domain == "healthcare":
            return [record.payload["note"], record.payload["encounter"]["reason"]]
        return [record.payload["note"]]

    def known_pii(self, record: RawRecord) -> KnownPII:
        """The raw identifiers of a record's subject (what must never leave the vault in plaintext)."""
        if record.domain == "healthcare":
            return self._healthcare_known(record)
        if record.domain == "finance":
            return self._finance_known(record)
        raise ValueError(f"no anonymizer for domain {record.domain!r}")

    def _field_texts(
        self, free: Iterable[str], coded: Iterable[str], known: KnownPII, dates: SubjectDates
    ) -> tuple[Callable[[str], str], TextScan]:
        """Anonymize a record's text fields (dates shifted like its own); returns the lookup that builds its document
        and the tally of what was found in its free text (counts per entity type, for the drift check).

        Free text (notes, the reason for a visit) goes through person NER in one batch. Coded values (drug,
        diagnosis, facility and merchant names) get the record's own identifiers and the pattern recognizers
        but no NER: alone, without a sentence around them, NER takes drug names for people ("amoxicillin",
        "apixaban", "Costco Wholesale" and 2 more of the simulations' 175 catalogue values).
        """
        free_u = list(dict.fromkeys(t for t in free if t))
        coded_u = [t for t in dict.fromkeys(t for t in coded if t) if t not in free_u]
        found = self.detector.detect_many(free_u, known, ner=True)
        done = {t: self.render(t, spans, dates) for t, spans in zip(free_u, found, strict=True)}
        done.update(zip(coded_u, self.anonymize_texts(coded_u, known, ner=False, dates=dates), strict=True))
        return (lambda s: done.get(s, s)), TextScan.of(free_u, found)

    def subject_dates(self, subject: str, dob: str, on: str) -> SubjectDates:
        """The date rules for a subject's free text: its offset, its date of birth, two-digit years read around `on`."""
        return SubjectDates(self.pseudonyms.date_shift(subject), date.fromisoformat(dob), date.fromisoformat(on).year)

    def _known(self, person: dict[str, Any], extra: dict[str, str]) -> KnownPII:
        full = f"{person['first_name']} {person['last_name']}"
        addr = person.get("address", {})
        values = {
            person["ssn"]: "[SSN]",
            person["phone"]: "[PHONE]",
            person["email"]: "[EMAIL]",
            person["dob"]: "[DOB]",
            addr.get("street", ""): "[ADDRESS]",
            addr.get("city", ""): "[CITY]",
            **extra,
        }
        return KnownPII(names=[full], values={k: v for k, v in values.items() if k})

    def _healthcare_known(self, record: RawRecord) -> KnownPII:
        p = record.payload["patient"]
        return self._known(p, {p["mrn"]: "[MRN]", p["patient_id"]: "[PATIENT-ID]"})

    def _healthcare(self, record: RawRecord, others: OtherPeople | None) -> AnonymizedRecord:
        p, enc = record.payload["patient"], record.payload["encounter"]
        known = self._healthcare_known(record)
        known.others = others
        person = self.pseudonyms.person(f"{p['first_name']} {p['last_name']}")
        subject = self.pseudonyms.subject("healthcare", p["patient_id"])
        dates = self.subject_dates(subject, p["dob"], enc["date"])
        text, scan = self._field_texts(
            self.free_texts(record),
            [enc["facility"], enc["department"]]
            + [d["description"] for d in record.payload["diagnoses"]]
            + [m[k] for m in record.payload["medications"] for k in ("name", "dose", "frequency")],
            known,
            dates,
        )
        doc = {
            "record_id": record.record_id,
            "domain": "healthcare",
            "subject": subject,
            "patient": {
                "pseudonym": person,
                "age_band": age_band(age_on(p["dob"], enc["date"])),
                "sex": p["sex"],
                "state": p["address"]["state"],
                "zip3": p["address"]["zip"][:3],
            },
            "encounter": {
                "date": shift_date(enc["date"], dates.shift_days),
                "facility": text(enc["facility"]),
                "department": text(enc["department"]),
                "reason": text(enc["reason"]),
            },
            "diagnoses": [
                {"code": d["code"], "description": text(d["description"])} for d in record.payload["diagnoses"]
            ],
            "medications": [
                {"name": text(m["name"]), "dose": text(m["dose"]), "frequency": text(m["frequency"])}
                for m in record.payload["medications"]
            ],
            "note": text(record.payload["note"]),
        }
        return AnonymizedRecord(record.domain, record.record_id, subject, doc, known, scan)

    def _finance_known(self, record: RawRecord) -> KnownPII:
        c, acct = record.payload["customer"], record.payload["account"]
        account_token = self.pseudonyms.identifier("acct", acct["account_number"])
        card_token = self.pseudonyms.identifier("card", acct["card_number"])
        card = acct["card_number"]
        grouped = " ".join(card[i : i + 4] for i in range(0, len(card), 4))
        return self._known(c, {
            acct["account_number"]: account_token,
            acct["routing_number"]: "[ROUTING]",
            card: card_token,
            grouped: card_token,
            c["customer_id"]: "[CUSTOMER-ID]",
        })

    def _finance(self, record: RawRecord, others: OtherPeople | None) -> AnonymizedRecord:
        c, acct = record.payload["customer"], record.payload["account"]
        account_token = self.pseudonyms.identifier("acct", acct["account_number"])
        card_token = self.pseudonyms.identifier("card", acct["card_number"])
        known = self._finance_known(record)
        known.others = others
        subject = self.pseudonyms.subject("finance", c["customer_id"])
        person = self.pseudonyms.person(f"{c['first_name']} {c['last_name']}")
        txs = record.payload["transactions"]
        last_tx = max((t["date"] for t in record.payload["transactions"]), default=acct["opened"])
        dates = self.subject_dates(subject, c["dob"], last_tx)
        shift = dates.shift_days
        text, scan = self._field_texts(
            self.free_texts(record), [t[k] for t in txs for k in ("merchant", "category")], known, dates
        )
        doc = {
            "record_id": record.record_id,
            "domain": "finance",
            "subject": subject,
            "customer": {
                "pseudonym": person,
                "age_band": age_band(age_on(c["dob"], last_tx)),
                "state": c["address"]["state"],
                "zip3": c["address"]["zip"][:3],
            },
            # the year of the shifted opening date: the real year beside shifted transactions would narrow the shift
            "account": {"token": account_token, "type": acct["account_type"],
                        "opened_year": shift_date(acct["opened"], shift)[:4], "card": card_token},
            "transactions": [
                {"date": shift_date(t["date"], shift), "amount": t["amount"], "currency": t["currency"],
                 "merchant": text(t["merchant"]), "category": text(t["category"])}
                for t in record.payload["transactions"]
            ],
            "note": text(record.payload["note"]),
        }
        return AnonymizedRecord(record.domain, record.record_id, subject, doc, known, scan)


@dataclass(frozen=True)
class AnonymizedRecord:
    """The anonymized form of a record: what is sealed into the vault and later embedded."""

    domain: str
    record_id: str
    subject_pseudonym: str
    document: dict[str, Any]
    known: KnownPII = field(repr=False, compare=False, default_factory=KnownPII)
    scan: TextScan = field(compare=False, default_factory=TextScan)  # detection counts of its free text, no values

    def to_json(self) -> bytes:
        """Canonical JSON bytes (sorted keys) so the same input seals the same plaintext."""
        return json.dumps(self.document, sort_keys=True, separators=(",", ":")).encode()


def find_leaks(text: str, raw_values: Iterable[str]) -> list[str]:
    """Kinds of PII still present in outgoing text: known raw values and pattern hits (never the values)."""
    from .leaks import OWN_MIN_LEN, IdentifierMatcher, pattern_kinds

    kinds = ["known_identifier"] if IdentifierMatcher(raw_values, OWN_MIN_LEN).search(text) else []
    return kinds + pattern_kinds(text)


def guard(text: str, raw_values: Iterable[str], where: str) -> str:
    """Fail closed: return text unchanged, or raise `LeakDetected` naming only the kinds found."""
    kinds = find_leaks(text, raw_values)
    if kinds:
        raise LeakDetected(where, kinds)
    return text
