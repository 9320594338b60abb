"""Record models and validation for the stream contract (healthcare.v1, finance.v1)."""

from __future__ import annotations

import base64
import binascii
import json
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator

from .crypto import Keyring
from .detect import CARDLIKE, EMAIL, PHONE, SSN, is_card
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


MAX_PAYLOAD_BYTES = 1 << 20  # a record is a few KB; anything near a MiB is not one (and would stall NER)
MAX_DEPTH = 32  # the schemas nest 4 levels deep; deeper JSON is hostile (Python's parser and validators recurse)
MAX_RECORD_ID = 128


def stream_marker(stream_id: str) -> str:
    """What stands for a record id that is missing, malformed or could be personal data: its stream id."""
    return f"<stream {stream_id}>"


def _invalid_utf8(value: str) -> bool:
    # the stream client decodes with `surrogateescape`: a lone surrogate is a byte that was not UTF-8
    return any("\udc80" <= c <= "\udcff" for c in value)


def _bad_id_char(c: str) -> bool:
    return c == "|" or unicodedata.category(c)[0] in "CZ" and c != " "


def looks_like_pii(value: str) -> bool:
    """True if a value has the shape of an email, SSN, phone or card number (the contract forbids such ids)."""
    return bool(EMAIL.search(value) or SSN.search(value) or PHONE.search(value)
                or any(is_card(m.group(0)) for m in CARDLIKE.finditer(value)))


def check_record_id(stream_id: str, fields: dict[str, str]) -> str:
    """The entry's record id, or `InvalidRecord` naming the stream id (never the value: it may be PII)."""
    record_id = fields.get("record_id", "").strip()
    marker = stream_marker(stream_id)
    if not record_id:
        raise InvalidRecord(marker, "record_id", "missing")
    if len(record_id) > MAX_RECORD_ID or _invalid_utf8(record_id) or any(_bad_id_char(c) for c in record_id):
        raise InvalidRecord(marker, "record_id", "invalid_format")
    if looks_like_pii(record_id):
        raise InvalidRecord(marker, "record_id", "looks_like_pii")
    return record_id


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise _DuplicateKey
    return out


def _no_constant(name: str) -> Any:
    raise _NonFinite


class _DuplicateKey(Exception):
    pass


class _NonFinite(Exception):
    pass


def _depth_exceeds(value: Any, limit: int) -> bool:
    """True if containers nest deeper than `limit` (iterative: no recursion on hostile input)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return False


def _has_lone_surrogate(payload: Any) -> bool:
    try:
        json.dumps(payload, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    except (ValueError, RecursionError):
        return False  # too deep: the depth check names it
    return False


def decode_json(record_id: str, field: str, raw: bytes) -> dict[str, Any]:
    """Strict JSON of a record: UTF-8 (a leading BOM is allowed), no duplicate keys, no NaN/Infinity, no numbers
    Python cannot read, at most `MAX_DEPTH` levels, an object. Raises `InvalidRecord` naming the field only."""
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise InvalidRecord(record_id, field, "too_large", f"over {MAX_PAYLOAD_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRecord(record_id, field, "invalid_utf8") from None
    text = text.removeprefix("\ufeff")
    try:
        payload = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except _DuplicateKey:
        raise InvalidRecord(record_id, field, "duplicate_key") from None
    except _NonFinite:
        raise InvalidRecord(record_id, field, "invalid_number", "NaN or Infinity") from None
    except RecursionError:
        raise InvalidRecord(record_id, field, "too_deep") from None
    except json.JSONDecodeError:
        raise InvalidRecord(record_id, field, "invalid_json") from None
    except ValueError:  # an integer longer than Python's int_max_str_digits
        raise InvalidRecord(record_id, field, "invalid_number", "integer too long") from None
    if ("\\ud" in text or "\\uD" in text) and _has_lone_surrogate(payload):  # "\\ud800" escapes decode to no text
        raise InvalidRecord(record_id, field, "invalid_unicode", "lone surrogate")
    if _depth_exceeds(payload, MAX_DEPTH):
        raise InvalidRecord(record_id, field, "too_deep", f"over {MAX_DEPTH} levels")
    if not isinstance(payload, dict):
        raise InvalidRecord(record_id, field, "not_an_object")
    return payload


def parse_entry(domain: str, stream_id: str, fields: dict[str, str], keyring: Keyring) -> RawRecord:
    """Turn a stream entry (decoded fields) into a validated `RawRecord` or raise `InvalidRecord`.

    Errors chain no cause: a parser's message can quote the value.
    """
    record_id = check_record_id(stream_id, fields)
    expected = SCHEMAS.get(domain)
    schema = fields.get("schema", "")
    if schema != expected:
        raise InvalidRecord(record_id, "schema", "unknown_schema", f"expected {expected}")
    has_payload, has_sealed = "payload" in fields, "sealed" in fields
    if has_payload == has_sealed:
        raise InvalidRecord(record_id, "payload", "exactly_one_of_payload_or_sealed")
    field = "sealed" if has_sealed else "payload"
    if _invalid_utf8(fields[field]):
        raise InvalidRecord(record_id, field, "invalid_utf8")
    if has_sealed:
        if len(fields["sealed"]) > 2 * MAX_PAYLOAD_BYTES:
            raise InvalidRecord(record_id, "sealed", "too_large", f"over {MAX_PAYLOAD_BYTES} bytes")
        try:
            raw = keyring.open(base64.b64decode(fields["sealed"], validate=True), domain=domain, record_id=record_id)
        except (InvalidToken, binascii.Error, ValueError):
            raise InvalidRecord(record_id, "sealed", "cannot_open") from None
    else:
        raw = fields["payload"].encode("utf-8", "surrogatepass")  # lone surrogates then fail as invalid_utf8
    payload = decode_json(record_id, field, raw)
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
