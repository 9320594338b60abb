"""A labelled data set for PII detection in free text, and the scoring rule used to compare detectors on it.

`generate(n, seed, template_set)` writes clinical notes, advisor notes, patient-portal messages, intake forms
and user questions from sentence templates filled with Faker identities (the simulations' own `make_people`
for record subjects; several Faker locales for clinicians, advisors and family members), and records the gold
character span and entity label of every identifier it writes. Two template sets share the value formatters
but not the sentences: "dev" (what the detector was tuned on) and "holdout" (other sentences and structures,
plus formats "dev" never uses: `14-Mar-2024`, `2024/03/14`, `123 45 6789`, unformatted SSNs, `a/c`, PO boxes,
numbered streets, `54 years of age` ...). Report both.

Scoring rule (`score`), the same for every detector:
- a gold span is *found* when predicted spans of a compatible type together cover at least half of its
  characters;
- a predicted span is *correct* when at least half of its characters lie in gold spans of a compatible type;
- per entity: recall over the gold spans of that label, precision over the predictions of that label;
  overall (micro): over all gold spans and all predictions; F2 = 5·P·R / (4·P + R);
- *redacted*: gold spans whose every letter and digit is covered by some prediction of any type (what would
  not leak when predictions are replaced), a stricter view than recall.
Compatible types: the same label, a predicted CITY for a gold ADDRESS; and a detector's own labels are mapped
to ours first (see `bench/privacy_eval.py` for Presidio's), where one of its labels may be compatible with
more than one of ours (a tuple, the first one primary).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from faker import Faker

from simulations.people import REFERENCE_DATE, Person, make_people

LABELS = (
    "PERSON", "DATE", "AGE", "SSN", "PHONE", "EMAIL", "ADDRESS", "ZIP", "ACCOUNT", "CARD", "ROUTING", "MRN",
    "IP", "URL", "LAST4",
)
TEMPLATE_SETS = ("dev", "holdout")


@dataclass(frozen=True)
class GoldSpan:
    """One labelled identifier: [start, end) in the example's text."""

    start: int
    end: int
    label: str


@dataclass(frozen=True)
class Example:
    """One text with its gold spans and, for record texts, the structured fields of the record's subject."""

    text: str
    spans: tuple[GoldSpan, ...]
    kind: str  # clinical, advisor, message, form, question
    subject: Mapping[str, str] | None = field(default=None, repr=False)  # None for questions (no record)


Piece = tuple[str | None, str]  # (label or None, text)


# --- value formatters (shared by both template sets) ------------------------------------------------------------

_OTHER_LOCALES = ("en_US", "en_US", "en_US", "en_GB", "es_MX", "de_DE", "fr_FR", "it_IT", "en_IN", "pt_BR",
                  "pl_PL", "nl_NL", "vi_VN")
_INTL_LOCALES = {"en_GB": "GB", "fr_FR": "FR", "de_DE": "DE", "en_IN": "IN", "pt_BR": "BR", "es_ES": "ES",
                 "it_IT": "IT", "nl_NL": "NL", "en_AU": "AU"}
_CARD_TYPES = ("visa16", "visa16", "mastercard", "mastercard", "amex", "discover", "jcb16", "visa13", "diners")
_DRUGS = ("metformin 500 mg twice daily", "lisinopril 10 mg once daily", "atorvastatin 40 mg at bedtime",
          "apixaban 5 mg twice daily", "sertraline 50 mg daily", "amoxicillin 500 mg three times daily",
          "levothyroxine 75 mcg before breakfast", "albuterol 2 puffs every 4-6 hours as needed",
          "omeprazole 20 mg daily", "furosemide 40 mg daily")
_DX = ("type 2 diabetes (E11.9)", "essential hypertension (I10)", "hyperlipidemia (E78.5)", "atrial fibrillation",
       "major depressive disorder", "asthma", "COPD", "GERD", "migraine without aura", "Parkinson's disease",
       "Crohn's disease", "Hashimoto's thyroiditis")
_FACILITIES = ("St. Mary's Regional Medical Center", "Mercy General Hospital", "Lakeside Community Health Clinic",
               "Riverside University Hospital", "Good Samaritan Hospital")
_MERCHANTS = ("Whole Foods Market", "Costco Wholesale", "Delta Air Lines", "Best Buy", "Con Edison", "Amazon")
# capitalized phrases that are not people, after words that often introduce one ("with", "to", "by")
_SERVICES = {
    "dev": ("Occupational Therapy", "Palliative Care", "Behavioral Health", "Sleep Medicine", "Home Health",
            "Pain Management", "Wound Care", "Urgent Care", "Nutrition Services", "Speech Therapy"),
    "holdout": ("Pulmonary Rehab", "Infection Control", "Patient Advocacy", "Hospice Care", "Nuclear Medicine",
                "Respiratory Therapy", "Endocrine Clinic", "Financial Counseling"),
}
_PAYEES = {
    "dev": ("Chase Bank", "Bank of America", "Aetna", "United Healthcare", "Kaiser Permanente", "Home Depot",
            "Walgreens", "Fidelity Investments"),
    "holdout": ("Citi Mortgage", "State Farm", "Comcast Xfinity", "Liberty Mutual", "Capital One", "Geico",
                "Vanguard", "Planet Fitness"),
}


class _World:
    """Seeded sources of identities and values for one data set."""

    def __init__(self, seed: int, template_set: str) -> None:
        self.rng = random.Random(f"pii-eval-{template_set}-{seed}")
        self.fake = Faker("en_US")
        self.fake.seed_instance(f"pii-eval-{template_set}-{seed}")
        self.fakes = {loc: Faker(loc) for loc in set(_OTHER_LOCALES) | set(_INTL_LOCALES)}
        for i, (loc, f) in enumerate(sorted(self.fakes.items())):
            f.seed_instance(f"pii-eval-{template_set}-{seed}-{i}-{loc}")
        self.holdout = template_set == "holdout"
        self.template_set = template_set
        self.people = make_people(200, self.rng, self.fake, min_age=1, max_age=95)

    def choice(self, seq):  # noqa: ANN001, ANN201
        return self.rng.choice(seq)

    # people ----------------------------------------------------------------------------------------------

    def other_name(self) -> tuple[str, str]:
        f = self.fakes[self.choice(_OTHER_LOCALES)]
        return f.first_name(), f.last_name()

    def name_forms(self, first: str, last: str, *, lower: bool = False) -> list[Piece]:
        """A written form of a name: 'First Last', 'Last, First', 'FIRST LAST', 'First M. Last', ..."""
        forms: list[list[Piece]] = [
            [("PERSON", f"{first} {last}")],
            [("PERSON", f"{first} {last}")],
            [("PERSON", f"{first} {last}")],
            [("PERSON", f"{last}, {first}")],
            [("PERSON", f"{first} {last}".upper())],
            [("PERSON", f"{first} {self.rng.choice('ABCDEFGHJKLMNPRSTW')}. {last}")],
        ]
        if self.holdout:
            forms += [[("PERSON", f"{last.upper()}, {first.upper()}")], [("PERSON", f"{first[0]}. {last}")]]
        if lower:
            forms.append([("PERSON", f"{first} {last}".lower())])
        return self.choice(forms)

    def clinician(self) -> list[Piece]:
        first, last = self.other_name()
        forms: list[list[Piece]] = [
            [(None, "Dr. "), ("PERSON", f"{first} {last}")],
            [(None, "Dr. "), ("PERSON", last)],
            [("PERSON", f"{first} {last}"), (None, ", MD")],
            [(None, "Dr "), ("PERSON", f"{first} {last}")],
            [(None, "nurse practitioner "), ("PERSON", f"{first} {last}")],
        ]
        if self.holdout:
            forms += [[("PERSON", f"{first} {last}"), (None, ", RN")], [(None, "Dr. "), ("PERSON", f"{last.upper()}")],
                      [(None, "PA-C "), ("PERSON", f"{first} {last}")]]
        return self.choice(forms)

    def relative(self) -> list[Piece]:
        first, last = self.other_name()
        rel = self.choice(("daughter", "son", "wife", "husband", "mother", "father", "sister", "brother",
                           "caregiver", "neighbor", "partner", "guardian"))
        return [(None, f"{rel} "), *self.name_forms(first, last)]

    def staff(self) -> list[Piece]:
        return self.name_forms(*self.other_name())

    def subject_ref(self, p: Person) -> list[Piece]:
        """How a note refers to its subject (the record knows this person's name)."""
        forms: list[list[Piece]] = [
            [("PERSON", p.full_name)], [("PERSON", p.full_name)],
            [(None, f"{p.honorific} "), ("PERSON", p.last_name)],
            [("PERSON", p.first_name)],
            [("PERSON", p.full_name.lower())], [("PERSON", p.full_name.upper())],
            [("PERSON", f"{p.last_name}, {p.first_name}")],
        ]
        return self.choice(forms)

    # values --------------------------------------------------------------------------------------------

    def a_date(self, day: date | None = None) -> list[Piece]:
        d = day or (REFERENCE_DATE - timedelta(days=self.rng.randint(1, 900)))
        forms = [d.isoformat(), f"{d.month:02d}/{d.day:02d}/{d.year}", f"{d.month}/{d.day}/{d.year % 100:02d}",
                 d.strftime("%B ") + f"{d.day}, {d.year}", d.strftime("%b ") + f"{d.day}, {d.year}",
                 f"{d.day} " + d.strftime("%B %Y")]
        if self.holdout:
            forms += [f"{d.day:02d}-" + d.strftime("%b-%Y"), f"{d.year}/{d.month:02d}/{d.day:02d}",
                      f"{d.day:02d}.{d.month:02d}.{d.year}", d.strftime("%B ") + f"{d.day}{_ordinal(d.day)}, {d.year}",
                      d.strftime("%A, %B ") + f"{d.day}, {d.year}"]
        return [("DATE", self.choice(forms))]

    def dob(self, p: Person) -> list[Piece]:
        return self.a_date(date.fromisoformat(p.dob))

    def age(self, p: Person | None = None) -> list[Piece]:
        n = p.age_on(REFERENCE_DATE) if p else self.rng.randint(1, 99)
        forms: list[list[Piece]] = [
            [("AGE", f"{n}-year-old")], [("AGE", f"{n} year old")], [(None, "age "), ("AGE", str(n))],
            [(None, "aged "), ("AGE", str(n))], [("AGE", f"{n} yo")], [("AGE", f"{n} y/o")],
        ]
        if self.holdout:
            forms += [[("AGE", f"{n} years old")], [("AGE", f"{n} years of age")], [("AGE", f"{n}-yr-old")],
                      [(None, "Age: "), ("AGE", str(n))]]
        return self.choice(forms)

    def us_phone(self, p: Person | None = None) -> list[Piece]:
        if p is not None and self.rng.random() < 0.6:
            return [("PHONE", p.phone)]
        a, b, c = self.rng.randint(201, 989), self.rng.randint(200, 999), self.rng.randint(0, 9999)
        forms = [self.fake.phone_number(), f"({a}) {b}-{c:04d}", f"{a}-{b}-{c:04d}", f"+1 {a} {b} {c:04d}",
                 f"1-{a}-{b}-{c:04d}", f"{a}.{b}.{c:04d}", f"{a}-{b}-{c:04d} ext. {self.rng.randint(1, 999)}",
                 f"001-{a}-{b}-{c:04d}x{self.rng.randint(10, 9999)}", f"+1 ({a}) {b}-{c:04d}"]
        if self.holdout:
            forms += [f"{a} {b} {c:04d}", f"({a}){b}-{c:04d}", f"+1.{a}.{b}.{c:04d}", f"{a}{b}{c:04d}"]
        return [("PHONE", self.choice(forms))]

    def intl_phone(self) -> list[Piece]:
        import phonenumbers

        loc = self.choice(sorted(_INTL_LOCALES))
        for _ in range(20):
            number = self.fakes[loc].phone_number()
            try:
                parsed = phonenumbers.parse(number, _INTL_LOCALES[loc])
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.is_possible_number(parsed) and len(re.sub(r"\D", "", number)) >= 8:
                return [("PHONE", number)]
        return [("PHONE", "+44 20 7946 0958")]

    def email(self, p: Person | None = None) -> list[Piece]:
        if p is not None:
            return [("EMAIL", p.email)]
        return [("EMAIL", self.choice((self.fake.email(), self.fake.company_email(), self.fake.free_email())))]

    def ssn(self, p: Person | None = None) -> list[Piece]:
        value = p.ssn if p is not None else self.fake.ssn()
        if self.holdout and self.rng.random() < 0.4:
            value = self.choice((value.replace("-", " "), value.replace("-", "")))
        return [("SSN", value)]

    def address(self, p: Person | None = None, *, full: bool = True) -> list[Piece]:
        if p is not None:
            a = p.address
            street, city, state, zipc = a["street"], a["city"], a["state"], a["zip"]
        else:
            street, city = self.fake.street_address(), self.fake.city()
            state, zipc = self.fake.state_abbr(include_territories=False), self.fake.zipcode()
            if self.holdout and self.rng.random() < 0.4:
                street = self.choice((
                    f"{self.rng.randint(1, 999)} {self.choice(('N.', 'S.', 'E.', 'W.', 'North', 'West'))} "
                    f"{self.fake.last_name()} {self.choice(('St.', 'Ave.', 'Blvd', 'Rd.'))}",
                    f"{self.rng.randint(100, 999)} West {self.rng.randint(2, 99)}{_ordinal(self.rng.randint(2, 99))}"
                    " Street",
                    f"P.O. Box {self.rng.randint(10, 9999)}",
                ))
        if not full:
            return [("ADDRESS", street)]
        if self.holdout and self.rng.random() < 0.3:
            state = self.choice(("Illinois", "Texas", "New York", "Ohio", "California"))
        return [("ADDRESS", f"{street}, {city}"), (None, f", {state} "), ("ZIP", zipc)]

    def account(self) -> list[Piece]:
        n = self.rng.randint(8, 17)
        return [("ACCOUNT", str(self.rng.randint(1, 9)) + "".join(str(self.rng.randint(0, 9)) for _ in range(n - 1)))]

    def card(self) -> list[Piece]:
        number = self.fake.credit_card_number(card_type=self.choice(_CARD_TYPES))
        if len(number) == 16 and self.rng.random() < 0.5:
            sep = self.choice((" ", "-")) if self.holdout else " "
            number = sep.join(number[i:i + 4] for i in range(0, 16, 4))
        return [("CARD", number)]

    def mrn(self) -> list[Piece]:
        n = self.rng.randint(0, 9_999_999)
        forms: list[list[Piece]] = [
            [("MRN", f"MRN-{n:07d}")], [(None, "MRN: "), ("MRN", f"{n:07d}")],
            [(None, "medical record number "), ("MRN", f"{n:07d}")],
            [(None, "member ID "), ("MRN", f"{self.fake.bothify('???#########').upper()}")],
        ]
        if self.holdout:
            forms += [[(None, "Member #: "), ("MRN", self.fake.bothify("W#########"))],
                      [(None, "MRN "), ("MRN", f"{n:08d}")],
                      [(None, "policy number "), ("MRN", self.fake.bothify("??-######").upper())]]
        return self.choice(forms)


def _ordinal(n: int) -> str:
    return "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


# --- templates ----------------------------------------------------------------------------------------------------
# A sentence is a list of items: plain text, or a slot name in braces resolved by `_slot`.

_DEV = {
    "clinical": [
        "{subj} is a {age} {sexword} seen today for {dx}.",
        "Patient {subj} (DOB {dob}) presented on {date} with chest pain.",
        "Seen by {doc} on {date}; started {drug}.",
        "Plan per {doc}: continue {drug} and recheck labs in {weeks} weeks.",
        "Patient can be reached at {phone} or {email}.",
        "SSN {ssn} on file for insurance verification.",
        "Lives at {address}.",
        "Chart reference {mrn}.",
        "Accompanied by {relative}, who will drive {subj_first} home.",
        "Discussed results with {relative} by phone at {phone2}.",
        "Consulted {doc2} regarding {dx}; {subj_first} agreed to the plan.",
        "Portal message sent from {ip}; results at {url}.",
        "Emergency contact: {relative} ({phone2}).",
        "Referred to {facility}; follow up in {weeks} weeks.",
        "Insurance {mrn}, verified on {date}.",
        "Referred to {service} for follow-up.",
        "Discussed with {service} today.",
    ],
    "advisor": [
        "Spoke with {subj} by phone about the checking account {account}.",
        "{subj} visited the {branch} branch regarding account {account}.",
        "Set up direct deposit using routing number {routing} and account {account}.",
        "Card number on file is {card}.",
        "Customer read back card {card} to confirm.",
        "Card ending in {last4} flagged for possible fraud after a {amount} purchase at {merchant}.",
        "Identity verified with SSN {ssn}.",
        "Updated mailing address to {address}.",
        "Confirmed contact details: {phone}, {email}.",
        "Logged by {staff}.",
        "Follow-up assigned to {staff} on {date}.",
        "Annual review with {subj} ({age}, DOB {dob}).",
        "{subj_first} asked to add {relative} as a joint owner.",
        "Wire to IBAN {iban} requested by {subj_first}.",
        "Customer called from overseas number {intl_phone}.",
        "Autopay set up to {payee}.",
        "Customer disputed a charge from {payee}.",
    ],
    "message": [
        "Hi, this is {subj}. Please call me back at {phone}.",
        "My new email is {email} and my address is {address}.",
        "Can {doc} refill my {drug}? Thanks, {subj}",
        "I am travelling; reach me at {intl_phone} until {date}.",
        "Please send the records to {third_plain}, my {relword}, at {email2}.",
    ],
    "form": [
        "Name: {subj}\nDOB: {dob}\nPhone: {phone}\nEmail: {email}\nAddress: {address}",
        "Patient: {subj} | MRN: {mrn_value} | Provider: {doc}",
        "Account holder: {subj}; Acct #: {account}; Routing: {routing}",
    ],
    "question": [
        "What was prescribed to {third}?",
        "Which medications is {third} taking?",
        "Did {third} call about the card ending in {last4}?",
        "Show the visits of {third} since {date}.",
        "Who is the advisor for account {account}?",
        "Find the patient with phone {phone}.",
        "What did {doc} prescribe for {third}?",
        "Is {email} the right address for {third}?",
    ],
}

_HOLDOUT = {
    "clinical": [
        "S: {subj}, {age} {sexword}, reports two days of cough. O: afebrile. A: {dx}. P: {drug}.",
        "Discharge summary for {subj}, admitted {date} and discharged {date2}.",
        "{doc} reviewed imaging with {subj_first} and {relative} at bedside.",
        "Phone: {phone}. Alt contact {relative} at {intl_phone}.",
        "Home address on file: {address}. Verified against SSN {ssn}.",
        "Labs drawn {date}; results forwarded to {email} per patient request.",
        "Care coordinated with {doc2} and the team at {facility}.",
        "{mrn}; DOB {dob}; primary contact {phone}.",
        "Telehealth visit, client IP {ip}, link {url}.",
        "Patient's {relword}, {third_plain}, asked about visiting hours.",
        "History notable for {dx}; {subj_first} lives alone since {date}.",
        "Consult placed with {service}; seen by {doc}.",
    ],
    "advisor": [
        "Client {subj} requested a wire from a/c {account} to {iban}.",
        "ACH set up: ABA {routing}, acct {account}, per {staff}.",
        "Replacement card {card} mailed to {address}.",
        "Fraud alert on card xxxx{last4}; customer reached at {phone}.",
        "{staff} met {subj} and {relative} to discuss the trust.",
        "KYC: SSN {ssn}, DOB {dob}, {age}.",
        "Statement copies go to {email}; branch {branch}.",
        "Overseas contact number {intl_phone} added on {date}.",
        "Recurring payment to {payee} cancelled by {subj_first}.",
    ],
    "message": [
        "Hello {doc}, it's {subj} - my number changed to {phone}.",
        "Forwarding for my {relword} {third_plain}: {email2}.",
        "Thanks! {subj}\nSent from {ip}",
        "Please mail forms to {address} before {date}.",
    ],
    "form": [
        "Pt: {subj}\nD.O.B.: {dob}\nTel: {phone}\nAddr: {address}\nIns: {mrn}",
        "CUSTOMER={subj}; SSN={ssn}; CARD={card}; EMAIL={email}",
        "Beneficiary: {third_plain} | Relationship: {relword} | Phone: {phone2}",
    ],
    "question": [
        "list every encounter for {third} after {date}",
        "Has {third} ever been prescribed {drug_name}?",
        "Who referred {third} to {doc}?",
        "Which customer owns card {card}?",
        "Was the transfer from account {account} approved for {third}?",
        "When did {third} last visit {facility}?",
    ],
}


def _slot(name: str, w: _World, p: Person) -> list[Piece]:
    """Resolve one template slot to labelled pieces."""
    if name == "subj":
        return w.subject_ref(p)
    if name == "subj_first":
        return [("PERSON", p.first_name)]
    if name == "sexword":
        return [(None, ("girl" if p.sex == "F" else "boy") if p.age_on(REFERENCE_DATE) < 18 else
                 ("woman" if p.sex == "F" else "man"))]
    if name in ("doc", "doc2"):
        return w.clinician()
    if name == "relative":
        return w.relative()
    if name == "staff":
        return w.staff()
    if name == "third":
        return w.name_forms(*w.other_name(), lower=True) if w.rng.random() < 0.7 else w.subject_ref(p)
    if name == "third_plain":
        return w.name_forms(*w.other_name())
    if name == "relword":
        return [(None, w.choice(("daughter", "son", "wife", "husband", "mother", "sister", "brother")))]
    if name == "age":
        return w.age(p)
    if name in ("date", "date2"):
        return w.a_date()
    if name == "dob":
        return w.dob(p)
    if name == "phone":
        return w.us_phone(p)
    if name == "phone2":
        return w.us_phone() if w.rng.random() < 0.7 else w.intl_phone()
    if name == "intl_phone":
        return w.intl_phone()
    if name == "email":
        return w.email(p)
    if name == "email2":
        return w.email()
    if name == "ssn":
        return w.ssn(p)
    if name == "address":
        return w.address(p if w.rng.random() < 0.6 else None)
    if name == "account":
        return w.account()
    if name == "card":
        return w.card()
    if name == "routing":
        return [("ROUTING", w.fake.aba())]
    if name == "iban":
        return [("ACCOUNT", w.fake.iban())]
    if name == "last4":
        return [("LAST4", f"{w.rng.randint(0, 9999):04d}")]
    if name == "mrn":
        return w.mrn()
    if name == "mrn_value":
        return [("MRN", f"{w.rng.randint(0, 9_999_999):07d}")]
    if name == "ip":
        return [("IP", w.fake.ipv4() if w.rng.random() < 0.8 else w.fake.ipv6())]
    if name == "url":
        return [("URL", w.choice((f"https://portal.{w.fake.domain_name()}/records?id={w.rng.randint(1000, 99999)}",
                                  w.fake.url(), f"www.{w.fake.domain_name()}/patient/{w.rng.randint(100, 999)}")))]
    # context that is not PII
    if name == "dx":
        return [(None, w.choice(_DX))]
    if name == "drug":
        return [(None, w.choice(_DRUGS))]
    if name == "drug_name":
        return [(None, w.choice(_DRUGS).split()[0])]
    if name == "weeks":
        return [(None, str(w.choice((2, 4, 6, 12))))]
    if name == "facility":
        return [(None, w.choice(_FACILITIES))]
    if name == "merchant":
        return [(None, w.choice(_MERCHANTS))]
    if name == "service":
        return [(None, w.choice(_SERVICES[w.template_set]))]
    if name == "payee":
        return [(None, w.choice(_PAYEES[w.template_set]))]
    if name == "amount":
        return [(None, f"${w.rng.randint(5, 2500):,}.{w.rng.randint(0, 99):02d}")]
    if name == "branch":
        return [(None, w.fake.city())]
    raise KeyError(name)


_SLOT = re.compile(r"\{(\w+)\}")


def _render(template: str, w: _World, p: Person) -> list[Piece]:
    pieces: list[Piece] = []
    at = 0
    for m in _SLOT.finditer(template):
        pieces.append((None, template[at:m.start()]))
        pieces.extend(_slot(m.group(1), w, p))
        at = m.end()
    pieces.append((None, template[at:]))
    return pieces


def _assemble(pieces: Iterable[Piece]) -> tuple[str, tuple[GoldSpan, ...]]:
    text, spans = "", []
    for label, piece in pieces:
        if label is not None and piece:
            spans.append(GoldSpan(len(text), len(text) + len(piece), label))
        text += piece
    return text, tuple(spans)


def _subject_fields(p: Person) -> dict[str, str]:
    return {"first_name": p.first_name, "last_name": p.last_name, "ssn": p.ssn, "phone": p.phone,
            "email": p.email, "dob": p.dob, "street": p.address["street"], "city": p.address["city"]}


def generate(n: int, seed: int = 0, template_set: str = "dev") -> list[Example]:
    """`n` labelled examples, deterministic for (seed, template_set)."""
    if template_set not in TEMPLATE_SETS:
        raise ValueError(f"unknown template set {template_set!r}; expected one of {', '.join(TEMPLATE_SETS)}")
    w = _World(seed, template_set)
    templates = _DEV if template_set == "dev" else _HOLDOUT
    kinds = ("clinical", "clinical", "advisor", "advisor", "message", "form", "question")
    out = []
    for _ in range(n):
        kind = w.choice(kinds)
        p = w.choice(w.people)
        if kind == "question":
            sentences = [w.choice(templates[kind])]
        elif kind == "form":
            sentences = [w.choice(templates[kind])]
        else:
            sentences = w.rng.sample(templates[kind], k=min(len(templates[kind]), w.rng.randint(2, 5)))
        pieces: list[Piece] = []
        for k, sentence in enumerate(sentences):
            if k:
                pieces.append((None, " "))
            pieces.extend(_render(sentence, w, p))
        text, spans = _assemble(pieces)
        out.append(Example(text, spans, kind, None if kind == "question" else _subject_fields(p)))
    return out


# --- scoring ------------------------------------------------------------------------------------------------------

Prediction = tuple[int, int, str]  # (start, end, label in our vocabulary)
COMPATIBLE: dict[str, frozenset[str]] = {"CITY": frozenset({"ADDRESS"})}


@dataclass
class Counts:
    """Tallies for one entity label (or all of them)."""

    gold: int = 0
    found: int = 0
    redacted: int = 0
    predicted: int = 0
    correct: int = 0

    @property
    def recall(self) -> float:
        return self.found / self.gold if self.gold else float("nan")

    @property
    def precision(self) -> float:
        return self.correct / self.predicted if self.predicted else float("nan")

    def f(self, beta: float = 2.0) -> float:
        """F-beta (beta=2 weighs recall four times as much as precision); 0 with no predictions, nan with no gold."""
        if not self.gold:
            return float("nan")
        if not self.predicted:
            return 0.0
        p, r = self.precision, self.recall
        return (1 + beta**2) * p * r / (beta**2 * p + r) if p + r else 0.0


def _covered(start: int, end: int, spans: Iterable[tuple[int, int]]) -> int:
    """Characters of [start, end) covered by the union of spans."""
    marks = [False] * (end - start)
    for s, e in spans:
        for i in range(max(s, start), min(e, end)):
            marks[i - start] = True
    return sum(marks)


def compatible(predicted: str | tuple[str, ...], gold: str) -> bool:
    """Whether a predicted label (or any of a set of labels) counts for a gold label."""
    labels = {predicted} if isinstance(predicted, str) else set(predicted)
    return any(lab == gold or gold in COMPATIBLE.get(lab, ()) for lab in labels)


def score(
    examples: Sequence[Example],
    predictions: Sequence[Sequence[tuple[int, int, str | tuple[str, ...]]]],
) -> dict[str, Counts]:
    """Per-label and overall ('ALL') counts under the rule in the module docstring.

    A prediction's label may be a tuple of our labels (a foreign label compatible with several of ours); it is
    tallied under the label of the gold span it matched, or under its first label when it matched none.
    """
    out: dict[str, Counts] = {label: Counts() for label in (*LABELS, "ALL")}
    for ex, preds in zip(examples, predictions, strict=True):
        for g in ex.spans:
            c, total = out.setdefault(g.label, Counts()), out["ALL"]
            need = (g.end - g.start) / 2
            covered = _covered(g.start, g.end, [(s, e) for s, e, lab in preds if compatible(lab, g.label)])
            found = covered >= need
            hidden = {i for s, e, _ in preds for i in range(max(s, g.start), min(e, g.end))}
            redacted = all(i in hidden or not ex.text[i].isalnum() for i in range(g.start, g.end))
            for t in (c, total):
                t.gold += 1
                t.found += found
                t.redacted += redacted
        for s, e, lab in preds:
            if e <= s or not isinstance(lab, str) and all(x.startswith("OTHER:") for x in lab):
                continue  # a foreign label with no counterpart here: only counts for "redacted"
            hits = [g for g in ex.spans if compatible(lab, g.label) and g.start < e and s < g.end]
            inside = _covered(s, e, [(g.start, g.end) for g in hits])
            correct = inside >= (e - s) / 2
            if isinstance(lab, str):
                name = lab
            else:
                name = hits[0].label if hits else lab[0]
            name = "ADDRESS" if name == "CITY" else name
            for t in (out.setdefault(name, Counts()), out["ALL"]):
                t.predicted += 1
                t.correct += correct
    return out


def evaluate(
    examples: Sequence[Example], detect: Callable[[Example], Sequence[tuple[int, int, str | tuple[str, ...]]]]
) -> dict[str, Counts]:
    """Run a detector (example -> predictions) over the examples and score it."""
    return score(examples, [detect(ex) for ex in examples])
