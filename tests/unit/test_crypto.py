"""Unit tests for the envelope encryption keyring (shaped like cryptography's Fernet/MultiFernet tests)."""

from __future__ import annotations

import base64
import json
import os
import stat
import struct
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from datavault_dagster.domain.crypto import (
    KEY_BYTES,
    NONCE_BYTES,
    PSEUDONYM_KEY_LABEL,
    TAG_BYTES,
    VERSION,
    Keyring,
    associated_data,
    key_id_of,
    load_or_create_keyring,
    master_key_label,
    save_keyring,
)
from datavault_dagster.domain.errors import ConfigError, InvalidToken, KeyringError

MASTER_KEY = bytes(range(32))
PSEUDONYM_KEY = bytes(range(100, 132))
DOMAIN = "healthcare"
RECORD_ID = "hc-0-000001"
PLAINTEXT = b'{"note":"hello"}'

# The envelope of PLAINTEXT sealed under MASTER_KEY ("k1") with the CounterStream randomness below, pinned once so
# that any change to the format (or to the order randomness is drawn in) is caught even if both sides changed.
KNOWN_ENVELOPE_HEX = (
    "01026b31202122232425262728292a2bd23ba473689d1c09127548c5cd15faf6c058fe8f939575f974ef7609559740165ade1825be"
    "159934b42c687a98c063cb2c2d2e2f303132333435363729df4b7916f4c6f614a0f88a578c4865b87313addf09b6447e727e7083e1"
    "a58a"
)


class CounterStream:
    """Deterministic stand-in for os.urandom: bytes 0, 1, 2, ... (mod 256) across calls."""

    def __init__(self, start: int = 0) -> None:
        self.position = start

    def __call__(self, size: int) -> bytes:
        out = bytes((self.position + i) % 256 for i in range(size))
        self.position += size
        return out


def _ring(random_bytes=None, key_id: str = "k1", key: bytes = MASTER_KEY) -> Keyring:
    kwargs = {} if random_bytes is None else {"random_bytes": random_bytes}
    return Keyring(keys={key_id: key}, primary=key_id, pseudonym_key=PSEUDONYM_KEY, **kwargs)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _key_fragments(secret: bytes, size: int = 8) -> list[str]:
    """Every run of `size` characters of the base64 and hex forms of a secret (to prove none is echoed)."""
    forms = [_b64(secret), secret.hex()]
    return [form[i : i + size] for form in forms for i in range(len(form) - size + 1)]


def _assert_no_key_material(message: str, *secrets: bytes) -> None:
    for secret in secrets:
        for fragment in _key_fragments(secret):
            assert fragment not in message, f"error message echoes key material: {message!r}"


@pytest.fixture
def ring() -> Keyring:
    return _ring()


@pytest.fixture
def envelope(ring: Keyring) -> bytes:
    return ring.seal(PLAINTEXT, domain=DOMAIN, record_id=RECORD_ID)


# --- known answer -------------------------------------------------------------------------------------------


def test_known_answer_vector_matches_independent_construction() -> None:
    envelope = _ring(CounterStream()).seal(PLAINTEXT, domain=DOMAIN, record_id=RECORD_ID)

    # Independently build the version-1 envelope from the AES-GCM primitive, following the module docstring:
    # 0x01 | len(key_id) | key_id | wrap_nonce(12) | AESGCM(master).encrypt(dek, aad=b"datavault/dek|"+key_id)
    #      | nonce(12) | AESGCM(dek).encrypt(plaintext, aad="domain|record_id|key_id")
    stream = CounterStream()
    dek, wrap_nonce, nonce = stream(32), stream(12), stream(12)  # the order seal() draws its randomness in
    wrapped = AESGCM(MASTER_KEY).encrypt(wrap_nonce, dek, b"datavault/dek|k1")
    body = AESGCM(dek).encrypt(nonce, PLAINTEXT, b"healthcare|hc-0-000001|k1")
    expected = b"\x01" + b"\x02" + b"k1" + wrap_nonce + wrapped + nonce + body

    assert envelope.hex() == expected.hex()
    assert envelope.hex() == KNOWN_ENVELOPE_HEX
    assert _ring().open(bytes.fromhex(KNOWN_ENVELOPE_HEX), domain=DOMAIN, record_id=RECORD_ID) == PLAINTEXT


def test_known_answer_is_deterministic_only_with_injected_randomness() -> None:
    a = _ring(CounterStream()).seal(PLAINTEXT, domain=DOMAIN, record_id=RECORD_ID)
    b = _ring(CounterStream()).seal(PLAINTEXT, domain=DOMAIN, record_id=RECORD_ID)
    c = _ring(CounterStream(start=7)).seal(PLAINTEXT, domain=DOMAIN, record_id=RECORD_ID)
    assert a == b
    assert a != c
    r1 = _ring().seal(PLAINTEXT, domain=DOMAIN, record_id=RECORD_ID)
    r2 = _ring().seal(PLAINTEXT, domain=DOMAIN, record_id=RECORD_ID)
    assert r1 != r2  # fresh data key and nonces every time with os.urandom


def test_associated_data_layout() -> None:
    assert associated_data("finance", "fn-1", "k2") == b"finance|fn-1|k2"


# --- layout -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key_id", ["k1", "x", "primary-2025", "k" * 255])
@pytest.mark.parametrize("plaintext", [b"", b"a", PLAINTEXT, bytes(range(256)) * 4])
def test_envelope_layout(key_id: str, plaintext: bytes) -> None:
    ring = _ring(key_id=key_id)
    env = ring.seal(plaintext, domain=DOMAIN, record_id=RECORD_ID)
    kid = key_id.encode("ascii")
    assert env[0] == VERSION == 1
    assert env[1] == len(kid)
    assert env[2 : 2 + len(kid)] == kid
    assert len(env) == 2 + len(kid) + NONCE_BYTES + (KEY_BYTES + TAG_BYTES) + NONCE_BYTES + len(plaintext) + TAG_BYTES
    assert len(env) == 2 + len(kid) + 12 + 48 + 12 + len(plaintext) + 16
    assert key_id_of(env) == key_id
    if len(plaintext) >= 8:
        assert plaintext not in env  # the payload is encrypted, not framed
    assert ring.open(env, domain=DOMAIN, record_id=RECORD_ID) == plaintext


@pytest.mark.parametrize("bad", [b"", b"\x01", b"\x02\x02k1", b"\x00\x02k1", b"\x01\x02\xff\xfe"])
def test_key_id_of_rejects_malformed(bad: bytes) -> None:
    with pytest.raises(InvalidToken):
        key_id_of(bad)


# --- tamper detection ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("mask", [0x01, 0x80, 0xFF])
def test_flipping_any_byte_is_detected(ring: Keyring, mask: int) -> None:
    env = _ring(CounterStream()).seal(b"short", domain=DOMAIN, record_id=RECORD_ID)
    assert ring.open(env, domain=DOMAIN, record_id=RECORD_ID) == b"short"
    for pos in range(len(env)):
        tampered = bytearray(env)
        tampered[pos] ^= mask
        with pytest.raises(InvalidToken):
            ring.open(bytes(tampered), domain=DOMAIN, record_id=RECORD_ID)


def test_every_truncation_is_detected(ring: Keyring, envelope: bytes) -> None:
    for n in range(len(envelope)):
        with pytest.raises(InvalidToken):
            ring.open(envelope[:n], domain=DOMAIN, record_id=RECORD_ID)


def test_appended_bytes_are_detected(ring: Keyring, envelope: bytes) -> None:
    with pytest.raises(InvalidToken):
        ring.open(envelope + b"\x00", domain=DOMAIN, record_id=RECORD_ID)


@pytest.mark.parametrize(
    ("domain", "record_id"),
    [("finance", RECORD_ID), (DOMAIN, "hc-0-000002"), (DOMAIN, ""), ("", RECORD_ID), ("healthcare|hc-0", "000001")],
)
def test_wrong_associated_data_is_rejected(ring: Keyring, envelope: bytes, domain: str, record_id: str) -> None:
    with pytest.raises(InvalidToken):
        ring.open(envelope, domain=domain, record_id=record_id)


def test_empty_and_garbage_envelopes_are_rejected(ring: Keyring) -> None:
    for bad in (b"", b"\x01", b"\x01\x02k1", b"not an envelope at all" * 5, bytes(200)):
        with pytest.raises(InvalidToken):
            ring.open(bad, domain=DOMAIN, record_id=RECORD_ID)


def test_unknown_key_id_is_rejected(envelope: bytes) -> None:
    other = _ring(key_id="k9")
    with pytest.raises(InvalidToken):
        other.open(envelope, domain=DOMAIN, record_id=RECORD_ID)


def test_same_key_id_with_different_key_material_is_rejected(envelope: bytes) -> None:
    impostor = _ring(key=bytes(32))
    with pytest.raises(InvalidToken):
        impostor.open(envelope, domain=DOMAIN, record_id=RECORD_ID)


def test_key_id_rewritten_in_envelope_is_rejected() -> None:
    """Relabelling an envelope with another key id that the ring holds (same key bytes) still fails."""
    ring = Keyring(keys={"k1": MASTER_KEY, "k2": MASTER_KEY}, primary="k1", pseudonym_key=PSEUDONYM_KEY)
    env = ring.seal(PLAINTEXT, domain=DOMAIN, record_id=RECORD_ID)
    relabelled = env[:2] + b"k2" + env[4:]
    assert key_id_of(relabelled) == "k2"
    with pytest.raises(InvalidToken):
        ring.open(relabelled, domain=DOMAIN, record_id=RECORD_ID)


def test_invalid_token_is_opaque(ring: Keyring, envelope: bytes) -> None:
    with pytest.raises(InvalidToken) as info:
        ring.open(envelope, domain="finance", record_id=RECORD_ID)
    assert type(info.value) is InvalidToken
    _assert_no_key_material(str(info.value), MASTER_KEY)
    assert "hello" not in str(info.value)


# --- keyring ------------------------------------------------------------------------------------------------


def test_primary_seals_and_key_ids_lists_primary_first() -> None:
    ring = Keyring(keys={"a": bytes(32), "z": MASTER_KEY, "m": bytes([1]) * 32}, primary="z",
                   pseudonym_key=PSEUDONYM_KEY)
    env = ring.seal(PLAINTEXT, domain=DOMAIN, record_id=RECORD_ID)
    assert key_id_of(env) == "z"
    assert ring.key_ids == ["z", "a", "m"]


def test_new_primary_still_opens_old_envelopes(ring: Keyring, envelope: bytes) -> None:
    rotated = ring.with_new_primary()
    assert rotated.primary == "k2"
    assert rotated.primary != ring.primary
    assert set(rotated.keys) == {"k1", "k2"}
    assert rotated.keys["k1"] == MASTER_KEY
    assert rotated.pseudonym_key == ring.pseudonym_key
    assert rotated.open(envelope, domain=DOMAIN, record_id=RECORD_ID) == PLAINTEXT
    new_env = rotated.seal(PLAINTEXT, domain=DOMAIN, record_id=RECORD_ID)
    assert key_id_of(new_env) == "k2"
    with pytest.raises(InvalidToken):  # the old ring does not know the new key
        ring.open(new_env, domain=DOMAIN, record_id=RECORD_ID)


def test_with_new_primary_named_and_duplicate(ring: Keyring) -> None:
    assert ring.with_new_primary("2025-q3").primary == "2025-q3"
    with pytest.raises(KeyringError):
        ring.with_new_primary("k1")


def test_rotate_reseals_under_new_primary(ring: Keyring, envelope: bytes) -> None:
    rotated_ring = ring.with_new_primary()
    rotated = rotated_ring.rotate(envelope, domain=DOMAIN, record_id=RECORD_ID)
    assert key_id_of(rotated) == rotated_ring.primary
    assert rotated != envelope
    assert rotated_ring.open(rotated, domain=DOMAIN, record_id=RECORD_ID) == PLAINTEXT
    # once every envelope is rotated the old key can be retired
    retired = rotated_ring.without(["k1"])
    assert retired.open(rotated, domain=DOMAIN, record_id=RECORD_ID) == PLAINTEXT
    with pytest.raises(InvalidToken):
        retired.open(envelope, domain=DOMAIN, record_id=RECORD_ID)


def test_rotate_is_a_noop_for_primary_envelopes(ring: Keyring, envelope: bytes) -> None:
    assert ring.rotate(envelope, domain=DOMAIN, record_id=RECORD_ID) == envelope


def test_rotate_checks_associated_data(ring: Keyring, envelope: bytes) -> None:
    with pytest.raises(InvalidToken):
        ring.with_new_primary().rotate(envelope, domain="finance", record_id=RECORD_ID)


def test_without_drops_keys_and_refuses_primary(ring: Keyring, envelope: bytes) -> None:
    rotated = ring.with_new_primary()
    retired = rotated.without(["k1"])
    assert set(retired.keys) == {"k2"}
    assert retired.primary == "k2"
    with pytest.raises(InvalidToken):
        retired.open(envelope, domain=DOMAIN, record_id=RECORD_ID)
    with pytest.raises(KeyringError):
        rotated.without(["k2"])
    with pytest.raises(KeyringError):
        ring.without(["k1"])


@pytest.mark.parametrize(
    ("keys", "primary", "pseudonym_key"),
    [
        ({"k1": MASTER_KEY}, "k2", PSEUDONYM_KEY),  # primary not in ring
        ({"k1": MASTER_KEY[:16]}, "k1", PSEUDONYM_KEY),  # AES-128 key
        ({"k1": MASTER_KEY + b"\x00"}, "k1", PSEUDONYM_KEY),
        ({"": MASTER_KEY}, "", PSEUDONYM_KEY),
        ({"a:b": MASTER_KEY}, "a:b", PSEUDONYM_KEY),
        ({"a,b": MASTER_KEY}, "a,b", PSEUDONYM_KEY),
        ({"k\u00e9": MASTER_KEY}, "k\u00e9", PSEUDONYM_KEY),
        ({"k" * 256: MASTER_KEY}, "k" * 256, PSEUDONYM_KEY),
        ({"k1": MASTER_KEY}, "k1", b"short"),
    ],
)
def test_keyring_constructor_validation(keys, primary, pseudonym_key) -> None:
    with pytest.raises(KeyringError) as info:
        Keyring(keys=keys, primary=primary, pseudonym_key=pseudonym_key)
    _assert_no_key_material(str(info.value), MASTER_KEY)


def test_generate() -> None:
    a, b = Keyring.generate(), Keyring.generate("main")
    assert a.primary == "k1" and b.primary == "main"
    assert len(a.keys["k1"]) == KEY_BYTES
    assert len(a.pseudonym_key) >= 16
    assert a.keys["k1"] != b.keys["main"]
    env = a.seal(PLAINTEXT, domain=DOMAIN, record_id=RECORD_ID)
    assert a.open(env, domain=DOMAIN, record_id=RECORD_ID) == PLAINTEXT


# --- from_strings / JSON ------------------------------------------------------------------------------------

K2 = bytes(range(200, 232))


def test_from_strings_parses_ids_and_primary() -> None:
    ring = Keyring.from_strings(f"k1:{_b64(MASTER_KEY)}, k2:{_b64(K2)}", _b64(PSEUDONYM_KEY))
    assert ring.primary == "k1"
    assert ring.keys == {"k1": MASTER_KEY, "k2": K2}
    assert ring.pseudonym_key == PSEUDONYM_KEY
    assert ring.key_ids == ["k1", "k2"]
    second_first = Keyring.from_strings(f"k2:{_b64(K2)},k1:{_b64(MASTER_KEY)},", _b64(PSEUDONYM_KEY))
    assert second_first.primary == "k2"
    # envelopes interoperate with a ring built directly from the same bytes
    env = _ring().seal(PLAINTEXT, domain=DOMAIN, record_id=RECORD_ID)
    assert ring.open(env, domain=DOMAIN, record_id=RECORD_ID) == PLAINTEXT


@pytest.mark.parametrize(
    ("master_keys", "pseudonym_key"),
    [
        ("", _b64(PSEUDONYM_KEY)),  # empty
        (" , ,", _b64(PSEUDONYM_KEY)),  # only separators
        (f"k1:{_b64(MASTER_KEY)[:-2]}!!", _b64(PSEUDONYM_KEY)),  # bad base64
        (f"k1:{_b64(MASTER_KEY)[1:]}", _b64(PSEUDONYM_KEY)),  # bad padding
        (f"k1:{_b64(MASTER_KEY[:16])}", _b64(PSEUDONYM_KEY)),  # wrong key length (16)
        (f"k1:{_b64(MASTER_KEY + MASTER_KEY)}", _b64(PSEUDONYM_KEY)),  # wrong key length (64)
        (_b64(MASTER_KEY), _b64(PSEUDONYM_KEY)),  # missing "id:" (a bare key)
        (f"k1:{_b64(MASTER_KEY)},{_b64(K2)}", _b64(PSEUDONYM_KEY)),  # second entry missing "id:"
        (f":{_b64(MASTER_KEY)}", _b64(PSEUDONYM_KEY)),  # empty key id
        (f"k1:{_b64(MASTER_KEY)}", "%%%not-base64%%%"),  # bad pseudonym key
        (f"k1:{_b64(MASTER_KEY)}", _b64(PSEUDONYM_KEY[:8])),  # short pseudonym key
    ],
    ids=["empty", "separators-only", "bad-base64", "bad-padding", "key-16-bytes", "key-64-bytes", "bare-key",
         "second-entry-bare-key", "empty-key-id", "bad-pseudonym-base64", "short-pseudonym-key"],
)
def test_from_strings_errors_never_echo_key_material(master_keys: str, pseudonym_key: str) -> None:
    with pytest.raises(KeyringError) as info:
        Keyring.from_strings(master_keys, pseudonym_key)
    _assert_no_key_material(str(info.value), MASTER_KEY, K2, PSEUDONYM_KEY)


@pytest.mark.parametrize(("master", "pseudo"), [("set", None), (None, "set")])
def test_settings_require_both_key_variables(monkeypatch: pytest.MonkeyPatch, master, pseudo) -> None:
    """Mismatched environment: one of DATAVAULT_MASTER_KEYS / DATAVAULT_PSEUDONYM_KEY without the other."""
    from datavault_dagster.services.settings import Settings

    values = {"DATAVAULT_MASTER_KEYS": f"k1:{_b64(MASTER_KEY)}" if master else None,
              "DATAVAULT_PSEUDONYM_KEY": _b64(PSEUDONYM_KEY) if pseudo else None}
    for name, value in values.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        Settings.from_env()
    _assert_no_key_material(str(info.value), MASTER_KEY, PSEUDONYM_KEY)


def test_json_roundtrip() -> None:
    ring = Keyring(keys={"k1": MASTER_KEY, "k2": K2}, primary="k2", pseudonym_key=PSEUDONYM_KEY)
    text = ring.to_json()
    data = json.loads(text)
    assert data["version"] == 1
    assert data["primary"] == "k2"
    assert data["master_keys"] == {"k1": _b64(MASTER_KEY), "k2": _b64(K2)}
    back = Keyring.from_json(text)
    assert back == ring
    assert back.primary == "k2"
    env = ring.seal(PLAINTEXT, domain=DOMAIN, record_id=RECORD_ID)
    assert back.open(env, domain=DOMAIN, record_id=RECORD_ID) == PLAINTEXT


def _keyring_doc(**overrides) -> str:
    doc = {"version": 1, "primary": "k1", "master_keys": {"k1": _b64(MASTER_KEY)}, "pseudonym_key": _b64(PSEUDONYM_KEY)}
    doc.update(overrides)
    return json.dumps(doc)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not json",
        "null",
        "[]",
        '"a string"',
        "{}",
        json.dumps({"primary": "k1", "master_keys": {"k1": _b64(MASTER_KEY)}}),  # no pseudonym key
        _keyring_doc(primary="k9"),
        _keyring_doc(master_keys={"k1": "!!!"}),
        _keyring_doc(master_keys={"k1": _b64(MASTER_KEY[:16])}),
        _keyring_doc(master_keys=[_b64(MASTER_KEY)]),  # a list instead of an id -> key object
        _keyring_doc(pseudonym_key=12345),  # not a string
    ],
    ids=["empty", "not-json", "null", "list", "string", "empty-object", "no-pseudonym-key", "unknown-primary",
         "bad-base64", "short-key", "master-keys-list", "pseudonym-key-int"],
)
def test_from_json_malformed_raises_keyring_error(text: str) -> None:
    with pytest.raises(KeyringError) as info:
        Keyring.from_json(text)
    _assert_no_key_material(str(info.value), MASTER_KEY, PSEUDONYM_KEY)


def test_save_keyring_writes_owner_only_file(tmp_path: Path) -> None:
    ring = Keyring(keys={"k1": MASTER_KEY}, primary="k1", pseudonym_key=PSEUDONYM_KEY)
    path = tmp_path / "nested" / "keyring.json"
    save_keyring(ring, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Keyring.from_json(path.read_text()) == ring
    assert not path.with_suffix(".tmp").exists()
    # overwriting a file that somehow became world-readable tightens it again
    path.chmod(0o644)
    save_keyring(ring.with_new_primary(), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Keyring.from_json(path.read_text()).primary == "k2"


def test_load_or_create_keyring_creates_then_reloads(tmp_path: Path) -> None:
    path = tmp_path / "home" / "keyring.json"
    created = load_or_create_keyring(path)
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    reloaded = load_or_create_keyring(path)
    assert reloaded == created
    assert reloaded.keys == created.keys
    assert reloaded.pseudonym_key == created.pseudonym_key
    env = created.seal(PLAINTEXT, domain=DOMAIN, record_id=RECORD_ID)
    assert reloaded.open(env, domain=DOMAIN, record_id=RECORD_ID) == PLAINTEXT
    # a different file yields different keys
    assert load_or_create_keyring(tmp_path / "other" / "keyring.json").keys != created.keys


def test_repr_and_str_hide_key_material() -> None:
    ring = Keyring(keys={"k1": MASTER_KEY, "k2": K2}, primary="k1", pseudonym_key=PSEUDONYM_KEY)
    for text in (repr(ring), str(ring), f"{ring}", repr([ring])):
        assert "k1" in text and "k2" in text
        _assert_no_key_material(text, MASTER_KEY, K2, PSEUDONYM_KEY)
        assert repr(MASTER_KEY) not in text
        assert repr(MASTER_KEY)[2:20] not in text


def test_envelope_header_is_packed_bytes() -> None:
    env = _ring(key_id="abc").seal(b"x", domain=DOMAIN, record_id=RECORD_ID)
    version, length = struct.unpack("BB", env[:2])
    assert (version, length, env[2:5]) == (1, 3, b"abc")


class _ToyWrap:
    """A stand-in for the transit key in pure-logic tests (the real one is tested in test_transit.py)."""

    def __init__(self) -> None:
        self.kek = AESGCM.generate_key(bit_length=256)

    def wrap(self, label: str, key: bytes) -> str:
        nonce = os.urandom(12)
        return "vault:v1:" + base64.b64encode(nonce + AESGCM(self.kek).encrypt(nonce, key, label.encode())).decode()

    def unwrap(self, label: str, token: str) -> bytes:
        raw = base64.b64decode(token.removeprefix("vault:v1:"))
        try:
            return AESGCM(self.kek).decrypt(raw[:12], raw[12:], label.encode())
        except InvalidTag as exc:
            raise KeyringError("could not unwrap") from exc


def test_protected_keyring_json_holds_tokens_only_and_round_trips() -> None:
    ring = Keyring.generate().with_new_primary()
    toy = _ToyWrap()
    text = ring.to_json(toy.wrap, {"backend": "toy"})
    data = json.loads(text)
    assert data["version"] == 2 and data["protection"] == {"backend": "toy"}
    assert all(v.startswith("vault:v1:") for v in (*data["master_keys"].values(), data["pseudonym_key"]))
    assert not any(base64.b64encode(k).decode() in text for k in (*ring.keys.values(), ring.pseudonym_key))
    back = Keyring.from_json(text, unwrap=toy.unwrap)
    assert back.keys == ring.keys and back.primary == ring.primary and back.pseudonym_key == ring.pseudonym_key
    assert Keyring.protection_of(text) == {"backend": "toy"} and Keyring.protection_of(ring.to_json()) is None


def test_protected_keyring_needs_its_unwrap_and_binds_each_token_to_its_slot() -> None:
    ring = Keyring.generate()
    toy = _ToyWrap()
    text = ring.to_json(toy.wrap, {"backend": "toy"})
    with pytest.raises(KeyringError, match="protected by 'toy'"):
        Keyring.from_json(text)
    data = json.loads(text)
    data["master_keys"]["k1"], data["pseudonym_key"] = data["pseudonym_key"], data["master_keys"]["k1"]
    with pytest.raises(KeyringError, match="could not unwrap"):
        Keyring.from_json(json.dumps(data), unwrap=toy.unwrap)
    with pytest.raises(KeyringError, match="must name its protection"):
        ring.to_json(toy.wrap)


def test_env_keys_may_be_wrapped_tokens() -> None:
    ring = Keyring.generate()
    toy = _ToyWrap()
    master = "k1:" + toy.wrap(master_key_label("k1"), ring.keys["k1"])
    pseudo = toy.wrap(PSEUDONYM_KEY_LABEL, ring.pseudonym_key)
    back = Keyring.from_strings(master, pseudo, unwrap=toy.unwrap)
    assert back.keys == ring.keys and back.pseudonym_key == ring.pseudonym_key
    with pytest.raises(KeyringError, match="wrapped by an outside service"):
        Keyring.from_strings(master, pseudo)
    # a token wrapped for k1 does not open as k2
    with pytest.raises(KeyringError, match="could not unwrap"):
        Keyring.from_strings(master.replace("k1:", "k2:", 1), pseudo, unwrap=toy.unwrap)


def _first_use(path: str, start, out) -> None:  # noqa: ANN001 - a child process
    start.wait()
    out.put(base64.b64encode(load_or_create_keyring(Path(path)).keys["k1"]).decode())


def test_concurrent_first_use_of_a_keyring_file_agrees_on_one_keyring(tmp_path: Path) -> None:
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    path = tmp_path / "fresh" / "keyring.json"
    procs = [ctx.Process(target=_first_use, args=(str(path), start, out)) for _ in range(6)]
    for p in procs:
        p.start()
    start.set()
    seen = {out.get(timeout=60) for _ in procs}
    for p in procs:
        p.join(timeout=60)
    assert len(seen) == 1  # every process seals under the key that is on disk
    assert seen == {base64.b64encode(Keyring.from_json(path.read_text()).keys["k1"]).decode()}
    assert [p.name for p in path.parent.iterdir()] == ["keyring.json"]  # no temporary files left
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
