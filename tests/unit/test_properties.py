"""Property-based tests (hypothesis): the stream parser, the anonymizer and the envelope crypto on arbitrary input.

1. `parse_entry` raises only `InvalidRecord` on any entry (arbitrary fields, arbitrary and hostile JSON, mutations
   of valid records, random and tampered envelopes), and its message never quotes a value of the payload.
2. The anonymizer never crashes on arbitrary Unicode, and an anonymized record never holds its own identifiers
   (or `anonymize_parsed` refuses it with `InvalidRecord`), wherever and however they are written in its text.
3. Envelopes round-trip for any bytes, domain and record id (v1 and v2), and any single flipped bit, wrong domain
   or wrong record id makes `open` raise `InvalidToken` and nothing else.

The anonymizer tests use the real detector (spaCy NER included): about 15 s to load once, then ~50 ms a record.
No example database is written (`database=None`): nothing lands in the work tree.
"""

from __future__ import annotations

import base64
import copy
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from datavault_dagster.domain.anonymize import AnonymizedRecord, Anonymizer, Pseudonymizer
from datavault_dagster.domain.crypto import Keyring, associated_data
from datavault_dagster.domain.errors import InvalidRecord, InvalidToken
from datavault_dagster.domain.records import DOMAINS, SCHEMAS, RawRecord, parse_entry, stream_fields
from datavault_dagster.pipeline import anonymize_parsed
from simulations import generate_records, pii_values

KEYRING = Keyring(keys={"k1": bytes(range(32))}, primary="k1", pseudonym_key=bytes(range(32, 64)))
STREAM_ID = "1700000000000-0"
CANARY = "ZZCANARY"
SUBJECT = "S-abcdefghij"
RECORDS = {d: generate_records(d, 12, seed=11) for d in DOMAINS}


def _settings(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.large_base_example])


# --- strategies ---------------------------------------------------------------------------------------------------

ANY_CHAR = st.characters()  # every code point, lone surrogates and NUL included
ANY_TEXT = st.text(ANY_CHAR, max_size=40)
CANARY_TEXT = st.one_of(st.just(CANARY), st.tuples(ANY_TEXT, ANY_TEXT).map(lambda t: t[0] + CANARY + t[1]))
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    ANY_TEXT,
    CANARY_TEXT,
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(ANY_TEXT | CANARY_TEXT, children, max_size=4),
    max_leaves=25,
)
# raw JSON number tokens, with some no value serializes to: more digits than Python reads (4300), overflowing exponents
NUMBER_TOKENS = st.one_of(
    st.from_regex(r"-?(0|[1-9][0-9]{0,40})(\.[0-9]{1,20})?([eE][+-]?[0-9]{1,6})?", fullmatch=True),
    st.integers(4000, 6000).map(lambda n: "7" * n),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "-1E400", "-0", "1" * 4301]),
)
DEEP = st.integers(1, 5000).flatmap(lambda n: st.sampled_from([
    "[" * n + "]" * n, "[" * n, '{"a":' * n + "1" + "}" * n, '{"a":' * n, "[" * n + CANARY,
]))


def _dumps(value: Any, ensure_ascii: bool) -> str:
    return json.dumps(value, allow_nan=True, ensure_ascii=ensure_ascii)


def _json_text(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    key = (ANY_TEXT | CANARY_TEXT).map(json.dumps)
    return (st.lists(children, max_size=4).map(lambda xs: "[" + ",".join(xs) + "]")
            | st.lists(st.tuples(key, children), max_size=4).map(  # duplicate keys included
                lambda kv: "{" + ",".join(f"{k}:{v}" for k, v in kv) + "}"))


RAW_JSON = st.recursive(NUMBER_TOKENS | JSON_SCALARS.map(lambda v: _dumps(v, True)) | DEEP, _json_text, max_leaves=15)
JSON_DOCS = st.tuples(JSON_VALUES, st.booleans()).map(lambda t: _dumps(*t)) | RAW_JSON
PAYLOADS = st.tuples(st.sampled_from(["", "\ufeff", "\ufeff\ufeff", " ", "\x00"]), JSON_DOCS | ANY_TEXT).map(
    lambda t: t[0] + t[1])
SEALED_TEXT = st.one_of(
    st.binary(max_size=300).map(lambda b: base64.b64encode(b).decode()),
    st.binary(max_size=300).map(lambda b: base64.b64encode(b).decode().rstrip("=")),
    ANY_TEXT,
)
RECORD_IDS = st.sampled_from(["hc-0-000001", "fin-1-000002", " hc-0-000001 ", "x"]) | ANY_TEXT
DOMAIN_NAMES = st.sampled_from(DOMAINS) | ANY_TEXT
ENTRIES = st.tuples(
    st.fixed_dictionaries({}, optional={
        "record_id": RECORD_IDS,
        "schema": st.sampled_from(sorted(SCHEMAS.values())) | ANY_TEXT,
        "payload": PAYLOADS,
        "sealed": SEALED_TEXT,
    }),
    st.dictionaries(ANY_TEXT, ANY_TEXT, max_size=3),
).map(lambda t: {**t[1], **t[0]})


# --- property 1: parse_entry raises only InvalidRecord ---------------------------------------------------------------


def _messages(exc: BaseException) -> Iterator[str]:
    """What a traceback of `exc` shows: its message and those of the causes it displays."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield str(current)
        yield repr(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)


def _parse_rejects_cleanly(domain: str, fields: dict[str, str],
                           secrets: tuple[str, ...] = (CANARY,)) -> RawRecord | None:
    """Parse an entry: a `RawRecord`, or `InvalidRecord` (returned as None) whose messages quote none of `secrets`."""
    try:
        return parse_entry(domain, STREAM_ID, fields, KEYRING)
    except InvalidRecord as exc:
        shown = "\n".join(_messages(exc))
        for secret in secrets:
            assert secret not in shown, f"InvalidRecord quotes a payload value: {shown!r}"
        return None


@_settings(200)
@given(domain=DOMAIN_NAMES, fields=ENTRIES)
def test_parse_entry_raises_only_invalid_record_on_arbitrary_fields(domain: str, fields: dict[str, str]) -> None:
    # a message names the record id by design; every other field is the producer's text
    _parse_rejects_cleanly(domain, fields, secrets=() if CANARY in fields.get("record_id", "") else (CANARY,))


@_settings(200)
@given(domain=st.sampled_from(DOMAINS), record_id=st.sampled_from(["hc-0-000001", "fin-0-000001"]), payload=PAYLOADS)
@example(domain="healthcare", record_id="hc-0-000001", payload="[" * 100000)
@example(domain="healthcare", record_id="hc-0-000001", payload="[" * 100000 + "]" * 100000)
@example(domain="finance", record_id="fin-0-000001", payload='{"a":' * 100000 + "1" + "}" * 100000)
@example(domain="finance", record_id="fin-0-000001", payload="1" * 5000)
@example(domain="healthcare", record_id="hc-0-000001", payload='"\\ud800' + CANARY + '"')
@example(domain="healthcare", record_id="hc-0-000001", payload="\ufeff{" + json.dumps(CANARY) + ": NaN}")
def test_parse_entry_raises_only_invalid_record_on_arbitrary_payloads(domain: str, record_id: str,
                                                                      payload: str) -> None:
    _parse_rejects_cleanly(domain, {"record_id": record_id, "schema": SCHEMAS[domain], "payload": payload})
    # the same text as the plaintext of a valid envelope
    sealed = KEYRING.seal(payload.encode("utf-8", "surrogatepass"), domain=domain, record_id=record_id)
    _parse_rejects_cleanly(domain, {"record_id": record_id, "schema": SCHEMAS[domain],
                                    "sealed": base64.b64encode(sealed).decode()})


@pytest.mark.parametrize("payload", ["[" * 100000, "[" * 100000 + "]" * 100000], ids=["open", "balanced"])
@pytest.mark.parametrize("sealed", [False, True], ids=["payload", "sealed"])
def test_parse_entry_deep_nesting_is_invalid_record(payload: str, sealed: bool) -> None:
    fields = {"record_id": "hc-0-000001", "schema": "healthcare.v1"}
    if sealed:
        env = KEYRING.seal(payload.encode(), domain="healthcare", record_id="hc-0-000001")
        fields["sealed"] = base64.b64encode(env).decode()
    else:
        fields["payload"] = payload
    with pytest.raises(InvalidRecord):
        parse_entry("healthcare", STREAM_ID, fields, KEYRING)


def _nodes(doc: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Paths of every node of a JSON document below the root."""
    if path:
        yield path
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield from _nodes(value, (*path, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            yield from _nodes(value, (*path, i))


def _at(doc: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        doc = doc[step]
    return doc


RAW_MARK = "\x00raw-json-%d\x00"  # a string leaf later swapped, in the JSON text, for a raw token


@st.composite
def mutated_records(draw: st.DrawFn) -> tuple[str, dict[str, str], tuple[str, ...]]:
    """A valid generated record with 1-3 random mutations, as a stream entry (plaintext or sealed); and the secrets
    (the canary, the subject's PII) no error message may quote."""
    domain = draw(st.sampled_from(DOMAINS))
    record = draw(st.sampled_from(RECORDS[domain]))
    doc = copy.deepcopy(record)
    raws: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        paths = list(_nodes(doc))
        if kind == "replace" and paths:
            path = draw(st.sampled_from(paths))
            if draw(st.booleans()):
                value: Any = draw(JSON_VALUES | CANARY_TEXT)
            else:  # a raw JSON token: huge number, NaN, deep nesting, a text with the canary
                raws.append(draw(NUMBER_TOKENS | DEEP | RAW_JSON))
                value = RAW_MARK % (len(raws) - 1)
            _at(doc, path[:-1])[path[-1]] = value
        elif kind == "delete" and paths:
            path = draw(st.sampled_from(paths))
            del _at(doc, path[:-1])[path[-1]]
        else:
            parents = [()] + [p for p in paths if isinstance(_at(doc, p), dict)]
            parent = _at(doc, draw(st.sampled_from(parents)))
            parent[draw(CANARY_TEXT | ANY_TEXT)] = draw(JSON_VALUES)
    text = _dumps(doc, draw(st.booleans()))
    for n, raw in enumerate(raws):
        text = text.replace(json.dumps(RAW_MARK % n), raw)
    text = draw(st.sampled_from(["", "\ufeff"])) + text
    fields = stream_fields(domain, record)  # record id and schema of the original
    if draw(st.booleans()):
        env = KEYRING.seal(text.encode("utf-8", "surrogatepass"), domain=domain, record_id=record["record_id"])
        del fields["payload"]
        fields["sealed"] = base64.b64encode(env).decode()
    else:
        fields["payload"] = text
    secrets = (CANARY, *sorted(v for v in pii_values(record, domain) if len(v) >= 4))
    return domain, fields, secrets


@_settings(200)
@given(entry=mutated_records())
def test_parse_entry_on_mutated_valid_records_raises_only_invalid_record(
        entry: tuple[str, dict[str, str], tuple[str, ...]]) -> None:
    domain, fields, secrets = entry
    _parse_rejects_cleanly(domain, fields, secrets)


@_settings(200)
@given(domain=st.sampled_from(DOMAINS), sealed=SEALED_TEXT)
def test_parse_entry_random_sealed_is_invalid_record(domain: str, sealed: str) -> None:
    fields = {"record_id": "hc-0-000001", "schema": SCHEMAS[domain], "sealed": sealed}
    with pytest.raises(InvalidRecord):
        parse_entry(domain, STREAM_ID, fields, KEYRING)


@_settings(200)
@given(domain=st.sampled_from(DOMAINS), index=st.integers(0, 11), data=st.data())
def test_parse_entry_sealed_with_a_flipped_bit_is_cannot_open(domain: str, index: int, data: st.DataObject) -> None:
    record = RECORDS[domain][index]
    fields = stream_fields(domain, record, KEYRING)
    assert parse_entry(domain, STREAM_ID, fields, KEYRING).payload == record
    env = bytearray(base64.b64decode(fields["sealed"]))
    bit = data.draw(st.integers(0, len(env) * 8 - 1), label="bit")
    env[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(InvalidRecord) as info:
        parse_entry(domain, STREAM_ID, {**fields, "sealed": base64.b64encode(bytes(env)).decode()}, KEYRING)
    assert (info.value.field, info.value.code) == ("sealed", "cannot_open")


# --- property 2: the anonymizer ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def anonymizer() -> Anonymizer:
    """The real engine: the shared detector with spaCy NER (loaded once for the module)."""
    engine = Anonymizer(Pseudonymizer(bytes(range(32))))
    engine.detector.load()
    return engine


VALID_TEXT = st.text(max_size=300)  # every Unicode scalar value (no lone surrogates)
SURROGATE_TEXT = st.text(ANY_CHAR, max_size=300)  # and lone surrogates, as a JSON "\udxxx" escape decodes to


@_settings(100)
@given(text=VALID_TEXT)
@example(text="\x00John Smith\x00 123-45-6789")
def test_anonymize_text_never_crashes_on_unicode(anonymizer: Anonymizer, text: str) -> None:
    assert isinstance(anonymizer.anonymize_text(text), str)


@_settings(100)
@given(text=SURROGATE_TEXT)
@example(text="Seen by Dr. Ann Lee \ud800 today")
def test_anonymize_text_never_crashes_on_lone_surrogates(anonymizer: Anonymizer, text: str) -> None:
    assert isinstance(anonymizer.anonymize_text(text), str)


# what may stand right beside an embedded identifier: separators, marks, NUL, "_", letters and digits (CJK text has
# no spaces between words; "¹" is a footnote mark), anything
NEIGHBOURS = st.sampled_from([
    "", " ", "\n", "\t", "_", "-", ".", ",", ":", ";", "/", "(", ")", "[", "]", "#", "@", "'", '"', "*", "x", "9",
    "\x00", "\u00a0", "\u200b", "\u2028", "\u0301", "\ufeff", "é", "İ", "\u0663", "¹", "患", "の", "\U0001f600",
]) | ANY_CHAR
CASINGS = st.sampled_from([str, str.upper, str.lower, str.title])


@st.composite
def text_with(draw: st.DrawFn, identifiers: list[str]) -> str:
    """Arbitrary Unicode with some of `identifiers` embedded at random places, with random neighbours and case."""
    pieces = draw(st.lists(st.one_of(
        SURROGATE_TEXT.map(lambda s: s[:60]),
        st.tuples(NEIGHBOURS, st.sampled_from(identifiers), CASINGS, NEIGHBOURS).map(
            lambda t: t[0] + t[2](t[1]) + t[3]),
    ), min_size=1, max_size=8))
    return " ".join(pieces) if draw(st.booleans()) else "".join(pieces)


def _whole(value: str) -> re.Pattern[str]:
    """`value` as a whole token: case-insensitive, not preceded or followed by a letter or digit."""
    return re.compile(r"(?<![^\W_])" + re.escape(value) + r"(?![^\W_])", re.IGNORECASE)


def _strings(doc: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(path, text) of every string of a document, keys included."""
    if isinstance(doc, str):
        yield path, doc
    elif isinstance(doc, dict):
        for key, value in doc.items():
            yield f"{path}.{key}<key>", key
            yield from _strings(value, f"{path}.{key}")
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            yield from _strings(value, f"{path}.{i}")


def _assert_no_identifier(anon: AnonymizedRecord, identifiers: list[str]) -> None:
    """None of `identifiers` as a whole token in the document as Unicode JSON or in any one of its strings. (Not in
    `to_json()`'s ASCII escapes: there "Leeé" reads as "Lee\\u00e9", a whole "Lee" that is no name at all.)"""
    texts = [("ensure_ascii=False", json.dumps(anon.document, ensure_ascii=False)),
             *_strings(anon.document)]
    for value in identifiers:
        pattern = _whole(value)
        for where, text in texts:
            assert not pattern.search(text), f"identifier {value!r} left in {where}: {text!r}"


@st.composite
def records_with_identifiers_in_text(draw: st.DrawFn, domain: str, engine: Anonymizer) -> tuple[RawRecord, list[str]]:
    record = copy.deepcopy(draw(st.sampled_from(RECORDS[domain])))
    original = parse_entry(domain, STREAM_ID, stream_fields(domain, record), KEYRING)
    identifiers = engine.known_pii(original).identifiers()
    write = text_with(identifiers)
    record["note"] = draw(write)
    if domain == "healthcare":
        for key in ("facility", "reason"):
            if draw(st.booleans()):
                record["encounter"][key] = draw(write)
    elif record["transactions"] and draw(st.booleans()):
        tx = draw(st.sampled_from(record["transactions"]))
        tx["merchant"] = draw(write)
    # built directly, not parsed: parsing rejects lone surrogates (invalid_unicode), the anonymizer must not crash
    return RawRecord(domain, record["record_id"], original.schema, STREAM_ID, record), identifiers


@pytest.mark.parametrize("domain", DOMAINS)
@_settings(50)
@given(data=st.data())
def test_anonymized_record_holds_none_of_its_own_identifiers(anonymizer: Anonymizer, domain: str,
                                                             data: st.DataObject) -> None:
    record, identifiers = data.draw(records_with_identifiers_in_text(domain, anonymizer), label="record")
    assert sorted(anonymizer.known_pii(record).identifiers()) == sorted(identifiers)
    try:
        anon = anonymize_parsed(record, anonymizer)
    except InvalidRecord as exc:
        shown = "\n".join(_messages(exc))
        for value in identifiers:
            assert value not in shown, f"InvalidRecord quotes {value!r}: {shown!r}"
        return
    _assert_no_identifier(anon, identifiers)


# --- property 3: envelopes ---------------------------------------------------------------------------------------

PLAINTEXTS = st.binary(max_size=512)
NAMES = st.text(max_size=30)  # domains and record ids: any text that encodes


def _subject_key(domain: str):
    return KEYRING.new_subject_key(domain, SUBJECT)


@_settings(200)
@given(plaintext=PLAINTEXTS, domain=NAMES, record_id=NAMES, v2=st.booleans())
def test_envelope_round_trips(plaintext: bytes, domain: str, record_id: str, v2: bool) -> None:
    key = _subject_key(domain) if v2 else None
    env = KEYRING.seal(plaintext, domain=domain, record_id=record_id, subject_key=key)
    assert env[0] == (2 if v2 else 1)
    assert KEYRING.open(env, domain=domain, record_id=record_id, subject_key=key) == plaintext


@_settings(300)
@given(plaintext=PLAINTEXTS, domain=NAMES, record_id=NAMES, v2=st.booleans(), data=st.data())
def test_envelope_with_any_flipped_bit_is_invalid_token(plaintext: bytes, domain: str, record_id: str, v2: bool,
                                                        data: st.DataObject) -> None:
    key = _subject_key(domain) if v2 else None
    env = bytearray(KEYRING.seal(plaintext, domain=domain, record_id=record_id, subject_key=key))
    bit = data.draw(st.integers(0, len(env) * 8 - 1), label="bit")
    env[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(InvalidToken):
        KEYRING.open(bytes(env), domain=domain, record_id=record_id, subject_key=key)


@_settings(100)
@given(plaintext=PLAINTEXTS, domain=NAMES, record_id=NAMES, data=st.data())
def test_subject_key_with_any_flipped_bit_is_invalid_token(plaintext: bytes, domain: str, record_id: str,
                                                           data: st.DataObject) -> None:
    key = _subject_key(domain)
    env = KEYRING.seal(plaintext, domain=domain, record_id=record_id, subject_key=key)
    wrapped = bytearray(key.wrapped)
    bit = data.draw(st.integers(0, len(wrapped) * 8 - 1), label="bit")
    wrapped[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(InvalidToken):
        KEYRING.open(env, domain=domain, record_id=record_id,
                     subject_key=type(key)(key.domain, key.subject, key.subject_key_id, key.key_id, bytes(wrapped)))


@st.composite
def other_names(draw: st.DrawFn) -> tuple[tuple[str, str], tuple[str, str]]:
    """Two different (domain, record id) pairs: unrelated ones, or the same text with the boundary moved."""
    if draw(st.booleans()):
        first = (draw(NAMES), draw(NAMES))
        second = draw(st.tuples(NAMES, NAMES).filter(lambda pair: pair != first))
        return first, second
    a, b, c = draw(NAMES), draw(NAMES), draw(NAMES)  # "a|b" + "c" and "a" + "b|c"
    return (f"{a}|{b}", c), (a, f"{b}|{c}")


@_settings(300)
@given(plaintext=PLAINTEXTS, pairs=other_names(), v2=st.booleans())
@example(plaintext=b"x", pairs=(("healthcare|hc-1", "x"), ("healthcare", "hc-1|x")), v2=False)
def test_envelope_under_another_domain_or_record_id_is_invalid_token(
        plaintext: bytes, pairs: tuple[tuple[str, str], tuple[str, str]], v2: bool) -> None:
    (domain, record_id), (other_domain, other_record_id) = pairs
    key = _subject_key(domain) if v2 else None
    env = KEYRING.seal(plaintext, domain=domain, record_id=record_id, subject_key=key)
    with pytest.raises(InvalidToken):
        KEYRING.open(env, domain=other_domain, record_id=other_record_id, subject_key=key)


@_settings(100)
@given(plaintext=PLAINTEXTS, domain=NAMES, record_id=NAMES, other=st.text(ANY_CHAR, min_size=1, max_size=30),
       which=st.sampled_from(["domain", "record_id"]), v2=st.booleans())
@example(plaintext=b"x", domain="healthcare", record_id="hc-1", other="\ud800", which="record_id", v2=False)
def test_open_with_any_text_as_domain_or_record_id_is_invalid_token(
        plaintext: bytes, domain: str, record_id: str, other: str, which: str, v2: bool) -> None:
    """Opening under a domain or record id that cannot be the sealed one (even one UTF-8 cannot encode)."""
    key = _subject_key(domain) if v2 else None
    env = KEYRING.seal(plaintext, domain=domain, record_id=record_id, subject_key=key)
    names = {"domain": domain, "record_id": record_id}
    if names[which] == other:
        return
    names[which] = other
    with pytest.raises(InvalidToken):
        KEYRING.open(env, **names, subject_key=key)


TRIPLES = st.tuples(NAMES | st.just("a|b"), NAMES | st.just("b|c"), NAMES | st.just("k|1"))


@_settings(300)
@given(first=TRIPLES, second=TRIPLES)
@example(first=("a|b", "c", "k1"), second=("a", "b|c", "k1"))
def test_associated_data_is_one_way_and_keeps_the_joined_form(first: tuple[str, str, str],
                                                              second: tuple[str, str, str]) -> None:
    """Different (domain, record id, key id) never give the same bytes; without a '|' before the key id the bytes
    are the joined text every envelope sealed so far was bound to."""
    if first != second:
        assert associated_data(*first) != associated_data(*second)
    domain, record_id, key_id = first
    if "|" not in domain + record_id:
        assert associated_data(*first) == f"{domain}|{record_id}|{key_id}".encode()
