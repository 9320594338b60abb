"""Free-text PII detection with the real spaCy model: each entity type, the record's own names in any form,
third-party names, query-side pseudonyms, overlap resolution, and no raw value in exceptions, logs or sockets."""

from __future__ import annotations

import logging
import socket
import threading
import traceback

import pytest

from datavault_dagster.domain import detect
from datavault_dagster.domain.anonymize import Anonymizer, Pseudonymizer
from datavault_dagster.domain.crypto import Keyring
from datavault_dagster.domain.detect import DetectionError, Detector, KnownPII, Span, aba_ok, luhn_ok
from datavault_dagster.domain.records import parse_entry, stream_fields
from simulations import generate_records

KEY = bytes(range(32))


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector().load()


@pytest.fixture(scope="module")
def anonymizer(detector: Detector) -> Anonymizer:
    return Anonymizer(Pseudonymizer(KEY), detector)


def found(detector: Detector, text: str, known: KnownPII | None = None) -> list[tuple[str, str]]:
    return [(s.entity, text[s.start:s.end]) for s in detector.detect(text, known)]


# --- each entity type ---------------------------------------------------------------------------------------

ENTITY_CASES = [
    # people: clinicians, advisors, family members, staff — none of them in the record's fields
    ("Plan per Dr. Alan Grant: start metformin.", "PERSON", "Alan Grant"),
    ("Her daughter Maria Lopez will drive her home.", "PERSON", "Maria Lopez"),
    ("Logged by Kevin Nguyen.", "PERSON", "Kevin Nguyen"),
    ("Reviewed with Océane Dupré, MD at bedside.", "PERSON", "Océane Dupré"),
    ("Can Dr. Boaz van Herstal refill my sertraline?", "PERSON", "Boaz van Herstal"),
    ("Emergency contact: brother Chen, Tamara.", "PERSON", "Chen, Tamara"),
    ("Account holder: KRISHNA SAHA; Acct #: 12345678", "PERSON", "KRISHNA SAHA"),
    ("Dr. Hoàng reviewed the chart.", "PERSON", "Hoàng"),
    # dates and DOBs
    ("Seen on 2024-03-14 for follow-up.", "DATE", "2024-03-14"),
    ("DOB 03/14/1980, allergies none.", "DATE", "03/14/1980"),
    ("Born 3/4/80.", "DATE", "3/4/80"),
    ("Admitted March 3, 2024 overnight.", "DATE", "March 3, 2024"),
    ("Admitted 3 March 2024 overnight.", "DATE", "3 March 2024"),
    ("Admitted Mar. 3rd, 2024 overnight.", "DATE", "Mar. 3rd, 2024"),
    ("Discharged 14-Mar-2024.", "DATE", "14-Mar-2024"),
    ("Discharged 14.03.2024.", "DATE", "14.03.2024"),
    # ages
    ("A 54-year-old man with chest pain.", "AGE", "54-year-old"),
    ("A 9 yo girl with otitis.", "AGE", "9 yo"),
    ("Patient aged 72 today.", "AGE", "72"),
    ("He is 54 years of age.", "AGE", "54 years of age"),
    # SSNs
    ("SSN 123-45-6789 on file.", "SSN", "123-45-6789"),
    ("SSN 123 45 6789 on file.", "SSN", "123 45 6789"),
    ("Verified SSN 123456789 today.", "SSN", "123456789"),
    # US phones
    ("Call (555) 123-4567 today.", "PHONE", "(555) 123-4567"),
    ("Call 555.123.4567 today.", "PHONE", "555.123.4567"),
    ("Call 001-555-123-4567x890 today.", "PHONE", "001-555-123-4567x890"),
    ("Call +1-555-123-4567 today.", "PHONE", "+1-555-123-4567"),
    ("Call +1 (555) 123-4567 today.", "PHONE", "+1 (555) 123-4567"),
    ("Call 555-123-4567 ext. 12 today.", "PHONE", "555-123-4567 ext. 12"),
    ("Call 5551234567 today.", "PHONE", "5551234567"),
    # international phones
    ("Reach me at +44 20 7946 0958 in London.", "PHONE", "+44 20 7946 0958"),
    ("Reach me at +44(0)115 4960914 in London.", "PHONE", "+44(0)115 4960914"),
    ("Reach me at 020 7946 0958 in London.", "PHONE", "020 7946 0958"),
    ("Reach me at +33 1 23 45 67 89 in Paris.", "PHONE", "+33 1 23 45 67 89"),
    ("Reach me at +49 30 12345678 in Berlin.", "PHONE", "+49 30 12345678"),
    ("Reach me at +91 98765 43210 in Pune.", "PHONE", "+91 98765 43210"),
    ("Reach me at +55 61 9141-7776 in Brasília.", "PHONE", "+55 61 9141-7776"),
    ("Call her on 87 4922-5859 after six.", "PHONE", "87 4922-5859"),
    # emails, addresses, ZIP codes
    ("Email jane.doe+notes@mail.example.org now.", "EMAIL", "jane.doe+notes@mail.example.org"),
    ("Write to it-desk@hospital.internal please.", "EMAIL", "it-desk@hospital.internal"),
    ("Lives at 123 Main Street Apt. 4 with family.", "ADDRESS", "123 Main Street Apt. 4"),
    ("Lives at 4567 Smith Ridges Suite 890, Town, IA 20810.", "ADDRESS", "4567 Smith Ridges Suite 890, Town, IA"),
    ("Mail to 350 West 42nd Street, New York, NY 10036.", "ADDRESS", "350 West 42nd Street, New York, NY"),
    ("Mail to P.O. Box 1442, Helena, MT 59601.", "ADDRESS", "P.O. Box 1442, Helena, MT"),
    ("Mail to 12 Oak Ave., Springfield, IL 62704.", "ZIP", "62704"),
    ("ZIP 62704-1234 on the form.", "ZIP", "62704-1234"),
    # account, card (Luhn) and routing (ABA) numbers
    ("Account 98765432 closed.", "ACCOUNT", "98765432"),
    ("Wire from a/c 850369976 today.", "ACCOUNT", "850369976"),
    ("Wire to IBAN GB82WEST12345698765432 today.", "ACCOUNT", "GB82WEST12345698765432"),
    ("Card 4111 1111 1111 1111 on file.", "CARD", "4111 1111 1111 1111"),
    ("Card 2221000000000009 on file.", "CARD", "2221000000000009"),  # Mastercard 2-series
    ("Card 6011-0009-9013-9424 on file.", "CARD", "6011-0009-9013-9424"),
    ("Card 3530111333300000 on file.", "CARD", "3530111333300000"),  # JCB
    ("Amex 3782 822463 10005 on file.", "CARD", "3782 822463 10005"),
    ("Direct deposit with routing number 021000021.", "ROUTING", "021000021"),
    ("ACH: ABA 011000015, acct 12345678901.", "ROUTING", "011000015"),
    ("Transfer 021000021 then confirm.", "ROUTING", "021000021"),  # no keyword: valid ABA checksum
    ("card ending in 4321.", "LAST4", "4321"),
    ("card xxxx4321 was used", "LAST4", "4321"),
    # medical record numbers and member ids
    ("Chart reference MRN-1234567.", "MRN", "MRN-1234567"),
    ("Insurance member ID XJH123456789 verified.", "MRN", "XJH123456789"),
    ("Member #: W123456789 on the card.", "MRN", "W123456789"),
    # network identifiers
    ("Logged in from 10.0.0.1 today.", "IP", "10.0.0.1"),
    ("Logged in from 2001:db8:85a3::8a2e:370:7334 today.", "IP", "2001:db8:85a3::8a2e:370:7334"),
    ("See https://portal.example.com/p?id=12 now.", "URL", "https://portal.example.com/p?id=12"),
    ("See www.example.org/patient/12 now.", "URL", "www.example.org/patient/12"),
]


@pytest.mark.parametrize(("text", "entity", "value"), ENTITY_CASES)
def test_each_entity_type_is_detected(detector: Detector, text: str, entity: str, value: str) -> None:
    assert (entity, value) in found(detector, text)


@pytest.mark.parametrize(
    "text",
    [
        "Started metformin 500 mg twice daily; follow up in 2 weeks.",
        "Assessment: Type 2 diabetes mellitus with hyperglycemia (E11.65).",
        "Disputed a $1,234.56 charge at Whole Foods Market; provisional credit issued.",
        "Referred to St. Mary's Regional Medical Center for imaging.",
        "HbA1c 9.4%, LDL 130 mg/dL, BP 142/91, recheck in 12 weeks.",
        "History of Parkinson's disease and Crohn's disease.",
        "Recommended a high-yield account paying 4.35% APY before year end.",
        # capitalized phrases after words that often introduce a person (rejected by name-likeness)
        "Seen with Chest Pain and Shortness of Breath.",
        "Referred to Physical Therapy; follow up with Primary Care.",
        "Discussed with Social Work and Case Management.",
        "Approved by Risk Management; transfer to Wells Fargo savings.",
        "Contact: Front Desk",
        "Patient Education provided.",
    ],
)
def test_clinical_and_financial_text_without_pii_is_left_alone(detector: Detector, text: str) -> None:
    assert found(detector, text) == []


def test_name_likeness_separates_names_from_words(detector: Detector) -> None:
    likeness = detector._likeness
    assert likeness is not None
    for name in ("Maria", "Nguyen", "Priya", "Whitfield"):
        assert likeness.score(name) > 0.1, name
    for word in ("Therapy", "Management", "Education", "Desk"):
        assert likeness.score(word) < -0.1, word
    assert likeness.score("Cebulak") is None  # no vector: rare surnames count as name-like


def test_luhn_and_aba_checksums() -> None:
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert aba_ok("021000021") and aba_ok("011000015")
    assert not aba_ok("021000022") and not aba_ok("12345678") and not aba_ok("991000021")


def test_a_long_number_that_fails_luhn_is_an_account_not_a_card(detector: Detector) -> None:
    assert found(detector, "Number 4111111111111112 on file.") == [("ACCOUNT", "4111111111111112")]


# --- the record's own fields --------------------------------------------------------------------------------


@pytest.mark.parametrize("mention", ["Jane Doe", "DOE, JANE", "jane doe", "Doe Jane", "JANE", "doe"])
def test_known_names_are_found_in_any_case_and_order(anonymizer: Anonymizer, mention: str) -> None:
    known = KnownPII(names=["Jane Doe"])
    spans = anonymizer.detector.detect(f"Spoke with {mention} about the plan.", known)
    assert [(s.entity, s.source, s.name) for s in spans] == [("PERSON", "known-name", "Jane Doe")]
    out = anonymizer.anonymize_text(f"Spoke with {mention} about the plan.", known)
    assert out == f"Spoke with {Pseudonymizer(KEY).person('Jane Doe')} about the plan."


def test_known_values_win_and_carry_their_token(detector: Detector) -> None:
    known = KnownPII(names=["Jane Doe"], values={"98765432101": "ACCT-abcdefghij", "Lake Lisaport": "[CITY]"})
    spans = detector.detect("Account 98765432101 opened in lake lisaport.", known)
    assert [(s.entity, s.replacement) for s in spans] == [("ACCOUNT", "ACCT-abcdefghij"), ("CITY", "[CITY]")]


def test_only_our_own_tokens_are_protected(anonymizer: Anonymizer) -> None:
    known = KnownPII(names=["John Smith"])
    assert anonymizer.anonymize_text("Call [PHONE] for P-abcdefghij now.", known) == \
        "Call [PHONE] for P-abcdefghij now."
    out = anonymizer.anonymize_text("Spoke with [SMITH] today.", known)
    assert "SMITH" not in out and Pseudonymizer(KEY).person("John Smith") in out


def test_email_holding_a_known_name_stays_one_email(detector: Detector) -> None:
    text = "Mail jane.doe@gmail.com or call Jane."
    assert found(detector, text, KnownPII(names=["Jane Doe"])) == [("EMAIL", "jane.doe@gmail.com"),
                                                                   ("PERSON", "Jane")]


def test_third_party_names_are_pseudonymized_beside_the_subject(anonymizer: Anonymizer) -> None:
    p = Pseudonymizer(KEY)
    text = "Jane Doe came with her son Marcus Whitfield; Dr. Priya Raman examined her. Dr. Raman agreed."
    out = anonymizer.anonymize_text(text, KnownPII(names=["Jane Doe"]))
    assert out == (f"{p.person('Jane Doe')} came with her son {p.person('Marcus Whitfield')}; "
                   f"Dr. {p.person('Priya Raman')} examined her. Dr. {p.person('Priya Raman')} agreed.")


# --- the query side ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "question",
    ["What was prescribed to {first} {last}?", "what was prescribed to {first} {last}?",
     "Which medications is {LAST}, {FIRST} taking?", "Show the visits of {last}, {first} since 2024-01-01."],
)
def test_a_name_in_a_question_maps_to_the_pseudonym_the_records_carry(anonymizer: Anonymizer, question: str) -> None:
    keyring = Keyring(keys={"k1": bytes(32)}, primary="k1", pseudonym_key=KEY)
    record = generate_records("healthcare", 1, seed=4)[0]
    raw = parse_entry("healthcare", "1-0", stream_fields("healthcare", record), keyring)
    pseudonym = anonymizer.anonymize_record(raw).document["patient"]["pseudonym"]
    first, last = record["patient"]["first_name"], record["patient"]["last_name"]
    q = question.format(first=first, last=last, FIRST=first.upper(), LAST=last.upper())
    out = anonymizer.anonymize_text(q)  # no record on the query side: NER finds the name
    assert pseudonym in out
    assert first.lower() not in out.lower() and last.lower() not in out.lower()


# --- resolution, reprs, errors, logs, network -----------------------------------------------------------------


def test_spans_never_overlap_and_are_ordered(detector: Detector) -> None:
    text = ("Jane Doe (jane.doe@example.com, +1 (555) 123-4567) lives at 12 Main Street, Springfield, IL 62704; "
            "SSN 123-45-6789, card 4111 1111 1111 1111, routing 021000021, Dr. Alan Grant on 2024-03-14.")
    spans = detector.detect(text, KnownPII(names=["Jane Doe"], values={"(555) 123-4567": "[PHONE]"}))
    assert all(a.end <= b.start for a, b in zip(spans, spans[1:], strict=False))
    phone = next(s for s in spans if s.entity == "PHONE")
    assert text[phone.start:phone.end] == "+1 (555) 123-4567"  # the known value, widened to its +1 prefix
    assert {s.entity for s in spans} >= {"PERSON", "EMAIL", "PHONE", "ADDRESS", "ZIP", "SSN", "CARD", "ROUTING",
                                         "DATE"}


def test_resolution_prefers_known_then_patterns_then_ner() -> None:
    ner = Span(0, 14, "PERSON", 0.85, "ner")
    known = Span(0, 8, "PERSON", 1.0, "known-name", name="Jane Doe")
    pattern = Span(10, 20, "PHONE", 0.8, "pattern:us-phone")
    assert detect.resolve([ner, known, pattern]) == [known, pattern]


def test_span_repr_and_detector_repr_hold_no_raw_value(detector: Detector) -> None:
    text = "Spoke with Zanzibar Quist."
    spans = detector.detect(text, KnownPII(names=["Zanzibar Quist"]))
    assert spans and all("Zanzibar" not in repr(s) and "Quist" not in repr(s) for s in spans)
    assert "Zanzibar" not in repr(detector)


def test_a_failing_recognizer_raises_without_the_text(monkeypatch: pytest.MonkeyPatch, detector: Detector) -> None:
    secret = "Zanzibar Quist 123-45-6789"

    def broken(text: str):  # noqa: ANN202
        raise ValueError(f"cannot parse {text!r}")

    monkeypatch.setattr(detect, "PATTERN_RECOGNIZERS", (broken,))
    with pytest.raises(DetectionError) as info:
        detector.detect(f"Patient {secret} was seen.")
    rendered = "".join(traceback.format_exception(info.value))
    assert "patterns" in str(info.value) and "ValueError" in str(info.value)
    assert "Zanzibar" not in rendered and "123-45-6789" not in rendered


def test_no_raw_value_reaches_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    secrets = ["Zanzibar Quist", "zq@example.com", "123-45-6789", "+44 20 7946 0958", "4111 1111 1111 1111"]
    text = (f"Patient {secrets[0]} ({secrets[1]}), SSN {secrets[2]}, phone {secrets[3]}, card {secrets[4]}; "
            "seen by Dr. Priya Raman.")
    with caplog.at_level(logging.DEBUG):
        fresh = Anonymizer(Pseudonymizer(KEY), Detector())
        out = fresh.anonymize_text(text, KnownPII(names=["Zanzibar Quist"]))
    assert caplog.records  # the load is logged, so the capture works
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    for secret in [*secrets, "Priya", "Raman"]:
        assert secret not in logged
        assert secret not in out


def test_email_validation_never_opens_a_socket(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # noqa: ANN001
    import tldextract.tldextract as tld
    from presidio_analyzer.predefined_recognizers import EmailRecognizer

    attempts: list[object] = []

    def refuse(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        attempts.append(args[-1] if args else kwargs)
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)  # name resolution comes first
    monkeypatch.setenv("TLDEXTRACT_CACHE", str(tmp_path / "offline-cache"))
    # tldextract's own default would fetch the public suffix list (the test can fail) ...
    monkeypatch.setattr(tld, "TLD_EXTRACTOR", tld.TLDExtract(cache_dir=str(tmp_path / "default-cache")))
    tld.extract("jane@example.co.uk")
    assert attempts, "expected the default extractor to try the network"
    attempts.clear()
    # ... the detector's offline extractor reads the bundled snapshot instead
    monkeypatch.setattr(tld, "TLD_EXTRACTOR", tld.TLDExtract())
    detect.offline_tldextract()
    results = EmailRecognizer().analyze("write to jane@example.co.uk today", ["EMAIL_ADDRESS"])
    assert [(r.start, r.end) for r in results] == [(9, 27)]
    assert attempts == []
    assert not (tmp_path / "offline-cache").exists()  # and writes no cache file


def test_models_load_once_under_concurrent_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = detect.spacy_model_path

    def counting() -> str:
        calls.append(1)
        return real()

    monkeypatch.setattr(detect, "spacy_model_path", counting)
    fresh = Detector()
    text = "Dr. Alan Grant called 555-123-4567 about Maria Lopez."
    results: list[list[tuple[int, int, str]]] = []
    barrier = threading.Barrier(4)

    def work() -> None:
        barrier.wait()
        results.append([(s.start, s.end, s.entity) for s in fresh.detect(text)])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [1]
    assert len(results) == 4 and all(r == results[0] for r in results)
    assert {e for _, _, e in results[0]} == {"PERSON", "PHONE"}


def test_detect_many_matches_detect(detector: Detector) -> None:
    texts = ["Dr. Alan Grant saw Maria Lopez.", "", "No PII here.", "Call 555-123-4567, KRISHNA SAHA."]
    assert detector.detect_many(texts) == [detector.detect(t) for t in texts]


def test_texts_read_ahead_give_the_same_spans_and_are_dropped_after_the_batch(detector: Detector) -> None:
    texts = ["Dr. Alan Grant saw Maria Lopez.", "Call 555-123-4567, KRISHNA SAHA.", "No PII here."]
    alone = [detector.detect(t) for t in texts]
    with detector.primed(texts):
        assert set(detector._primed) == set(texts)  # noqa: SLF001 - what the batch holds in memory
        assert [detector.detect(t) for t in texts] == alone
    assert detector._primed == {}  # noqa: SLF001 - no plaintext outlives its batch
    with pytest.raises(RuntimeError), detector.primed(texts):
        raise RuntimeError("a failing batch")
    assert detector._primed == {}  # noqa: SLF001


def _resolve_by_scan(spans: list[Span]) -> list[Span]:
    """resolve() as it was written before bisection: every candidate checked against every kept span."""
    ranked = sorted(spans, key=lambda s: (-detect._tier(s), -len(s), -s.score, s.start))  # noqa: SLF001
    kept: list[Span] = []
    for cand in ranked:
        clash = [k for k in kept if cand.start < k.end and k.start < cand.end]
        if not clash:
            kept.append(cand)
        elif len(clash) == 1 and clash[0].entity == cand.entity != "PERSON":
            k = clash[0]
            if (cand.start <= k.start and k.end <= cand.end) or cand.entity in ("ADDRESS", "DATE"):
                wide = Span(min(cand.start, k.start), max(cand.end, k.end), k.entity, k.score, k.source)
                if not any(o is not k and wide.start < o.end and o.start < wide.end for o in kept):
                    kept[kept.index(k)] = wide
    return sorted(kept, key=lambda s: s.start)


def test_resolve_by_bisection_keeps_what_a_full_scan_keeps() -> None:
    import random

    rng = random.Random(7)
    sources = ("known", "known-name", "pattern:x", "ner")
    for _ in range(300):
        spans = []
        for _ in range(rng.randint(0, 40)):
            start = rng.randint(0, 200)
            spans.append(Span(start, start + rng.randint(1, 25), rng.choice(("ADDRESS", "DATE", "PERSON", "ID")),
                              rng.choice((0.5, 0.7, 0.9)), rng.choice(sources)))
        assert detect.resolve(spans) == _resolve_by_scan(spans)


def test_coded_fields_skip_ner(anonymizer: Anonymizer) -> None:
    """Drug names alone look like names to NER; record anonymization keeps them (no NER on coded values)."""
    assert anonymizer.anonymize_texts(["amoxicillin", "apixaban"], ner=False) == ["amoxicillin", "apixaban"]


def test_other_people_find_whole_values_in_any_case_at_the_right_offsets() -> None:
    from datavault_dagster.domain.detect import OtherPeople

    others = OtherPeople({"Zebulon Quaxworth": "P-aaaaaaaaaa", "Quaxworth, Zebulon": "P-aaaaaaaaaa",
                          "078-05-1120": "[SSN]", "8813 Quillfeather Lane": "[ADDRESS]", "Lee": "P-short"})
    assert len(others) == 4  # values under 4 characters are never matched on their own
    text = "İ saw quaxworth, zebulon (ssn 078-05-1120) at 8813 QUILLFEATHER LANE; ZEBULON QUAXWORTHS is another."
    found = [(text[s.start:s.end], s.entity, s.replacement) for s in others.spans(text)]
    assert found == [("quaxworth, zebulon", "PERSON", "P-aaaaaaaaaa"), ("078-05-1120", "SSN", "[SSN]"),
                     ("8813 QUILLFEATHER LANE", "ADDRESS", "[ADDRESS]")]  # not inside "QUAXWORTHS", not "Lee"
    assert others.spans("x078-05-11200") == [] and OtherPeople({}).spans("anything") == []


@pytest.mark.parametrize(
    ("text", "found"),
    [("seen in March 2024.", ["March 2024"]), ("Sept. 2023, then Jan 2024", ["Sept. 2023", "Jan 2024"]),
     ("on 5 March 2024", ["5 March 2024"]), ("you may 2024 doses", []), ("March 2024-05 batch", [])],
)
def test_month_year_dates_are_dates(text: str, found: list[str]) -> None:
    spans = Detector(ner=False).detect(text)
    assert [text[s.start:s.end] for s in spans if s.entity == "DATE"] == found


def test_a_birth_date_is_guarded_in_its_own_record_only() -> None:
    known = KnownPII(names=["Ann Lee"], values={"1961-07-19": "[DOB]", "078-05-1120": "[SSN]", "Springfield": "[CITY]"})
    assert "1961-07-19" not in known.identifiers()  # a shifted visit date elsewhere may equal it
    assert {"078-05-1120", "Springfield", "Ann Lee", "Lee, Ann"} <= set(known.identifiers())
    assert "1961-07-19" in known.all_raw() and "Ann" in known.all_raw()
