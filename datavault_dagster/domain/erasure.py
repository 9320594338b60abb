"""Which stored data belongs to a subject: pure functions used by the right to erasure (no I/O)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterable, Mapping

from .crypto import Keyring
from .errors import InvalidSubject, InvalidToken

SUBJECT_PSEUDONYM = re.compile(r"S-[a-z2-7]{10}")
# where each domain's records name their subject (the producer's id, pseudonymized as `S-…`)
SUBJECT_FIELD: dict[str, tuple[str, str]] = {"healthcare": ("patient", "patient_id"),
                                             "finance": ("customer", "customer_id")}
_ID_IN_TEXT = {d: re.compile(rf'"{f}"\s*:\s*"((?:[^"\\]|\\.)*)"') for d, (_, f) in SUBJECT_FIELD.items()}


def check_subject_pseudonym(value: str) -> str:
    """The value if it is a subject pseudonym (`S-` + 10 base32 characters); `InvalidSubject` otherwise."""
    if not isinstance(value, str) or not SUBJECT_PSEUDONYM.fullmatch(value):
        raise InvalidSubject
    return value


def check_subject_pseudonyms(values: Iterable[str], where: Callable[[int], str] | None = None) -> list[str]:
    """The distinct subject pseudonyms of a batch, in their first order; `InvalidSubject` naming the first bad
    item by its position (`where(i)`, default "item i of n", 1-based) if any is not one: all or nothing."""
    values = list(values)
    for i, value in enumerate(values, start=1):
        try:
            check_subject_pseudonym(value)
        except InvalidSubject:
            raise InvalidSubject(where(i) if where else f"item {i} of {len(values)}") from None
    return list(dict.fromkeys(values))


def subject_id_in(domain: str, payload: str | bytes) -> str | None:
    """The producer's subject id in a record's JSON; also found in broken JSON by its field name."""
    text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload
    outer, inner = SUBJECT_FIELD.get(domain, ("", ""))
    try:
        record = json.loads(text)
        value = record[outer][inner]
        if isinstance(value, str) and value.strip():
            return value
    except (ValueError, RecursionError, KeyError, TypeError):  # broken or hostile JSON (deep nesting, huge ints)
        pass
    pattern = _ID_IN_TEXT.get(domain)
    match = pattern.search(text) if pattern else None
    if match:
        try:
            return json.loads(f'"{match.group(1)}"') or None
        except ValueError:
            return None
    return None


def subject_id_of_entry(domain: str, fields: Mapping[str, str], keyring: Keyring) -> str | None:
    """The producer's subject id of a raw stream entry (`payload`, or `sealed` under the ingest key)."""
    if "payload" in fields:
        return subject_id_in(domain, fields["payload"])
    if "sealed" in fields:
        try:
            raw = keyring.open(base64.b64decode(fields["sealed"], validate=True), domain=domain,
                               record_id=fields.get("record_id", "").strip())
        except (InvalidToken, binascii.Error, ValueError):
            return None
        return subject_id_in(domain, raw)
    return None


def subject_of_entry(domain: str, fields: Mapping[str, str], keyring: Keyring,
                     pseudonym: Callable[[str, str], str]) -> str | None:
    """The subject pseudonym of a raw stream entry, or None if the entry names no subject."""
    subject_id = subject_id_of_entry(domain, fields, keyring)
    return pseudonym(domain, subject_id) if subject_id else None


def subject_of_dead_letter(domain: str, stream_id: str, sealed_payload: bytes, keyring: Keyring,
                           pseudonym: Callable[[str, str], str]) -> str | None:
    """The subject pseudonym of a dead letter (its sealed raw entry), or None if it names no subject."""
    try:
        raw = keyring.open(sealed_payload, domain=f"deadletter:{domain}", record_id=stream_id)
        fields = json.loads(raw)
    except (InvalidToken, ValueError, RecursionError):
        return None
    if not isinstance(fields, dict):
        return None
    return subject_of_entry(domain, {k: str(v) for k, v in fields.items()}, keyring, pseudonym)
