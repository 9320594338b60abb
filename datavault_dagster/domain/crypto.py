"""Envelope encryption with AES-256-GCM: master keys wrap per-subject keys, which wrap a data key per record.

Shaped like cryptography's Fernet/MultiFernet: the primary key seals, any listed key opens, every
failure to open is one opaque `InvalidToken`, and randomness is injectable for known-answer tests.

Key hierarchy::

    master key (keyring, by id)  --wraps-->  subject key (one per domain + subject pseudonym, stored
    wrapped in datavault.subject_keys)  --wraps-->  data key (fresh per record)  --seals-->  record

Destroying a subject's wrapped key (crypto-shredding) makes every envelope of that subject unreadable,
wherever copies of it live; rotating a master key only re-wraps the small subject keys.

Envelope layout, version 1 (master key; ingest-sealed stream entries, dead letters, legacy records)::

    0x01 | len(key_id) (1 byte) | key_id (ascii) | wrap_nonce (12) | wrapped data key (32 + 16 tag)
         | nonce (12) | ciphertext + tag (16)

The data key is wrapped under the master key with associated data ``b"datavault/dek|" + key_id``;
the payload is sealed under the data key with associated data ``domain | record_id | key_id``, so an
envelope moved to another record, domain or key id fails to open. (Joined with ``|`` only while no field
but the last holds a ``|``, so that no two bindings share bytes; otherwise length-prefixed: see `_bind`.)

Envelope layout, version 2 (subject key; vault records): the same fields, with ``0x02`` and the
*subject key id* (``sk-`` + 16 hex digits) in place of the master key id; the data key is wrapped
under the subject key with associated data ``b"datavault/dek|v2|" + subject_key_id`` and the payload
is bound to ``domain | record_id | subject_key_id``.

A wrapped subject key is ``wrap_nonce (12) | AES-GCM(master key, subject key) + tag (48)`` with
associated data ``b"datavault/subject-key|" + domain | subject | subject_key_id | master key id``.

Master keys at rest: plaintext base64 in a 0600 keyring file or in ``DATAVAULT_MASTER_KEYS`` (version 1),
or *protected*: each key wrapped by an outside key-encryption service (version 2 of the file; see
`services.transit` for HashiCorp Vault / OpenBao transit) and unwrapped only into process memory. The
wrap is bound to the key's role by a label (`master_key_label`, `PSEUDONYM_KEY_LABEL`), so a wrapped key
cannot be swapped for another one.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
import struct
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import InvalidToken, KeyringError

VERSION = 1  # sealed under a master key
SUBJECT_VERSION = 2  # sealed under a subject key (vault records)
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
SUBJECT_KEY_ID_BYTES = 8
_WRAPPED_BYTES = KEY_BYTES + TAG_BYTES
WRAPPED_SUBJECT_KEY_BYTES = NONCE_BYTES + _WRAPPED_BYTES
_SUBJECT_KEY_ID = re.compile(r"sk-[0-9a-f]{16}")

Wrap = Callable[[str, bytes], str]
"""Wrap a key at rest: ``(label, key) -> token``; the token is what the keyring file or env holds."""
Unwrap = Callable[[str, str], bytes]
"""The inverse: ``(label, token) -> key``; raises `KeyringError` when the token does not open under `label`."""
PSEUDONYM_KEY_LABEL = "datavault/pseudonym-key"
WRAPPED_PREFIX = "vault:"  # how a wrapped token starts (transit ciphertext: vault:v<version>:<base64>)


def master_key_label(key_id: str) -> str:
    """The label a master key's wrap is bound to."""
    return "datavault/master-key|" + key_id


def _bind(*fields: str) -> bytes:
    """Fields as associated data, one way only: no two different tuples give the same bytes.

    ``a|b|c`` (UTF-8) while no field but the last holds a ``|``, which is every binding the pipeline makes (its
    domains, record ids and subject pseudonyms never do), so every envelope sealed so far keeps its bytes.
    Otherwise the joined text would be ambiguous (``"x|y", "z"`` and ``"x", "y|z"`` are both ``x|y|z``: an
    envelope would open under another record's name), so the fields are length-prefixed after a 0xFF byte,
    which no UTF-8 text holds.
    """
    if not any("|" in f for f in fields[:-1]):
        return "|".join(fields).encode()
    return b"\xff" + b"".join(struct.pack(">I", len(b)) + b for b in (f.encode() for f in fields))


def associated_data(domain: str, record_id: str, key_id: str) -> bytes:
    """The bytes an envelope is bound to: domain, record id and master key id (or subject key id)."""
    return _bind(domain, record_id, key_id)


def _dek_aad(key_id: str) -> bytes:
    return b"datavault/dek|" + key_id.encode()


def _subject_dek_aad(subject_key_id: str) -> bytes:
    return b"datavault/dek|v2|" + subject_key_id.encode()


def _subject_key_aad(domain: str, subject: str, subject_key_id: str, key_id: str) -> bytes:
    return b"datavault/subject-key|" + _bind(domain, subject, subject_key_id, key_id)


def envelope_version(envelope: bytes) -> int:
    """1 (sealed under a master key) or 2 (under a subject key); anything else is `InvalidToken`."""
    if not envelope or envelope[0] not in (VERSION, SUBJECT_VERSION):
        raise InvalidToken
    return envelope[0]


def key_id_of(envelope: bytes) -> str:
    """The key id in an envelope's header: a master key id (v1) or a subject key id (v2); needs no key."""
    try:
        version = envelope_version(envelope)
        n = envelope[1]
        key_id = envelope[2 : 2 + n].decode("ascii")
    except (IndexError, UnicodeDecodeError) as exc:
        raise InvalidToken from exc
    if len(key_id) != n or (version == SUBJECT_VERSION and not _SUBJECT_KEY_ID.fullmatch(key_id)):
        raise InvalidToken
    return key_id


@dataclass(frozen=True)
class WrappedSubjectKey:
    """One subject's data-encryption key as stored: wrapped by master key `key_id`, bound to its row."""

    domain: str
    subject: str  # the subject pseudonym, e.g. "S-abcdefghij"
    subject_key_id: str  # "sk-" + 16 hex digits; named in the header of every v2 envelope it seals
    key_id: str  # the master key that wraps it
    wrapped: bytes = field(repr=False)  # wrap nonce (12) | AES-GCM ciphertext of the key + tag (48)


@dataclass(frozen=True)
class Keyring:
    """Master keys by id; `primary` seals, every listed key opens."""

    keys: Mapping[str, bytes]
    primary: str
    pseudonym_key: bytes
    random_bytes: Callable[[int], bytes] = field(default=os.urandom, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.primary not in self.keys:
            raise KeyringError(f"primary key id {self.primary!r} is not in the keyring")
        for key_id, key in self.keys.items():
            if not key_id or len(key_id) > 255 or not key_id.isascii() or "," in key_id or ":" in key_id:
                raise KeyringError(f"key id {key_id!r} must be 1-255 ascii characters without ',' or ':'")
            if len(key) != KEY_BYTES:
                raise KeyringError(f"key {key_id!r} must be {KEY_BYTES} bytes, got {len(key)}")
        if len(self.pseudonym_key) < 16:
            raise KeyringError("pseudonym key must be at least 16 bytes")

    def __repr__(self) -> str:  # never print key material
        return f"Keyring(primary={self.primary!r}, key_ids={sorted(self.keys)!r})"

    @property
    def key_ids(self) -> list[str]:
        """Ids of every key that can open an envelope, primary first."""
        return [self.primary] + sorted(k for k in self.keys if k != self.primary)

    def seal(self, plaintext: bytes, *, domain: str, record_id: str,
             subject_key: WrappedSubjectKey | None = None) -> bytes:
        """Encrypt under a fresh data key wrapped by the primary master key (v1) or by `subject_key` (v2)."""
        if subject_key is not None:
            return self._seal_v2(plaintext, domain, record_id, subject_key)
        key_id = self.primary
        dek = self.random_bytes(KEY_BYTES)
        wrap_nonce = self.random_bytes(NONCE_BYTES)
        nonce = self.random_bytes(NONCE_BYTES)
        wrapped = AESGCM(self.keys[key_id]).encrypt(wrap_nonce, dek, _dek_aad(key_id))
        body = AESGCM(dek).encrypt(nonce, plaintext, associated_data(domain, record_id, key_id))
        return _frame(VERSION, key_id, wrap_nonce, wrapped, nonce, body)

    def open(self, envelope: bytes, *, domain: str, record_id: str,
             subject_key: WrappedSubjectKey | None = None) -> bytes:
        """Decrypt an envelope: v1 under any listed master key, v2 under `subject_key` (which a listed
        master key must unwrap). Any failure, including a missing or destroyed subject key, is `InvalidToken`."""
        key_id = key_id_of(envelope)
        if envelope[0] == SUBJECT_VERSION:
            if subject_key is None or subject_key.subject_key_id != key_id:
                raise InvalidToken
            wrapping_key = self._unwrap_subject_key(subject_key)
            dek_aad = _subject_dek_aad(key_id)
        else:
            master = self.keys.get(key_id)
            if master is None:
                raise InvalidToken
            wrapping_key, dek_aad = master, _dek_aad(key_id)
        pos = 2 + len(key_id)
        wrap_nonce = envelope[pos : pos + NONCE_BYTES]
        wrapped = envelope[pos + NONCE_BYTES : pos + NONCE_BYTES + _WRAPPED_BYTES]
        pos += NONCE_BYTES + _WRAPPED_BYTES
        nonce = envelope[pos : pos + NONCE_BYTES]
        body = envelope[pos + NONCE_BYTES :]
        if len(nonce) != NONCE_BYTES or len(body) < TAG_BYTES:
            raise InvalidToken
        try:
            dek = AESGCM(wrapping_key).decrypt(wrap_nonce, wrapped, dek_aad)
            return AESGCM(dek).decrypt(nonce, body, associated_data(domain, record_id, key_id))
        except (InvalidTag, ValueError) as exc:
            raise InvalidToken from exc

    def rotate(self, envelope: bytes, *, domain: str, record_id: str,
               subject_key: WrappedSubjectKey | None = None) -> bytes:
        """Re-seal a v1 envelope under the primary key (no-op copy if it already is), or upgrade it to v2
        under `subject_key`. A v2 envelope is returned as is: rotating its subject key's wrap is enough."""
        version = envelope_version(envelope)
        if version == SUBJECT_VERSION:
            self.open(envelope, domain=domain, record_id=record_id, subject_key=subject_key)  # still verified
            return envelope
        if subject_key is None and key_id_of(envelope) == self.primary:
            return envelope
        plaintext = self.open(envelope, domain=domain, record_id=record_id)
        return self.seal(plaintext, domain=domain, record_id=record_id, subject_key=subject_key)

    # --- subject keys -------------------------------------------------------------------------

    def new_subject_key(self, domain: str, subject: str) -> WrappedSubjectKey:
        """A fresh random subject key with a fresh id, wrapped under the primary master key."""
        key = self.random_bytes(KEY_BYTES)
        subject_key_id = "sk-" + self.random_bytes(SUBJECT_KEY_ID_BYTES).hex()
        return self._wrap_subject_key(key, domain, subject, subject_key_id)

    def rewrap_subject_key(self, subject_key: WrappedSubjectKey) -> WrappedSubjectKey:
        """The same subject key wrapped under the primary master key (unchanged if it already is)."""
        if subject_key.key_id == self.primary:
            return subject_key
        key = self._unwrap_subject_key(subject_key)
        return self._wrap_subject_key(key, subject_key.domain, subject_key.subject, subject_key.subject_key_id)

    def _wrap_subject_key(self, key: bytes, domain: str, subject: str, subject_key_id: str) -> WrappedSubjectKey:
        nonce = self.random_bytes(NONCE_BYTES)
        aad = _subject_key_aad(domain, subject, subject_key_id, self.primary)
        wrapped = nonce + AESGCM(self.keys[self.primary]).encrypt(nonce, key, aad)
        return WrappedSubjectKey(domain, subject, subject_key_id, self.primary, wrapped)

    def _unwrap_subject_key(self, subject_key: WrappedSubjectKey) -> bytes:
        master = self.keys.get(subject_key.key_id)
        wrapped = subject_key.wrapped
        if master is None or len(wrapped) != WRAPPED_SUBJECT_KEY_BYTES \
                or not _SUBJECT_KEY_ID.fullmatch(subject_key.subject_key_id):
            raise InvalidToken
        aad = _subject_key_aad(subject_key.domain, subject_key.subject, subject_key.subject_key_id,
                               subject_key.key_id)
        try:
            return AESGCM(master).decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], aad)
        except (InvalidTag, ValueError) as exc:
            raise InvalidToken from exc

    def _seal_v2(self, plaintext: bytes, domain: str, record_id: str, subject_key: WrappedSubjectKey) -> bytes:
        if subject_key.domain != domain:
            raise KeyringError("a subject key seals records of its own domain only")
        key = self._unwrap_subject_key(subject_key)
        skid = subject_key.subject_key_id
        dek = self.random_bytes(KEY_BYTES)
        wrap_nonce = self.random_bytes(NONCE_BYTES)
        nonce = self.random_bytes(NONCE_BYTES)
        wrapped = AESGCM(key).encrypt(wrap_nonce, dek, _subject_dek_aad(skid))
        body = AESGCM(dek).encrypt(nonce, plaintext, associated_data(domain, record_id, skid))
        return _frame(SUBJECT_VERSION, skid, wrap_nonce, wrapped, nonce, body)

    # --- construction -------------------------------------------------------------------------

    @classmethod
    def generate(cls, key_id: str = "k1") -> Keyring:
        """A new keyring with one random master key and a random pseudonym key."""
        return cls(keys={key_id: AESGCM.generate_key(bit_length=256)}, primary=key_id,
                   pseudonym_key=secrets.token_bytes(32))

    @classmethod
    def from_strings(cls, master_keys: str, pseudonym_key: str, unwrap: Unwrap | None = None) -> Keyring:
        """Parse `DATAVAULT_MASTER_KEYS` ("id:key,id:key", first is primary) and the pseudonym key.

        A key is base64, or a wrapped token (``vault:v1:…``) that `unwrap` opens.
        """
        pairs = [p.strip() for p in master_keys.split(",") if p.strip()]
        if not pairs:
            raise KeyringError("DATAVAULT_MASTER_KEYS is empty")
        keys: dict[str, bytes] = {}
        for n, pair in enumerate(pairs, start=1):
            key_id, sep, value = pair.partition(":")
            if not sep:
                raise KeyringError(f"DATAVAULT_MASTER_KEYS entry #{n} is not 'id:base64key'")
            keys[key_id] = _key_value(value, master_key_label(key_id), f"master key {key_id!r}", unwrap)
        primary = pairs[0].partition(":")[0]
        return cls(keys=keys, primary=primary,
                   pseudonym_key=_key_value(pseudonym_key, PSEUDONYM_KEY_LABEL, "pseudonym key", unwrap))

    def to_json(self, wrap: Wrap | None = None, protection: Mapping[str, str] | None = None) -> str:
        """Serialize for the 0600 keyring file: plaintext base64 (version 1), or every key wrapped by `wrap`
        with `protection` naming the service that wraps them (version 2)."""
        if wrap is None:
            return json.dumps({
                "version": 1,
                "primary": self.primary,
                "master_keys": {k: base64.b64encode(v).decode() for k, v in self.keys.items()},
                "pseudonym_key": base64.b64encode(self.pseudonym_key).decode(),
            }, indent=2)
        if not protection:
            raise KeyringError("a protected keyring file must name its protection")
        return json.dumps({
            "version": 2,
            "protection": dict(protection),
            "primary": self.primary,
            "master_keys": {k: wrap(master_key_label(k), v) for k, v in self.keys.items()},
            "pseudonym_key": wrap(PSEUDONYM_KEY_LABEL, self.pseudonym_key),
        }, indent=2)

    @classmethod
    def from_json(cls, text: str, unwrap: Unwrap | None = None) -> Keyring:
        """Parse a keyring file; a protected one (version 2) needs `unwrap`."""
        try:
            data = json.loads(text)
            protection = data.get("protection")
            if protection and unwrap is None:
                raise KeyringError(
                    f"the keyring file is protected by {protection.get('backend', 'an outside service')!r}: "
                    "configure that backend (DATAVAULT_KEY_BACKEND) to open it")
            opener = unwrap if protection else None
            keys = {k: _key_value(v, master_key_label(k), f"master key {k!r}", opener, wrapped=bool(protection))
                    for k, v in data["master_keys"].items()}
            pseudonym_key = _key_value(data["pseudonym_key"], PSEUDONYM_KEY_LABEL, "pseudonym key", opener,
                                       wrapped=bool(protection))
            return cls(keys=keys, primary=data["primary"], pseudonym_key=pseudonym_key)
        except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
            raise KeyringError(f"keyring file is malformed ({type(exc).__name__})") from exc

    @staticmethod
    def protection_of(text: str) -> dict[str, str] | None:
        """The `protection` block of a keyring file (None for a plaintext file)."""
        try:
            protection = json.loads(text).get("protection")
        except (json.JSONDecodeError, AttributeError) as exc:
            raise KeyringError(f"keyring file is malformed ({type(exc).__name__})") from exc
        return dict(protection) if protection else None

    def with_new_primary(self, key_id: str | None = None) -> Keyring:
        """A keyring that keeps every key and adds a new random primary."""
        key_id = key_id or next_key_id(self.keys)
        if key_id in self.keys:
            raise KeyringError(f"key id {key_id!r} already exists")
        keys = {key_id: AESGCM.generate_key(bit_length=256), **self.keys}
        return Keyring(keys=keys, primary=key_id, pseudonym_key=self.pseudonym_key)

    def without(self, key_ids: Iterable[str]) -> Keyring:
        """A keyring with retired keys dropped (the primary cannot be dropped)."""
        drop = set(key_ids)
        if self.primary in drop:
            raise KeyringError("cannot retire the primary key")
        return Keyring(keys={k: v for k, v in self.keys.items() if k not in drop}, primary=self.primary,
                       pseudonym_key=self.pseudonym_key)


def load_or_create_keyring(path: Path) -> Keyring:
    """Read a plaintext keyring file, creating it with 0600 permissions if absent (first creator wins)."""
    if not path.exists() and save_keyring(ring := Keyring.generate(), path, exclusive=True):
        return ring
    return Keyring.from_json(path.read_text())


def save_keyring(ring: Keyring, path: Path, wrap: Wrap | None = None,
                 protection: Mapping[str, str] | None = None, exclusive: bool = False) -> bool:
    """Write the keyring atomically with 0600 permissions (every key wrapped by `wrap` if given).

    With `exclusive`, only if no keyring file exists yet; returns False if another process made one first.
    """
    return write_private(path, ring.to_json(wrap, protection), exclusive=exclusive)


def write_private(path: Path, text: str, exclusive: bool = False) -> bool:
    """Replace `path` atomically with `text`, readable by the owner only (0600).

    With `exclusive`, create it only if it does not exist (a hard link of the finished file, so concurrent
    creators never see a half-written file and exactly one wins); returns whether `path` was written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if not exclusive:
            os.replace(tmp, path)
            return True
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        tmp.unlink(missing_ok=True)


def _frame(version: int, key_id: str, wrap_nonce: bytes, wrapped: bytes, nonce: bytes, body: bytes) -> bytes:
    kid = key_id.encode("ascii")
    return b"".join((struct.pack("BB", version, len(kid)), kid, wrap_nonce, wrapped, nonce, body))


def next_key_id(keys: Mapping[str, bytes]) -> str:
    """The first free id of the form kN (N = number of keys + 1, counting up)."""
    n = len(keys) + 1
    while f"k{n}" in keys:
        n += 1
    return f"k{n}"


def _key_value(value: str, label: str, what: str, unwrap: Unwrap | None, wrapped: bool | None = None) -> bytes:
    """A key from its at-rest form: base64, or a wrapped token opened by `unwrap`."""
    if not isinstance(value, str):
        raise KeyringError(f"{what} is not a string")
    is_wrapped = value.strip().startswith(WRAPPED_PREFIX) if wrapped is None else wrapped
    if not is_wrapped:
        return _b64(value, what)
    if unwrap is None:
        raise KeyringError(f"{what} is wrapped by an outside service: configure it (DATAVAULT_KEY_BACKEND)")
    return unwrap(label, value.strip())


def _b64(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyringError(f"{what} is not valid base64") from exc
