"""Synthetic clinical encounters (schema healthcare.v1) whose free-text notes are full of patient PII."""

import random
import uuid
from dataclasses import dataclass
from datetime import date

from faker import Faker

from simulations.people import Person, make_people, name_reference, pick_extras, random_date

ENCOUNTER_START = date(2023, 1, 1)
ENCOUNTER_END = date(2025, 6, 30)

FACILITIES = (
    "St. Mary's Regional Medical Center",
    "Mercy General Hospital",
    "Lakeside Community Health Clinic",
    "Riverside University Hospital",
    "Northside Family Medicine",
    "Providence Heart & Vascular Institute",
    "Cedar Valley Medical Center",
    "Good Samaritan Hospital",
)

# name -> (dose, frequency); real drugs with typical adult regimens.
MEDICATIONS: dict[str, tuple[str, str]] = {
    "metformin": ("500 mg", "twice daily"),
    "empagliflozin": ("10 mg", "once daily"),
    "insulin glargine": ("20 units", "at bedtime"),
    "lisinopril": ("10 mg", "once daily"),
    "amlodipine": ("5 mg", "once daily"),
    "atorvastatin": ("40 mg", "once daily at bedtime"),
    "metoprolol succinate": ("50 mg", "once daily"),
    "apixaban": ("5 mg", "twice daily"),
    "furosemide": ("40 mg", "once daily"),
    "levothyroxine": ("75 mcg", "once daily before breakfast"),
    "albuterol": ("90 mcg, 2 puffs", "every 4-6 hours as needed"),
    "fluticasone": ("110 mcg, 2 puffs", "twice daily"),
    "tiotropium": ("18 mcg inhaled", "once daily"),
    "amoxicillin": ("500 mg", "three times daily for 10 days"),
    "azithromycin": ("250 mg", "once daily for 5 days"),
    "nitrofurantoin": ("100 mg", "twice daily for 5 days"),
    "sertraline": ("50 mg", "once daily"),
    "escitalopram": ("10 mg", "once daily"),
    "omeprazole": ("20 mg", "once daily before breakfast"),
    "sumatriptan": ("50 mg", "as needed at migraine onset"),
    "naproxen": ("500 mg", "twice daily with food"),
    "meloxicam": ("15 mg", "once daily"),
    "ondansetron": ("8 mg", "every 8 hours as needed for nausea"),
    "tamoxifen": ("20 mg", "once daily"),
    "bicalutamide": ("50 mg", "once daily"),
    "ferrous sulfate": ("325 mg", "once daily"),
    "aspirin": ("81 mg", "once daily"),
    "acetaminophen": ("650 mg", "every 6 hours as needed for pain"),
}


@dataclass(frozen=True)
class Condition:
    """An ICD-10 diagnosis with the department, presenting reasons and drugs that usually go with it."""

    code: str
    description: str
    department: str
    reasons: tuple[str, ...]
    meds: tuple[str, ...]
    chronic: bool = True
    pediatric: bool = False
    adult: bool = True
    sex: str | None = None


CONDITIONS: tuple[Condition, ...] = (
    Condition("E11.9", "Type 2 diabetes mellitus without complications", "Endocrinology",
              ("routine diabetes follow-up", "elevated fasting glucose", "increased thirst and fatigue"),
              ("metformin", "empagliflozin")),
    Condition("E11.65", "Type 2 diabetes mellitus with hyperglycemia", "Endocrinology",
              ("poorly controlled blood sugar", "an HbA1c of 9.4%"), ("metformin", "insulin glargine")),
    Condition("I10", "Essential (primary) hypertension", "Cardiology",
              ("a blood pressure check", "headaches and elevated blood pressure"), ("lisinopril", "amlodipine")),
    Condition("E78.5", "Hyperlipidemia, unspecified", "Cardiology",
              ("lipid panel review", "elevated LDL cholesterol"), ("atorvastatin",)),
    Condition("I48.91", "Unspecified atrial fibrillation", "Cardiology",
              ("palpitations", "an irregular heartbeat on ECG"), ("apixaban", "metoprolol succinate")),
    Condition("I50.9", "Heart failure, unspecified", "Cardiology",
              ("shortness of breath and leg swelling", "heart failure follow-up"),
              ("furosemide", "metoprolol succinate")),
    Condition("E03.9", "Hypothyroidism, unspecified", "Endocrinology",
              ("fatigue and weight gain", "an abnormal TSH"), ("levothyroxine",)),
    Condition("J45.909", "Unspecified asthma, uncomplicated", "Pulmonology",
              ("wheezing", "asthma follow-up", "night-time cough"), ("albuterol", "fluticasone"), pediatric=True),
    Condition("J44.9", "Chronic obstructive pulmonary disease, unspecified", "Pulmonology",
              ("chronic cough and dyspnea",), ("tiotropium", "albuterol")),
    Condition("F32.9", "Major depressive disorder, single episode, unspecified", "Psychiatry",
              ("low mood and poor sleep",), ("sertraline",)),
    Condition("F41.1", "Generalized anxiety disorder", "Psychiatry",
              ("persistent worry and insomnia",), ("escitalopram", "sertraline")),
    Condition("K21.9", "Gastro-esophageal reflux disease without esophagitis", "Gastroenterology",
              ("heartburn after meals",), ("omeprazole",)),
    Condition("G43.909", "Migraine, unspecified, not intractable, without status migrainosus", "Neurology",
              ("recurrent headaches with aura", "a severe headache"), ("sumatriptan",)),
    Condition("M17.11", "Unilateral primary osteoarthritis, right knee", "Orthopedics",
              ("right knee pain",), ("meloxicam",)),
    Condition("C50.911", "Malignant neoplasm of unspecified site of right female breast", "Oncology",
              ("chemotherapy follow-up", "a right breast mass"), ("tamoxifen", "ondansetron"), sex="F"),
    Condition("C61", "Malignant neoplasm of prostate", "Oncology", ("an elevated PSA",), ("bicalutamide",),
              sex="M"),
    Condition("C34.90", "Malignant neoplasm of unspecified part of unspecified bronchus or lung", "Oncology",
              ("persistent cough and weight loss", "a chemotherapy cycle"), ("ondansetron",)),
    Condition("D50.9", "Iron deficiency anemia, unspecified", "Hematology",
              ("fatigue and pallor",), ("ferrous sulfate",), pediatric=True),
    Condition("M54.50", "Low back pain, unspecified", "Orthopedics",
              ("lower back pain after lifting",), ("naproxen",), chronic=False),
    Condition("J18.9", "Pneumonia, unspecified organism", "Emergency",
              ("fever and productive cough",), ("azithromycin", "amoxicillin"), chronic=False, pediatric=True),
    Condition("N39.0", "Urinary tract infection, site not specified", "Emergency",
              ("dysuria and urinary frequency",), ("nitrofurantoin",), chronic=False),
    Condition("R07.9", "Chest pain, unspecified", "Emergency", ("acute chest pain",), ("aspirin",),
              chronic=False),
    Condition("S52.501A", "Unspecified fracture of the lower end of right radius, initial encounter",
              "Emergency", ("a fall on an outstretched hand",), ("acetaminophen",), chronic=False,
              pediatric=True),
    Condition("H66.90", "Otitis media, unspecified, unspecified ear", "Pediatrics",
              ("ear pain and fever",), ("amoxicillin",), chronic=False, pediatric=True, adult=False),
    Condition("J06.9", "Acute upper respiratory infection, unspecified", "Pediatrics",
              ("cough and runny nose",), ("acetaminophen",), chronic=False, pediatric=True, adult=False),
)

_INTROS = (
    "{ref} is a {age}-year-old {sexword} seen in {dept} for {reason}.",
    "Patient {ref} (DOB {dob}) presented to {facility} on {date} with {reason}.",
    "{ref}, {age}-year-old {sexword}, evaluated today in {dept} for {reason}.",
    "Follow-up visit for {ref} ({mrn}); chief complaint: {reason}.",
    "Saw {ref} today, a {age}-year-old {sexword} born {dob}, regarding {reason}.",
)
_DX = (
    "Assessment: {dx}.",
    "Impression consistent with {dx_l}.",
    "Diagnoses: {dx}.",
)
_PLAN = (
    "{Action} per {doc}.",
    "{doc} {action}.",
    "Plan per {doc}: {action}.",
)
_CONTACT = (
    "Patient can be reached at {phone} or {email}.",
    "Contact: {phone}, {email}.",
    "Callback number {phone}.",
    "Lab results will be sent to {email}.",
)
_SSN = ("SSN {ssn} on file for insurance verification.", "Insurance verified using SSN {ssn}.")
_ADDRESS = ("Lives at {address}.", "Home address: {address}.")
_MRN = ("Chart reference {mrn}.", "Records filed under {mrn}.")
_FOLLOW_UP = (
    "Follow up in {weeks} weeks.",
    "Return precautions reviewed.",
    "Repeat labs ordered before the next visit.",
    "Patient verbalized understanding of the plan.",
)


def _join(items: list[str]) -> str:
    """English list join: 'a', 'a and b', 'a, b and c'."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _sexword(person: Person, age: int) -> str:
    """'woman'/'man' for adults, 'girl'/'boy' for children."""
    if age < 18:
        return "girl" if person.sex == "F" else "boy"
    return "woman" if person.sex == "F" else "man"


def _eligible(cond: Condition, person: Person, age: int) -> bool:
    """Whether a condition is plausible for this patient's age and sex."""
    if cond.sex is not None and cond.sex != person.sex:
        return False
    return cond.pediatric if age < 18 else cond.adult


@dataclass
class _Patient:
    """A pool member: identity plus stable clinical history across encounters."""

    person: Person
    patient_id: str
    mrn: str
    facility: str
    clinician: str
    chronic: list[Condition]
    regimen: dict[str, str]  # condition code -> drug name, stable across this patient's encounters
    seen: set[str]  # drug names already prescribed (later encounters say 'continued')


def _make_patients(n: int, rng: random.Random, fake: Faker, clinicians: list[str]) -> list[_Patient]:
    """Build the patient pool with stable MRNs, home facility, doctor and chronic conditions."""
    people = make_people(n, rng, fake, min_age=18, max_age=90, child_share=0.1)
    mrns: set[str] = set()
    patients = []
    for person in people:
        mrn = f"MRN-{rng.randint(0, 9_999_999):07d}"
        while mrn in mrns:
            mrn = f"MRN-{rng.randint(0, 9_999_999):07d}"
        mrns.add(mrn)
        age = person.age_on(ENCOUNTER_START)
        pool = [c for c in CONDITIONS if _eligible(c, person, age) and (c.chronic or age < 18)]
        chronic = rng.sample(pool, k=min(len(pool), rng.randint(1, 2)))
        patients.append(
            _Patient(
                person=person,
                patient_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                mrn=mrn,
                facility=rng.choice(FACILITIES),
                clinician=rng.choice(clinicians),
                chronic=chronic,
                regimen={},
                seen=set(),
            )
        )
    return patients


def _note(p: _Patient, ctx: dict[str, str], dx: list[Condition], meds: list[str], rng: random.Random) -> str:
    """Compose a 2-5 sentence clinical note embedding PII and the clinical content of the encounter."""
    new = [m for m in meds if m not in p.seen]
    old = [m for m in meds if m in p.seen]
    p.seen.update(meds)
    phrases = [f"{m} {MEDICATIONS[m][0]} {MEDICATIONS[m][1]}" for m in meds]
    parts = []
    if new:
        parts.append(f"{rng.choice(('started', 'prescribed'))} " + _join([phrases[meds.index(m)] for m in new]))
    if old:
        parts.append(f"{rng.choice(('continued', 'refilled'))} " + _join([phrases[meds.index(m)] for m in old]))
    action = " and ".join(parts)
    dx_text = _join([f"{c.description} ({c.code})" for c in dx])
    dx_lower = _join([f"{c.description[0].lower()}{c.description[1:]} ({c.code})" for c in dx])
    fields = dict(ctx, dx=dx_text, dx_l=dx_lower, action=action,
                  Action=action[0].upper() + action[1:], weeks=str(rng.choice((2, 4, 6, 12))))
    sentences = [rng.choice(_INTROS), rng.choice(_DX), rng.choice(_PLAN)]
    extras = [
        (0.75, _CONTACT),
        (0.3, _SSN),
        (0.35, _ADDRESS),
        (0.35, _MRN),
        (0.4, _FOLLOW_UP),
    ]
    if rng.random() < 0.2:  # terse notes: the intro, the plan and at most one extra
        sentences = [sentences[0], sentences[2]] + pick_extras(extras, 1, rng)
    else:
        sentences += pick_extras(extras, 5 - len(sentences), rng)
    return " ".join(s.format(**fields) for s in sentences)


def generate_healthcare(count: int, seed: int = 0) -> list[dict]:
    """Generate `count` deterministic healthcare.v1 encounter records for the given seed."""
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    rng = random.Random(f"healthcare-{seed}")
    fake = Faker("en_US")
    fake.seed_instance(f"healthcare-{seed}")
    clinicians = [f"Dr. {fake.first_name()} {fake.last_name()}" for _ in range(max(4, count // 25))]
    patients = _make_patients(max(3, count // 3), rng, fake, clinicians)
    records = []
    for i in range(count):
        p = rng.choice(patients)
        person = p.person
        born = date.fromisoformat(person.dob)
        when = random_date(rng, max(ENCOUNTER_START, born), ENCOUNTER_END)  # never seen before birth
        age = person.age_on(when)
        if p.chronic and rng.random() < 0.75:
            primary = rng.choice(p.chronic)
        else:
            primary = rng.choice([c for c in CONDITIONS if _eligible(c, person, age)])
        dx = [primary]
        others = [c for c in p.chronic if c is not primary]
        if others and rng.random() < 0.4:
            dx.append(rng.choice(others))
        meds = []
        for cond in dx:
            drug = p.regimen.get(cond.code) or rng.choice(cond.meds)
            if cond.chronic:
                p.regimen[cond.code] = drug
            if drug not in meds:
                meds.append(drug)
        department = "Pediatrics" if age < 18 and primary.department != "Emergency" else primary.department
        facility = p.facility if rng.random() < 0.8 else rng.choice(FACILITIES)
        reason = rng.choice(primary.reasons)
        doc = p.clinician if rng.random() < 0.7 else rng.choice(clinicians)
        ctx = {
            "ref": name_reference(person, rng),
            "age": str(age),
            "sexword": _sexword(person, age),
            "dob": person.dob,
            "dept": department,
            "facility": facility,
            "date": when.isoformat(),
            "reason": reason,
            "mrn": p.mrn,
            "doc": doc,
            "phone": person.phone,
            "email": person.email,
            "ssn": person.ssn,
            "address": person.address_line(),
        }
        patient = {"patient_id": p.patient_id, "mrn": p.mrn, **person.to_dict()}
        records.append(
            {
                "record_id": f"hc-{seed}-{i:06d}",
                "patient": patient,
                "encounter": {
                    "encounter_id": f"enc-{seed}-{i:06d}",
                    "date": when.isoformat(),
                    "facility": facility,
                    "department": department,
                    "reason": reason,
                },
                "diagnoses": [{"code": c.code, "description": c.description} for c in dx],
                "medications": [
                    {"name": m, "dose": MEDICATIONS[m][0], "frequency": MEDICATIONS[m][1]} for m in meds
                ],
                "note": _note(p, ctx, dx, meds, rng),
            }
        )
    return records
