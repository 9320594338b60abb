"""Record models and validation for the stream contract (healthcare.v1, finance.v1)."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator

from .crypto import Keyring
from .errors import InvalidRecord, InvalidToken

SCHEMAS: dict[str, str] = {"healthcare": "healthcare.v1", "finance": "finance.v1"}
DOMAINS: tuple[str, ...] = tuple(SCHEMAS)


@dataclass(frozen=True)
class RawRecord:
    """One validated stream entry: the producer's record (with PII) and where it came from."""

    domain: str
    record_id: str
    schema: str
    stream_id: str
    payload: dict[str, Any]


@cache
def schema_document(schema: str) -> dict[str, Any]:
    """The JSON Schema document of a record schema name like `healthcare.v1`."""
    text = resources.files("datavault_dagster.schemas").joinpath(f"{schema}.json").read_text()
    return json.loads(text)


@cache
def _validator(schema: str) -> Draft202012Validator:
    return Draft202012Validator(schema_document(schema))


def _field_path(error: Any) -> tuple[str, str, str]:
    """Field name, reason code and detail of a jsonschema error, without the offending value."""
    path = ".".join(str(p) for p in error.absolute_path)
    if error.validator == "required":
        missing = [p for p in error.validator_value if isinstance(error.instance, dict) and p not in error.instance]
        name = missing[0] if missing else "?"
        return (f"{path}.{name}" if path else name), "missing", ""
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        # the object that holds them, not the keys: an unknown key is the producer's text (a person's name, say)
        allowed = set(error.schema.get("properties", {}))
        extra = sum(1 for k in error.instance if k not in allowed)
        return path or "<record>", "unexpected_field", f"{extra} unknown key{'s' if extra != 1 else ''}"
    return path or "<record>", f"invalid_{error.validator}", ""


def validate_payload(schema: str, record_id: str, payload: Any) -> None:
    """Raise `InvalidRecord` naming the first bad field (by path) and a reason code."""
    errors = sorted(_validator(schema).iter_errors(payload), key=lambda e: list(e.absolute_path))
    if errors:
        field, code, detail = _field_path(errors[0])
        raise InvalidRecord(record_id, field, code, detail)


def parse_entry(domain: str, stream_id: str, fields: dict[str, str], keyring: Keyring) -> RawRecord:
    """Turn a stream entry (decoded fields) into a validated `RawRecord` or raise `InvalidRecord`."""
    record_id = fields.get("record_id", "").strip()
    if not record_id:
        raise InvalidRecord(f"<stream {stream_id}>", "record_id", "missing")
    if len(record_id) > 128 or any(c in record_id for c in "|\n\r\t"):
        raise InvalidRecord(f"<stream {stream_id}>", "record_id", "invalid_format")
    expected = SCHEMAS.get(domain)
    schema = fields.get("schema", "")
    if schema != expected:
        raise InvalidRecord(record_id, "schema", "unknown_schema", f"expected {expected}")
    has_payload, has_sealed = "payload" in fields, "sealed" in fields
    if has_payload == has_sealed:
        raise InvalidRecord(record_id, "payload", "exactly_one_of_payload_or_sealed")
    if has_sealed:
        try:
            raw = keyring.open(base64.b64decode(fields["sealed"], validate=True), domain=domain, record_id=record_id)
        except (InvalidToken, binascii.Error, ValueError) as exc:
            raise InvalidRecord(record_id, "sealed", "cannot_open") from exc
    else:
        raw = fields["payload"].encode()
    try:
        payload = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidRecord(record_id, "sealed" if has_sealed else "payload", "invalid_json") from exc
    if not isinstance(payload, dict):
        raise InvalidRecord(record_id, "payload", "not_an_object")
    validate_payload(schema, record_id, payload)
    if payload["record_id"] != record_id:
        raise InvalidRecord(record_id, "record_id", "mismatch_with_stream_field")
    return RawRecord(domain=domain, record_id=record_id, schema=schema, stream_id=stream_id, payload=payload)


def stream_fields(domain: str, record: dict[str, Any], keyring: Keyring | None = None) -> dict[str, str]:
    """The stream entry for a record: plaintext `payload`, or `sealed` under the ingest key if given."""
    fields = {"record_id": record["record_id"], "schema": SCHEMAS[domain]}
    body = json.dumps(record, separators=(",", ":"), sort_keys=True)
    if keyring is None:
        fields["payload"] = body
    else:
        env = keyring.seal(body.encode(), domain=domain, record_id=record["record_id"])
        fields["sealed"] = base64.b64encode(env).decode()
    return fields
