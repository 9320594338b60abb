"""Unit tests for the pure parts of embedding: record text, chunking and content-addressed ids (no model load)."""

from __future__ import annotations

import re

import pytest

from datavault_dagster.domain import records
from datavault_dagster.domain.anonymize import Anonymizer, Pseudonymizer
from datavault_dagster.domain.crypto import Keyring
from datavault_dagster.domain.embed import MAX_WORDS, MODEL_NAME, OVERLAP_WORDS, chunk_text, embedding_id, record_text
from simulations import DOMAINS, generate_records, pii_values

KEYRING = Keyring(keys={"k1": bytes(range(32))}, primary="k1", pseudonym_key=bytes(range(64, 96)))
SUBJECT = {"healthcare": "patient", "finance": "customer"}


@pytest.fixture(scope="module")
def docs() -> dict[str, list[tuple[dict, dict]]]:
    anonymizer = Anonymizer(Pseudonymizer(KEYRING.pseudonym_key))
    out: dict[str, list[tuple[dict, dict]]] = {}
    for domain in DOMAINS:
        pairs = []
        for rec in generate_records(domain, 120, seed=2):
            raw = records.parse_entry(domain, "1-0", records.stream_fields(domain, rec), KEYRING)
            pairs.append((rec, anonymizer.anonymize_record(raw).document))
        out[domain] = pairs
    return out


def _raw_pii_in(rec: dict, domain: str, text: str) -> list[str]:
    """Raw PII values (>= 4 chars) found in text; single name words only as whole words."""
    low = text.lower()
    subject = rec[SUBJECT[domain]]
    found = []
    for value in pii_values(rec, domain):
        if len(value) < 4:
            continue
        if value in (subject["first_name"], subject["last_name"]) and " " not in value:
            if re.search(rf"(?<![a-z0-9]){re.escape(value.lower())}(?![a-z0-9])", low):
                found.append(value)
        elif value.lower() in low:
            found.append(value)
    return found


# --- record_text --------------------------------------------------------------------------------------------


def test_healthcare_record_text(docs) -> None:
    for rec, doc in docs["healthcare"]:
        text = record_text(doc)
        assert text.startswith(f"Healthcare encounter {doc['encounter']['date']} for patient ")
        assert doc["patient"]["pseudonym"] in text
        assert f"age {doc['patient']['age_band']}" in text
        assert f"{doc['patient']['zip3']}xx" in text
        for med in rec["medications"]:
            assert f"{med['name']} {med['dose']} {med['frequency']}" in text
        for dx in rec["diagnoses"]:
            assert dx["code"] in text
        assert f"Note: {doc['note']}" in text
        assert _raw_pii_in(rec, "healthcare", text) == []
        assert doc["encounter"]["date"] in text  # the shifted date, not the real one
        assert rec["patient"]["dob"] not in text


def test_finance_record_text(docs) -> None:
    for rec, doc in docs["finance"]:
        text = record_text(doc)
        assert text.startswith(f"Finance record for customer {doc['customer']['pseudonym']} ")
        assert doc["account"]["token"] in text and doc["account"]["card"] in text
        for tx in doc["transactions"]:  # dates as stored: shifted per subject
            assert f"{tx['date']} {tx['amount']:.2f} {tx['currency']} at {tx['merchant']} ({tx['category']})" in text
        assert f"Advisor note: {doc['note']}" in text
        assert _raw_pii_in(rec, "finance", text) == []
        assert rec["account"]["account_number"] not in text
        assert rec["account"]["card_number"][-8:] not in text


def test_record_text_before_anonymization_would_leak(docs) -> None:
    """Guards the checks above against vacuity: the raw records' notes do carry the PII being checked for."""
    for domain in DOMAINS:
        assert sum(bool(_raw_pii_in(rec, domain, rec["note"])) for rec, _ in docs[domain]) > 60


def test_record_text_empty_lists() -> None:
    hc = {
        "domain": "healthcare", "record_id": "r", "subject": "S-x",
        "patient": {"pseudonym": "P-aaaaaaaaaa", "age_band": "40-49", "sex": "F", "state": "IL", "zip3": "627"},
        "encounter": {"date": "2024-03-07", "facility": "F", "department": "D", "reason": "R"},
        "diagnoses": [], "medications": [], "note": "n",
    }
    text = record_text(hc)
    assert "Diagnoses: none." in text and "Medications: none." in text
    assert "region IL 627xx" in text
    fn = {
        "domain": "finance", "record_id": "r", "subject": "S-x",
        "customer": {"pseudonym": "P-bbbbbbbbbb", "age_band": "30-39", "state": "IA", "zip3": "208"},
        "account": {"token": "ACCT-x", "type": "checking", "opened_year": "2005", "card": "CARD-y"},
        "transactions": [{"date": "2024-06-02", "amount": -5, "currency": "USD", "merchant": "M", "category": "c"}],
        "note": "n",
    }
    assert "2024-06-02 -5.00 USD at M (c)" in record_text(fn)
    assert "Transactions: none." in record_text({**fn, "transactions": []})


def test_record_text_unknown_domain() -> None:
    with pytest.raises(ValueError):
        record_text({"domain": "legal"})


# --- chunk_text ---------------------------------------------------------------------------------------------


def _words(n: int) -> str:
    return " ".join(f"w{i}" for i in range(n))


@pytest.mark.parametrize("text", ["one", "a few words here", "  spaced\tout\nwords  ", _words(MAX_WORDS)])
def test_short_text_is_one_normalized_chunk(text: str) -> None:
    assert chunk_text(text) == [" ".join(text.split())]


@pytest.mark.parametrize(
    ("n", "max_words", "overlap"),
    [(MAX_WORDS + 1, MAX_WORDS, OVERLAP_WORDS), (400, MAX_WORDS, OVERLAP_WORDS), (1000, MAX_WORDS, OVERLAP_WORDS),
     (11, 10, 3), (20, 10, 3), (17, 10, 3), (100, 5, 0), (50, 2, 1)],
)
def test_long_text_chunk_sizes_and_overlap(n: int, max_words: int, overlap: int) -> None:
    words = _words(n).split()
    chunks = [c.split() for c in chunk_text(" ".join(words), max_words=max_words, overlap=overlap)]
    assert len(chunks) >= 2
    assert all(1 <= len(c) <= max_words for c in chunks)
    assert all(len(c) == max_words for c in chunks[:-1])
    step = max_words - overlap
    for i, chunk in enumerate(chunks):
        assert chunk == words[i * step : i * step + max_words]
    if overlap:
        for a, b in zip(chunks, chunks[1:], strict=False):
            assert a[-overlap:] == b[:overlap]
    # together the chunks cover every word, in order, with nothing repeated beyond the overlap
    rebuilt = chunks[0] + [w for c in chunks[1:] for w in c[overlap:]]
    assert rebuilt == words
    # the last chunk always adds words the previous one did not have
    assert len(chunks[-1]) > overlap


def test_default_chunking_counts() -> None:
    step = MAX_WORDS - OVERLAP_WORDS
    assert len(chunk_text(_words(MAX_WORDS))) == 1
    assert len(chunk_text(_words(MAX_WORDS + 1))) == 2
    assert len(chunk_text(_words(MAX_WORDS + step))) == 2
    assert len(chunk_text(_words(MAX_WORDS + step + 1))) == 3


@pytest.mark.parametrize(("max_words", "overlap"), [(10, 10), (5, 6), (0, 0)])
def test_chunk_text_rejects_overlap_not_below_window(max_words: int, overlap: int) -> None:
    with pytest.raises(ValueError):
        chunk_text(_words(50), max_words=max_words, overlap=overlap)


def test_real_record_text_chunks_fit_the_model(docs) -> None:
    for domain in DOMAINS:
        for _, doc in docs[domain][:20]:
            chunks = chunk_text(record_text(doc))
            assert chunks and all(len(c.split()) <= MAX_WORDS for c in chunks)


# --- embedding_id -------------------------------------------------------------------------------------------


def test_embedding_id_is_deterministic_hex() -> None:
    eid = embedding_id("healthcare", "hc-0-000001", 0)
    assert re.fullmatch(r"[0-9a-f]{32}", eid)
    assert eid == embedding_id("healthcare", "hc-0-000001", 0)
    assert eid == embedding_id("healthcare", "hc-0-000001", 0, MODEL_NAME)


def test_embedding_id_pinned_value() -> None:
    import hashlib

    expected = hashlib.sha256(b"finance\x00fn-1\x003\x00all-MiniLM-L6-v2").hexdigest()[:32]
    assert embedding_id("finance", "fn-1", 3) == expected


def test_embedding_id_differs_by_every_component() -> None:
    base = ("healthcare", "hc-0-000001", 0, MODEL_NAME)
    variants = [
        base,
        ("finance", "hc-0-000001", 0, MODEL_NAME),
        ("healthcare", "hc-0-000002", 0, MODEL_NAME),
        ("healthcare", "hc-0-000001", 1, MODEL_NAME),
        ("healthcare", "hc-0-000001", 0, "other-model"),
        ("healthcare", "hc-0-00000", 10, MODEL_NAME),  # no ambiguity from concatenation
        ("healthcarehc-0-000001", "", 0, MODEL_NAME),
    ]
    ids = [embedding_id(*v) for v in variants]
    assert len(set(ids)) == len(ids)


def test_embedding_ids_unique_over_many_chunks() -> None:
    ids = {embedding_id(d, f"r{r}", c) for d in DOMAINS for r in range(200) for c in range(5)}
    assert len(ids) == 2 * 200 * 5
