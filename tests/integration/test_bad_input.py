"""Bad input from an OUTSIDE producer: malformed stream entries written with a raw Redis client, between good ones.

Nothing here goes through `datavault produce`: every entry, good or bad, is a raw XADD (bytes where a producer could
send bytes), and the pipeline is run the way a user runs it (`orchestrate.process`, and the `datavault process`
command). The acceptance, per kind of bad entry:

- every run succeeds, and every good record of the same partition is in the vault exactly once, with its vectors;
- a bad entry is exactly one row of `datavault.dead_letters` (by its stream id) naming a reason code and a field,
  never a value, and its sealed payload opens to the entry's fields;
- a few odd but valid kinds land in the vault instead (a BOM, control characters in a note, a sealed entry, a replay,
  an update, an undecodable extra field name); an entry of an unknown domain's stream is left alone;
- the canary identity planted in every bad entry ("Quorvex Zembla", his SSN, phone, email, street) appears in no
  plaintext column, log line (DEBUG included), captured output, Redis dead-letter field, LanceDB file or Dagster
  storage, and in no opened vault document;
- the raw streams are empty once the runs succeeded (trimmed).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import psycopg
import pytest
import redis

from datavault_dagster import orchestrate, runtime
from datavault_dagster.domain.anonymize import Anonymizer
from datavault_dagster.domain.crypto import Keyring
from datavault_dagster.domain.embed import chunk_text, record_text
from datavault_dagster.domain.records import DOMAINS, SCHEMAS
from datavault_dagster.pipeline import open_record
from datavault_dagster.services.settings import Settings
from datavault_dagster.services.vault import Vault
from datavault_dagster.services.vectors import VectorStore
from simulations import generate_records

NAME = "Quorvex Zembla"
CANARY = {"first_name": "Quorvex", "last_name": "Zembla", "ssn": "431-86-2907", "phone": "415-555-0143",
          "email": "quorvex.zembla@canary-mail.test", "street": "77 Xylophant Row"}
PII_SSN_ID = "123-45-6789"  # an SSN-shaped record id
BAD_SSN = "12-345-6789"  # an SSN that fails the pattern
CANARY_TEXT = (f"{NAME} (SSN {CANARY['ssn']}) called from {CANARY['phone']}, email {CANARY['email']}, "
               f"lives at {CANARY['street']}")
NEEDLES = ["quorvex", "zembla", CANARY["ssn"], "555-0143", "canary-mail", "xylophant", PII_SSN_ID, BAD_SSN]
SUBJECT = {"healthcare": "patient", "finance": "customer"}
SUBJECT_ID = {"healthcare": "patient_id", "finance": "customer_id"}
STREAM = "<stream>"  # expected record_id column: "<stream {the entry's stream id}>"
UNKNOWN_STREAM = "datavault:raw:insurance"
MIB = 1024 * 1024


# --- what a producer writes --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Planted:
    """One raw entry and what must become of it."""

    fields: dict  # exactly as XADDed: str or bytes names and values
    code: str | None = None  # reason code of its dead letter; None: it is not dead-lettered
    field: str | None = None  # field its dead letter names
    record_id: str = STREAM  # its dead letter's record_id column (STREAM: "<stream {id}>")
    lands: str | None = None  # the record id it must land as in the vault
    note_has: str | None = None  # the landed (newest) record's opened note contains this ...
    note_lacks: str | None = None  # ... and not this
    stream: str | None = None  # XADD to this stream instead of the domain's (it must stay untouched)


@dataclass(frozen=True)
class Ctx:
    """What a kind needs to build its entries."""

    domain: str
    kind: str
    keyring: Keyring  # the pipeline's own keyring (a producer holding the ingest key)
    anonymizer: Anonymizer

    @property
    def rid(self) -> str:
        return f"bad-{self.kind.replace('_', '-')}"

    @property
    def schema(self) -> str:
        return SCHEMAS[self.domain]

    def record(self, record_id: str | None = None, subject_id: str = "QZ-0001") -> dict:
        """A valid record of the canary person (his name, SSN, phone, email and street everywhere)."""
        rec = json.loads(json.dumps(generate_records(self.domain, 1, seed=4242)[0]))
        rec["record_id"] = self.rid if record_id is None else record_id
        person = rec[SUBJECT[self.domain]]
        person.update({k: CANARY[k] for k in ("first_name", "last_name", "ssn", "phone", "email")})
        person[SUBJECT_ID[self.domain]] = subject_id
        person["address"]["street"] = CANARY["street"]
        rec["note"] = f"{CANARY_TEXT}. Follow-up in two weeks."
        return rec

    def person(self, rec: dict) -> dict:
        return rec[SUBJECT[self.domain]]

    def entry(self, rec: dict, payload: str | bytes | None = None, **overrides: str | bytes) -> dict:
        """The contract's fields for a record: record_id, schema, payload (JSON text unless given)."""
        fields = {"record_id": rec["record_id"], "schema": self.schema,
                  "payload": json.dumps(rec) if payload is None else payload}
        fields.update(overrides)
        return fields

    def sealed(self, rec: dict, keyring: Keyring | None = None, record_id: str | None = None) -> str:
        env = (keyring or self.keyring).seal(json.dumps(rec).encode(), domain=self.domain,
                                             record_id=record_id or rec["record_id"])
        return base64.b64encode(env).decode()

    def dead(self, fields: dict, code: str, field: str) -> Planted:
        """A dead letter named by the entry's own (valid) record id."""
        return Planted(fields, code, field, str(fields["record_id"]))

    def set_date(self, rec: dict, value: str) -> None:
        if self.domain == "healthcare":
            rec["encounter"]["date"] = value
        else:
            rec["transactions"][0]["date"] = value

    def overflowing_subject(self) -> str:
        """A subject id whose secret date shift is positive: 9999-12-31 shifted by it leaves the calendar."""
        p = self.anonymizer.pseudonyms
        return next(s for s in (f"QZ-{n:04d}" for n in range(1000))
                    if p.date_shift(p.subject(self.domain, s)) > 0)


Build = Callable[[Ctx], list[Planted]]
KINDS: dict[str, tuple[Build, tuple[str, ...]]] = {}  # name -> (build, domains it applies to; first: per-kind test)


def kind(*domains: str) -> Callable[[Build], Build]:
    def register(build: Build) -> Build:
        KINDS[build.__name__] = (build, domains or ("healthcare", "finance"))
        return build
    return register


# the stream's record_id field

@kind()
def record_id_missing(c: Ctx) -> list[Planted]:
    fields = c.entry(c.record())
    del fields["record_id"]
    return [Planted(fields, "missing", "record_id")]


@kind()
def record_id_blank(c: Ctx) -> list[Planted]:
    return [Planted(c.entry(c.record(), record_id=""), "missing", "record_id")]


@kind()
def record_id_whitespace(c: Ctx) -> list[Planted]:
    return [Planted(c.entry(c.record(), record_id=" \t  "), "missing", "record_id")]


@kind()
def record_id_too_long(c: Ctx) -> list[Planted]:
    return [Planted(c.entry(c.record(c.rid + "-" + "9" * 130)), "invalid_format", "record_id")]


def _control(char: str) -> Build:
    def build(c: Ctx) -> list[Planted]:
        return [Planted(c.entry(c.record(f"{c.rid}{char}x")), "invalid_format", "record_id")]
    return build


for _name, _char in [("record_id_nul", "\x00"), ("record_id_newline", "\n"), ("record_id_tab", "\t"),
                     ("record_id_escape", "\x1b[31m")]:
    KINDS[_name] = (_control(_char), ("healthcare", "finance"))


def _pii_id(value: Callable[[Ctx], str]) -> Build:
    def build(c: Ctx) -> list[Planted]:
        return [Planted(c.entry(c.record(value(c))), "looks_like_pii", "record_id")]
    return build


for _name, _value in [("record_id_email", lambda c: CANARY["email"]), ("record_id_ssn", lambda c: PII_SSN_ID),
                      ("record_id_phone", lambda c: CANARY["phone"]),
                      ("record_id_own_full_name", lambda c: NAME),  # the payload's own patient / customer
                      ("record_id_own_ssn", lambda c: CANARY["ssn"])]:
    KINDS[_name] = (_pii_id(_value), ("healthcare", "finance"))


# schema

@kind()
def schema_missing(c: Ctx) -> list[Planted]:
    fields = c.entry(c.record())
    del fields["schema"]
    return [c.dead(fields, "unknown_schema", "schema")]


@kind()
def schema_unknown_version(c: Ctx) -> list[Planted]:
    return [c.dead(c.entry(c.record(), schema=f"{c.domain}.v9"), "unknown_schema", "schema")]


@kind()
def schema_of_other_domain(c: Ctx) -> list[Planted]:
    other = next(d for d in DOMAINS if d != c.domain)
    return [c.dead(c.entry(c.record(), schema=SCHEMAS[other]), "unknown_schema", "schema")]


# payload / sealed at the entry level

@kind()
def payload_and_sealed(c: Ctx) -> list[Planted]:
    rec = c.record()
    return [c.dead(c.entry(rec, sealed=c.sealed(rec)), "exactly_one_of_payload_or_sealed", "payload")]


@kind()
def neither_payload_nor_sealed(c: Ctx) -> list[Planted]:
    fields = {"record_id": c.rid, "schema": c.schema, "comment": CANARY_TEXT}
    return [c.dead(fields, "exactly_one_of_payload_or_sealed", "payload")]


@kind()
def payload_invalid_utf8(c: Ctx) -> list[Planted]:
    body = b"\xff\xfe" + json.dumps(c.record()).encode()  # bytes that can never start UTF-8 text
    return [c.dead(c.entry(c.record(), payload=body), "invalid_utf8", "payload")]


@kind()
def payload_invalid_utf8_in_note(c: Ctx) -> list[Planted]:
    body = json.dumps(c.record()).encode().replace(b"Follow-up", b"Follow\xc3\x28up")  # a broken 2-byte sequence
    return [c.dead(c.entry(c.record(), payload=body), "invalid_utf8", "payload")]


@kind()
def lone_surrogate_escape_in_note(c: Ctx) -> list[Planted]:
    text = json.dumps(c.record()).replace("Follow-up", "Follow\\ud800-up")  # valid JSON grammar, no Unicode text
    assert "\\ud800" in text
    return [c.dead(c.entry(c.record(), payload=text), "invalid_unicode", "payload")]


@kind()
def payload_too_large_record(c: Ctx) -> list[Planted]:
    rec = c.record()
    rec["note"] = (CANARY_TEXT + ". ") * (3 * MIB // len(CANARY_TEXT))  # ~3 MiB, otherwise a valid record
    return [c.dead(c.entry(rec), "too_large", "payload")]


@kind()
def payload_too_large_blob(c: Ctx) -> list[Planted]:
    blob = (CANARY_TEXT + " ") * (4 * MIB // len(CANARY_TEXT))  # ~4 MiB of text that is not JSON at all
    return [c.dead(c.entry(c.record(), payload=blob), "too_large", "payload")]


@kind()
def note_over_max_length(c: Ctx) -> list[Planted]:
    rec = c.record()
    rec["note"] = (CANARY_TEXT + ". ") * (600_000 // len(CANARY_TEXT))  # ~600 kB: 30x the schema's 20,000 ...
    fields = c.entry(rec)
    assert 20_000 * 10 < len(fields["payload"]) < MIB  # ... while the payload stays under the 1 MiB entry limit
    return [c.dead(fields, "invalid_maxLength", "note")]


@kind()
def payload_truncated(c: Ctx) -> list[Planted]:
    text = json.dumps(c.record())
    return [c.dead(c.entry(c.record(), payload=text[: len(text) // 2]), "invalid_json", "payload")]


@kind()
def payload_empty(c: Ctx) -> list[Planted]:
    return [c.dead(c.entry(c.record(), payload="", comment=CANARY_TEXT), "invalid_json", "payload")]


@kind()
def payload_not_json(c: Ctx) -> list[Planted]:
    return [c.dead(c.entry(c.record(), payload=CANARY_TEXT), "invalid_json", "payload")]


@kind()
def payload_deep_brackets(c: Ctx) -> list[Planted]:
    return [c.dead(c.entry(c.record(), payload="[" * 100_000 + json.dumps(CANARY_TEXT)), "too_deep", "payload")]


@kind()
def note_of_deep_arrays(c: Ctx) -> list[Planted]:
    rec = c.record()
    note: object = CANARY_TEXT
    for _ in range(200):
        note = [note]
    rec["note"] = note
    return [c.dead(c.entry(rec), "too_deep", "payload")]


def _amount(token: str) -> Build:
    def build(c: Ctx) -> list[Planted]:
        rec = c.record()
        rec["transactions"][0]["amount"] = "__AMOUNT__"
        text = json.dumps(rec).replace('"__AMOUNT__"', token)
        return [c.dead(c.entry(rec, payload=text), "invalid_number", "payload")]
    return build


for _name, _token in [("amount_nan", "NaN"), ("amount_infinity", "Infinity"),
                      ("amount_negative_infinity", "-Infinity"), ("amount_5000_digit_integer", "7" * 5000)]:
    KINDS[_name] = (_amount(_token), ("finance",))


@kind()
def duplicate_record_id_key(c: Ctx) -> list[Planted]:
    text = json.dumps(c.record())
    assert text.startswith('{"record_id": ')
    text = '{"record_id": ' + json.dumps(c.rid) + ", " + text[1:]
    return [c.dead(c.entry(c.record(), payload=text), "duplicate_key", "payload")]


@kind()
def duplicate_note_key(c: Ctx) -> list[Planted]:
    rec = c.record()
    rec["note"] = "Follow-up in two weeks."
    text = '{"note": ' + json.dumps(CANARY_TEXT) + ", " + json.dumps(rec)[1:]  # the first note holds the canary
    return [c.dead(c.entry(rec, payload=text), "duplicate_key", "payload")]


@kind()
def payload_array(c: Ctx) -> list[Planted]:
    return [c.dead(c.entry(c.record(), payload=json.dumps([c.record()])), "not_an_object", "payload")]


@kind()
def payload_string(c: Ctx) -> list[Planted]:
    return [c.dead(c.entry(c.record(), payload=json.dumps(CANARY_TEXT)), "not_an_object", "payload")]


@kind()
def payload_number(c: Ctx) -> list[Planted]:
    return [c.dead(c.entry(c.record(), payload="4318629070", comment=CANARY_TEXT), "not_an_object", "payload")]


@kind()
def bom_before_valid_record(c: Ctx) -> list[Planted]:
    return [Planted(c.entry(c.record(), payload="\ufeff" + json.dumps(c.record())), lands=c.rid)]


@kind()
def control_chars_in_note(c: Ctx) -> list[Planted]:
    rec = c.record()
    rec["note"] = f"{NAME}\u0000 rang\u0007 at {CANARY['phone']}\u0000; SSN {CANARY['ssn']}\u0007. Follow-up."
    fields = c.entry(rec)
    assert "\\u0000" in fields["payload"] and "\\u0007" in fields["payload"]
    return [Planted(fields, lands=c.rid)]


# the record schema

@kind()
def required_field_missing(c: Ctx) -> list[Planted]:
    rec = c.record()
    del c.person(rec)["ssn"]
    return [c.dead(c.entry(rec), "missing", f"{SUBJECT[c.domain]}.ssn")]


@kind()
def extra_key_named_after_a_person(c: Ctx) -> list[Planted]:
    rec = c.record()
    c.person(rec)[NAME] = "brother, same household"
    return [c.dead(c.entry(rec), "unexpected_field", SUBJECT[c.domain])]


@kind()
def extra_top_level_key_named_after_a_person(c: Ctx) -> list[Planted]:
    rec = c.record()
    rec[NAME] = {"ssn": CANARY["ssn"]}
    return [c.dead(c.entry(rec), "unexpected_field", "<record>")]


@kind()
def wrong_type(c: Ctx) -> list[Planted]:
    rec = c.record()
    c.person(rec)["first_name"] = ["Quorvex", 4318629]
    return [c.dead(c.entry(rec), "invalid_type", f"{SUBJECT[c.domain]}.first_name")]


@kind()
def bad_ssn_pattern(c: Ctx) -> list[Planted]:
    rec = c.record()
    c.person(rec)["ssn"] = BAD_SSN
    return [c.dead(c.entry(rec), "invalid_pattern", f"{SUBJECT[c.domain]}.ssn")]


@kind()
def record_id_mismatch(c: Ctx) -> list[Planted]:
    rec = c.record(c.rid + "-in-payload")
    return [c.dead(c.entry(rec, record_id=c.rid), "mismatch_with_stream_field", "record_id")]


@kind()
def impossible_date(c: Ctx) -> list[Planted]:
    rec = c.record()
    c.set_date(rec, "2024-02-30")
    return [c.dead(c.entry(rec), "cannot_anonymize", "<record>")]


@kind()
def date_overflow(c: Ctx) -> list[Planted]:
    rec = c.record(subject_id=c.overflowing_subject())
    c.set_date(rec, "9999-12-31")
    return [c.dead(c.entry(rec), "cannot_anonymize", "<record>")]


# sealed entries

def _sealed_entry(c: Ctx, sealed: str) -> dict:
    return {"record_id": c.rid, "schema": c.schema, "sealed": sealed}


@kind()
def sealed_not_base64(c: Ctx) -> list[Planted]:
    return [c.dead(_sealed_entry(c, CANARY_TEXT + " !!"), "cannot_open", "sealed")]


@kind()
def sealed_bit_flipped(c: Ctx) -> list[Planted]:
    env = bytearray(base64.b64decode(c.sealed(c.record())))
    env[len(env) // 2] ^= 0x10
    return [c.dead(_sealed_entry(c, base64.b64encode(bytes(env)).decode()), "cannot_open", "sealed")]


@kind()
def sealed_unknown_master_key(c: Ctx) -> list[Planted]:
    return [c.dead(_sealed_entry(c, c.sealed(c.record(), keyring=Keyring.generate())), "cannot_open", "sealed")]


@kind()
def sealed_for_another_record_id(c: Ctx) -> list[Planted]:
    sealed = c.sealed(c.record(), record_id=c.rid + "-other")
    return [c.dead(_sealed_entry(c, sealed), "cannot_open", "sealed")]


@kind()
def sealed_valid(c: Ctx) -> list[Planted]:
    return [Planted(_sealed_entry(c, c.sealed(c.record())), lands=c.rid)]


# several entries of one record

@kind()
def replayed_entry(c: Ctx) -> list[Planted]:
    fields = c.entry(c.record())
    return [Planted(fields, lands=c.rid), Planted(dict(fields), lands=c.rid)]


@kind()
def update_with_newer_note(c: Ctx) -> list[Planted]:
    old, new = c.record(), c.record()
    old["note"] = f"{NAME} seen; this is the first revision of the note."
    new["note"] = f"{NAME} seen; this is the second revision of the note."
    return [Planted(c.entry(old), lands=c.rid),
            Planted(c.entry(new), lands=c.rid, note_has="second revision", note_lacks="first revision")]


# streams and stream fields DataVault does not know

@kind()
def unknown_domain_stream(c: Ctx) -> list[Planted]:
    return [Planted(c.entry(c.record()), stream=UNKNOWN_STREAM)]


@kind()
def invalid_utf8_field_name(c: Ctx) -> list[Planted]:
    return [Planted({**c.entry(c.record()), b"\xff": b"x"}, lands=c.rid)]


# --- running it --------------------------------------------------------------------------------------------------

def _good(domain: str, n: int, seed: int) -> list[dict]:
    return [{"record_id": r["record_id"], "schema": SCHEMAS[domain], "payload": json.dumps(r)}
            for r in generate_records(domain, n, seed=seed)]


def _interleave(goods: list[dict], bads: list[Planted]) -> list[dict | Planted]:
    """Good records first, last and spread between the bad entries: they share a partition."""
    first, middle, last = goods[0], goods[1:-1], goods[-1]
    out: list[dict | Planted] = [first]
    placed = 0
    for i, bad in enumerate(bads, 1):
        out.append(bad)
        while placed < i * len(middle) // len(bads):
            out.append(middle[placed])
            placed += 1
    return out + middle[placed:] + [last]


def _as_bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


def _hits(data: str | bytes) -> list[str]:
    low = _as_bytes(data).lower()
    return [n for n in NEEDLES if n.encode() in low]


def _as_raw(fields: dict) -> dict[bytes, bytes]:
    """Stream fields as the bytes Redis holds; text read back with `surrogateescape` gives the same bytes."""
    return {(k.encode("utf-8", "surrogateescape") if isinstance(k, str) else k):
            (v.encode("utf-8", "surrogateescape") if isinstance(v, str) else v) for k, v in fields.items()}


@dataclass(frozen=True)
class Written:
    label: str  # kind#n, for readable failures
    domain: str
    stream: str
    stream_id: str
    planted: Planted


def _plan(kinds: list[str], domain: str | None, keyring: Keyring) -> dict[str, list[tuple[str, Planted]]]:
    """Each kind's entries, in `domain` where the kind applies there (else its first domain)."""
    anonymizer = runtime.anonymizer_for(keyring)
    plan: dict[str, list[tuple[str, Planted]]] = {}
    for name in kinds:
        build, domains = KINDS[name]
        d = domain if domain in domains else domains[0]
        for n, p in enumerate(build(Ctx(d, name, keyring, anonymizer))):
            text = b" ".join(_as_bytes(k) + b" " + _as_bytes(v) for k, v in p.fields.items())
            assert _hits(text) or "sealed" in p.fields, f"{name}: no canary in the entry"  # (or inside the seal)
            plan.setdefault(d, []).append((f"{name}#{n}", p))
    if any(p.stream for entries in plan.values() for _, p in entries):  # the known domains are still processed
        for d in DOMAINS:
            plan.setdefault(d, [])
    return plan


def _write(settings: Settings, plan: dict[str, list[tuple[str, Planted]]], goods_per_domain: int
           ) -> tuple[list[Written], dict[str, list[str]]]:
    """Raw XADDs: each domain's planted entries between good records; returns them and the good record ids."""
    client = redis.Redis.from_url(settings.redis_url)
    written: list[Written] = []
    good_ids: dict[str, list[str]] = {}
    for n, domain in enumerate(DOMAINS):
        if domain not in plan:
            continue
        goods = _good(domain, goods_per_domain, seed=700 + n)
        good_ids[domain] = [g["record_id"] for g in goods]
        labels = {id(p): label for label, p in plan[domain]}
        items = _interleave(goods, [p for _, p in plan[domain]]) if plan[domain] else goods
        for item in items:
            if isinstance(item, Planted):
                stream = item.stream or f"datavault:raw:{domain}"
                sid = client.xadd(stream, item.fields).decode()
                written.append(Written(labels[id(item)], domain, stream, sid, item))
            else:
                client.xadd(f"datavault:raw:{domain}", item)
    client.close()
    return written, good_ids


def _run_and_check(kinds: list[str], domain: str | None, via: str, monkeypatch, caplog, capsys,  # noqa: ANN001
                   goods_per_domain: int = 4) -> float:
    """Write, run as a user would, check everything; returns the seconds the run took."""
    monkeypatch.setenv("DATAVAULT_BATCH_SIZE", "1000")  # good and bad entries of a domain share one partition
    settings = Settings.from_env()
    keyring = runtime.keyring_for(settings)  # the pipeline's keyring, created before the run (as `produce` does)
    written, good_ids = _write(settings, _plan(kinds, domain, keyring), goods_per_domain)

    caplog.set_level(logging.DEBUG)
    capsys.readouterr()
    started = time.perf_counter()
    if via == "cli":
        from datavault_dagster.cli import main

        assert main(["process"]) == 0
    else:
        outcomes = orchestrate.process(settings.home, progress=False)
        assert outcomes, "no partition was run"
    seconds = time.perf_counter() - started
    captured = capsys.readouterr()

    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs(dg.RunsFilter(job_name=orchestrate.JOB))
        failures = [f"{e.step_key}: {e.dagster_event.event_specific_data.error.message.strip()[:300]}"
                    for r in runs if not r.is_success
                    for e in instance.all_logs(r.run_id, of_type=dg.DagsterEventType.STEP_FAILURE)]
        failures += [f"{c.check_name}: {({k: v.value for k, v in c.metadata.items()})}"
                     for r in runs if not r.is_success
                     for c in (e.dagster_event.event_specific_data for e in instance.all_logs(
                         r.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)) if not c.passed]
    assert runs and all(r.is_success for r in runs), failures
    assert len(runs) == len(good_ids)  # one partition per domain: good and bad entries shared it
    if via == "cli":
        assert f"ran {len(runs)} partitions: {len(runs)} succeeded, 0 failed" in captured.out

    vault = Vault(settings.postgres_url)
    client = redis.Redis.from_url(settings.redis_url)
    try:
        _check_dead_letters(written, vault, keyring, client)
        _check_vault_and_vectors(written, good_ids, vault, keyring, settings)
        _check_streams(written, client, settings)
        _check_no_canary(settings, Path(os.environ["DAGSTER_HOME"]), client, caplog, captured)
    finally:
        vault.close()
        client.close()
    return seconds


def _check_dead_letters(written: list[Written], vault: Vault, keyring: Keyring, client: redis.Redis) -> None:
    """Each bad entry is exactly one dead letter (by stream id) with its reason code, field and record id column,
    in the table and in the dead-letter stream; nothing else is; each one's sealed payload opens to the entry's
    fields."""
    for domain in DOMAINS:
        stream = [(f[b"stream_id"].decode(), f[b"reason_code"].decode(), f[b"field"].decode())
                  for _, f in client.xrange(f"datavault:deadletter:{domain}")]
        assert sorted(stream) == sorted((w.stream_id, w.planted.code, w.planted.field) for w in written
                                        if w.planted.code and w.domain == domain), domain
    letters = vault.dead_letters(partition_key=None)
    by_id = {(d.domain, d.stream_id): d for d in letters}
    assert len(by_id) == len(letters)
    # by the raw stream the entry went to: an entry of another stream (an unknown domain's) may have the same id
    labels = {(w.domain, w.stream_id): w.label for w in written if w.stream == f"datavault:raw:{w.domain}"}
    got = {labels.get(key, f"unplanned {key}"): (d.reason_code, d.field, d.record_id) for key, d in by_id.items()}
    expected = {w.label: (w.planted.code, w.planted.field,
                          f"<stream {w.stream_id}>" if w.planted.record_id == STREAM else w.planted.record_id)
                for w in written if w.planted.code}
    assert got == expected
    for w in written:
        if not w.planted.code:
            continue
        d = by_id[(w.domain, w.stream_id)]
        opened = json.loads(keyring.open(d.sealed_payload, domain=f"deadletter:{w.domain}", record_id=w.stream_id))
        assert isinstance(opened, dict) and all(isinstance(v, str) for v in opened.values()), w.label
        assert _as_raw(opened) == _as_raw(w.planted.fields), w.label  # every field, byte for byte


def _check_vault_and_vectors(written: list[Written], good_ids: dict[str, list[str]], vault: Vault,
                             keyring: Keyring, settings: Settings) -> None:
    """Exactly the good records and the accepted entries are in the vault, once each, with all their vectors."""
    expected = {(d, rid) for d, ids in good_ids.items() for rid in ids}
    expected |= {(w.domain, w.planted.lands) for w in written if w.planted.lands}
    with psycopg.connect(settings.postgres_url) as conn:
        stored = conn.execute("SELECT domain, record_id FROM datavault.records").fetchall()
    assert sorted(stored) == sorted(expected)
    rows = vault.get_records(sorted(expected))
    store = VectorStore(settings.lancedb_uri)
    counts = store.record_counts(sorted(expected))
    chunks = {}
    docs = {}
    for key, row in rows.items():
        docs[key] = open_record(row, keyring)
        chunks[key] = len(chunk_text(record_text(docs[key])))
    assert counts == chunks  # every record has the vectors of exactly one copy of its text
    assert store.count() == sum(chunks.values())
    for key, doc in docs.items():  # an accepted entry's canary was anonymized like any record's PII
        assert _hits(json.dumps(doc)) == [], key
    for w in written:
        if w.planted.note_has:
            note = json.dumps(docs[(w.domain, w.planted.lands)]["note"])
            assert w.planted.note_has in note and w.planted.note_lacks not in note
            assert rows[(w.domain, w.planted.lands)].stream_id == w.stream_id  # the newer entry won


def _check_streams(written: list[Written], client: redis.Redis, settings: Settings) -> None:
    """The processed ranges are trimmed; a stream of an unknown domain is left as it was, and reported."""
    for domain in DOMAINS:
        assert client.xlen(f"datavault:raw:{domain}") == 0, domain
    untouched = [w for w in written if w.planted.stream]
    if not untouched:
        return
    from datavault_dagster.cli import status

    for stream in {w.stream for w in untouched}:
        left = client.xrange(stream)
        mine = [w for w in untouched if w.stream == stream]
        assert [sid.decode() for sid, _ in left] == [w.stream_id for w in mine]
        assert [fields for _, fields in left] == [{_as_bytes(k): _as_bytes(v) for k, v in w.planted.fields.items()}
                                                  for w in mine]
    report = status(settings)
    assert report.get("unknown_streams") == {UNKNOWN_STREAM: len(untouched)}


def _check_no_canary(settings: Settings, dagster_home: Path, client: redis.Redis, caplog, captured) -> None:  # noqa: ANN001
    """No canary in any vault table, dead-letter stream field (but the sealed one), log record, captured output,
    LanceDB file or Dagster storage file."""
    with psycopg.connect(settings.postgres_url) as conn:
        tables = [t for (t,) in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'datavault'")]
        assert "dead_letters" in tables and "records" in tables
        for table in tables:
            for row in conn.execute(f"SELECT * FROM datavault.{table}"):
                for cell in row:
                    data = bytes(cell) if isinstance(cell, (bytes, memoryview)) else str(cell).encode()
                    assert _hits(data) == [], f"canary in datavault.{table}"
    for key in client.scan_iter("datavault:deadletter:*"):
        for _, fields in client.xrange(key):
            plain = b" ".join(v for k, v in fields.items() if k != b"sealed")
            assert _hits(plain) == [], f"canary in {key!r}"
    logged = [r.getMessage() for r in caplog.records] + [r.exc_text or "" for r in caplog.records]
    assert caplog.records  # DEBUG logging was really captured
    assert _hits(caplog.text) == [] and _hits("\n".join(logged)) == []
    assert _hits(captured.out) == [] and _hits(captured.err) == []
    for root in (Path(settings.lancedb_uri), dagster_home):
        files = [p for p in root.rglob("*") if p.is_file()]
        assert files, root
        assert [str(p) for p in files if _hits(p.read_bytes())] == []


# --- the tests ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind_name", list(KINDS))
def test_bad_entry_kind(kind_name: str, dv_env: Path, monkeypatch, caplog, capsys):
    seconds = _run_and_check([kind_name], None, "process", monkeypatch, caplog, capsys)
    print(f"{kind_name}: process took {seconds:.1f} s")


@pytest.mark.parametrize(("via", "domain"), [("process", "finance"), ("cli", "healthcare")])
def test_all_kinds_mixed_in_one_partition(via: str, domain: str, dv_env: Path, monkeypatch, caplog, capsys):
    """Every kind at once, between good records of one partition (number kinds in finance's); `cli`: through the
    `datavault process` command."""
    seconds = _run_and_check(list(KINDS), domain, via, monkeypatch, caplog, capsys, goods_per_domain=10)
    print(f"all {len(KINDS)} kinds via {via}: took {seconds:.1f} s")
