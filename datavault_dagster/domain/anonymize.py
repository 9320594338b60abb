"""Anonymization: structured PII fields and free-text notes, with consistent keyed pseudonyms.

People become `P-xxxxxxxxxx` (HMAC-SHA256 of the normalized name under the pseudonym key), so the
same person has the same pseudonym in every record, partition, run and query; record subjects get
`S-xxxxxxxxxx` from their producer id. Direct identifiers (SSN, phone, email, account and card
numbers, MRNs, street addresses) are replaced by typed tokens; ages become bands, ZIP codes their
first three digits, and each subject's dates are shifted by a secret per-subject offset (so intervals
between one person's events survive while the calendar dates do not).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Any

from .errors import LeakDetected
from .quasi import date_shift_days, shift_date
from .records import RawRecord

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

_TITLE = r"(?:Dr|Mr|Mrs|Ms|Miss|Mx|Prof|Doctor|Nurse)"
_NAME_WORD = r"[A-Z][a-zA-Z'\-]+"
_TITLED_NAME = re.compile(rf"\b({_TITLE})\.?\s+((?:{_NAME_WORD})(?:\s+(?!(?:and|or|the)\b){_NAME_WORD}){{0,2}})")
_EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
_URL = re.compile(r"\bhttps?://\S+|\bwww\.\S+", re.I)
_IP = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")
_SSN = re.compile(r"\b\d{3}[- ]\d{2}[- ]\d{4}\b")
_CARDLIKE = re.compile(r"\b\d(?:[ -]?\d){12,18}\b")
_PHONE = re.compile(
    r"(?<![\w-])(?:(?:\+?1|001)[-.\s]?)?(?:\(\d{3}\)\s?|\d{3}[-.\s])\d{3}[-.\s]\d{4}(?:\s?(?:x|ext\.?)\s?\d{1,6})?(?!\w)"
    r"|(?<![\w-])\+?1?\d{10}(?:x\d{1,6})?(?!\w)"
)
_MRN = re.compile(r"\bMRN[-:#\s]*\d{4,10}\b", re.I)
_LONG_NUMBER = re.compile(r"\b\d{8,19}\b")
_LAST4 = re.compile(
    r"(?:\b|(?<!\*)(?=\*))(ending(?:\s+in)?|last\s+(?:4|four)(?:\s+digits)?(?:\s+of)?|x{2,}|\*{2,})"
    r"[\s:#-]*(\d{4})\b",
    re.I,
)
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_US_DATE = re.compile(r"\b\d{1,2}/\d{1,2}/\d{2,4}\b")
_MONTHS = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
_TEXT_DATE = re.compile(
    rf"\b{_MONTHS}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}\b|\b\d{{1,2}}\s+{_MONTHS}\s+\d{{4}}\b", re.I
)
_AGE = re.compile(r"(?<![\d-])\b(\d{1,3})(?:[- ]years?[- ]old|\s*y/?o\b|\s*yrs?\b)", re.I)
_AGED = re.compile(r"\b(aged?|age:)\s*(\d{1,3})\b(?![-+])", re.I)
_STREET_SUFFIX = (
    r"(?:Street|St|Avenue|Ave|Road|Rd|Lane|Ln|Drive|Dr|Court|Ct|Boulevard|Blvd|Way|Place|Pl|Circle|Cir|"
    r"Parkway|Pkwy|Highway|Hwy|Terrace|Trail|Trl|Square|Sq|Loop|Alley|Row|Crossing|Path|Pike|Plaza|"
    r"Ridge|Ridges|Run|Walk|Heights|Hills?|Park|Point|Ports?|Mission|Mall|Manor|Meadows?|Mills?|"
    r"Estates?|Extension|Falls?|Fields?|Forest|Fork|Garden|Gardens|Gateway|Glen|Green|Grove|Harbor|"
    r"Haven|Island|Junction|Key|Knolls?|Lakes?|Landing|Light|Locks?|Lodge|Neck|Orchard|Oval|Pass|"
    r"Pine|Pines|Plains?|Prairie|Radial|Ranch|Rapids?|Rest|Route|Shoals?|Shores?|Spring|Springs|"
    r"Station|Stream|Summit|Throughway|Trace|Track|Turnpike|Underpass|Union|Valley|Via|Views?|Village|"
    r"Ville|Vista|Wall|Wells?|Bypass|Burg|Bridge|Brook|Canyon|Cape|Center|Cliffs?|Club|Common|Corner|"
    r"Course|Cove|Creek|Crescent|Crest|Curve|Dale|Dam|Divide|Expressway|Ferry|Ford|Fort|Freeway|"
    r"Inlet|Isle|Lake|Motorway|Mount|Mountain|Overpass|Port|Shore|Skyway|Spur|Stravenue|Unions?|Vista)"
)
_STREET = re.compile(
    rf"\b\d{{1,6}}\s+(?:[A-Z][a-zA-Z'\-]*\.?\s+){{1,4}}{_STREET_SUFFIX}\b\.?"
    r"(?:,?\s+(?:Apt\.?|Suite|Unit|#)\s*\w+)?"
)
_ZIP = re.compile(r"\b\d{5}(?:-\d{4})?\b")


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


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2 == 1:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


@dataclass
class KnownPII:
    """Identifiers of a record's subject, used to find them in its free text."""

    names: list[str] = field(default_factory=list)  # full names of people in this record
    values: dict[str, str] = field(default_factory=dict)  # raw value -> replacement token

    def all_raw(self) -> list[str]:
        """Every raw identifier string including single name parts: the per-record leak guard's list."""
        out = self.identifiers()
        for name in self.names:
            out.extend(p for p in name.split() if len(p) >= 3)
        return out

    def identifiers(self) -> list[str]:
        """Identifying strings (full names, SSN, phone, email, numbers, street), for scans across records.

        Single first or last names are left out: "Mary" in another record's "St. Mary's" identifies nobody.
        """
        out = [v for v in self.values if len(v) >= 4]
        for name in self.names:
            parts = name.split()
            out.append(name)
            if len(parts) >= 2:
                out.append(f"{parts[-1]}, {parts[0]}")
        return out

    # compiled once per record, reused for each of its text fields
    @cached_property
    def value_tokens(self) -> dict[str, str]:
        """Lower-cased raw value -> replacement token."""
        return {raw.lower(): token for raw, token in self.values.items() if len(raw) >= 4}

    @cached_property
    def value_regex(self) -> re.Pattern[str] | None:
        """One alternation of every raw value, longest first."""
        raws = sorted(self.value_tokens, key=len, reverse=True)
        return re.compile("|".join(re.escape(r) for r in raws), re.I) if raws else None

    @cached_property
    def name_regexes(self) -> list[tuple[str, re.Pattern[str]]]:
        """(full name, pattern of every written form: full, 'Last, First', 'Last First', then each part)."""
        out = []
        for full in self.names:
            parts = full.split()
            forms = [full]
            if len(parts) >= 2:
                forms += [f"{parts[-1]}, {parts[0]}", f"{parts[-1]} {parts[0]}"]
            forms += sorted((p for p in parts if len(p) >= 2), key=len, reverse=True)
            out.append((full, re.compile("|".join(_name_pattern(f) for f in forms), re.I)))
        return out


_OWN_TOKEN = re.compile(r"\b(?:[PS]|ACCT|CARD)-[a-z2-7]{10}\b")
_SLOT = re.compile("\x00([a-z]+)\x00")


def _letters(n: int) -> str:
    """0 -> 'a', 25 -> 'z', 26 -> 'ba': placeholder indices that no digit pattern can match."""
    out = ""
    while True:
        out = chr(ord("a") + n % 26) + out
        n //= 26
        if n == 0:
            return out


def _index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - ord("a")
    return n


def _is_card(text: str) -> bool:
    digits = re.sub(r"\D", "", text)
    return 13 <= len(digits) <= 19 and _luhn_ok(digits)


def _name_pattern(part: str) -> str:
    return r"\b" + r"\s+".join(re.escape(p) for p in part.split()) + r"\b"


class Anonymizer:
    """The one anonymization engine used by the pipeline, the query path and `datavault anonymize`."""

    def __init__(self, pseudonymizer: Pseudonymizer) -> None:
        self.pseudonyms = pseudonymizer

    # free text ----------------------------------------------------------------------------------

    def anonymize_text(self, text: str, known: KnownPII | None = None) -> str:
        """Replace PII in free text: known identifiers first, then pattern recognizers."""
        if not text:
            return text
        known = known or KnownPII()
        slots: list[str] = []

        def hold(replacement: str) -> str:
            # park replacements behind placeholders so later recognizers never re-match them
            slots.append(replacement)
            return f"\x00{_letters(len(slots) - 1)}\x00"

        def sub(pattern: re.Pattern[str] | str, repl: Any, value: str, flags: int = 0) -> str:
            fn = (lambda m: hold(repl(m))) if callable(repl) else (lambda m: hold(repl))
            return re.sub(pattern, fn, value, flags=flags)

        # 0. tokens we produced earlier (a follow-up question quoting an answer) stay exactly as they are
        out = sub(_OWN_TOKEN, lambda m: m.group(0), text)
        # 1. the record's own identifiers, as written anywhere in the text
        if known.value_regex is not None:
            out = sub(known.value_regex, lambda m: known.value_tokens[m.group(0).lower()], out)
        # 2. identifiers that contain name-like words
        out = sub(_EMAIL, "[EMAIL]", out)
        out = sub(_URL, "[URL]", out)
        # 3. the record's own people, longest form first: "Jane Doe", "Doe, Jane", "Doe Jane", then parts
        for full, pattern in known.name_regexes:
            out = sub(pattern, self.pseudonyms.person(full), out)
        # 4. pattern recognizers
        out = sub(_IP, "[IP]", out)
        out = sub(_MRN, "[MRN]", out)
        out = sub(_STREET, "[ADDRESS]", out)
        out = _CARDLIKE.sub(lambda m: hold("[CARD]") if _is_card(m.group(0)) else m.group(0), out)
        out = sub(_SSN, "[SSN]", out)
        out = sub(_PHONE, "[PHONE]", out)
        out = sub(_LONG_NUMBER, "[ACCOUNT]", out)
        out = sub(_LAST4, lambda m: f"{m.group(1)} [LAST4]", out)
        out = sub(_ISO_DATE, lambda m: f"{m.group(1)}-{m.group(2)}", out)
        out = sub(_TEXT_DATE, "[DATE]", out)
        out = sub(_US_DATE, "[DATE]", out)
        out = sub(_AGE, lambda m: f"{age_band(int(m.group(1)))} year old", out)
        out = sub(_AGED, lambda m: f"{m.group(1)} {age_band(int(m.group(2)))}", out)
        out = sub(_ZIP, "[ZIP]", out)
        out = sub(_TITLED_NAME, lambda m: f"{m.group(1)}. {self.pseudonyms.person(m.group(2))}", out)
        return _SLOT.sub(lambda m: slots[_index(m.group(1))], out)

    # structured records ---------------------------------------------------------------------------

    def anonymize_record(self, record: RawRecord) -> AnonymizedRecord:
        """Anonymize a validated record of any known domain."""
        if record.domain == "healthcare":
            return self._healthcare(record)
        if record.domain == "finance":
            return self._finance(record)
        raise ValueError(f"no anonymizer for domain {record.domain!r}")

    def known_pii(self, record: RawRecord) -> KnownPII:
        """The raw identifiers of a record's subject (what must never leave the vault in plaintext)."""
        return self.anonymize_record(record).known

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

    def _healthcare(self, record: RawRecord) -> AnonymizedRecord:
        p, enc = record.payload["patient"], record.payload["encounter"]
        known = self._known(p, {p["mrn"]: "[MRN]", p["patient_id"]: "[PATIENT-ID]"})
        person = self.pseudonyms.person(f"{p['first_name']} {p['last_name']}")
        subject = self.pseudonyms.subject("healthcare", p["patient_id"])
        text = lambda s: self.anonymize_text(s, known)  # noqa: E731
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
                "date": shift_date(enc["date"], self.pseudonyms.date_shift(subject)),
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
        return AnonymizedRecord(record.domain, record.record_id, subject, doc, known)

    def _finance(self, record: RawRecord) -> AnonymizedRecord:
        c, acct = record.payload["customer"], record.payload["account"]
        account_token = self.pseudonyms.identifier("acct", acct["account_number"])
        card_token = self.pseudonyms.identifier("card", acct["card_number"])
        card = acct["card_number"]
        grouped = " ".join(card[i : i + 4] for i in range(0, len(card), 4))
        known = self._known(c, {
            acct["account_number"]: account_token,
            acct["routing_number"]: "[ROUTING]",
            card: card_token,
            grouped: card_token,
            c["customer_id"]: "[CUSTOMER-ID]",
        })
        subject = self.pseudonyms.subject("finance", c["customer_id"])
        person = self.pseudonyms.person(f"{c['first_name']} {c['last_name']}")
        text = lambda s: self.anonymize_text(s, known)  # noqa: E731
        last_tx = max((t["date"] for t in record.payload["transactions"]), default=acct["opened"])
        shift = self.pseudonyms.date_shift(subject)
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
            "account": {"token": account_token, "type": acct["account_type"], "opened_year": acct["opened"][:4],
                        "card": card_token},
            "transactions": [
                {"date": shift_date(t["date"], shift), "amount": t["amount"], "currency": t["currency"],
                 "merchant": text(t["merchant"]), "category": text(t["category"])}
                for t in record.payload["transactions"]
            ],
            "note": text(record.payload["note"]),
        }
        return AnonymizedRecord(record.domain, record.record_id, subject, doc, known)


@dataclass(frozen=True)
class AnonymizedRecord:
    """The anonymized form of a record: what is sealed into the vault and later embedded."""

    domain: str
    record_id: str
    subject_pseudonym: str
    document: dict[str, Any]
    known: KnownPII = field(repr=False, compare=False, default_factory=KnownPII)

    def to_json(self) -> bytes:
        """Canonical JSON bytes (sorted keys) so the same input seals the same plaintext."""
        return json.dumps(self.document, sort_keys=True, separators=(",", ":")).encode()


def find_leaks(text: str, raw_values: Iterable[str]) -> list[str]:
    """Kinds of PII still present in outgoing text: known raw values and pattern hits (never the values)."""
    kinds = []
    low = text.lower()
    words = sorted({v.lower() for v in raw_values if len(v) >= 3}, key=len, reverse=True)
    if words and re.search("(?<![a-z0-9])(?:" + "|".join(map(re.escape, words)) + ")(?![a-z0-9])", low):
        kinds.append("known_identifier")
    for kind, pattern in (("email", _EMAIL), ("ssn", _SSN), ("phone", _PHONE)):
        if pattern.search(text):
            kinds.append(kind)
    if any(_is_card(m.group(0)) for m in _CARDLIKE.finditer(text)):
        kinds.append("card")
    return kinds


def guard(text: str, raw_values: Iterable[str], where: str) -> str:
    """Fail closed: return text unchanged, or raise `LeakDetected` naming only the kinds found."""
    kinds = find_leaks(text, raw_values)
    if kinds:
        raise LeakDetected(where, kinds)
    return text
