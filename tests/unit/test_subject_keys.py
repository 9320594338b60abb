"""Unit tests for per-subject keys and version-2 envelopes (known answers, tamper detection, rotation)."""

from __future__ import annotations

import dataclasses

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from datavault_dagster.domain.crypto import (
    NONCE_BYTES,
    SUBJECT_VERSION,
    VERSION,
    WRAPPED_SUBJECT_KEY_BYTES,
    Keyring,
    WrappedSubjectKey,
    envelope_version,
    key_id_of,
)
from datavault_dagster.domain.errors import InvalidToken, KeyringError
from tests.unit.test_crypto import MASTER_KEY, PSEUDONYM_KEY, CounterStream

DOMAIN = "healthcare"
SUBJECT = "S-abcdefghij"
RECORD_ID = "hc-0-000001"
PLAINTEXT = b'{"note":"hello"}'
K2 = bytes(range(200, 232))

# Pinned once from the CounterStream randomness below (subject key, then one record sealed under it), so a change
# to the format or to the order randomness is drawn in is caught even if both sides changed.
KNOWN_SUBJECT_KEY_ID = "sk-2021222324252627"
KNOWN_WRAPPED_SUBJECT_KEY_HEX = (
    "28292a2b2c2d2e2f30313233e0b368c7f76a6782c86050032ba284ec53afd1973bf70b6a49b3bfb397fb182cf884bb31fc984caf7e32"
    "e620956fb063"
)
KNOWN_V2_ENVELOPE_HEX = (
    "0213736b2d323032313232323332343235323632375455565758595a5b5c5d5e5f5af6a98d283946d76ede19b559c4c8c56ca506b3"
    "9e57e57a5ca8e36dd9f5d8ac44464a74874f3b4ff98915d17e9a8a81606162636465666768696a6bb867d98aaf9c78200ca7c03855"
    "5b35dc460ae87902174d3fbb6b4d96a18f3167"
)


def _ring(random_bytes=None, keys=None, primary: str = "k1") -> Keyring:
    kwargs = {} if random_bytes is None else {"random_bytes": random_bytes}
    return Keyring(keys=keys or {"k1": MASTER_KEY}, primary=primary, pseudonym_key=PSEUDONYM_KEY, **kwargs)


@pytest.fixture
def ring() -> Keyring:
    return _ring()


@pytest.fixture
def subject_key(ring: Keyring) -> WrappedSubjectKey:
    return ring.new_subject_key(DOMAIN, SUBJECT)


@pytest.fixture
def envelope(ring: Keyring, subject_key: WrappedSubjectKey) -> bytes:
    return ring.seal(PLAINTEXT, domain=DOMAIN, record_id=RECORD_ID, subject_key=subject_key)


# --- known answers ------------------------------------------------------------------------------------------


def test_known_answer_subject_key_and_v2_envelope_match_independent_construction() -> None:
    ring = _ring(CounterStream())
    key = ring.new_subject_key(DOMAIN, SUBJECT)
    env = ring.seal(PLAINTEXT, domain=DOMAIN, record_id=RECORD_ID, subject_key=key)

    # Independently, from the AES-GCM primitive and the module docstring, drawing randomness in the same order:
    # subject key (32), subject key id (8), wrap nonce (12); then data key (32), wrap nonce (12), nonce (12).
    stream = CounterStream()
    subject_key, skid_bytes, sk_nonce = stream(32), stream(8), stream(12)
    skid = "sk-" + skid_bytes.hex()
    wrapped_sk = sk_nonce + AESGCM(MASTER_KEY).encrypt(
        sk_nonce, subject_key, b"datavault/subject-key|healthcare|S-abcdefghij|" + skid.encode() + b"|k1")
    dek, wrap_nonce, nonce = stream(32), stream(12), stream(12)
    wrapped_dek = AESGCM(subject_key).encrypt(wrap_nonce, dek, b"datavault/dek|v2|" + skid.encode())
    body = AESGCM(dek).encrypt(nonce, PLAINTEXT, b"healthcare|hc-0-000001|" + skid.encode())
    expected = b"\x02" + bytes([len(skid)]) + skid.encode() + wrap_nonce + wrapped_dek + nonce + body

    assert key == WrappedSubjectKey(DOMAIN, SUBJECT, skid, "k1", wrapped_sk)
    assert skid == KNOWN_SUBJECT_KEY_ID
    assert key.wrapped.hex() == KNOWN_WRAPPED_SUBJECT_KEY_HEX
    assert env.hex() == expected.hex() == KNOWN_V2_ENVELOPE_HEX
    stored = WrappedSubjectKey(DOMAIN, SUBJECT, KNOWN_SUBJECT_KEY_ID, "k1",
                               bytes.fromhex(KNOWN_WRAPPED_SUBJECT_KEY_HEX))
    assert _ring().open(bytes.fromhex(KNOWN_V2_ENVELOPE_HEX), domain=DOMAIN, record_id=RECORD_ID,
                        subject_key=stored) == PLAINTEXT


def test_subject_keys_are_fresh_without_injected_randomness(ring: Keyring) -> None:
    a, b = ring.new_subject_key(DOMAIN, SUBJECT), ring.new_subject_key(DOMAIN, SUBJECT)
    assert a.subject_key_id != b.subject_key_id and a.wrapped != b.wrapped
    assert len(a.wrapped) == WRAPPED_SUBJECT_KEY_BYTES == 12 + 32 + 16
    assert SUBJECT.encode() not in a.wrapped and "wrapped" not in repr(a)


# --- layout and reading both versions -----------------------------------------------------------------------


def test_v2_layout_and_header(envelope: bytes, subject_key: WrappedSubjectKey) -> None:
    skid = subject_key.subject_key_id.encode()
    assert envelope[0] == SUBJECT_VERSION == 2 and envelope_version(envelope) == 2
    assert envelope[1] == len(skid) == 19 and envelope[2:21] == skid
    assert key_id_of(envelope) == subject_key.subject_key_id
    assert len(envelope) == 2 + 19 + 12 + 48 + 12 + len(PLAINTEXT) + 16


def test_v1_still_reads_beside_v2(ring: Keyring, envelope: bytes, subject_key: WrappedSubjectKey) -> None:
    v1 = ring.seal(PLAINTEXT, domain=DOMAIN, record_id=RECORD_ID)
    assert envelope_version(v1) == VERSION == 1 and key_id_of(v1) == "k1"
    assert ring.open(v1, domain=DOMAIN, record_id=RECORD_ID) == PLAINTEXT
    assert ring.open(v1, domain=DOMAIN, record_id=RECORD_ID, subject_key=subject_key) == PLAINTEXT
    assert ring.open(envelope, domain=DOMAIN, record_id=RECORD_ID, subject_key=subject_key) == PLAINTEXT


@pytest.mark.parametrize("bad", [b"", b"\x03\x02k1", b"\x02\x02k1", b"\x02\x13sk-00112233445566zz",
                                 b"\x02\x13sk-0011"])
def test_malformed_headers_are_rejected(bad: bytes) -> None:
    with pytest.raises(InvalidToken):
        key_id_of(bad)


# --- crypto-shredding and tamper detection -------------------------------------------------------------------


def test_without_its_subject_key_a_v2_envelope_never_opens(ring: Keyring, envelope: bytes) -> None:
    with pytest.raises(InvalidToken):
        ring.open(envelope, domain=DOMAIN, record_id=RECORD_ID)  # shredded: no subject key row any more
    other = ring.new_subject_key(DOMAIN, SUBJECT)  # the subject came back later: a new key, a new id
    with pytest.raises(InvalidToken):
        ring.open(envelope, domain=DOMAIN, record_id=RECORD_ID, subject_key=other)
    impostor = dataclasses.replace(other, subject_key_id=key_id_of(envelope))  # same id, other key bytes
    with pytest.raises(InvalidToken):
        ring.open(envelope, domain=DOMAIN, record_id=RECORD_ID, subject_key=impostor)


def test_flipping_any_byte_of_envelope_or_wrapped_key_is_detected(ring: Keyring) -> None:
    key = ring.new_subject_key(DOMAIN, SUBJECT)
    env = ring.seal(b"short", domain=DOMAIN, record_id=RECORD_ID, subject_key=key)
    for pos in range(len(env)):
        tampered = bytearray(env)
        tampered[pos] ^= 0x01
        with pytest.raises(InvalidToken):
            ring.open(bytes(tampered), domain=DOMAIN, record_id=RECORD_ID, subject_key=key)
    for pos in range(len(key.wrapped)):
        wrapped = bytearray(key.wrapped)
        wrapped[pos] ^= 0x80
        damaged = dataclasses.replace(key, wrapped=bytes(wrapped))
        with pytest.raises(InvalidToken):
            ring.open(env, domain=DOMAIN, record_id=RECORD_ID, subject_key=damaged)
    for n in range(len(env)):
        with pytest.raises(InvalidToken):
            ring.open(env[:n], domain=DOMAIN, record_id=RECORD_ID, subject_key=key)


@pytest.mark.parametrize("change", [{"domain": "finance"}, {"subject": "S-bbbbbbbbbb"}, {"key_id": "k2"},
                                    {"subject_key_id": "sk-0000000000000000"}, {"wrapped": b"\x00" * 60},
                                    {"wrapped": b"\x00" * 59}])
def test_a_wrapped_key_moved_to_another_row_does_not_unwrap(envelope: bytes, subject_key: WrappedSubjectKey,
                                                          change: dict) -> None:
    ring = _ring(keys={"k1": MASTER_KEY, "k2": MASTER_KEY})  # even a relabelled master key id is caught
    with pytest.raises(InvalidToken):
        ring.open(envelope, domain=DOMAIN, record_id=RECORD_ID, subject_key=dataclasses.replace(subject_key, **change))


@pytest.mark.parametrize(("domain", "record_id"), [("finance", RECORD_ID), (DOMAIN, "hc-0-000002")])
def test_wrong_associated_data_is_rejected(ring: Keyring, envelope: bytes, subject_key, domain, record_id) -> None:
    with pytest.raises(InvalidToken):
        ring.open(envelope, domain=domain, record_id=record_id, subject_key=subject_key)


def test_sealing_refuses_a_subject_key_of_another_domain(ring: Keyring, subject_key: WrappedSubjectKey) -> None:
    with pytest.raises(KeyringError):
        ring.seal(PLAINTEXT, domain="finance", record_id=RECORD_ID, subject_key=subject_key)


# --- rotation ------------------------------------------------------------------------------------------------


def test_rewrap_moves_the_subject_key_under_the_new_primary(ring: Keyring, subject_key, envelope) -> None:
    assert ring.rewrap_subject_key(subject_key) is subject_key  # already under the primary
    rotated = dataclasses.replace(ring.with_new_primary(), random_bytes=CounterStream(50))
    moved = rotated.rewrap_subject_key(subject_key)
    assert moved.key_id == "k2" and moved.subject_key_id == subject_key.subject_key_id
    assert moved.wrapped != subject_key.wrapped
    # the subject key itself is unchanged: every envelope it sealed still opens, now through k2 only
    retired = rotated.without(["k1"])
    assert retired.open(envelope, domain=DOMAIN, record_id=RECORD_ID, subject_key=moved) == PLAINTEXT
    with pytest.raises(InvalidToken):  # a copy of the old wrapped key (a backup) is useless once k1 is retired
        retired.open(envelope, domain=DOMAIN, record_id=RECORD_ID, subject_key=subject_key)
    with pytest.raises(InvalidToken):
        retired.rewrap_subject_key(subject_key)


def test_rotate_upgrades_v1_to_v2_and_leaves_v2_as_is(ring: Keyring, subject_key, envelope) -> None:
    v1 = ring.seal(PLAINTEXT, domain=DOMAIN, record_id=RECORD_ID)
    upgraded = ring.rotate(v1, domain=DOMAIN, record_id=RECORD_ID, subject_key=subject_key)
    assert envelope_version(upgraded) == 2 and key_id_of(upgraded) == subject_key.subject_key_id
    assert ring.open(upgraded, domain=DOMAIN, record_id=RECORD_ID, subject_key=subject_key) == PLAINTEXT
    assert ring.rotate(v1, domain=DOMAIN, record_id=RECORD_ID) == v1  # v1 under the primary: unchanged
    assert ring.rotate(envelope, domain=DOMAIN, record_id=RECORD_ID, subject_key=subject_key) == envelope
    with pytest.raises(InvalidToken):  # but it is still verified
        ring.rotate(envelope, domain="finance", record_id=RECORD_ID, subject_key=subject_key)


def test_subject_key_wrap_nonce_is_drawn_per_wrap() -> None:
    ring = _ring(CounterStream())
    key = ring.new_subject_key(DOMAIN, SUBJECT)
    assert key.wrapped[:NONCE_BYTES] == bytes(range(40, 52))
    two = dataclasses.replace(ring.with_new_primary(), random_bytes=CounterStream(7))
    assert two.rewrap_subject_key(key).wrapped[:NONCE_BYTES] == bytes(range(7, 19))
