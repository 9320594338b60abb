"""Unit tests for stream-entry parsing and record validation (errors name the field, never the value)."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from datavault_dagster.domain.crypto import Keyring
from datavault_dagster.domain.errors import InvalidRecord
from datavault_dagster.domain.records import (
    DOMAINS,
    SCHEMAS,
    RawRecord,
    parse_entry,
    schema_document,
    stream_fields,
    validate_payload,
)
from simulations import generate_records

KEYRING = Keyring(keys={"k1": bytes(range(32))}, primary="k1", pseudonym_key=bytes(range(32, 64)))
OTHER_KEYRING = Keyring(keys={"k1": bytes(range(1, 33))}, primary="k1", pseudonym_key=bytes(range(32, 64)))
STREAM_ID = "1700000000000-0"


@pytest.fixture(scope="module")
def samples() -> dict[str, dict]:
    return {d: generate_records(d, 3, seed=1)[0] for d in DOMAINS}


def _parse(domain: str, fields: dict[str, str], keyring: Keyring = KEYRING) -> RawRecord:
    return parse_entry(domain, STREAM_ID, fields, keyring)


def _expect(domain: str, fields: dict[str, str], record_id: str, field: str, code: str,
            secrets: tuple[str, ...] = (), keyring: Keyring = KEYRING) -> InvalidRecord:
    with pytest.raises(InvalidRecord) as info:
        _parse(domain, fields, keyring)
    exc = info.value
    assert (exc.record_id, exc.field, exc.code) == (record_id, field, code)
    message = str(exc)
    assert field in message and code in message
    for secret in secrets:
        assert secret not in message
        assert secret not in repr(exc)
    return exc


def _with(record: dict, mutate: Callable[[dict], Any]) -> dict:
    rec = copy.deepcopy(record)
    mutate(rec)
    return rec


# --- happy path ---------------------------------------------------------------------------------------------


def test_schemas() -> None:
    assert DOMAINS == ("healthcare", "finance")
    assert SCHEMAS == {"healthcare": "healthcare.v1", "finance": "finance.v1"}
    assert schema_document("healthcare.v1")["$id"] == "datavault/healthcare.v1"


@pytest.mark.parametrize("domain", DOMAINS)
def test_plain_entry_parses(samples, domain: str) -> None:
    rec = samples[domain]
    fields = stream_fields(domain, rec)
    assert set(fields) == {"record_id", "schema", "payload"}
    assert fields["schema"] == SCHEMAS[domain]
    assert json.loads(fields["payload"]) == rec
    raw = _parse(domain, fields)
    assert raw == RawRecord(domain=domain, record_id=rec["record_id"], schema=SCHEMAS[domain], stream_id=STREAM_ID,
                            payload=rec)


@pytest.mark.parametrize("domain", DOMAINS)
def test_sealed_entry_parses_back_to_the_same_payload(samples, domain: str) -> None:
    rec = samples[domain]
    fields = stream_fields(domain, rec, KEYRING)
    assert set(fields) == {"record_id", "schema", "sealed"}
    assert rec[("patient" if domain == "healthcare" else "customer")]["ssn"] not in fields["sealed"]
    raw = _parse(domain, fields)
    assert raw.payload == rec
    assert raw.record_id == rec["record_id"]
    assert raw == _parse(domain, stream_fields(domain, rec))


@pytest.mark.parametrize("domain", DOMAINS)
def test_many_generated_records_are_valid(domain: str) -> None:
    for rec in generate_records(domain, 100, seed=3):
        validate_payload(SCHEMAS[domain], rec["record_id"], rec)


def test_record_id_is_stripped(samples) -> None:
    rec = samples["finance"]
    fields = stream_fields("finance", rec)
    fields["record_id"] = f"  {rec['record_id']} "
    assert _parse("finance", fields).record_id == rec["record_id"]


# --- entry-level errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, "", "   "])
def test_missing_record_id(samples, value: str | None) -> None:
    fields = stream_fields("healthcare", samples["healthcare"])
    if value is None:
        del fields["record_id"]
    else:
        fields["record_id"] = value
    _expect("healthcare", fields, f"<stream {STREAM_ID}>", "record_id", "missing")


@pytest.mark.parametrize("record_id", ["a|b", "a\nb", "a\tb", "x" * 129])
def test_malformed_record_id(samples, record_id: str) -> None:
    fields = stream_fields("healthcare", samples["healthcare"])
    fields["record_id"] = record_id
    _expect("healthcare", fields, f"<stream {STREAM_ID}>", "record_id", "invalid_format")


@pytest.mark.parametrize(("domain", "schema"), [("healthcare", "finance.v1"), ("healthcare", "healthcare.v2"),
                                                ("healthcare", ""), ("finance", None), ("legal", "legal.v1")])
def test_unknown_schema(samples, domain: str, schema: str | None) -> None:
    rec = samples["healthcare" if domain == "legal" else domain]
    fields = stream_fields("healthcare" if domain == "legal" else domain, rec)
    if schema is None:
        del fields["schema"]
    else:
        fields["schema"] = schema
    _expect(domain, fields, rec["record_id"], "schema", "unknown_schema")


def test_both_payload_and_sealed(samples) -> None:
    rec = samples["healthcare"]
    fields = {**stream_fields("healthcare", rec), **stream_fields("healthcare", rec, KEYRING)}
    exc = _expect("healthcare", fields, rec["record_id"], "payload", "exactly_one_of_payload_or_sealed",
                  secrets=(rec["patient"]["ssn"], rec["patient"]["last_name"]))
    assert "payload" in str(exc)


def test_neither_payload_nor_sealed(samples) -> None:
    rec = samples["finance"]
    fields = {"record_id": rec["record_id"], "schema": "finance.v1"}
    _expect("finance", fields, rec["record_id"], "payload", "exactly_one_of_payload_or_sealed")


@pytest.mark.parametrize("payload", ["", "{", "{'a': 1}", "SSN 123-45-6789", '{"record_id": "x",}'])
def test_invalid_json(samples, payload: str) -> None:
    rec = samples["healthcare"]
    fields = {"record_id": rec["record_id"], "schema": "healthcare.v1", "payload": payload}
    _expect("healthcare", fields, rec["record_id"], "payload", "invalid_json", secrets=("123-45-6789",))


@pytest.mark.parametrize("payload", ["[]", "[1, 2]", '"a string"', "42", "null", "true"])
def test_non_object_json(samples, payload: str) -> None:
    rec = samples["healthcare"]
    fields = {"record_id": rec["record_id"], "schema": "healthcare.v1", "payload": payload}
    _expect("healthcare", fields, rec["record_id"], "payload", "not_an_object")


def test_sealed_non_json_plaintext(samples) -> None:
    rec = samples["finance"]
    for plaintext, code in ((b"\xff\xfe not json", "invalid_utf8"), (b"not json", "invalid_json")):
        env = KEYRING.seal(plaintext, domain="finance", record_id=rec["record_id"])
        fields = {"record_id": rec["record_id"], "schema": "finance.v1", "sealed": base64.b64encode(env).decode()}
        _expect("finance", fields, rec["record_id"], "sealed", code)


# --- payload validation -------------------------------------------------------------------------------------

HC = "healthcare"
FN = "finance"


def _set(path: str, value: Any) -> Callable[[dict], None]:
    def mutate(rec: dict) -> None:
        *parents, last = path.split(".")
        node = rec
        for p in parents:
            node = node[int(p)] if p.isdigit() else node[p]
        node[last] = value
    return mutate


def _del(path: str) -> Callable[[dict], None]:
    def mutate(rec: dict) -> None:
        *parents, last = path.split(".")
        node = rec
        for p in parents:
            node = node[int(p)] if p.isdigit() else node[p]
        del node[last]
    return mutate


@pytest.mark.parametrize(
    ("domain", "mutate", "field", "code", "secret"),
    [
        (HC, _set("patient.ssn", "123456789"), "patient.ssn", "invalid_pattern", "123456789"),
        (HC, _set("patient.ssn", "078-05-112"), "patient.ssn", "invalid_pattern", "078-05-112"),
        (FN, _set("customer.ssn", "SSN 219-09-9999x"), "customer.ssn", "invalid_pattern", "219-09-9999"),
        (HC, _set("patient.email", "jane.doe.at.example.com"), "patient.email", "invalid_pattern",
         "jane.doe.at.example.com"),
        (HC, _set("patient.mrn", "MRN-12345"), "patient.mrn", "invalid_pattern", "MRN-12345"),
        (HC, _set("patient.sex", "Female"), "patient.sex", "invalid_enum", "Female"),
        (HC, _set("patient.first_name", 12345), "patient.first_name", "invalid_type", "12345"),
        (HC, _set("patient.address.zip", "9021"), "patient.address.zip", "invalid_pattern", "9021"),
        (FN, _set("account.card_number", "4111-1111-1111-1111"), "account.card_number", "invalid_pattern",
         "4111-1111-1111-1111"),
        (FN, _set("account.routing_number", "12345678"), "account.routing_number", "invalid_pattern", "12345678"),
        (FN, _set("transactions.0.currency", "usd"), "transactions.0.currency", "invalid_pattern", None),
        (HC, _del("patient.ssn"), "patient.ssn", "missing", None),
        (HC, _del("patient.address.street"), "patient.address.street", "missing", None),
        (HC, _del("encounter.date"), "encounter.date", "missing", None),
        (FN, _del("customer.email"), "customer.email", "missing", None),
        (FN, _del("transactions.0.amount"), "transactions.0.amount", "missing", None),
        (HC, _del("note"), "note", "missing", None),
        # an unknown key is named by the object holding it: the key itself is the producer's text
        (HC, _set("patient.nickname", "Janie Q"), "patient", "unexpected_field", "Janie Q"),
        (HC, _set("patient.Janie Quaxley", "sister"), "patient", "unexpected_field", "Quaxley"),
        (HC, _set("patient.address.country", "Freedonia"), "patient.address", "unexpected_field", "Freedonia"),
        (FN, _set("favourite_color", "teal"), "<record>", "unexpected_field", "teal"),
        (FN, _set("Janie Quaxley", "teal"), "<record>", "unexpected_field", "Quaxley"),
        (HC, _set("note", "x" * 20001), "note", "invalid_maxLength", "x" * 50),
    ],
)
def test_payload_validation_errors(samples, domain: str, mutate, field: str, code: str, secret: str | None) -> None:
    rec = _with(samples[domain], mutate)
    secrets = (secret,) if secret else ()
    for fields in (stream_fields(domain, rec), stream_fields(domain, rec, KEYRING)):
        _expect(domain, fields, rec["record_id"], field, code, secrets=secrets)
    with pytest.raises(InvalidRecord) as info:
        validate_payload(SCHEMAS[domain], rec["record_id"], rec)
    assert (info.value.field, info.value.code) == (field, code)


def test_missing_payload_record_id(samples) -> None:
    rec = _with(samples["finance"], _del("record_id"))
    fields = {"record_id": "fn-x", "schema": "finance.v1", "payload": json.dumps(rec)}
    _expect("finance", fields, "fn-x", "record_id", "missing")


def test_record_id_mismatch(samples) -> None:
    rec = samples["healthcare"]
    fields = stream_fields("healthcare", rec)
    fields["record_id"] = "hc-other"
    _expect("healthcare", fields, "hc-other", "record_id", "mismatch_with_stream_field")


def test_validate_payload_reports_first_field_by_path(samples) -> None:
    rec = _with(samples["healthcare"], _set("patient.ssn", "bad"))
    _set("patient.address.zip", "bad")(rec)
    with pytest.raises(InvalidRecord) as info:
        validate_payload("healthcare.v1", rec["record_id"], rec)
    assert info.value.field == "patient.address.zip"  # sorted by path: ["patient","address",...] < ["patient","ssn"]
    assert "bad" not in str(info.value)


# --- sealed entries -----------------------------------------------------------------------------------------


def test_sealed_with_wrong_keyring_cannot_open(samples) -> None:
    rec = samples["healthcare"]
    fields = stream_fields("healthcare", rec, OTHER_KEYRING)
    _expect("healthcare", fields, rec["record_id"], "sealed", "cannot_open",
            secrets=(rec["patient"]["ssn"], rec["patient"]["email"]))


def test_sealed_for_another_record_cannot_open(samples) -> None:
    """An envelope copied onto another record id (or domain) fails its associated-data check."""
    rec = samples["healthcare"]
    fields = stream_fields("healthcare", rec, KEYRING)
    moved = {**fields, "record_id": "hc-someone-else"}
    _expect("healthcare", moved, "hc-someone-else", "sealed", "cannot_open")
    fin = samples["finance"]
    f_fields = stream_fields("finance", fin, KEYRING)
    as_hc = {"record_id": fin["record_id"], "schema": "healthcare.v1", "sealed": f_fields["sealed"]}
    _expect("healthcare", as_hc, fin["record_id"], "sealed", "cannot_open")


@pytest.mark.parametrize("sealed", ["not base64!!", "", "AAAA", base64.b64encode(b"\x01\x02k1short").decode()])
def test_sealed_garbage_cannot_open(samples, sealed: str) -> None:
    rec = samples["finance"]
    fields = {"record_id": rec["record_id"], "schema": "finance.v1", "sealed": sealed}
    _expect("finance", fields, rec["record_id"], "sealed", "cannot_open")


def test_invalid_record_message_shape() -> None:
    exc = InvalidRecord("r1", "patient.ssn", "invalid_pattern")
    assert str(exc) == "record 'r1': field 'patient.ssn': invalid_pattern"
    assert str(InvalidRecord("r1", "schema", "unknown_schema", "expected x.v1")).endswith("(expected x.v1)")
