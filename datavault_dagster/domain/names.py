"""Person-name rules that complement spaCy's NER: names after a title, before a credential, after a cue word.

spaCy's `en_core_web_md` finds most English names in running text but misses many non-English ones, names in
capitals, and "Last, First" forms. These rules read the words around a name instead: a title ("Dr. Boaz van
Herstal"), a credential after it ("Océane Dupré, MD"), or a word that introduces a person ("daughter …",
"Logged by …", "Name: …"). A candidate is a run of name-shaped words (capitalized or all capitals, with
initials and particles such as "van", "de", "da" inside), never a month, weekday, stop word or a word that
names a place or an organization.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache

from . import lexicon

TITLE_WORDS = ("Dr", "Doctor", "Mr", "Mrs", "Ms", "Miss", "Mx", "Prof", "Professor", "Nurse", "Sr", "Fr", "Rev",
               # honorifics of other languages: "Frau Kaya", "Signora Costa", "mevrouw Bakker", "Sra. Pérez"
               "Herr", "Frau", "Hr", "Fr", "Mme", "Mlle", "Madame", "Monsieur", "Mademoiselle", "Signora", "Signor",
               "Signore", "Sig", "Sigra", "Dott", "Dottssa", "Dottoressa", "Sra", "Srta", "Señor", "Señora", "Don",
               "Doña", "Dona", "Mevrouw", "Mevr", "Heer", "Dhr", "Mw", "Mej", "Smt", "Shri", "Shrimati",
               "Kumari", "Bey", "Hanım", "Sayın", "Sir", "Capt", "Sgt", "Cpl", "Insp", "Fru", "Rouva", "Herra")
CREDENTIALS = ("MD", "M.D.", "DO", "D.O.", "RN", "NP", "PA-C", "PA", "PhD", "DDS", "DMD", "LPN", "FNP", "CNP",
               "APRN", "PharmD", "LCSW", "MSW", "DPT", "PT", "OD", "CPA", "CFP", "Esq", "JD")
# words that introduce a person; a strong cue admits a single name word ("daughter Maria"), a weak one needs two
STRONG_CUES = (
    "daughter", "son", "wife", "husband", "mother", "father", "mom", "dad", "sister", "brother", "spouse",
    "partner", "fiance", "fiancee", "grandson", "granddaughter", "grandmother", "grandfather", "niece", "nephew",
    "aunt", "uncle", "cousin", "friend", "neighbor", "neighbour", "caregiver", "guardian", "roommate",
    "stepdaughter", "stepson", "advisor", "adviser", "banker", "agent", "representative", "officer", "attorney",
    "lawyer", "executor", "trustee", "beneficiary", "nurse", "physician", "therapist", "pharmacist", "surgeon",
    "practitioner", "clinician", "provider", "social worker", "case manager", "interpreter", "Mr", "Mrs", "Ms",
    "patient", "pt", "client", "thanks", "thank you", "regards", "sincerely", "cheers",
    # greetings, sign-offs and introductions, in several languages: "Hi Bec,", "Beste Daan,", "Terveisin Satu"
    "hi", "hello", "hey", "dear", "hallo", "hej", "hei", "moi", "bonjour", "salut", "hola", "ciao", "olá",
    "beste", "liebe", "lieber", "cher", "chère", "caro", "cara", "querido", "querida", "estimado", "estimada",
    "kia ora", "terveisin", "groeten", "met vriendelijke groet", "mvh", "hilsen", "saludos", "cordialement",
    "grüße", "gruß", "pozdrawiam", "this is", "speaking with", "you're speaking with", "it's", "my name is",
    # the patient or customer, in other languages: "Pacient Jan Novák", "Müşteri Ayşe Yılmaz"
    "pacient", "pacientka", "paciente", "patiënt", "patientin", "hasta", "müşteri", "klient", "klientka",
    "kunde", "kundin", "cliente", "asiakas", "kund", "kunden", "potilas",
)
WEAK_CUES = (
    "by", "per", "to", "with", "for", "from", "and", "of", "cc", "attn", "c/o", "met", "saw", "called", "told",
    "asked", "contact", "contacted", "visited", "seen", "about", "ask", "that", "I'm", "I am", "my name is",
    "this is", "name's", "signed", "maiden name is", "called", "named", "add", "née", "geb", "geborene", "born",
)
FORM_LABELS = (
    "name", "full name", "patient", "patient name", "pt", "customer", "customer name", "client", "client name",
    "account holder", "holder", "beneficiary", "contact", "emergency contact", "provider", "physician",
    "guarantor", "insured", "subscriber", "member", "member name", "signed", "signature", "from", "to", "next of kin",
    "nok", "parent", "spouse", "referring physician", "pcp", "attending", "advisor", "owner", "payee", "recipient",
    "first name", "last name", "surname", "given name", "given names", "forename", "forenames", "middle name",
    "maiden name", "family name", "employee", "employee name", "staff", "agent", "rep", "caller", "account name",
    "cardholder", "card holder", "claimant", "applicant", "co-applicant", "tenant", "landlord", "witness", "driver",
    "midwife", "gp", "doctor", "nurse", "consultant", "surgeon", "therapist", "student", "pupil", "child", "mother",
    "father", "guardian", "parent/guardian", "sender", "addressee", "attention", "requested by", "approved by",
    "name of patient", "patient's name", "guest", "traveller", "passenger", "holder", "policyholder",
    # other languages
    "nom", "prénom", "prénoms", "nom d'usage", "nom de naissance", "patient", "patiente", "nombre", "apellidos",
    "apellido", "paciente", "nome", "cognome", "paziente", "naam", "voornaam", "achternaam", "patiënt", "navn",
    "fornavn", "etternavn", "efternavn", "förnamn", "efternamn", "namn", "pårørende", "anhörig", "nimi", "etunimi",
    "sukunimi", "name", "vorname", "nachname", "familienname", "geburtsname", "patientin", "versicherter",
    "kontoinhaber", "ansprechpartner", "imię", "nazwisko", "pacjent", "pacjentka", "hasta adı", "adı", "soyadı",
    "nume", "prenume", "titular", "trabajador", "trabajadora", "werknemer", "klant", "cliente", "asegurado",
    "asegurada", "segurado", "mitglied", "empfänger", "destinataire", "beneficiario", "beneficiaria", "assuré",
    "assurée", "bénéficiaire", "titulaire", "demandeur", "arbeitnehmer", "mitarbeiter", "mitarbeiterin",
    "dipendente", "assicurato", "intestatario", "verzekerde", "aanvrager", "medewerker", "sökande", "søker",
)
PARTICLES = {"van", "von", "de", "da", "das", "do", "dos", "del", "della", "der", "den", "di", "du", "la", "le",
             "bin", "ibn", "al", "el", "ter", "ten", "y", "st"}
_MONTHS = {"january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov",
           "dec"}
_WEEKDAYS = {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}
# words that make a capitalized run a place, an organization or a document heading rather than a person
_NOT_NAME = {
    "hospital", "clinic", "center", "centre", "medical", "health", "healthcare", "regional", "general",
    "university", "college", "school", "institute", "bank", "credit", "union", "market", "wholesale", "store",
    "pharmacy", "insurance", "group", "services", "service", "department", "dept", "county", "city", "state",
    "street", "avenue", "road", "lane", "drive", "boulevard", "suite", "apt", "inc", "llc", "ltd", "corp",
    "company", "co", "foundation", "church", "office", "team", "associates", "partners", "trust", "fund",
    "lab", "labs", "laboratory", "radiology", "cardiology", "oncology", "pediatrics", "emergency", "er", "icu",
    "today", "yesterday", "tomorrow", "tonight", "morning", "afternoon", "evening", "dear", "hi", "hello",
    "thanks", "thank", "regards", "sincerely", "patient", "customer", "client", "account", "card", "phone",
    "email", "address", "note", "plan", "assessment", "history", "diagnosis", "summary", "visit", "follow",
    "type", "stage", "grade", "class", "level", "mrn", "ssn", "dob", "id", "usa", "us", "america", "american",
    "visa", "mastercard", "amex", "discover", "iban", "aba", "ach", "wire", "statement", "portal", "app",
    "disease", "syndrome", "disorder", "palsy", "cancer", "diabetes", "hypertension", "monthly", "annual",
    "north", "south", "east", "west", "lake", "port", "mount", "fort", "new", "san", "santa", "los", "las",
    "airlines", "air", "lines", "hotels", "hotel", "grill", "foods", "edison", "depot", "buy", "wireless",
    # pronouns with their verb, which a greeting cue may be followed by: "Hello, I'm Rosalind"
    "i'm", "i’m", "im", "i've", "i'll", "i'd", "it's", "it’s", "we're", "you're", "he's", "she's", "they're",
} | _MONTHS | _WEEKDAYS | {t.lower() for t in TITLE_WORDS}


@cache
def not_name() -> frozenset[str]:
    """Lower-cased words that are never part of a name: the list above and spaCy's English stop words.

    Built on first use: importing spaCy takes seconds, and most importers of this module never detect anything.
    """
    from spacy.lang.en.stop_words import STOP_WORDS

    return frozenset(_NOT_NAME | set(STOP_WORDS))


# a capitalized run followed by one of these names a place or an organization: "Good Samaritan Hospital"
ORG_WORDS = {
    "hospital", "clinic", "center", "centre", "medical", "health", "healthcare", "university", "college",
    "school", "institute", "bank", "market", "wholesale", "pharmacy", "insurance", "group", "services",
    "department", "county", "street", "avenue", "road", "drive", "boulevard", "inc", "llc", "ltd", "corp",
    "company", "foundation", "church", "associates", "partners", "airlines", "hotels", "grill", "foods", "depot",
    "wireless", "regional", "general", "memorial", "community",
}
_CRED = "|".join(re.escape(c) for c in sorted(CREDENTIALS, key=len, reverse=True))
_TITLE = "|".join(sorted({form for t in TITLE_WORDS for form in (t, t.upper(), t.lower())}, key=len, reverse=True))

_WORD = re.compile(r"[^\W\d_](?:[^\W\d_]|['’\-](?=[^\W\d_]))*\.?")
_TITLE_RE = re.compile(rf"\b(?:{_TITLE})\b\.?[ \t]+")
_CRED_RE = re.compile(rf",?[ \t]+(?:{_CRED})(?![\w-])")
_CUE_RE = re.compile(
    r"(?<![\w-])(?:(?P<strong>" + "|".join(re.escape(c) for c in STRONG_CUES) + r")|(?P<weak>"
    + "|".join(re.escape(c) for c in WEAK_CUES) + r"))(?:'s)?[ \t]*[:,]?[ \t]+"
    # a label at a line's start, after a separator, or after a gap of spaces ("NOM : DUPONT   Prénom : Linh")
    + r"|(?:^|(?<=[\n|;\t])|(?<=[ ]{2}))[ \t]*(?P<label>" + "|".join(re.escape(c) for c in FORM_LABELS)
    + r")[ \t]*[:=#][ \t]*",
    re.I | re.M,
)


def _name_word(word: str, *, caps: bool) -> bool:
    """A capitalized word (or an all-capitals one inside an all-capitals name) that is not a known non-name."""
    bare = word.rstrip(".")
    if not bare or not bare[0].isupper() or bare.lower() in not_name():
        return False
    if len(bare) == 1:  # an initial needs its dot, except inside a name in capitals ("KATIE L O'LOUGHLIN")
        return word.endswith(".") or caps
    if bare.isupper():
        return caps
    return True  # internal capitals are fine: McKinney, MacDonald, DeAngelo, LaToya


_MONTH_NAMES = {"jan", "may", "june", "april", "august", "julia"}  # months, and first names in many countries


def _month_first_name(text: str, m: re.Match[str], *, caps: bool) -> bool:
    """'Jan Novák', 'May Tan': a month's name is a first name when a name word follows it."""
    word = m.group(0)
    if word.rstrip(".").lower() not in _MONTH_NAMES or not word[0].isupper() or word.endswith("."):
        return False
    nxt = re.match(r"[ \t]+([^\W\d_][\w'’\-]*)", text[m.end():])
    return bool(nxt) and _name_word(nxt.group(1), caps=caps)


def name_run(
    text: str, at: int, *, min_words: int = 1, max_words: int = 4, caps_single: bool = False
) -> tuple[int, int] | None:
    """The run of name words starting at `at` ("Boaz van Herstal", "DE LA FUENTE", "Lawson, Julia"), or None.

    A name in capitals needs two words ("KRISHNA SAHA"; "IP" or "ACH" alone is an acronym) unless `caps_single`.
    """
    first = _WORD.match(text, at)
    if not first:
        return None
    head = first.group(0).rstrip(".")
    second = _WORD.match(text, first.end() + len(text[first.end():]) - len(text[first.end():].lstrip(" \t")))
    # a name in capitals, also when it starts with an initial ("J OKONJO")
    caps = head.isupper() and (len(head) > 1 or bool(second and len(second.group(0).rstrip(".")) > 1
                                                     and second.group(0).rstrip(".").isupper()))
    words: list[tuple[int, int]] = []
    pos = at
    comma_used = False
    while len(words) < max_words:
        m = _WORD.match(text, pos)
        if not m:
            break
        word = m.group(0)
        if words and re.match(r"[ \t]*[:：]", text[m.end():]):
            break  # the next field's label: "MARCHAND   Prénom : Ysé"
        if _name_word(word, caps=caps) or _month_first_name(text, m, caps=caps):
            end = m.end() if word.endswith(".") and len(word.rstrip(".")) == 1 else m.start() + len(word.rstrip("."))
            words.append((m.start(), end))
        elif word.lower() in PARTICLES and words:
            nxt = re.match(r"[ \t]+", text[m.end():])
            if not nxt or not _WORD.match(text, m.end() + nxt.end()):
                break
            pos = m.end() + nxt.end()
            continue
        else:
            break
        rest = text[words[-1][1]:]
        gap = re.match(r"[ \t]+|,[ \t]+", rest)
        if not gap:
            break
        if gap.group(0).startswith(","):
            # "Last, First": one comma, after a single word, followed by a name word (not a credential)
            following = _WORD.match(text, words[-1][1] + gap.end())
            if comma_used or len(words) != 1 or not following or not _name_word(following.group(0), caps=caps) \
                    or _CRED_RE.match(rest):
                break
            comma_used = True
        pos = words[-1][1] + gap.end()
    if len(words) < max(min_words, 2 if caps and not caps_single else 1):
        return None
    after = _WORD.match(text, words[-1][1] + len(text[words[-1][1]:]) - len(text[words[-1][1]:].lstrip(" \t")))
    if after and after.group(0)[:1].isupper() and after.group(0).rstrip(".").lower() in ORG_WORDS:
        return None
    return words[0][0], words[-1][1]


# words NER sometimes takes into a name at its edges ("Patient Arias", "Joshua Please")
EDGE_WORDS = {"please", "hi", "hello", "dear", "thanks", "thank", "regards", "patient", "pt", "customer",
              "client", "spoke", "saw", "called", "per", "cc", "attn", "re", "fwd"} | {t.lower() for t in TITLE_WORDS}


def trim_edges(text: str, start: int, end: int) -> tuple[int, int]:
    """Drop EDGE_WORDS from both ends of a span."""
    while True:
        m = re.match(r"([^\W\d_]+)\.?[ \t,]+", text[start:end])
        if m and m.group(1).lower() in EDGE_WORDS:
            start += m.end()
            continue
        m = re.search(r"[ \t,]+([^\W\d_]+)\.?$", text[start:end])
        if m and m.group(1).lower() in EDGE_WORDS:
            end = start + m.start()
            continue
        return start, end


def extend_last_first(text: str, start: int, end: int) -> tuple[int, int]:
    """A one-word name widened to 'Last, First' when the other half is next to it ('Collier, Erik' from either)."""
    if re.search(r"\s", text[start:end]):
        return start, end
    m = re.search(r"([^\W\d_][\w'’\-]*),[ \t]+$", text[max(0, start - 40):start])
    if m and _name_word(m.group(1), caps=m.group(1).isupper()):
        return start - len(m.group(0)), end
    m = re.match(r",[ \t]+([^\W\d_][\w'’\-]*)(?![\w'’\-]|,[ \t]*[^\W\d_])", text[end:end + 40])
    if m and _name_word(m.group(1), caps=m.group(1).isupper()):
        return start, end + m.end()
    return start, end


_SPEAKER = re.compile(
    r"(?m)^[ \t]*(?:\[?\d{1,2}[:.]\d{2}(?::\d{2})?(?:[ \t]?[AaPp][Mm])?\]?[ \t]*(?:[-–—][ \t]*)?"
    # a date before the time: "[Mar 3, 2024 4:05 PM] Kai:"
    r"|\[[^\]\n]{0,24}\d{1,2}[:.]\d{2}(?::\d{2})?(?:[ \t]?[AaPp]\.?[Mm]\.?)?\][ \t]*(?:[-–—][ \t]*)?)"
    r"(?P<name>[^\W\d_][\w'’\-]{1,24}(?:[ \t][^\W\d_][\w'’\-.]{0,24}){0,2})[ \t]*:"
    r"|\b(?:Agent|Rep|Advisor|Adviser|Operator|Nurse|Dr|Doctor|Caller|Customer)[ \t]*"
    r"\((?P<inner>[^\W\d_][\w'’\- ]{1,30})\)"
)
_NOT_SPEAKER = {"agent", "caller", "customer", "rep", "advisor", "operator", "system", "bot", "user", "assistant",
                "note", "subject", "re", "fw", "fwd", "to", "from", "cc", "date", "sent", "time", "tel", "phone"}


def speaker_names(text: str) -> Iterator[tuple[int, int]]:
    """Names that label turns of a chat or transcript: '[12:01] Lola:', '11:02 PM - tasha:', 'Agent (Sam):'."""
    for m in _SPEAKER.finditer(text):
        group = "name" if m.group("name") else "inner"
        value = m.group(group)
        if value.lower().strip() in _NOT_SPEAKER or value.split()[0].lower() in not_name():
            continue
        if group == "name" and not re.match(r"[ \t]*(?:\[|\d)", m.group(0)):
            continue  # a line starting "Word:" is a field label unless a time stamp comes first
        yield m.start(group), m.start(group) + len(value.rstrip())
    yield from _chat_turns(text)


_TURN = re.compile(r"(?m)^[ \t]*(?P<name>[^\W\d_][\w'’\-]{1,20})[ \t]*:[ \t]+(?=\S)")


def _chat_turns(text: str) -> Iterator[tuple[int, int]]:
    """Speakers of a chat without time stamps ("Kat: did u get the rent?" / "Ife: yes thanks!"): two or more
    distinct words that each start two or more lines as "Word: ...", none of them a field label or a plain word."""
    turns = [m for m in _TURN.finditer(text)]
    counts: dict[str, int] = {}
    for m in turns:
        counts[m.group("name")] = counts.get(m.group("name"), 0) + 1
    labels = {label.lower() for label in FORM_LABELS} | _NOT_SPEAKER | not_name()
    lex = lexicon.shared()
    people = {w for w in counts if w.lower() not in labels and not lex.plain(w)}
    if len(people) < 2 or not any(counts[w] >= 2 for w in people) or sum(counts[w] for w in people) < 3 \
            or any(w.lower() in labels for w in counts if counts[w] >= 2):
        return  # a form repeats its labels ("Name:", "Date:"); a chat repeats its people
    speakers = people
    for m in turns:
        if m.group("name") in speakers:
            yield m.start("name"), m.end("name")


_INITIALS_AND_PARTICLES = re.compile(
    r"(?:[A-Z]\.[ \t]?){0,4}(?:(?:" + "|".join(sorted(PARTICLES, key=len, reverse=True)) + r")[ \t]+){0,3}"
)


def titled_names(text: str) -> Iterator[tuple[int, int]]:
    """Names after a title: 'Dr. Hoàng', 'Dr Davi da Cruz', 'Mr. Jean-Luc Picard', 'dr. P.J. van Leeuwen'."""
    for m in _TITLE_RE.finditer(text):
        lead = _INITIALS_AND_PARTICLES.match(text, m.end())  # initials and particles before the surname
        run = name_run(text, lead.end(), max_words=3, caps_single=True)
        if run:
            yield m.end(), run[1]


def credentialed_names(text: str, likeness: NameLikeness | None = None) -> Iterator[tuple[int, int]]:
    """Names before a credential: 'Océane Dupré, MD', 'Anthony Kar, RN'.

    Walking back from the credential may take in a capitalized word before the name ("Consulted Dina Duse,
    MD"); with `likeness`, leading words that read as ordinary words are dropped while two words remain.
    """
    for m in _CRED_RE.finditer(text):
        # walk back over up to four name words
        head = text[max(0, m.start() - 80):m.start()]
        words = list(re.finditer(r"[^\W\d_][\w'’.\-]*", head))
        start = None
        for w in reversed(words[-4:]):
            gap = head[w.end():(start - (m.start() - len(head))) if start is not None else len(head)]
            if gap.strip() or not (_name_word(w.group(0), caps=True) or w.group(0).lower() in PARTICLES):
                break
            start = m.start() - len(head) + w.start()
        if start is None:
            continue
        run = name_run(text, start, min_words=2, max_words=4)
        while run and likeness is not None and len(text[run[0]:run[1]].split()) > 2:
            first = text[run[0]:run[1]].split()[0]
            score = likeness.score(first)
            if score is None or score > -0.1:
                break
            run = name_run(text, run[0] + len(first) + 1, min_words=2, max_words=4)
        if run and run[1] == m.start():
            yield run


def cued_names(text: str, likeness: NameLikeness | None = None) -> Iterator[tuple[int, int, float]]:
    """Names after a word that introduces a person, with a confidence: (start, end, score).

    Capitalized phrases follow these words too ("with Physical Therapy", "Contact: Front Desk"): with
    `likeness`, a run needs a word that reads like a name (strongly after "with"/"by"/…, weakly after
    "daughter" or "Name:"). Without it, only the strong cues and form labels are used.
    """
    for m in _CUE_RE.finditer(text):
        if m.group("label") or m.group("strong"):
            # a form's surname field may hold one word in capitals ("NOM : MARCHAND")
            run = name_run(text, m.end(), min_words=1, caps_single=bool(m.group("label")))
            score, bar = 0.7 if m.group("label") else 0.65, -0.1
        elif likeness is not None:
            run, score, bar = name_run(text, m.end(), min_words=2), 0.5, 0.1
        else:
            continue
        if run and (likeness is None or likeness.any_above(text[run[0]:run[1]], bar)):
            yield run[0], run[1], score


# Prototypes for NameLikeness: frequent US given names and surnames, and words that start capitalized phrases in
# notes. They only place two centroids in en_core_web_md's vector space; they are not a list of names to find.
NAME_PROTOTYPES = (
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara Richard Susan Joseph "
    "Jessica Thomas Sarah Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez "
    "Lopez Gonzalez Wilson Anderson Taylor Moore Jackson Martin Lee"
).split()
WORD_PROTOTYPES = (
    "The Of And Care Therapy Pain Work Service Management Plan Team Health Office Medicine Education Cross Oil "
    "Group Center System Program Support Review History"
).split()


class NameLikeness:
    """How much a word's vector looks like a person's name rather than an ordinary capitalized word.

    Score = cos(word, name centroid) - cos(word, word centroid) in the model's word vectors; names score
    above 0 (Maria 0.53, Nguyen 0.53, Priya 0.47), ordinary words below (Therapy -0.40, Management -0.19).
    A word without a vector (most rare surnames: Hitesh, Gleba, Cebulak) counts as name-like.
    """

    def __init__(self, vectors) -> None:  # noqa: ANN001  (a spaCy Vectors table)
        import numpy as np
        from spacy.strings import get_string_id

        self._np = np
        self._key = get_string_id
        self._vectors = vectors
        self._names = self._centroid(NAME_PROTOTYPES)
        self._words = self._centroid(WORD_PROTOTYPES)

    def _vector(self, word: str):  # noqa: ANN202
        # the table directly, not vocab[word]: that would add every word ever seen to the vocabulary
        key = self._key(word)
        if key not in self._vectors:
            return None
        v = self._vectors[key]
        n = self._np.linalg.norm(v)
        return v / n if n else None

    def _centroid(self, words: tuple[str, ...] | list[str]):  # noqa: ANN202
        vs = [v for w in words if (v := self._vector(w)) is not None]
        c = self._np.mean(vs, axis=0)
        return c / self._np.linalg.norm(c)

    def score(self, word: str) -> float | None:
        """Name-likeness of one word, None when it has no vector."""
        v = self._vector(word)
        return None if v is None else float(v @ self._names - v @ self._words)

    def any_above(self, run: str, bar: float) -> bool:
        """Whether some word of the run (initials aside) has no vector or scores above `bar`."""
        for word in re.findall(r"[^\W\d_][\w'’\-]*", run):
            if len(word) < 2:
                continue
            s = self.score(word[:1] + word[1:].lower() if word.isupper() else word)
            if s is None or s > bar:
                return True
        return False


def recase(text: str) -> str | None:
    """The text with runs of two or more all-capitals words in title case (same length), or None if it has none.

    spaCy's NER reads 'KRISHNA SAHA' as an acronym; 'Krishna Saha' as a name.
    """
    changed = False

    def fix(m: re.Match[str]) -> str:
        nonlocal changed
        words = re.split(r"(\W+)", m.group(0))
        out = "".join(w[:1] + w[1:].lower() if w.isalpha() else w for w in words)
        if len(out) != len(m.group(0)):
            return m.group(0)
        changed = True
        return out

    fixed = re.sub(r"\b[^\W\d_a-z]{2,}(?:[ \t,]+[^\W\d_a-z]{2,})+\b", fix, text)
    return fixed if changed else None


# --- names from the lexicon ------------------------------------------------------------------------------------

_TOKEN = re.compile(r"[^\W\d_](?:[^\W\d_]|['’\-](?=[^\W\d_]))*")
SEED_RANK = 1000  # a lone capitalized word is a name when it is among a country's 1,000 most popular names
# a name before one of these names a disease, a sign or a law ("Parkinson's disease", "Murphy's sign")
EPONYM_WORDS = {"disease", "syndrome", "disorder", "palsy", "sign", "test", "law", "score", "scale", "criteria",
                "procedure", "operation", "reflex", "phenomenon", "maneuver", "manoeuvre", "fracture", "lymphoma",
                "sarcoma", "tumour", "tumor", "ulcer", "cyst", "classification", "effect", "principle", "theorem"}


def lexicon_names(text: str, lex) -> Iterator[tuple[int, int]]:  # noqa: ANN001 - a lexicon.Lexicon
    """Person names found by what their words are, not by the words around them: a capitalized word that is a
    popular first or last name somewhere and not an ordinary word of any language ("Ingrid", "Haugen", "Kwame",
    "Asante"), widened over the capitalized name words, unknown words and particles next to it ("Ingrid Haugen",
    "Boaz van Herstal"); in lower case, a first name followed by a last name ("ingrid haugen")."""
    tokens = list(_TOKEN.finditer(text))
    stop = not_name()

    def cap(w: str) -> bool:
        return w[0].isupper() and (not w.isupper() or len(w) > 1)

    def joinable(w: str) -> bool:  # may sit in a name next to a name word
        k = w.lower()
        return cap(w) and k not in stop and k not in ORG_WORDS and not lex.ordinary(w) and len(w) > 1

    def seed(w: str) -> bool:
        if not cap(w) or w.lower() in stop or w.lower() in ORG_WORDS or len(w) < 2:
            return False
        if w.isupper() and len(w) <= 3:
            return False  # an acronym
        rank = lex.name_rank(w)
        return rank is not None and rank <= SEED_RANK and lex.name_like(w)

    def gap_ok(a: re.Match[str], b: re.Match[str]) -> bool:
        return re.fullmatch(r"[ \t]+|[ \t]*-[ \t]*", text[a.end():b.start()]) is not None

    used = -1
    for i, tok in enumerate(tokens):
        if i <= used:
            continue
        word = tok.group(0)
        if seed(word):
            lo = hi = i
            while lo > 0 and gap_ok(tokens[lo - 1], tokens[lo]) and joinable(tokens[lo - 1].group(0)):
                lo -= 1
            while hi + 1 < len(tokens) and gap_ok(tokens[hi], tokens[hi + 1]):
                nxt = tokens[hi + 1].group(0)
                if joinable(nxt) or seed(nxt):
                    hi += 1
                elif nxt.lower() in PARTICLES and hi + 2 < len(tokens) and gap_ok(tokens[hi + 1], tokens[hi + 2]) \
                        and joinable(tokens[hi + 2].group(0)):
                    hi += 2
                else:
                    break
            used = hi
            before = text[max(0, tokens[lo].start() - 8):tokens[lo].start()]
            after = tokens[hi + 1].group(0) if hi + 1 < len(tokens) and gap_ok(tokens[hi], tokens[hi + 1]) else ""
            if re.search(r"(?:\bSt\.?|Saint|Sankt|Santa|San|São|Sainte)[ \t]+$", before) \
                    or (after[:1].isupper() and (after.lower() in ORG_WORDS or lex.ordinary(after))) \
                    or after.lower() in EPONYM_WORDS:
                continue  # "St. Mary's", "Mayo Clinic", "Wells Fargo", "Parkinson's disease": named after someone
            yield tokens[lo].start(), tokens[hi].end()
        elif word.islower() and i + 1 < len(tokens) and gap_ok(tok, tokens[i + 1]):
            nxt = tokens[i + 1].group(0)
            first, last = lex.first_names.get(word), lex.last_names.get(nxt)
            if nxt.islower() and first is not None and last is not None and first <= SEED_RANK \
                    and last <= SEED_RANK and lex.name_like(word) and lex.name_like(nxt) \
                    and word not in stop and nxt not in stop:
                used = i + 1
                yield tok.start(), tokens[i + 1].end()


# --- names in Chinese, Japanese and Korean script ---------------------------------------------------------------

_CJK = r"[\u4e00-\u9fff\u3400-\u4dbf\u3040-\u30ff\uac00-\ud7af々〆ヶ]"
_CJK_RUN = rf"{_CJK}{{1,4}}(?:[ \u3000]{_CJK}{{1,4}})?"
_CJK_LABEL = re.compile(
    r"(?:氏名|名前|姓名|患者|受取人|宛名|收件人|收货人|联系人|客户|連絡先|長男|長女|次男|次女|妻|夫|父|母|息子|娘|"
    r"고객명|환자|성명|이름|보호자|수취인|담당자)[ \t]*[:：]?[ \t\u3000]*"
    rf"(?P<name>{_CJK_RUN})"
)
_CJK_HONORIFIC = re.compile(rf"(?P<name>{_CJK_RUN})[ \u3000]?(?:様|さん|さま|君|くん|ちゃん|殿|先生|님|씨|女士|小姐)")
_CJK_IN_LATIN = re.compile(rf"{_CJK}{{2,8}}(?:[ \u3000]{_CJK}{{1,6}})?")
# Devanagari, Thai, Arabic, Hebrew, Cyrillic and Greek: a run of words after a label or honorific ("नाम: …",
# "श्रीमती …", "ชื่อ …", "الاسم: …"), and any such run inside Latin-script text
_OTHER = r"[\u0900-\u097f\u0e00-\u0e7f\u0600-\u06ff\u0590-\u05ff\u0400-\u04ff\u0370-\u03ff]"
_OTHER_WORD = rf"{_OTHER}+"
# a Hindi postposition or auxiliary ends a name ("सुनीता कुमारी ने कहा", "मरीज़ का नाम")
_NOT_POSTPOSITION = r"(?!(?:का|की|के|को|से|में|पर|ने|है|हैं|था|थी|और|या|जी|नाम)(?![\u0900-\u097f]))"
_OTHER_LABEL = re.compile(
    r"(?:नाम|श्रीमती|श्री|सुश्री|डॉ\.?|मरीज़|मरीज|रोगी|ชื่อ|คุณ|นาย|นาง|นางสาว|الاسم|السيد|السيدة|المريض|שם|מר|גב'|"
    r"имя|фио|пациент|г-н|г-жа|όνομα|κ\.|κα)[ \t]*[:：]?[ \t]*"
    rf"(?P<name>{_NOT_POSTPOSITION}{_OTHER_WORD}(?:[ \t]{_NOT_POSTPOSITION}{_OTHER_WORD}){{0,2}})"
)
_OTHER_IN_LATIN = re.compile(rf"{_OTHER_WORD}(?:[ \t]{_OTHER_WORD}){{0,3}}")


# (a character of the script, the names found with a "name" group: after a label or before an honorific, a run of
# the script inside Latin-script text)
_SCRIPTS = (
    (re.compile(_CJK), (_CJK_LABEL, _CJK_HONORIFIC), _CJK_IN_LATIN),
    (re.compile(_OTHER), (_OTHER_LABEL,), _OTHER_IN_LATIN),
)
_LATIN = re.compile(r"[A-Za-zÀ-ÿ]")


def script_names(text: str) -> Iterator[tuple[int, int]]:
    """Names in CJK, Devanagari, Thai, Arabic, Hebrew, Cyrillic or Greek script: after a label ('氏名:', '고객명:',
    'नाम:', 'الاسم:'), before an honorific ('田中様', '박지현 님'), and any run of such a script inside Latin-script
    text ('Lin Yu-ting (林宇婷)', 'Priya Sharma (प्रिया शर्मा)')."""
    for char, labelled, in_latin in _SCRIPTS:
        if not char.search(text):
            continue
        for pattern in labelled:
            for m in pattern.finditer(text):
                if len(m.group("name").strip()) > 1:  # "환자는": a label and its particle, no name
                    yield m.start("name"), m.end("name")
        if len(_LATIN.findall(text)) > 2 * len(char.findall(text)):
            for m in in_latin.finditer(text):
                yield m.start(), m.end()


# a capitalized word followed by an age: "Ffion, 22, requesting ...", "children Ayo (6) and ...",
# "Deepak Chaudhary (staff ID 448120), 39, porter" (the age after a parenthetical)
_NAME_THEN_AGE = re.compile(
    r"(?<![\w'’\-])(?P<name>[A-ZÀ-Þ][a-zà-ÿ'’\-]{1,20})"
    r"(?=(?:[ \t]*\([^)\n]{1,40}\))?,[ \t]*\d{1,3}(?:[ \t]*(?:y|yo|yrs?|M|F))?[ \t]*[,;)]"
    r"|[ \t]*\([ \t]*\d{1,2}[ \t]*(?:y|yo|yrs?|J|ans|años|anni|år)?[ \t]*\))"
)


def names_before_ages(text: str, lex) -> Iterator[tuple[int, int]]:  # noqa: ANN001 - a lexicon.Lexicon
    """A capitalized word that an age follows, unless it is an ordinary word ("Type (2)", "Room, 12,")."""
    stop = not_name()
    for m in _NAME_THEN_AGE.finditer(text):
        word = m.group("name")
        if word.lower() in stop or word.lower() in ORG_WORDS or lex.ordinary(word) or lex.plain(word):
            continue
        yield m.start("name"), m.end("name")


# a first name typed in lower case after a word that addresses or introduces someone: "hey mikey", "grandpa sal",
# "drop him at aunt teresa's", "merci ginette", "hey its tay!!", "text deja"
_LOWER_CUE = re.compile(
    # a kinship word: the name follows whatever comes after it
    r"(?<![\w'’])(?:grandpa|grandma|granny|nana|gran|aunt|auntie|aunty|uncle|cousin)[ \t]+"
    r"(?P<kin>[a-zà-ÿ][a-zà-ÿ\-]{1,14})(?![\w])"
    # a greeting, thanks or a request: the name ends the phrase
    r"|(?<![\w'’])(?:hey|hi|hiya|hello|yo|thanks|thx|ty|cheers|love|merci|grazie|gracias|danke|obrigad[oa]|tack|"
    r"text|call|ask|tell|its|it's|it’s|im|i'm|i’m|this[ \t]+is)[ \t,]+"
    r"(?P<name>[a-zà-ÿ][a-zà-ÿ\-]{1,14})"
    r"(?=['’]s\b|[ \t]*(?:[.,!?:;\n)—–\-]|$|[ \t]+(?:x+|pls|please|lol|\d))|[ \t]+(?:and|&)[ \t])",
    re.M,
)


def lower_case_names(text: str, lex) -> Iterator[tuple[int, int]]:  # noqa: ANN001 - a lexicon.Lexicon
    """First names typed in lower case (chats, SMS) after a greeting, kinship word or sign-off, where the word is a
    popular first name and no ordinary word ("hey there", "thanks so" stay)."""
    stop = not_name()
    for m in _LOWER_CUE.finditer(text):
        group = "kin" if m.group("kin") else "name"
        word = m.group(group)
        rank = lex.name_rank(word)
        if rank is None or rank > 700 or word in stop or lex.plain(word) or lex.ordinary(word) or lex.zipf(word) >= 5:
            continue
        yield m.start(group), m.end(group)


# Korean and Chinese names in their own script: a family name from the short list every such name starts with,
# then a given name (Korean: one the name lexicon knows; Chinese: one or two characters, the run standing alone)
_KO_SURNAMES = set(
    "김 이 박 최 정 강 조 윤 장 임 한 오 서 신 권 황 안 송 류 유 전 홍 고 문 양 "
    "손 배 백 허 남 심 노 하 곽 성 차 주 우 구 민 진 지 엄 채 원 천 방 공 현 함 "
    "변 염 여 추 도 소 석 선 설 마 길 연 위 표 명 기 반 왕 금 옥 육 인 맹 제 모 "
    "탁 국 어 은 편 용 예 경 봉 사 부 가 복 태 목 형 피 두 감 음 빈 동 온 호 범 "
    "좌 팽 승 간 상 갈".split()
) | {"남궁", "황보", "제갈", "선우", "독고", "사공", "서문"}
_KO_PARTICLES = re.compile(r"(?:께서|에게서|에게|한테|님|씨|은|는|이|가|을|를|의|와|과|도|이며|이고|이고요|이에요|예요|"
                           r"이요|입니다|이다|고객)$")
_ZH_SURNAMES = set(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆"
    "汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易"
    "乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴"
    "蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬"
    "边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝"
) | {"欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "司徒", "令狐"}
_HANGUL_WORD = re.compile(r"[가-힣]{2,6}")
_HAN_ALONE = re.compile(r"(?<![\u4e00-\u9fff])[\u4e00-\u9fff]{2,4}(?![\u4e00-\u9fff])")


_KO_GIVEN = re.compile(
    r"(?<![가-힣])([가-힣]{2})(?:이|이가|이도|이는|이랑|이한테|이고요|이에요|아|야)(?![가-힣])"
)
# words that a Chinese name follows (family, roles) or precedes (titles), in running text without spaces
_ZH_BEFORE = ("妈妈|妈|爸爸|爸|儿子|女儿|妻子|丈夫|老公|老婆|舅舅|舅妈|姨妈|阿姨|叔叔|伯伯|"
              "外婆|外公|奶奶|爷爷|哥哥|姐姐|弟弟|妹妹|表哥|表姐|表弟|表妹|同事|邻居|朋友|"
              "民警|警官|客服|快递员|经理|医生|护士|老师|家属|联系人|收件人|报警人|患者|病人|"
              "司机|嫌疑人|当事人|申请人|担保人|法定代表人")
_ZH_AFTER = "师傅|经理|先生|女士|小姐|老师|医生|护士|警官|同学|主任|总|老板|大夫"
_JA_AFTER = "様|さま|さん|先生|君|くん|ちゃん|殿|氏"
_JA_LABELS = ("氏名|お名前|名前|借主|貸主|名義|届出人|連帯保証人|保証人|契約者|被保険者|申込者|申請者|受取人|依頼人|"
              "患者氏名|担当者|担当|フリガナ|ふりがな|緊急連絡先|保護者|世帯主|本人|配偶者")
_JA_KIN = "父|母|妻|夫|息子|娘|兄|姉|弟|妹|祖父|祖母|長男|長女|次男|次女"
_HAN = "\u4e00-\u9fff"
_HAN_NAME = rf"[{_HAN}々]{{1,3}}(?:[ 　][{_HAN}々]{{1,3}})?"
_KATAKANA_NAME = r"[ァ-ヶー]{2,}(?:[・ 　][ァ-ヶー]{2,}){1,2}"
_LATIN_CAPS_NAME = r"[A-Z]{2,}(?:[ 　][A-Z]{2,}){1,2}"
# SURNAME stands for the alternation of _ZH_SURNAMES (filled in by _han_context)
_HAN_CONTEXT = "|".join((
    # Chinese: "我妈刘桂芳，", "民警刘洋、陈晨到场", "王师傅", "李经理您好"
    rf"(?:{_ZH_BEFORE})(?P<after_role>SURNAME[{_HAN}]{{1,2}})(?=[，。、：:）)\s的和说打是陪到在也]|$)",
    rf"(?<=、)(?P<listed>SURNAME[{_HAN}]{{1,2}})(?=[、，。到和等])",
    rf"(?P<titled>SURNAME[{_HAN}]{{0,2}}?)(?:{_ZH_AFTER})",
    # Japanese: "山口先生", "佐々木様", "の中村でございます", "借主：伊藤 健二", "父 鈴木 茂",
    # "フリガナ：スズキ イチロウ"
    rf"(?<![{_HAN}々])(?P<honorific>{_HAN_NAME})(?:{_JA_AFTER})",
    rf"の(?P<self>[{_HAN}々]{{1,4}})(?:でございます|です|と申します|が担当)",
    rf"(?:{_JA_LABELS})[ 　]*[：:][ 　]*(?P<labelled>{_HAN_NAME}|{_KATAKANA_NAME}|{_LATIN_CAPS_NAME})"
    r"(?=[ 　]*(?:[（(）)\n、。,]|$))",
    rf"(?:{_JA_KIN})(?:[ 　]|の名前（|（)(?P<kin>{_HAN_NAME})(?=[）)、。 　\n]|$)",
))


def _han_names_in_context(text: str, lex) -> Iterator[tuple[int, int]]:  # noqa: ANN001 - a lexicon.Lexicon
    """Chinese and Japanese names known by the words around them (kinship, roles, titles, form labels), and a
    known given name alone on its line (a signature: "浩然", "健太")."""
    for m in _han_context().finditer(text):
        group = next(g for g, v in m.groupdict().items() if v)
        yield m.start(group), m.end(group)
    for m in re.finditer(r"(?m)^[ \t　]*([\u4e00-\u9fff々]{2,3})[ \t　]*$", text):
        if (rank := lex.name_rank(m.group(1))) is not None and rank <= 600:
            yield m.start(1), m.end(1)


@cache
def _han_context() -> re.Pattern[str]:
    surnames = "|".join(sorted(_ZH_SURNAMES, key=len, reverse=True))
    return re.compile(_HAN_CONTEXT.replace("SURNAME", f"(?:{surnames})"), re.M)


def east_asian_names(text: str, lex) -> Iterator[tuple[int, int]]:  # noqa: ANN001 - a lexicon.Lexicon
    """'김민준님', '박 서연', '王伟' (standing alone: '联系人：王伟，电话 ...')."""
    if re.search(r"[가-힣]", text):
        for m in _HANGUL_WORD.finditer(text):
            word = m.group(0)
            while (stripped := _KO_PARTICLES.sub("", word)) != word and len(stripped) >= 2:
                word = stripped  # "김민준님이" -> "김민준님" -> "김민준"
            for family in (word[:2], word[:1]):
                given = word[len(family):]
                if family in _KO_SURNAMES and 1 <= len(given) <= 2 and lex.name_rank(given) is not None:
                    yield m.start(), m.start() + len(word)
                    break
        for m in re.finditer(r"(?<![가-힣])([가-힣]{1,2})[ \t]([가-힣]{2})(?=님|씨|[^가-힣]|$)", text):
            if m.group(1) in _KO_SURNAMES and lex.name_rank(m.group(2)) is not None:
                yield m.start(), m.end()
        for m in _KO_GIVEN.finditer(text):  # "지훈이", "남자친구 도윤이도": a given name and its particle
            if (rank := lex.name_rank(m.group(1))) is not None and rank <= 2000:
                yield m.start(1), m.end(1)
    if re.search(r"[\u4e00-\u9fff]", text):
        for m in _HAN_ALONE.finditer(text):
            run = m.group(0)
            family = run[:2] if run[:2] in _ZH_SURNAMES else run[:1]
            if family in _ZH_SURNAMES and 1 <= len(run) - len(family) <= 2:
                yield m.start(), m.end()
        yield from _han_names_in_context(text, lex)


# Indian names in Devanagari: one or two given names, then one of the common family names
_HI_SURNAMES = set(
    "शर्मा वर्मा गुप्ता सिंह कुमार कुमारी पटेल यादव जैन अग्रवाल मिश्रा मिश्र तिवारी पांडे पाण्डेय पांडेय चौहान ठाकुर राठौर जोशी "
    "मेहता शाह रेड्डी नायर पिल्लई दास बोस चटर्जी मुखर्जी बनर्जी घोष सेन राव खान अली अहमद शेख सैयद चौधरी श्रीवास्तव सक्सेना "
    "दुबे द्विवेदी त्रिपाठी शुक्ला शुक्ल उपाध्याय भट्ट भट देसाई कपूर खन्ना मल्होत्रा अरोड़ा अरोरा सेठी बत्रा गिल संधू ढिल्लों "
    "बाजवा सहगल भाटिया चोपड़ा तनेजा बंसल गोयल मित्तल सिंघल गर्ग जिंदल नाथ प्रसाद राय रॉय सिन्हा ठाकरे पाटिल कुलकर्णी "
    "देशमुख गायकवाड़ पवार शिंदे जाधव नायडू अय्यर अयंगर मेनन".split()
)
_DEVANAGARI_RUN = re.compile(r"[\u0900-\u097f]+(?:[ \t][\u0900-\u097f]+){1,2}")


def devanagari_names(text: str) -> Iterator[tuple[int, int]]:
    """'राजेश कुमार शर्मा': up to two Devanagari words before a common Indian family name."""
    if not re.search(r"[\u0900-\u097f]", text):
        return
    for m in re.finditer(r"[\u0900-\u097f]+", text):
        if m.group(0) not in _HI_SURNAMES:
            continue
        before = re.search(r"(?:[\u0900-\u097f]+[ \t]){1,2}$", text[max(0, m.start() - 40):m.start()])
        if before:
            words = before.group(0).split()
            # stop at a word that is itself no name: a postposition or a common verb ends the run
            keep = [w for w in words if w not in _HI_STOP]
            if keep and keep == words[len(words) - len(keep):]:
                yield m.start() - len(" ".join(keep)) - 1, m.end()
                continue
        yield m.start(), m.end()


_HI_STOP = set("का की के को से में पर ने है हैं था थी और या तथा श्री श्रीमती सुश्री डॉ नाम मरीज़ मरीज रोगी ग्राहक".split())
