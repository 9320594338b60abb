"""A THIRD PARTY known only from free text never reaches the LLM, LanceDB, the opened vault documents or the logs.

An outside producer (raw Redis XADD, as in test_bad_input) writes valid healthcare.v1 and finance.v1 records whose
notes, in English, Norwegian and French, name a relative of the patient / customer: the relative's passport number,
phone number (national format, no country code), email and Norwegian or French street address. No structured field
holds any of these values, so only the detectors can find them (the record's own identifiers do not cover them).
The pipeline is run as a user runs it (`datavault process`), then questions are asked the way `datavault ask` asks
them (cli.ask, and the command itself), with every prompt sent to the LLM captured instead of answered by a model.

The acceptance: every record lands (vault, vectors, no dead letter), and none of the third-party values, by type
(passport, phone digits, email, street with house number, postal code, city of the address), is in the prompts,
the LanceDB table or files, the documents the vault opens for the RAG context, the DEBUG logs and output captured
during the run, any plaintext vault column or Dagster's storage.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import jsonschema
import psycopg
import redis

from datavault_dagster import cli, orchestrate, runtime
from datavault_dagster.domain.embed import record_text
from datavault_dagster.domain.records import SCHEMAS
from datavault_dagster.pipeline import open_record
from datavault_dagster.services import llm
from datavault_dagster.services.settings import Settings
from datavault_dagster.services.vault import Vault
from datavault_dagster.services.vectors import VectorStore
from simulations import generate_records

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "datavault_dagster" / "schemas"
SUBJECT = {"healthcare": "patient", "finance": "customer"}


@dataclass(frozen=True)
class Relative:
    """One record's note naming a relative of its subject, and the relative's values as written in it."""

    record_id: str
    domain: str
    note: str
    passport: str
    phone: str  # national format, no country code
    email: str
    street: str  # street name with house number, as written
    postcode: str
    city: str


RELATIVES = [
    Relative(
        "tp-hc-1", "healthcare",
        "Pasienten møtte til kontroll etter hjerteinfarkt, fulgt av broren Eirik. Brorens passnummer er 29384756, "
        "han nås på mobil 95 87 33 33 eller e-post eirik.solbakken@online.no og bor i Storgata 18, 0184 Oslo. "
        "Fortsetter med atorvastatin 40 mg om kvelden.",
        "29384756", "95 87 33 33", "eirik.solbakken@online.no", "Storgata 18", "0184", "Oslo"),
    Relative(
        "tp-hc-2", "healthcare",
        "Consultation de suivi pour hypertension. Sa fille, qui l'accompagnait, a laissé ses coordonnées : "
        "passeport n° 18AV47291, portable 06 12 34 56 78, courriel camille.fauvel@orange.fr, domiciliée au "
        "14 rue des Lilas, 69003 Lyon. Lisinopril 10 mg maintenu, contrôle tensionnel dans un mois.",
        "18AV47291", "06 12 34 56 78", "camille.fauvel@orange.fr", "14 rue des Lilas", "69003", "Lyon"),
    Relative(
        "tp-hc-3", "healthcare",
        "Asthma review, inhaler technique checked. Next of kin is her son in Norway (passport number FK0248813), "
        "mobile 412 34 567, email j.haugland88@gmail.com, address Kirkeveien 64B, 0364 Oslo. He will collect the "
        "new budesonide prescription.",
        "FK0248813", "412 34 567", "j.haugland88@gmail.com", "Kirkeveien 64B", "0364", "Oslo"),
    Relative(
        "tp-hc-4", "healthcare",
        "Wound check after knee replacement. Her mother is flying in from France to help at home: passport "
        "21CK83306, phone 07 81 45 22 90, email odile.marchetti@laposte.net, normally living at 3 avenue Jean "
        "Jaurès, 13005 Marseille. Healing well; continue apixaban 2.5 mg twice daily.",
        "21CK83306", "07 81 45 22 90", "odile.marchetti@laposte.net", "3 avenue Jean Jaurès", "13005", "Marseille"),
    Relative(
        "tp-fn-1", "finance",
        "Kunden ønsker å gi datteren disponentrett på brukskontoen. Datterens pass nr. 33019842, telefon "
        "918 76 543, e-post sigrid.vangen@hotmail.no, adresse Kong Oscars gate 9, 5017 Bergen. Signert fullmakt "
        "mottatt i banken.",
        "33019842", "918 76 543", "sigrid.vangen@hotmail.no", "Kong Oscars gate 9", "5017", "Bergen"),
    Relative(
        "tp-fn-2", "finance",
        "Le client effectue un virement mensuel de 400 euros à son frère. Pièces fournies pour le frère : "
        "passeport 15RT92047, téléphone 06 98 76 54 32, adresse électronique luc.perrin62@free.fr, résidant "
        "27 boulevard Voltaire, 75011 Paris. Aucun signe de fraude.",
        "15RT92047", "06 98 76 54 32", "luc.perrin62@free.fr", "27 boulevard Voltaire", "75011", "Paris"),
    Relative(
        "tp-fn-3", "finance",
        "Customer asked to set up a standing transfer in NOK to her father. Father's passport no. 27719305; "
        "phone 22 60 41 18; email arne.lothe@getmail.no; address Olav Tryggvasons gate 24, 7011 Trondheim. "
        "Compliance review passed.",
        "27719305", "22 60 41 18", "arne.lothe@getmail.no", "Olav Tryggvasons gate 24", "7011", "Trondheim"),
    Relative(
        "tp-fn-4", "finance",
        "Kunden oppga svigerinnen som kausjonist for lånet. Hun bor i Frankrike, passnummer 19FJ30458, mobil "
        "07 62 18 39 04, e-post nathalie.giraud@wanadoo.fr, adresse 8 place Bellecour, 69002 Lyon. "
        "Dokumentasjonen er skannet inn.",
        "19FJ30458", "07 62 18 39 04", "nathalie.giraud@wanadoo.fr", "8 place Bellecour", "69002", "Lyon"),
    Relative(
        "tp-fn-5", "finance",
        "Le client déclare que son épouse vit en Norvège et sera cotitulaire du compte d'épargne. Passeport de "
        "l'épouse : 30551876, téléphone 977 12 408, e-mail ane.kristiansen@outlook.com, adresse Bygdøy allé 5, "
        "0257 Oslo. Ouverture validée.",
        "30551876", "977 12 408", "ane.kristiansen@outlook.com", "Bygdøy allé 5", "0257", "Oslo"),
]

QUESTIONS = [
    "Which relatives of patients and customers left a passport number, phone number, email or home address?",
    "Hvem er pårørende som bor i Storgata 18, 0184 Oslo, og hvem har telefonnummer 95 87 33 33?",
    "Quel membre de la famille habite au 14 rue des Lilas, 69003 Lyon, et quel est son numéro de passeport ?",
]


# --- the values, as patterns that also catch a reformatted copy ------------------------------------------------

def _phone_digits(phone: str) -> str:
    digits = re.sub(r"\D", "", phone)
    return digits[1:] if digits.startswith("0") else digits  # French trunk 0: "+33 6 12 ..." leaks it too


# a number stands alone: not inside a word, a hex hash or uuid ("...cc5017fd...", "5b2c-0184-4a3e") or a decimal
# ("1718.0184"), which the run ids, hashes and timestamps of the event log and the LanceDB files are full of
ALONE_L = r"(?<!\w)(?<!\w[.\-])"
ALONE_R = r"(?!\w)(?![.\-]\w)"


def _needles() -> list[tuple[str, str, re.Pattern[str]]]:
    """(record id, value type, pattern) for every third-party value; never the value in a message."""
    sep = r"[\s.\-()/]*"
    out = []
    for r in RELATIVES:
        local = r.email.split("@")[0]
        street = r"\s+".join(re.escape(w) for w in r.street.split())
        phone = sep.join(_phone_digits(r.phone))
        for kind, pattern in [
            ("passport", ALONE_L + sep.join(re.escape(c) for c in r.passport) + ALONE_R),
            # also with a country code or the French trunk 0 in front: "+47 95 87 ...", "0033 6 12 ...", "06 12 ..."
            ("phone", rf"{ALONE_L}(?:(?:\+|00)?\d{{1,3}}[\s.\-]*(?:\(0\)\s*)?)?{phone}{ALONE_R}"),
            ("email", re.escape(r.email)),
            ("email local part", rf"(?<![\w.]){re.escape(local)}(?![\w])"),
            ("street with house number", rf"(?<!\w){street}(?!\w)"),
            ("postal code", ALONE_L + re.escape(r.postcode) + ALONE_R),
            ("city of the address", rf"(?<!\w){re.escape(r.city)}(?!\w)"),
        ]:
            out.append((r.record_id, kind, re.compile(pattern, re.IGNORECASE)))
    return out


NEEDLES = _needles()


def _unescaped(text: str) -> str:
    """text, plus a copy with JSON's \\uXXXX escapes decoded ("Jaur\\u00e8s" is "Jaurès" too)."""
    return text + "\n" + re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)


def _leaks(text: str) -> list[str]:
    """The value types (with the record they belong to) found in text."""
    text = _unescaped(text)
    return sorted({f"{kind} ({rid})" for rid, kind, pattern in NEEDLES if pattern.search(text)})


def _leak_types(text: str) -> list[str]:
    """The value types found in text (what a failure names: never the value)."""
    text = _unescaped(text)
    return sorted({kind for _, kind, pattern in NEEDLES if pattern.search(text)})


def _assert_clean(where: str, text: str) -> None:
    """No third-party value in text; a failure names the place and the value types only (never the text)."""
    found = _leak_types(text)
    assert found == [], f"third-party {', '.join(found)} in {where}"


# --- what the outside producer writes ---------------------------------------------------------------------------

def _record(rel: Relative, n: int) -> dict:
    """A valid record of a generated subject, trimmed so its whole text fits a prompt source, with rel's note."""
    rec = json.loads(json.dumps(generate_records(rel.domain, 1, seed=9100 + n)[0]))
    rec["record_id"] = rel.record_id
    if rel.domain == "healthcare":
        rec["encounter"]["encounter_id"] = f"enc-{rel.record_id}"
        rec["diagnoses"], rec["medications"] = rec["diagnoses"][:1], rec["medications"][:1]
    else:
        rec["transactions"] = rec["transactions"][:1]
        rec["transactions"][0]["transaction_id"] = f"{rel.record_id}-tx1"
    rec["note"] = rel.note
    return rec


def _write(redis_url: str) -> list[dict]:
    """Raw XADDs of every record (the stream contract: record_id, schema, payload); returns the records."""
    schemas = {d: json.loads((SCHEMA_DIR / f"{s}.json").read_text()) for d, s in SCHEMAS.items()}
    client = redis.Redis.from_url(redis_url)
    records = []
    for n, rel in enumerate(RELATIVES):
        rec = _record(rel, n)
        jsonschema.validate(rec, schemas[rel.domain], format_checker=jsonschema.FormatChecker())
        structured = json.dumps({k: v for k, v in rec.items() if k != "note"}, ensure_ascii=False)
        _assert_clean(f"structured fields of {rel.record_id}", structured)  # no field holds a third-party value
        mine = {kind for rid, kind, p in NEEDLES if rid == rel.record_id and p.search(rec["note"])}
        assert len(mine) == 7, (rel.record_id, mine)  # ... and the note holds every one (the patterns work)
        client.xadd(f"datavault:raw:{rel.domain}",
                    {"record_id": rel.record_id, "schema": SCHEMAS[rel.domain], "payload": json.dumps(rec)})
        records.append(rec)
    client.close()
    return records


# --- the test ----------------------------------------------------------------------------------------------------

def test_third_party_identifiers_in_notes_reach_no_prompt_vector_document_or_log(dv_env: Path, monkeypatch, caplog,
                                                                                   capfd):
    monkeypatch.setenv("DATAVAULT_BATCH_SIZE", "100")  # one partition per domain
    monkeypatch.setenv("DATAVAULT_TOP_K", str(len(RELATIVES)))  # every record may reach the context
    settings = Settings.from_env()
    keyring = runtime.keyring_for(settings)
    _write(settings.redis_url)
    raw = b" ".join(v for d in SCHEMAS for _, f in redis.Redis.from_url(settings.redis_url).xrange(
        f"datavault:raw:{d}") for v in f.values()).decode()
    seen = _leaks(raw)
    assert len(seen) == len(NEEDLES)  # the scan sees every value of every record in the input

    prompts: list[list[dict[str, str]]] = []

    def capture(model: str, messages: list[dict[str, str]], **kwargs) -> str:  # noqa: ANN003
        prompts.append(messages)  # in place of the LLM: what would have been sent to it
        return "noted [1]"

    monkeypatch.setattr(llm, "complete", capture)
    caplog.set_level(logging.DEBUG)
    capfd.readouterr()
    started = time.perf_counter()

    # the run, as a user runs it
    assert cli.main(["process"]) == 0
    answers = [cli.ask(Settings.from_env(), q) for q in QUESTIONS]
    assert cli.main(["ask", QUESTIONS[1]]) == 0
    captured = capfd.readouterr()
    print(f"process + {len(QUESTIONS) + 1} questions took {time.perf_counter() - started:.1f} s")

    # every record landed: one successful run per domain, in the vault once, with vectors, no dead letter
    ids = {(r.domain, r.record_id) for r in RELATIVES}
    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs(dg.RunsFilter(job_name=orchestrate.JOB))
    assert len(runs) == 2 and all(r.is_success for r in runs)
    assert "ran 2 partitions: 2 succeeded, 0 failed" in captured.out
    vault = Vault(settings.postgres_url)
    try:
        assert vault.dead_letters(partition_key=None) == []
        with psycopg.connect(settings.postgres_url) as conn:
            stored = conn.execute("SELECT domain, record_id FROM datavault.records").fetchall()
        assert sorted(stored) == sorted(ids)
        rows = vault.get_records(sorted(ids))
    finally:
        vault.close()
    store = VectorStore(settings.lancedb_uri)
    counts = store.record_counts(sorted(ids))
    assert set(counts) == ids and all(counts.values())
    for domain in SCHEMAS:
        assert redis.Redis.from_url(settings.redis_url).xlen(f"datavault:raw:{domain}") == 0

    # the documents the vault opens for the RAG context: the notes are still there, without the values
    docs = {key: open_record(row, keyring) for key, row in rows.items()}
    assert set(docs) == ids
    for key, doc in docs.items():
        assert len(doc["note"]) > 80, key  # anonymized, not emptied
        _assert_clean(f"opened vault document {key}", json.dumps(doc, ensure_ascii=False))
        _assert_clean(f"RAG text of {key}", record_text(doc))

    # the prompts: every question was sent, every record's whole text was in some prompt's context
    assert len(prompts) == len(QUESTIONS) + 1
    sent = json.dumps(prompts, ensure_ascii=False)
    in_context = {(s.domain, s.record_id) for a in answers for s in a.sources}
    assert in_context == ids
    for a in answers:
        for s in a.sources:
            assert any(s.text in m["content"] for p in prompts for m in p), s.record_id  # not cut short
            _assert_clean(f"RAG source {s.record_id}", s.text)
    for a in answers:
        _assert_clean("anonymized question", a.question)
    _assert_clean("the prompts sent to the LLM", sent)
    _assert_clean("stdout", captured.out)
    _assert_clean("stderr", captured.err)

    # LanceDB: the table's strings and every file of it
    strings = store.scan_strings()
    assert strings
    _assert_clean("the LanceDB table", "\n".join(strings))
    files = [p for p in Path(settings.lancedb_uri).rglob("*") if p.is_file()]
    assert files
    for p in files:
        _assert_clean(f"LanceDB file {p.name}", p.read_bytes().decode("utf-8", "replace"))

    # the DEBUG logs of the run and the questions
    assert caplog.records and any(r.levelno == logging.DEBUG for r in caplog.records)
    logged = "\n".join([caplog.text] + [r.getMessage() for r in caplog.records]
                       + [r.exc_text or "" for r in caplog.records])
    _assert_clean("the DEBUG logs", logged)
    # the runs' own log (what their steps and Dagster logged, every level, kept in the event log)
    with dg.DagsterInstance.get() as instance:
        events = [e for r in runs for e in instance.all_logs(r.run_id)]
    assert any(e.level == logging.DEBUG for e in events) and any(e.step_key for e in events)
    _assert_clean("the runs' event log", "\n".join(e.user_message + dg.serialize_value(e) for e in events))

    # and, for good measure, every plaintext column of the vault's tables and Dagster's storage
    with psycopg.connect(settings.postgres_url) as conn:
        tables = [t for (t,) in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'datavault'")]
        for table in tables:
            for row in conn.execute(f"SELECT * FROM datavault.{table}"):
                cells = " ".join(str(c) for c in row if not isinstance(c, (bytes, memoryview)))
                _assert_clean(f"datavault.{table}", cells)
    dagster_files = [p for p in Path(os.environ["DAGSTER_HOME"]).rglob("*") if p.is_file()]
    assert dagster_files
    for p in dagster_files:
        _assert_clean(f"Dagster storage file {p.name}", p.read_bytes().decode("utf-8", "replace"))
