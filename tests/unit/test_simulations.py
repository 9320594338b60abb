"""Unit tests for the synthetic healthcare and finance record generators."""

import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import jsonschema
import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # the project is not pip-installed in the venv; import it from the checkout
    sys.path.insert(0, str(REPO))

from simulations import DOMAINS, SCHEMAS, generate_records, pii_values  # noqa: E402
from simulations.people import Person, make_people, name_reference  # noqa: E402

SCHEMA_DIR = REPO / "datavault_dagster" / "schemas"
SUBJECT = {"healthcare": "patient", "finance": "customer"}
ID_KEY = {"healthcare": "patient_id", "finance": "customer_id"}


def _validator(domain: str) -> jsonschema.Draft202012Validator:
    """Draft 2020-12 validator (with format checks) for the domain's schema file."""
    schema = json.loads((SCHEMA_DIR / f"{SCHEMAS[domain]}.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def _luhn_ok(number: str) -> bool:
    """Luhn checksum of a digit string."""
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


@pytest.fixture(scope="module")
def records() -> dict[tuple[str, int], list[dict]]:
    """200 records per domain for two seeds, generated once for the module."""
    return {(d, s): generate_records(d, 200, seed=s) for d in DOMAINS for s in (0, 7)}


def test_public_constants() -> None:
    assert DOMAINS == ("healthcare", "finance")
    assert SCHEMAS == {"healthcare": "healthcare.v1", "finance": "finance.v1"}


@pytest.mark.parametrize("domain", DOMAINS)
@pytest.mark.parametrize("seed", [0, 7])
def test_records_validate_against_schema(records, domain: str, seed: int) -> None:
    validator = _validator(domain)
    batch = records[(domain, seed)]
    assert len(batch) == 200
    for record in batch:
        errors = sorted(validator.iter_errors(record), key=lambda e: list(e.path))
        assert not errors, f"{record['record_id']}: {[e.message for e in errors]}"


@pytest.mark.parametrize("domain", DOMAINS)
def test_record_ids_unique_and_formatted(records, domain: str) -> None:
    prefix = {"healthcare": "hc", "finance": "fn"}[domain]
    ids = [r["record_id"] for r in records[(domain, 7)]]
    assert len(set(ids)) == len(ids)
    assert ids[0] == f"{prefix}-7-000000"
    assert ids[-1] == f"{prefix}-7-000199"


@pytest.mark.parametrize("domain", DOMAINS)
def test_deterministic_per_seed(records, domain: str) -> None:
    again = generate_records(domain, 200, seed=0)
    assert json.dumps(again) == json.dumps(records[(domain, 0)])
    assert again != records[(domain, 7)]


def test_deterministic_across_processes() -> None:
    code = (
        "import json, hashlib; from simulations import generate_records as g;"
        "print(hashlib.sha256(json.dumps([g('healthcare', 40, 3), g('finance', 40, 3)]).encode()).hexdigest())"
    )
    digests = set()
    for hashseed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=hashseed)
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True
        )
        digests.add(out.stdout.strip())
    assert len(digests) == 1


@pytest.mark.parametrize("domain", DOMAINS)
def test_subjects_repeat_with_identical_pii(records, domain: str) -> None:
    subject_key = SUBJECT[domain]
    by_id: dict[str, list[dict]] = defaultdict(list)
    for r in records[(domain, 0)]:
        by_id[r[subject_key][ID_KEY[domain]]].append(r)
    repeated = [rs for rs in by_id.values() if len(rs) >= 2]
    assert len(repeated) >= 10
    for rs in repeated:
        assert all(r[subject_key] == rs[0][subject_key] for r in rs)
        if domain == "finance":
            assert all(r["account"] == rs[0]["account"] for r in rs)
    # distinct subjects never share an SSN, email or MRN
    subjects = [rs[0][subject_key] for rs in by_id.values()]
    for field in ("ssn", "email") + (("mrn",) if domain == "healthcare" else ()):
        assert len({s[field] for s in subjects}) == len(subjects)


@pytest.mark.parametrize("domain", DOMAINS)
def test_notes_embed_pii(records, domain: str) -> None:
    batch = records[(domain, 0)]
    with_any = 0
    with_non_name = 0
    for r in batch:
        note = r["note"].lower()
        values = pii_values(r, domain)
        if any(v.lower() in note for v in values):
            with_any += 1
        subject = r[SUBJECT[domain]]
        names = {subject["first_name"], subject["last_name"], f"{subject['first_name']} {subject['last_name']}"}
        if any(v.lower() in note for v in values - names):
            with_non_name += 1
    assert with_any / len(batch) >= 0.8
    assert with_non_name / len(batch) >= 0.5


def test_notes_vary_name_forms_and_contents(records) -> None:
    hc = records[("healthcare", 0)]
    fn = records[("finance", 0)]
    notes = [r["note"] for r in hc]
    assert any(r["patient"]["first_name"].upper() in r["note"] for r in hc)
    assert any(f"{r['patient']['first_name']} {r['patient']['last_name']}".lower() in r["note"] for r in hc)
    assert any(("Mr. " in n or "Ms. " in n) for n in notes)
    assert any(r["patient"]["ssn"] in r["note"] for r in hc)
    assert any(r["patient"]["mrn"] in r["note"] for r in hc)
    assert any(r["patient"]["address"]["street"] in r["note"] for r in hc)
    assert any("-year-old" in n for n in notes)
    assert sum("Dr. " in n for n in notes) == len(notes)
    assert any(r["account"]["account_number"] in r["note"] for r in fn)
    assert any(f"ending in {r['account']['account_number'][-4:]}" in r["note"] for r in fn)
    assert any(r["account"]["card_number"] in r["note"] for r in fn)
    grouped = [" ".join(c[i : i + 4] for i in range(0, len(c), 4)) for c in [r["account"]["card_number"] for r in fn]]
    assert any(g in r["note"] for g, r in zip(grouped, fn, strict=True))
    for text in ("disputed a $", "possible fraud", "high-yield"):
        assert any(text in r["note"] for r in fn), text


@pytest.mark.parametrize("domain", DOMAINS)
def test_note_length_is_two_to_five_sentences(records, domain: str) -> None:
    for r in records[(domain, 0)]:
        # sentences end with '. ' or the final '.'; abbreviations (Dr., Mr., Ms., Apt.) are discounted
        text = r["note"]
        for abbr in ("Dr. ", "Mr. ", "Ms. ", "Apt. ", "St. "):
            text = text.replace(abbr, "")
        n = text.count(". ") + text.endswith(".")
        assert 2 <= n <= 5, r["note"]


def test_medications_answerable_from_note_and_structure(records) -> None:
    hc = records[("healthcare", 0)]
    metformin = [r for r in hc if any(m["name"] == "metformin" for m in r["medications"])]
    assert metformin
    for r in metformin:
        assert "metformin 500 mg twice daily" in r["note"]
    for r in hc:
        assert r["diagnoses"] and r["medications"]
        for m in r["medications"]:
            assert f"{m['name']} {m['dose']} {m['frequency']}" in r["note"]
    departments = {r["encounter"]["department"] for r in hc}
    assert {"Cardiology", "Endocrinology", "Emergency", "Oncology", "Pediatrics", "Orthopedics"} <= departments


def test_card_numbers_pass_luhn(records) -> None:
    for seed in (0, 7):
        for r in records[("finance", seed)]:
            card = r["account"]["card_number"]
            assert _luhn_ok(card), card
            assert 13 <= len(card) <= 19


def test_transactions_shape(records) -> None:
    for r in records[("finance", 0)]:
        txs = r["transactions"]
        assert 2 <= len(txs) <= 6
        assert len({t["transaction_id"] for t in txs}) == len(txs)
        assert [t["date"] for t in txs] == sorted(t["date"] for t in txs)


def test_pii_values_contents(records) -> None:
    hc = records[("healthcare", 0)][0]
    p = hc["patient"]
    values = pii_values(hc, "healthcare")
    expected = {p["first_name"], p["last_name"], f"{p['first_name']} {p['last_name']}", p["ssn"], p["phone"],
                p["email"], p["address"]["street"], p["mrn"], p["dob"]}
    assert values == expected
    fn = records[("finance", 0)][0]
    values = pii_values(fn, "finance")
    account = fn["account"]
    assert {account["account_number"], account["card_number"], account["routing_number"]} <= values
    assert fn["customer"]["ssn"] in values
    with pytest.raises(ValueError, match="retail"):
        pii_values(fn, "retail")


def test_unknown_domain_and_edge_counts() -> None:
    with pytest.raises(ValueError, match="retail"):
        generate_records("retail", 5)
    for domain in DOMAINS:
        assert generate_records(domain, 0) == []
        assert len(generate_records(domain, 1, seed=3)) == 1
        with pytest.raises(ValueError):
            generate_records(domain, -1)


@pytest.mark.parametrize("domain", DOMAINS)
def test_large_batch_validates(domain: str) -> None:
    validator = _validator(domain)
    batch = generate_records(domain, 1000, seed=42)
    assert len({r["record_id"] for r in batch}) == 1000
    for record in batch:
        validator.validate(record)


def test_make_people_unique_and_well_formed() -> None:
    import random

    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(5)
    people = make_people(300, random.Random(5), fake)
    assert len({p.ssn for p in people}) == 300
    assert len({p.email for p in people}) == 300
    for p in people:
        assert isinstance(p, Person)
        assert p.sex in ("F", "M")
        assert len(p.phone) >= 7
        assert len(p.address["state"]) == 2 and p.address["state"].isupper()
        assert len(p.address["zip"]) == 5 and p.address["zip"].isdigit()
        assert p.first_name.lower() in name_reference(p, random.Random(1)).lower() or (
            p.last_name.lower() in name_reference(p, random.Random(1)).lower()
        )
    with pytest.raises(AttributeError):
        people[0].ssn = "000-00-0000"  # type: ignore[misc]


@pytest.mark.parametrize("seed", [0, 5, 9])
def test_no_encounter_before_the_patient_was_born(seed: int) -> None:
    records = generate_records("healthcare", 400, seed=seed)
    assert all(r["encounter"]["date"] >= r["patient"]["dob"] for r in records)
