"""Identifiers of people and their accounts: whatever ID-shaped token follows a cue, national ids by their own
shape and checksum, and tokens that mix letters and digits the way ids do.

1. **After a cue** ("driver's licence", "passport no.", "national id", "personnummer", "fødselsnummer", "BSN",
   "NIR", "codice fiscale", "DNI", "PAN", "Aadhaar", "TFN", "Medicare", "NHS number", "NINO", "SSN", "MRN",
   "member", "policy", "claim", "customer", "employee", "student", "case", "reference" numbers, "licence plate"):
   the next ID-shaped token, in any grouping ("AB 12 34 56 C", "943 476 5919", "RSSMRA85T10A562S", "X1234567-B").
2. **National ids** by Presidio's country recognizers (UK NHS/NINO, ES NIF/NIE, IT fiscal code, IN PAN/Aadhaar,
   AU TFN/Medicare, SE personnummer, FI henkilötunnus, PL PESEL, DE tax id, SG NRIC, KR RRN, TR TC kimlik, ZA id,
   …): their patterns and checksums, kept when Presidio is confident (a checksum passed or a strong pattern).
3. **Mixed tokens** without a cue: 6+ characters with at least two digits and a letter ("X1234567", "AB123456C"),
   unless they read as a quantity with its unit ("500mg", "12kg") or a well-known code ("COVID-19").

`spans(text)` yields `(start, end, "ID", score, recognizer)`; `load()` builds Presidio's recognizers once.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any

Hit = tuple[int, int, str, float, str]

CUES = (
    r"driver'?s?\s*licen[cs]e|driving\s*licen[cs]e|licen[cs]e|DL|führerschein|permis(?:\s+de\s+conduire)?|"
    r"patente|carnet\s+de\s+conducir|rijbewijs|körkort|førerkort|kørekort|ajokortti|prawo\s+jazdy|"
    r"passport|passeport|pass|reisepass|pasaporte|passaporto|paspoort|pass(?:nummer)?|"
    r"national\s*id(?:entity)?(?:\s*card)?|id\s*card|identity\s*card|id(?:entity)?\s*(?:no|number|#)|"
    r"personal\s*(?:id|identity\s*code|number)|personnummer|fødselsnummer|personnummer|cpr|henkilötunnus|hetu|"
    r"kennitala|bsn|burgerservicenummer|nir|insee|numéro\s+de\s+sécurité\s+sociale|sécu|steuer-?id|"
    r"steueridentifikationsnummer|sozialversicherungsnummer|svnr|ahv|avs|codice\s*fiscale|c\.?f\.?|"
    r"dni|nie|nif|cif|nss|cpf|rg|pesel|nip|regon|pan|aadhaa?r|uid|tfn|tax\s*file\s*number|medicare|"
    r"nhs\s*(?:no|number)?|chi|nino|ni\s*(?:no|number)|national\s*insurance(?:\s*number)?|sin|"
    r"social\s*insurance(?:\s*number)?|ssn|social\s*security(?:\s*number)?|itin|ein|tin|tax\s*id|vat|"
    r"mrn|medical\s*record|hospital\s*(?:no|number)|patient\s*(?:id|no|number)|chart|"
    r"member(?:ship)?|subscriber|policy|claim|customer|client|"
    r"employee|staff|personnel|payroll|student|matricul[ae]|badge|case|ticket|reference|ref|"
    r"licen[cs]e\s*plate|number\s*plate|registration|reg|plate|kenteken|kennzeichen|immatriculation|targa|matrícula|"
    r"voter\s*id|epic|ration\s*card|green\s*card|a-?number|alien\s*(?:no|number)|visa|residence\s*permit|"
    r"permit|certificate|cert|id|identifier|sécurité\s+sociale|seguridad\s+social|previdenza|nhc|uhid|cédula|cedula|"
    r"expediente|pratica|matr|gmc|nmc|pnc|prontu[áa]rio|rego(?:'s)?|rej|collar|shield|warrant|hosp(?:ital)?\s*(?:no|number|nr|#)|cust(?:omer)?|acct|reklamac\w*|polis\w*|"
    # compound number words of any language: "Versicherungsnummer", "Personal-Nr.", "personeelsnr.", "Anst.nr",
    # "numer polisy", "N°", "カルテ番号"
    r"[\w.\-]*(?:nummer|nr|numer|番号|번호)|n[º°]"
)
# cues after which a short number (4 digits) is an id too: employee, staff and membership numbers
_SHORT_ID_CUE = re.compile(r"(?i)(?:nr|nummer|no|number|matr|ewid|personal|staff|employee|payroll|member|badge|collar|"
                           r"shield)[.:#\s]*$")
_CUE = re.compile(
    rf"(?i)(?<![\w])(?:{CUES})\.?(?![\w])"
    r"(?:[ \t]*(?:no\.?|nr\.?|n[º°o]\.?|number|num\.?|#|id|code|nummer|numéro|número|numero|card|is|was|:|-|=|"
    r"ending|starting|reads|of|the|my|his|her|their|ewid\.?|\(|\))){0,4}[ \t:#=\-]*"
)
# an id: letters and digits in groups ("AB 12 34 56 C", "943 476 5919", "X1234567-B", "RSSMRA85T10A562S")
_ID = re.compile(
    r"(?=[A-Z0-9\-./ ]{0,3}\d|[A-Z]{2,}|[a-z]{1,3}[\d_\-])[A-Za-z0-9]"
    r"(?:[A-Za-z0-9]|[\-./](?=[A-Za-z0-9])|[ ](?=(?:[A-Z]?\d[A-Z0-9]{0,10}|[A-Z])(?![\w])))"
    r"{2,29}(?![\w])"
)
_MIXED = re.compile(r"(?<![\w\-./@])(?=[A-Za-z_\-]*\d[A-Za-z_\-]*\d)(?=[\d_\-]*[A-Za-z])[A-Za-z0-9][A-Za-z0-9_\-]{4,24}"
                    r"(?![\w@]|[\-./]\w)")
# reference numbers with slashes: "2024/IBI/00388", "POL/2023/448102", "AIIMS/2024/00418823", "04/118823X"
_SLASHED = re.compile(r"(?<![\w\-./])[A-Za-z0-9]{1,10}(?:[/\-][A-Za-z0-9]{1,12}){1,4}(?![\w]|[/\-]\w)")
# digits read out one by one: "four four one two, zero nine three seven", "uno, seis, uno, cinco"
_DIGIT_WORDS = (r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|double|triple|cero|uno|dos|tres|cuatro|"
                r"cinco|seis|siete|ocho|nueve|zéro|un|deux|trois|quatre|cinq|six|sept|huit|neuf|null|eins|zwei|drei|"
                r"vier|fünf|sechs|sieben|acht|neun|nul|een|twee|drie|vijf|zes|zeven|negen)")
_SPOKEN = re.compile(rf"(?i)(?<![\w]){_DIGIT_WORDS}(?:[ \t,\-]+{_DIGIT_WORDS}){{3,}}(?![\w])")
_QUANTITY = re.compile(
    r"(?i)^\d+(?:[.,]\d+)?(?:mg|mcg|µg|ug|ml|l|kg|g|lb|lbs|oz|km|m|cm|mm|mmol|mol|iu|u|hz|khz|mhz|ghz|kb|mb|gb|tb|"
    r"am|pm|h|hr|hrs|min|mins|s|sec|st|nd|rd|th|x|yo|yrs?|d|wk|wks|mo|k|kw|kwh|v|w|px|dpi|mph|kph|bpm)$"
)
_KNOWN_CODES = re.compile(r"(?i)^(?:covid-?19|sars-?cov-?2|h[0-9]n[0-9]|hba1c|mp[34]|[a-z]\d{1,2}|[a-z]{1,3}-?\d{1,2}|"
                          r"\d{1,2}[a-z]{1,2}|\d{3,4}x\d{3,4}|iso-?\d+|rfc-?\d+|utf-?8|ipv[46]|4g|5g|3d|2fa|b2b|"
                          r"covid19|icd-?10|icd-?9|cd4|cd8|t2dm|t1dm)$")
_DATEISH = re.compile(
    # a date or a time, not any three numbers ("MRN 77-10-42" is an id)
    r"^(?:\d{4}[./\-](?:0?[1-9]|1[0-2])[./\-](?:0?[1-9]|[12]\d|3[01])"
    r"|(?:0?[1-9]|[12]\d|3[01])[./\-](?:0?[1-9]|[12]\d|3[01])[./\-](?:\d{4}|\d{2}))$|^\d{1,2}:\d{2}"
)
_WORDS_AFTER_CUE = re.compile(r"(?i)^(?:is|was|the|a|an|and|or|for|of|to|with|on|in|at|by|we|he|she|they|it|this|"
                              r"that|number|no|pending|unknown|missing|expired|valid|holder|details|card|office)$")

# Presidio's country recognizers: their patterns and checksums (entity names are theirs; all become ID)
PRESIDIO_RECOGNIZERS = (
    "NhsRecognizer", "UkNinoRecognizer", "UkPassportRecognizer", "UkDrivingLicenceRecognizer", "EsNifRecognizer",
    "EsNieRecognizer", "EsPassportRecognizer", "ItFiscalCodeRecognizer", "ItIdentityCardRecognizer",
    "ItPassportRecognizer", "ItDriverLicenseRecognizer", "InPanRecognizer", "InAadhaarRecognizer",
    "InPassportRecognizer", "InVoterRecognizer", "AuTfnRecognizer", "AuMedicareRecognizer", "SePersonnummerRecognizer",
    "FiPersonalIdentityCodeRecognizer", "PlPeselRecognizer", "DeTaxIdRecognizer", "DeSocialSecurityRecognizer",
    "DeIdCardRecognizer", "DePassportRecognizer", "SgFinRecognizer", "KrRrnRecognizer", "TrNationalIdRecognizer",
    "ZaIdNumberRecognizer", "CaSinRecognizer", "UsItinRecognizer", "UsPassportRecognizer", "UsMbiRecognizer",
    "ThTninRecognizer", "NgNinRecognizer", "PhUmidRecognizer", "UkVehicleRegistrationRecognizer", "DeKfzRecognizer",
    "InVehicleRegistrationRecognizer", "TrLicensePlateRecognizer",
)
PRESIDIO_MIN_SCORE = 0.5

_lock = threading.Lock()
_presidio: list[tuple[Any, Any]] | None = None  # (recognizer, one compiled regex of all its patterns)


def load() -> list[tuple[Any, Any]]:
    """Presidio's country recognizers, built once, answering for English text as for any other, each with one
    compiled regex of all its patterns: a text none of them matches (most) costs one search, not 35 analyses."""
    global _presidio
    if _presidio is None:
        with _lock:
            if _presidio is None:
                import presidio_analyzer.predefined_recognizers as predefined

                built = []
                for name in PRESIDIO_RECOGNIZERS:
                    cls = getattr(predefined, name, None)
                    if cls is None:
                        continue
                    try:
                        recognizer = cls(supported_language="en")
                    except TypeError:
                        recognizer = cls()
                    import regex

                    union = "|".join(f"(?:{p.regex})" for p in recognizer.patterns)
                    built.append((recognizer, regex.compile(union, recognizer.global_regex_flags)))
                _presidio = built
    return _presidio


def _after_cue(text: str) -> Iterator[Hit]:
    for m in _CUE.finditer(text):
        idm = _ID.match(text, m.end())
        if not idm:
            continue
        token = idm.group(0).rstrip(" .-/")
        if not any(c.isdigit() for c in token):
            continue
        if _WORDS_AFTER_CUE.match(token) or _DATEISH.match(token) or _QUANTITY.match(token):
            continue
        alnum = re.sub(r"\W", "", token)
        short_ok = alnum.isdigit() and len(alnum) == 4 and _SHORT_ID_CUE.search(text[max(0, m.start() - 16):m.end()])
        if len(alnum) < (5 if alnum.isdigit() else 4) and not short_ok:
            continue
        yield idm.start(), idm.start() + len(token), "ID", 0.8, "id:after-cue"


def _mixed(text: str) -> Iterator[Hit]:
    for m in _MIXED.finditer(text):
        token = m.group(0)
        if _QUANTITY.match(token) or _KNOWN_CODES.match(token) or _DATEISH.match(token) \
                or re.match(r"(?i)x{2,}", token):  # "xxxx4321": a masked number, the last four digits are LAST4
            continue
        if sum(c.isdigit() for c in token) < 2 or len(token.replace("-", "")) < 6:
            continue
        yield m.start(), m.end(), "ID", 0.6, "id:mixed-token"


def _slashed(text: str) -> Iterator[Hit]:
    for m in _SLASHED.finditer(text):
        token = m.group(0)
        digits = sum(c.isdigit() for c in token)
        if digits >= 5 and not _DATEISH.match(token) and not re.fullmatch(r"[\d/\-]+", token) \
                or digits >= 6 and re.fullmatch(r"\d{1,4}/\d{5,}[A-Za-z]?", token):
            yield m.start(), m.end(), "ID", 0.6, "id:reference"


def _spoken(text: str) -> Iterator[Hit]:
    for m in _SPOKEN.finditer(text):
        yield m.start(), m.end(), "ID", 0.6, "id:spoken-digits"


def _national(text: str) -> Iterator[Hit]:
    for recognizer, could in load():
        if not could.search(text):
            continue
        try:
            results = recognizer.analyze(text, recognizer.supported_entities)
        except Exception:  # noqa: BLE001 - one recognizer's failure must not stop detection
            continue
        for r in results:
            if r.score >= PRESIDIO_MIN_SCORE:
                yield r.start, r.end, "ID", min(0.85, r.score), f"presidio:{type(recognizer).__name__}"


# a Hong Kong identity card number with its check digit: "A123456(3)", "AB987654(A)"
_HKID = re.compile(r"(?<![\w])[A-Z]{1,2}\d{6}[ \t]?\([0-9A]\)")


# a German, Austrian or Swiss-style number plate: district, hyphen, letters, number ("B-AV 4417", "HH-XY 99E")
_DE_PLATE = re.compile(r"(?<![\w\-])[A-ZÄÖÜ]{1,3}-[A-Z]{1,2}[ \t]?\d{1,4}[EH]?(?![\w\-])")


def spans(text: str) -> Iterator[Hit]:
    """Identifier hits in `text`."""
    if not text:
        return
    yield from _spoken(text)
    if not any(c.isdigit() for c in text):
        return
    yield from _after_cue(text)
    for m in _HKID.finditer(text):
        yield m.start(), m.end(), "ID", 0.85, "id:hkid"
    for m in _DE_PLATE.finditer(text):
        yield m.start(), m.end(), "ID", 0.75, "id:plate"
    yield from _mixed(text)
    yield from _slashed(text)
    yield from _national(text)
