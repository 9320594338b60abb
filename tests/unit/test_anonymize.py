"""Unit tests for anonymization: keyed pseudonyms, free-text recognizers, record anonymization and the leak guard."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from datetime import date, timedelta

import pytest
from faker import Faker

from datavault_dagster.domain import records
from datavault_dagster.domain.anonymize import (
    AnonymizedRecord,
    Anonymizer,
    KnownPII,
    Pseudonymizer,
    SubjectDates,
    age_band,
    age_on,
    find_leaks,
    guard,
    normalize_name,
)
from datavault_dagster.domain.crypto import Keyring
from datavault_dagster.domain.detect import Span
from datavault_dagster.domain.errors import LeakDetected
from datavault_dagster.domain.quasi import shift_date
from simulations import DOMAINS, generate_records, pii_values

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
SEEDS = (0, 5)
SUBJECT = {"healthcare": "patient", "finance": "customer"}
SUBJECT_ID = {"healthcare": "patient_id", "finance": "customer_id"}

PSEUDONYM = re.compile(r"\b[PS]-[a-z2-7]{10}\b")
IDENTIFIER_TOKEN = re.compile(r"\b(?:ACCT|CARD)-[a-z2-7]{10}\b")
BRACKET_TOKENS = {
    "[EMAIL]", "[URL]", "[IP]", "[MRN]", "[ADDRESS]", "[CARD]", "[SSN]", "[PHONE]", "[ACCOUNT]", "[LAST4]", "[DATE]",
    "[ZIP]", "[DOB]", "[CITY]", "[ROUTING]", "[CUSTOMER-ID]", "[PATIENT-ID]",
}
# independent (deliberately simple) detectors for the record-level checks
EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
SSN_RE = re.compile(r"\b\d{3}-\d{2}-\d{4}\b")
PHONE_RE = re.compile(r"\(?\b\d{3}\)?[-.\s]?\d{3}[-.]\d{4}\b")
ISO_DAY_RE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


@pytest.fixture(scope="module")
def pseudonyms() -> Pseudonymizer:
    return Pseudonymizer(KEY)


@pytest.fixture(scope="module")
def anonymizer(pseudonyms: Pseudonymizer) -> Anonymizer:
    return Anonymizer(pseudonyms)


def assert_clean_tokens(text: str) -> None:
    """Output holds only well-formed tokens: no placeholders, no nested or half-replaced tokens."""
    assert "\x00" not in text
    rest = IDENTIFIER_TOKEN.sub("", PSEUDONYM.sub("", text))
    assert "P-" not in rest and "S-" not in rest, text
    for token in re.findall(r"\[[^\]]*\]", rest):
        assert token in BRACKET_TOKENS, f"unexpected token {token!r} in {text!r}"
    stripped = re.sub(r"\[[A-Z0-9-]+\]", "", rest)
    assert "[" not in stripped and "]" not in stripped, text


# --- pseudonyms ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "variant",
    ["Jane Doe", "DOE, jane", "jane doe", "JANE DOE", "Doe Jane", "  Jane   Doe. ", "doe,jane", "Jane-Doe"],
)
def test_person_pseudonym_is_case_order_and_punctuation_insensitive(variant: str) -> None:
    assert Pseudonymizer(KEY).person(variant) == Pseudonymizer(KEY).person("Jane Doe")


def test_person_pseudonym_is_accent_insensitive() -> None:
    p = Pseudonymizer(KEY)
    assert p.person("José Núñez") == p.person("Jose Nunez")
    assert normalize_name("Núñez, José") == "jose nunez"


def test_person_pseudonym_format_and_stability(pseudonyms: Pseudonymizer) -> None:
    pseudo = pseudonyms.person("Jane Doe")
    assert re.fullmatch(r"P-[a-z2-7]{10}", pseudo)
    assert Pseudonymizer(bytes(KEY)).person("Jane Doe") == pseudo  # a fresh instance, same key
    assert "jane" not in pseudo.lower() and "doe" not in pseudo.lower()


@pytest.mark.parametrize("name", ["Jane Doe", "John Smith", "Ana", "Mary-Kate O'Neil"])
def test_different_keys_give_different_pseudonyms(name: str) -> None:
    assert Pseudonymizer(KEY).person(name) != Pseudonymizer(OTHER_KEY).person(name)


def test_different_people_give_different_pseudonyms(pseudonyms: Pseudonymizer) -> None:
    assert pseudonyms.person("Jane Doe") != pseudonyms.person("John Doe")
    assert pseudonyms.person("Jane Doe") != pseudonyms.person("Jane Dow")
    assert pseudonyms.person("Jane Doe") != pseudonyms.person("Jane Ann Doe")


def test_no_collisions_across_5000_distinct_names(pseudonyms: Pseudonymizer) -> None:
    fake = Faker("en_US")
    fake.seed_instance(20240303)
    names: dict[str, str] = {}
    while len(names) < 5000:
        name = f"{fake.first_name()} {fake.last_name()}"
        names.setdefault(normalize_name(name), name)
    assert len(names) == 5000
    pseudos = {pseudonyms.person(name) for name in names.values()}
    assert len(pseudos) == 5000
    for name in names.values():
        pseudo = pseudonyms.person(name).lower()
        for part in normalize_name(name).split():
            if len(part) >= 4:
                assert part not in pseudo


def test_subject_and_identifier_pseudonyms(pseudonyms: Pseudonymizer) -> None:
    subject = pseudonyms.subject("healthcare", "ABC-123")
    assert re.fullmatch(r"S-[a-z2-7]{10}", subject)
    assert pseudonyms.subject("healthcare", " abc-123 ") == subject
    assert pseudonyms.subject("finance", "ABC-123") != subject  # domain separated
    assert pseudonyms.subject("healthcare", "ABC-124") != subject
    acct = pseudonyms.identifier("acct", "1234-5678-9012")
    assert re.fullmatch(r"ACCT-[a-z2-7]{10}", acct)
    assert pseudonyms.identifier("acct", "123456789012") == acct
    assert pseudonyms.identifier("card", "123456789012") != acct  # kind separated
    # the kinds are separated from each other too
    assert pseudonyms.token("person", "x") != pseudonyms.token("subject", "x")


def test_pseudonymizer_rejects_short_key_and_hides_it() -> None:
    with pytest.raises(ValueError):
        Pseudonymizer(b"too short")
    assert KEY.hex() not in repr(Pseudonymizer(KEY))
    assert repr(KEY) not in repr(Pseudonymizer(KEY))


# --- free text: pattern recognizers -------------------------------------------------------------------------

TEXT_CASES = [
    # emails
    ("Email jane.doe@example.com now", "Email [EMAIL] now"),
    ("write to J.Doe+notes@mail.example.org.", "write to [EMAIL]."),
    # SSNs
    ("SSN 123-45-6789.", "SSN [SSN]."),
    ("SSN 123 45 6789 on file", "SSN [SSN] on file"),
    # US phones
    ("Call (555) 123-4567 today", "Call [PHONE] today"),
    ("Call (555)123-4567 today", "Call [PHONE] today"),
    ("Call 555-123-4567 today", "Call [PHONE] today"),
    ("Call +1-555-123-4567x89 today", "Call [PHONE] today"),
    ("Call 555.123.4567 today", "Call [PHONE] today"),
    ("Call 555 123 4567 today", "Call [PHONE] today"),
    ("Call 5551234567 today", "Call [PHONE] today"),
    ("Call 555-123-4567 ext. 12 today", "Call [PHONE] today"),
    ("Call 001-555-123-4567 today", "Call [PHONE] today"),  # Faker en_US emits this international-prefix form
    ("Call 001-555-123-4567x890 today", "Call [PHONE] today"),
    # Luhn-valid card numbers, grouped and not
    ("Card 4111 1111 1111 1111 on file", "Card [CARD] on file"),
    ("Card 4111-1111-1111-1111 on file", "Card [CARD] on file"),
    ("Card 4111111111111111 on file", "Card [CARD] on file"),
    ("Amex 378282246310005 on file", "Amex [CARD] on file"),
    ("Amex 3782 822463 10005 on file", "Amex [CARD] on file"),
    ("Visa 4222222222222 on file", "Visa [CARD] on file"),
    # long digit runs that are not cards
    ("Account 98765432 closed", "Account [ACCOUNT] closed"),
    ("Account 9876543210123 closed", "Account [ACCOUNT] closed"),
    ("Account 4111111111111112 closed", "Account [ACCOUNT] closed"),
    # last four digits
    ("card ending in 4321.", "card ending in [LAST4]."),
    ("card ending 4321", "card ending [LAST4]"),
    ("last 4 of 9876", "last 4 of [LAST4]"),
    ("card xxxx4321", "card xxxx [LAST4]"),
    # medical record numbers
    ("MRN-1234567 chart", "[MRN] chart"),
    ("filed under mrn: 0012345.", "filed under [MRN]."),
    # street addresses
    # the city after a street on its line is part of the address (LABELS.md), as in "Karl Johans gate 22, Oslo"
    ("Lives at 123 Main Street Apt. 4, Springfield", "Lives at [ADDRESS]"),
    ("Lives at 4567 Smith Ridges Suite 890, Town", "Lives at [ADDRESS]"),  # the city after a street is its own
    ("Lives at 83 Kim Ports Apt. 123, Town", "Lives at [ADDRESS]"),
    ("Lives at 5 Oak Ave., Town", "Lives at [ADDRESS]"),
    # the city of a street address goes with it (it used to stay: "[ADDRESS], Lake Lisaport, IA [ZIP]")
    ("Lives at 17005 Julie Street, Lake Lisaport, IA 20810.", "Lives at [ADDRESS] [ZIP]."),
    # dates
    ("On March 3, 2024 we met", "On [DATE] we met"),
    ("On Mar. 3rd, 2024 we met", "On [DATE] we met"),
    ("On 3 March 2024 we met", "On [DATE] we met"),
    ("Born 03/14/1980.", "Born [DATE]."),
    ("Born 3/4/80.", "Born [DATE]."),
    # text with no subject has no date offset: a real year-month would date the event (it was "2024-03" here)
    ("Visit 2024-03-14.", "Visit [DATE]."),
    ("Visit 2024-02-30.", "Visit [DATE]."),
    # ages
    ("a 54-year-old man", "a 50-59 year old man"),
    ("a 95-year-old woman", "a 90+ year old woman"),
    ("a 9 yo girl", "a 0-9 year old girl"),
    ("aged 72 now", "aged 70-79 now"),
    ("aged 95 now", "aged 90+ now"),
    ("(age 42, DOB unknown)", "(age 40-49, DOB unknown)"),
    # ZIP codes
    ("ZIP 62704 end", "ZIP [ZIP] end"),
    ("ZIP 62704-1234 end", "ZIP [ZIP] end"),
    # network identifiers
    ("from 10.0.0.1 today", "from [IP] today"),
    ("see https://portal.example.com/p?id=12 now", "see [URL] now"),
    # nothing to do
    ("Prescribed sumatriptan 50 mg as needed.", "Prescribed sumatriptan 50 mg as needed."),
    ("Follow up in 2 weeks; repeat labs ordered.", "Follow up in 2 weeks; repeat labs ordered."),
    ("", ""),
]


@pytest.mark.parametrize(("text", "expected"), TEXT_CASES)
def test_anonymize_text_patterns(anonymizer: Anonymizer, text: str, expected: str) -> None:
    out = anonymizer.anonymize_text(text)
    assert out == expected
    assert_clean_tokens(out)


@pytest.mark.parametrize(("text", "expected"), [c for c in TEXT_CASES if c[0] != c[1]])
def test_pattern_recognizers_do_not_reprocess_their_own_output(
    anonymizer: Anonymizer, text: str, expected: str
) -> None:
    """Anonymizing already-anonymized text (e.g. a question quoting an answer) must not change it."""
    assert anonymizer.anonymize_text(expected) == expected


@pytest.mark.parametrize("number", ["4111111111111111", "378282246310005", "4222222222222"])
def test_card_fixtures_are_luhn_valid(number: str) -> None:
    assert luhn_ok(number)


@pytest.mark.parametrize("number", ["98765432", "9876543210123", "4111111111111112"])
def test_account_fixtures_are_not_luhn_valid(number: str) -> None:
    assert not luhn_ok(number) or len(number) < 13


@pytest.mark.parametrize("text", ["card ****4321 was used", "card xxxx-4321 was used", "card ending in: 4321"])
def test_masked_last_four_is_replaced(anonymizer: Anonymizer, text: str) -> None:
    out = anonymizer.anonymize_text(text)
    assert "4321" not in out
    assert "[LAST4]" in out


@pytest.mark.parametrize(
    ("text", "title", "name"),
    [
        ("Seen by Dr. John Smith today", "Dr", "John Smith"),
        ("Seen by Dr John Smith today", "Dr", "John Smith"),
        ("Seen by Dr. Smith today", "Dr", "Smith"),
        ("Mr. Jean-Luc Picard and the team", "Mr", "Jean-Luc Picard"),
        ("Referred by Prof. Ada Lovelace.", "Prof", "Ada Lovelace"),
    ],
)
def test_titled_names_become_pseudonyms(
    anonymizer: Anonymizer, pseudonyms: Pseudonymizer, text: str, title: str, name: str
) -> None:
    out = anonymizer.anonymize_text(text)
    pseudo = pseudonyms.person(name)
    assert out == text.replace(name, pseudo)  # the title stays as written ("Dr John" -> "Dr P-…")
    assert title in out
    for part in name.replace("-", " ").split():
        assert part not in out
    assert_clean_tokens(out)


@pytest.mark.parametrize(
    "question",
    [
        "What did Dr. P-vtdbug6yqu prescribe?",
        "Was Ms. P-r5ro5zvlrv seen twice?",
        "Mr. P-abcdefghij and Dr. P-2345672345",
    ],
)
def test_titled_pseudonyms_are_not_reprocessed(anonymizer: Anonymizer, question: str) -> None:
    """A question quoting a pseudonym from an earlier answer keeps it, so retrieval can still find the person."""
    assert anonymizer.anonymize_text(question) == question


def test_titled_name_stops_before_conjunction(anonymizer: Anonymizer, pseudonyms: Pseudonymizer) -> None:
    out = anonymizer.anonymize_text("Dr. Smith and Dr. Jones agreed")
    assert out == f"Dr. {pseudonyms.person('Smith')} and Dr. {pseudonyms.person('Jones')} agreed"


@pytest.mark.parametrize(
    ("age", "band"),
    [(0, "0-9"), (9, "0-9"), (10, "10-19"), (19, "10-19"), (54, "50-59"), (89, "80-89"), (90, "90+"),
     (95, "90+"), (130, "90+"), (-1, "unknown")],
)
def test_age_band_edges(age: int, band: str) -> None:
    assert age_band(age) == band


@pytest.mark.parametrize(
    ("dob", "on", "age"),
    [("1980-03-14", "2024-03-13", 43), ("1980-03-14", "2024-03-14", 44), ("2000-02-29", "2021-02-28", 20),
     ("2000-02-29", "2021-03-01", 21)],
)
def test_age_on(dob: str, on: str, age: int) -> None:
    assert age_on(dob, on) == age


# --- free text: the record's own people and identifiers ------------------------------------------------------


@pytest.mark.parametrize(
    "mention",
    ["Jane Doe", "Doe, Jane", "Doe Jane", "JANE DOE", "jane doe", "DOE, JANE", "Jane", "JANE", "Doe", "doe"],
)
def test_known_names_replaced_in_all_forms(anonymizer: Anonymizer, mention: str) -> None:
    known = KnownPII(names=["Jane Doe"])
    out = anonymizer.anonymize_text(f"Spoke with {mention} about the plan.", known)
    pseudo = Pseudonymizer(KEY).person("Jane Doe")
    assert out == f"Spoke with {pseudo} about the plan."
    assert pseudo == Pseudonymizer(KEY).person("DOE, jane")


def test_known_name_with_title_keeps_title(anonymizer: Anonymizer, pseudonyms: Pseudonymizer) -> None:
    out = anonymizer.anonymize_text("Ms. Doe called; Jane Doe confirmed.", KnownPII(names=["Jane Doe"]))
    pseudo = pseudonyms.person("Jane Doe")
    assert out == f"Ms. {pseudo} called; {pseudo} confirmed."


def test_known_names_do_not_match_inside_words(anonymizer: Anonymizer, pseudonyms: Pseudonymizer) -> None:
    out = anonymizer.anonymize_text("Ann King opened a checking account at the Annex.", KnownPII(names=["Ann King"]))
    pseudo = pseudonyms.person("Ann King")
    assert out == f"{pseudo} opened a checking account at the Annex."


def test_known_values_replaced_case_insensitively(anonymizer: Anonymizer) -> None:
    known = KnownPII(names=[], values={"Springfield": "[CITY]", "PT-7781": "[PATIENT-ID]", "abc": "[SHORT]"})
    out = anonymizer.anonymize_text("From SPRINGFIELD, id pt-7781, code abc.", known)
    assert out == "From [CITY], id [PATIENT-ID], code abc."  # values under 4 characters are ignored


def test_replacements_are_never_reprocessed(anonymizer: Anonymizer, pseudonyms: Pseudonymizer) -> None:
    known = KnownPII(names=["Jane Doe"], values={"123-45-6789": "[SSN]"})
    text = (
        "Jane Doe (jane.doe@example.com, 555-123-4567) was seen by Dr. Jane Doe on 2024-03-14; "
        "SSN 123-45-6789, card 4111 1111 1111 1111, Dr. Alan Grant consulted, lives at 12 Main Street now."
    )
    out = anonymizer.anonymize_text(text, known)
    pseudo = pseudonyms.person("Jane Doe")
    assert out == (
        f"{pseudo} ([EMAIL], [PHONE]) was seen by Dr. {pseudo} on [DATE]; "
        f"SSN [SSN], card [CARD], Dr. {pseudonyms.person('Alan Grant')} consulted, lives at [ADDRESS] now."
    )
    assert_clean_tokens(out)


def test_anonymize_text_is_idempotent_on_its_output(anonymizer: Anonymizer) -> None:
    known = KnownPII(names=["Jane Doe"])
    once = anonymizer.anonymize_text("Dr. Alan Grant saw Jane Doe, a 54-year-old woman, aged 54.", known)
    assert anonymizer.anonymize_text(once, known) == once


def test_many_replacements_use_distinct_placeholders(anonymizer: Anonymizer) -> None:
    """More than 26 parked replacements (two-letter placeholders) are restored in order."""
    text = " ".join(f"user{i}@example.com 555-123-{i:04d}" for i in range(40))
    out = anonymizer.anonymize_text(text)
    assert out == " ".join("[EMAIL] [PHONE]" for _ in range(40))


# --- records ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keyring() -> Keyring:
    return Keyring(keys={"k1": bytes(range(32))}, primary="k1", pseudonym_key=KEY)


@pytest.fixture(scope="module")
def anonymized(keyring: Keyring) -> dict[str, list[tuple[dict, AnonymizedRecord]]]:
    """300 generated records per domain and seed, parsed like stream entries and anonymized."""
    anonymizer = Anonymizer(Pseudonymizer(keyring.pseudonym_key))
    out: dict[str, list[tuple[dict, AnonymizedRecord]]] = defaultdict(list)
    for domain in DOMAINS:
        for seed in SEEDS:
            for rec in generate_records(domain, 300, seed=seed):
                raw = records.parse_entry(domain, "1-0", records.stream_fields(domain, rec), keyring)
                out[domain].append((rec, anonymizer.anonymize_record(raw)))
    return out


def _leaked_values(rec: dict, domain: str, text: str) -> list[str]:
    """Raw PII of the record still present in text (case-insensitive; values under 4 characters ignored).

    Multi-character identifiers are plain substring checks; a single-word name part only counts as a whole word
    (so a customer called "King" does not flag the word "checking").
    """
    low = text.lower()
    subject = rec[SUBJECT[domain]]
    name_parts = {subject["first_name"], subject["last_name"]}
    leaked = []
    for value in pii_values(rec, domain):
        if len(value) < 4:
            continue
        if value in name_parts and " " not in value:
            if re.search(rf"(?<![a-z0-9]){re.escape(value.lower())}(?![a-z0-9])", low):
                leaked.append(value)
        elif value.lower() in low:
            leaked.append(value)
    return leaked


@pytest.mark.parametrize("domain", DOMAINS)
def test_anonymized_records_hold_no_raw_pii(anonymized, domain: str) -> None:
    problems = []
    for rec, anon in anonymized[domain]:
        text = json.dumps(anon.document, ensure_ascii=False)  # unescaped, so accented names would be found too
        leaked = _leaked_values(rec, domain, text)
        if leaked:
            problems.append((rec["record_id"], "known", len(leaked)))
        for kind, pattern in (("email", EMAIL_RE), ("ssn", SSN_RE), ("phone", PHONE_RE)):
            if pattern.search(text):
                problems.append((rec["record_id"], kind, 1))
        if find_leaks(text, []):
            problems.append((rec["record_id"], ",".join(find_leaks(text, [])), 1))
    assert problems == []  # names record ids and kinds only, never values


@pytest.mark.parametrize("domain", DOMAINS)
def test_vault_write_guard_accepts_every_anonymized_record(anonymized, domain: str) -> None:
    """The pipeline guards each anonymized body with the record's own raw identifiers before the vault write;
    a record whose anonymization is clean must not be dead-lettered as a leak."""
    blocked = []
    for _rec, anon in anonymized[domain]:
        try:
            guard(anon.to_json().decode(), anon.known.all_raw(), "vault write")
        except LeakDetected as exc:
            blocked.append((anon.record_id, exc.kinds))
    assert blocked == []


@pytest.mark.parametrize("domain", DOMAINS)
def test_anonymized_notes_had_pii_to_remove(anonymized, domain: str) -> None:
    """Guards the test above against vacuity: the raw notes really are full of PII."""
    raw_hits = sum(bool(_leaked_values(rec, domain, rec["note"])) for rec, _ in anonymized[domain])
    assert raw_hits > 0.8 * len(anonymized[domain])


@pytest.mark.parametrize("domain", DOMAINS)
def test_same_subject_same_pseudonyms_across_records(anonymized, pseudonyms: Pseudonymizer, domain: str) -> None:
    by_subject: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for rec, anon in anonymized[domain]:
        subject = rec[SUBJECT[domain]]
        person = anon.document[SUBJECT[domain]]["pseudonym"]
        assert person == pseudonyms.person(f"{subject['first_name']} {subject['last_name']}")
        assert anon.subject_pseudonym == anon.document["subject"]
        by_subject[subject[SUBJECT_ID[domain]]].add((anon.subject_pseudonym, person))
    assert len(anonymized[domain]) > len(by_subject)  # some subjects appear in several records
    for pseudos in by_subject.values():
        assert len(pseudos) == 1
    subjects = [next(iter(v))[0] for v in by_subject.values()]
    assert len(set(subjects)) == len(subjects)  # distinct subjects never share a pseudonym


@pytest.mark.parametrize("domain", DOMAINS)
def test_anonymized_structured_fields(anonymized, domain: str) -> None:
    bands = {age_band(a) for a in range(-1, 120)}  # "unknown" for an encounter dated before birth
    shifts: dict[str, int] = {}  # subject pseudonym -> its date shift, the same in all of its records
    for rec, anon in anonymized[domain]:
        doc = anon.document
        assert doc["domain"] == domain and doc["record_id"] == rec["record_id"] == anon.record_id
        person = doc[SUBJECT[domain]]
        raw = rec[SUBJECT[domain]]
        assert person["age_band"] in bands
        assert re.fullmatch(r"\d{3}", person["zip3"]) and person["zip3"] == raw["address"]["zip"][:3]
        assert person["state"] == raw["address"]["state"]
        assert set(person) >= {"pseudonym", "age_band", "zip3", "state"}
        assert not {"first_name", "last_name", "dob", "ssn", "phone", "email", "address"} & set(person)
        if domain == "healthcare":
            assert person["age_band"] == age_band(age_on(raw["dob"], rec["encounter"]["date"]))
            shifted = date.fromisoformat(doc["encounter"]["date"])
            days = (shifted - date.fromisoformat(rec["encounter"]["date"])).days
            assert -180 <= days <= 180 and days == shifts.setdefault(anon.subject_pseudonym, days)
            assert [m["name"] for m in doc["medications"]] == [m["name"] for m in rec["medications"]]
            assert [d["code"] for d in doc["diagnoses"]] == [d["code"] for d in rec["diagnoses"]]
        else:
            deltas = {(date.fromisoformat(t["date"]) - date.fromisoformat(r["date"])).days
                      for t, r in zip(doc["transactions"], rec["transactions"], strict=True)}
            (delta,) = deltas  # one shift per record: intervals between its dates survive
            assert -180 <= delta <= 180 and delta == shifts.setdefault(anon.subject_pseudonym, delta)
            assert [t["amount"] for t in doc["transactions"]] == [t["amount"] for t in rec["transactions"]]
            opened = date.fromisoformat(rec["account"]["opened"]) + timedelta(days=delta)
            assert doc["account"]["opened_year"] == str(opened.year)  # the same shift as the transactions
            assert re.fullmatch(r"ACCT-[a-z2-7]{10}", doc["account"]["token"])
            assert re.fullmatch(r"CARD-[a-z2-7]{10}", doc["account"]["card"])
        body = anon.to_json().decode()
        assert raw["dob"] not in body  # dates of birth never survive, not even shifted


def test_to_json_is_canonical(anonymized) -> None:
    _, anon = anonymized["healthcare"][0]
    assert anon.to_json() == json.dumps(anon.document, sort_keys=True, separators=(",", ":")).encode()
    assert json.loads(anon.to_json()) == anon.document


def test_anonymize_record_is_deterministic(keyring: Keyring) -> None:
    rec = generate_records("finance", 1, seed=9)[0]
    raw = records.parse_entry("finance", "1-0", records.stream_fields("finance", rec), keyring)
    a = Anonymizer(Pseudonymizer(KEY)).anonymize_record(raw).to_json()
    b = Anonymizer(Pseudonymizer(KEY)).anonymize_record(raw).to_json()
    c = Anonymizer(Pseudonymizer(OTHER_KEY)).anonymize_record(raw).to_json()
    assert a == b
    assert a != c


def test_known_pii_lists_raw_identifiers(anonymized) -> None:
    rec, anon = anonymized["finance"][0]
    raw = set(anon.known.all_raw())
    c = rec["customer"]
    assert {c["ssn"], c["email"], c["phone"], rec["account"]["account_number"], rec["account"]["card_number"]} <= raw
    assert c["last_name"] in raw or len(c["last_name"]) < 3
    assert anon.known.names == [f"{c['first_name']} {c['last_name']}"]


def test_anonymize_record_rejects_unknown_domain(anonymizer: Anonymizer) -> None:
    raw = records.RawRecord(domain="legal", record_id="x", schema="legal.v1", stream_id="1-0", payload={})
    with pytest.raises(ValueError):
        anonymizer.anonymize_record(raw)


# --- dates in a subject's free text ---------------------------------------------------------------------------

VISIT, DOB = "2024-03-20", "1980-03-14"


def _visit(note: str, patient_id: str = "PT-0001") -> records.RawRecord:
    """A healthcare record seen on VISIT, of a patient born on DOB, with the given note."""
    rec = json.loads(json.dumps(generate_records("healthcare", 1, seed=3)[0]))
    rec["note"], rec["patient"]["patient_id"], rec["patient"]["dob"] = note, patient_id, DOB
    rec["encounter"]["date"] = VISIT
    return records.RawRecord("healthcare", rec["record_id"], records.SCHEMAS["healthcare"], "-", rec)


def _offset(anon: AnonymizedRecord) -> int:
    """The subject's shift, read off the structured encounter date."""
    return (date.fromisoformat(anon.document["encounter"]["date"]) - date.fromisoformat(VISIT)).days


@pytest.mark.parametrize(
    "written",
    ["2024-03-05", "03/05/2024", "3/5/24", "March 5, 2024", "5 March 2024", "Mar 5 2024", "Mar. 5th, 2024",
     "Tuesday, March 5, 2024", "5th of March 2024", "05-Mar-2024", "05-Mar-24", "2024/03/05", "05.03.2024"],
)
def test_note_dates_are_shifted_with_the_subjects_offset(anonymizer: Anonymizer, written: str) -> None:
    anon = anonymizer.anonymize_record(_visit(f"Seen on {written} for review."))
    days = _offset(anon)
    assert days != 0  # else "shifted" could not be told from "left alone"
    assert anon.document["note"] == f"Seen on {shift_date('2024-03-05', days)} for review."


def test_intervals_between_structured_and_note_dates_survive(anonymizer: Anonymizer) -> None:
    note = f"Presented on {VISIT}. First seen March 5, 2024; follow-up booked for 04/17/2024, labs 2024-12-31."
    anon = anonymizer.anonymize_record(_visit(note))
    shifted_visit = date.fromisoformat(anon.document["encounter"]["date"])
    in_note = [date.fromisoformat(d) for d in ISO_DAY_RE.findall(anon.document["note"])]
    real = [date(2024, 3, 20), date(2024, 3, 5), date(2024, 4, 17), date(2024, 12, 31)]
    assert [(d - shifted_visit).days for d in in_note] == [(d - date.fromisoformat(VISIT)).days for d in real]
    assert in_note[0] == shifted_visit  # the visit date in the note is the visit date of the fields
    assert not {"2024-03-05", "2024-04", "2024-12", "2024-03-20"} & set(re.findall(r"\d{4}-\d{2}(?:-\d{2})?",
                                                                                   anon.document["note"]))


def test_each_subject_gets_its_own_offset(anonymizer: Anonymizer) -> None:
    note = "Follow-up on 2024-04-01."
    a, b = (anonymizer.anonymize_record(_visit(note, pid)) for pid in ("PT-0001", "PT-0002"))
    assert a.subject_pseudonym != b.subject_pseudonym and _offset(a) != _offset(b)
    for anon in (a, b):
        assert anon.document["note"] == f"Follow-up on {shift_date('2024-04-01', _offset(anon))}."
    again = anonymizer.anonymize_record(_visit("Labs on 2024-04-01 again.", "PT-0001"))  # another record, same subject
    assert again.document["note"] == f"Labs on {shift_date('2024-04-01', _offset(a))} again."


@pytest.mark.parametrize(
    ("note", "expected"),
    [
        (f"Patient (DOB {DOB}) seen today.", "Patient (DOB [DOB]) seen today."),  # the record's own value
        ("Patient born 03/14/1980, seen today.", "Patient born [DOB], seen today."),
        ("Confirmed March 14, 1980 as birth date.", "Confirmed [DOB] as birth date."),  # the subject's, any format
        ("Spoke to her son (DOB: 2010-06-02).", "Spoke to her son (DOB: [DOB])."),  # a birth date, whoever's
        ("Mother, born on 5/6/55, is her carer.", "Mother, born on [DOB], is her carer."),
    ],
)
def test_dates_of_birth_are_suppressed_not_shifted(anonymizer: Anonymizer, note: str, expected: str) -> None:
    anon = anonymizer.anonymize_record(_visit(note))
    assert anon.document["note"] == expected
    body = anon.to_json().decode()
    assert DOB not in body and shift_date(DOB, _offset(anon)) not in body  # a shifted DOB gives the exact age


@pytest.mark.parametrize(
    ("note", "expected"),
    [
        ("Seen 2024-02-30 and 02/30/2024.", "Seen [DATE] and [DATE]."),  # no such day: a placeholder, no error
        ("Symptoms since March 5.", "Symptoms since [DATE]."),  # no year: nothing to shift from
        ("Recall 5th of March.", "Recall [DATE]."),
    ],
)
def test_dates_that_cannot_be_shifted_become_placeholders(anonymizer: Anonymizer, note: str, expected: str) -> None:
    assert anonymizer.anonymize_record(_visit(note)).document["note"] == expected


@pytest.mark.parametrize(
    ("written", "days", "expected"),
    [("March 2024", 100, "2024-06"), ("March 2024", -40, "2024-02"), ("2024", 100, "[DATE]"),
     ("2024-02-30", 5, "[DATE]")],
)
def test_partial_dates_shift_at_their_precision(
    anonymizer: Anonymizer, written: str, days: int, expected: str
) -> None:
    """render shifts a partial date at its precision (a bare year cannot be shifted and is suppressed)."""
    text = f"Since {written}."
    span = Span(6, 6 + len(written), "DATE", 0.85, "pattern:date/test")
    assert anonymizer.render(text, [span], SubjectDates(days, None, 2024)) == f"Since {expected}."
    assert anonymizer.render(text, [span]) == "Since [DATE]."


def test_text_without_a_subject_keeps_no_real_date(anonymizer: Anonymizer) -> None:
    out = anonymizer.anonymize_text("Visits on 2024-03-05, 03/06/2024 and March 7, 2024 (DOB 1980-03-14).")
    assert out == "Visits on [DATE], [DATE] and [DATE] (DOB [DATE])."
    dates = SubjectDates(30, date(1980, 3, 14), 2024)
    assert anonymizer.anonymize_text("Visit on 2024-03-05.", dates=dates) == "Visit on 2024-04-04."


@pytest.mark.parametrize("domain", DOMAINS)
def test_simulated_note_dates_match_the_shifted_fields(anonymized, domain: str) -> None:
    """Every date the simulations write in a note (the visit, a disputed charge) carries the record's own shift;
    the subject's date of birth is suppressed."""
    checked = 0
    for rec, anon in anonymized[domain]:
        doc = anon.document
        if domain == "healthcare":
            real, shifted = rec["encounter"]["date"], doc["encounter"]["date"]
        else:
            real, shifted = rec["transactions"][0]["date"], doc["transactions"][0]["date"]
        days = (date.fromisoformat(shifted) - date.fromisoformat(real)).days
        dob = rec[SUBJECT[domain]]["dob"]
        written = [d for d in ISO_DAY_RE.findall(rec["note"]) if d != dob]
        assert ISO_DAY_RE.findall(doc["note"]) == [shift_date(d, days) for d in written]
        assert shift_date(dob, days) not in doc["note"]
        if dob in rec["note"]:
            assert "[DOB]" in doc["note"]
        checked += len(written)
    assert checked > 100  # the notes do carry dates


# --- leak guard ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "raw", "kinds"),
    [
        ("reach me at jane@example.com", [], ["email"]),
        ("SSN 123-45-6789", [], ["ssn"]),
        ("call 555-123-4567", [], ["phone"]),
        ("card 4111 1111 1111 1111", [], ["card"]),
        ("patient Zanzibar-Quist was seen", ["Zanzibar-Quist"], ["known_identifier"]),
        ("patient ZANZIBAR-QUIST was seen", ["zanzibar-quist"], ["known_identifier"]),
        ("jane@example.com 123-45-6789", ["jane@example.com"], ["email", "known_identifier", "ssn"]),
        ("the value ab is short", ["ab"], []),  # values under 3 characters are never matched
        ("met ann today", ["Ann"], ["known_identifier"]),  # 3-letter names count, as whole words only
        ("opened a checking account", ["King"], []),  # a name part inside an ordinary word is not a leak
        ("the annual review", ["Ann", "Annie Smith"], []),
        ("spoke with king today", ["King"], ["known_identifier"]),
        ("P-abcdefghij took [MEDS] in 2024-03", ["Zanzibar"], []),
    ],
)
def test_find_leaks_kinds(text: str, raw: list[str], kinds: list[str]) -> None:
    assert sorted(find_leaks(text, raw)) == kinds


@pytest.mark.parametrize(
    ("text", "raw"),
    [
        ("mail jane.doe@example.com please", []),
        ("SSN 123-45-6789 on file", []),
        ("the patient Zanzibar-Quist", ["Zanzibar-Quist"]),
        ("card 4111111111111111", []),
    ],
)
def test_guard_raises_naming_kinds_only(text: str, raw: list[str]) -> None:
    with pytest.raises(LeakDetected) as info:
        guard(text, raw, "LLM prompt")
    message = str(info.value)
    assert "LLM prompt" in message
    assert info.value.kinds and all(kind in message for kind in info.value.kinds)
    for secret in ["jane.doe@example.com", "123-45-6789", "Zanzibar-Quist", "4111111111111111", "4111"]:
        assert secret not in message
        assert secret.lower() not in message.lower()


def test_guard_passes_clean_text_unchanged(anonymizer: Anonymizer) -> None:
    text = anonymizer.anonymize_text("Jane Doe (jane@example.com, SSN 123-45-6789) called 555-123-4567.",
                                     KnownPII(names=["Jane Doe"]))
    assert guard(text, ["Jane Doe", "jane@example.com"], "question") is text
    clean = "Which patients on metformin had an HbA1c above 9%?"
    assert guard(clean, [], "question") == clean


@pytest.mark.parametrize("sentinel", ["0001-01-01", "9999-12-31"])
def test_a_date_the_shift_pushes_off_the_calendar_is_a_dead_letter(anonymizer: Anonymizer, sentinel: str) -> None:
    """A producer's sentinel date that the subject's shift moves past year 1 or 9999 is bad input, not a crash."""
    from datavault_dagster.domain.errors import InvalidRecord
    from datavault_dagster.pipeline import anonymize_entry
    from datavault_dagster.services.streams import Entry

    def shift(rec: dict) -> int:
        subject = anonymizer.pseudonyms.subject("healthcare", rec["patient"]["patient_id"])
        return anonymizer.pseudonyms.date_shift(subject)

    backwards = sentinel.startswith("0001")
    rec = next(r for r in generate_records("healthcare", 20, seed=3) if (shift(r) < 0 if backwards else shift(r) > 0))
    rec["encounter"]["date"] = sentinel
    entry = Entry("1-0", records.stream_fields("healthcare", rec))
    with pytest.raises(InvalidRecord) as info:
        anonymize_entry(entry, "healthcare", Keyring.generate(), anonymizer)
    error = info.value
    assert (error.record_id, error.field, error.code) == (rec["record_id"], "<record>", "cannot_anonymize")
    assert str(info.value).endswith("(OverflowError)") and sentinel not in str(info.value)


def test_a_date_that_is_no_date_is_a_dead_letter_whose_error_chain_holds_no_value(anonymizer: Anonymizer) -> None:
    """`1961-19-07` passes the schema's pattern but not the calendar; Python's own error quotes it."""
    import traceback

    from datavault_dagster.domain.errors import InvalidRecord
    from datavault_dagster.pipeline import anonymize_entry
    from datavault_dagster.services.streams import Entry

    rec = generate_records("healthcare", 1, seed=5)[0]
    rec["patient"]["dob"] = "1961-19-07"
    with pytest.raises(InvalidRecord) as info:
        anonymize_entry(Entry("1-0", records.stream_fields("healthcare", rec)), "healthcare", Keyring.generate(),
                        anonymizer)
    assert (info.value.field, info.value.code) == ("<record>", "cannot_anonymize")
    assert info.value.__cause__ is None and info.value.__suppress_context__
    shown = "".join(traceback.format_exception(info.value))
    assert "1961-19-07" not in shown and "ValueError" in str(info.value)


def test_a_note_naming_another_person_of_the_batch_carries_their_pseudonym(anonymizer: Anonymizer) -> None:
    batch = [records.parse_entry("healthcare", f"1-{n}", records.stream_fields("healthcare", r), None)
             for n, r in enumerate(generate_records("healthcare", 4, seed=12))]
    him = batch[0].payload["patient"]
    him.update(first_name="Zebulon", last_name="Quaxworth")
    street = him["address"]["street"].upper()
    batch[1].payload["note"] = f"Neighbour quaxworth, zebulon drove her in; he lives at {street}."
    his_doc = anonymizer.anonymize_record(batch[0]).document
    alone = anonymizer.anonymize_record(batch[1]).document["note"]
    together = anonymizer.anonymize_record(batch[1], anonymizer.other_people(batch)).document["note"]
    assert "quaxworth" in alone  # on its own, the record cannot know him (NER misses a lower-case name)
    assert together == f"Neighbour {his_doc['patient']['pseudonym']} drove her in; he lives at [ADDRESS]."
    # the rest of the batch anonymizes exactly as it does alone
    others = anonymizer.other_people(batch)
    for record in (batch[0], batch[2], batch[3]):
        assert anonymizer.anonymize_record(record, others).document == anonymizer.anonymize_record(record).document


def test_a_month_in_a_note_is_found_and_shifted_by_whole_months(anonymizer: Anonymizer) -> None:
    note = "Symptoms since March 2024; prior episode in sept. 2023."
    # a patient whose shift is at least half a month, else "shifted" could not be told from "left alone"
    patients = (anonymizer.anonymize_record(_visit(note, f"PT-{n:04d}")) for n in range(1, 50))
    anon = next(a for a in patients if abs(_offset(a)) > 20)
    months = round(_offset(anon) * 12 / 365.2425)
    march, sept = 2024 * 12 + 2 + months, 2023 * 12 + 8 + months
    assert anon.document["note"] == (f"Symptoms since {march // 12}-{march % 12 + 1:02d}; "
                                     f"prior episode in {sept // 12}-{sept % 12 + 1:02d}.")
    assert anonymizer.anonymize_text("Since March 2024, you may 2024 doses.") == "Since [DATE], you may 2024 doses."
