"""Process-wide handles shared by CLI commands and Dagster runs: loaded once, reused, never at import."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from .domain.anonymize import Anonymizer, Pseudonymizer
from .domain.crypto import PSEUDONYM_KEY_LABEL, Keyring, Unwrap, master_key_label, save_keyring
from .domain.embed import Embedder
from .domain.errors import ConfigError, KeyringError
from .services import embedded
from .services.settings import Settings
from .services.transit import BACKEND

if TYPE_CHECKING:
    from .services.transit import TransitKeyWrap

_lock = threading.Lock()


def key_wrap(settings: Settings) -> TransitKeyWrap | None:
    """The outside service that wraps the master keys at rest (DATAVAULT_KEY_BACKEND), or None for plaintext."""
    if settings.key_backend != BACKEND:
        return None
    from .services.transit import TransitKeyWrap

    return TransitKeyWrap(settings.vault_addr, mount=settings.transit_mount, key=settings.transit_key)


_unwrapped: dict[str, Keyring] = {}  # sha256 of the wrapped form -> keyring: one Vault round trip per process


def keyring_for(settings: Settings) -> Keyring:
    """The keyring from DATAVAULT_MASTER_KEYS/DATAVAULT_PSEUDONYM_KEY, else the 0600 file in the data dir.

    With DATAVAULT_KEY_BACKEND=vault-transit the keys at rest are transit-wrapped tokens; they are
    unwrapped once per process and kept in memory only.
    """
    wrapper = key_wrap(settings)
    if settings.master_keys and settings.pseudonym_key:
        return _opened(settings.master_keys + "\0" + settings.pseudonym_key, wrapper, lambda unwrap:
                       Keyring.from_strings(settings.master_keys, settings.pseudonym_key, unwrap=unwrap))
    with _lock:
        path = settings.keyring_path
        if not path.exists() and _save(path, ring := Keyring.generate(), wrapper, exclusive=True):
            return ring
        text = path.read_text()  # ours, or the one another process created first
        protection = Keyring.protection_of(text)
        if wrapper is not None and protection is None:
            raise KeyringError(f"the keyring file {path} holds plaintext master keys but DATAVAULT_KEY_BACKEND is "
                               f"{BACKEND}: run `datavault keys protect` to wrap them")
        if wrapper is not None and not wrapper.matches(protection):
            raise KeyringError(f"the keyring file {path} is protected by {protection}, not by the configured "
                               f"{wrapper.protection}")
        return _opened(text, wrapper, lambda unwrap: Keyring.from_json(text, unwrap=unwrap))


def _opened(at_rest: str, wrapper: TransitKeyWrap | None, parse: Callable[[Unwrap | None], Keyring]) -> Keyring:
    if wrapper is None:
        return parse(None)
    digest = hashlib.sha256(at_rest.encode()).hexdigest()
    ring = _unwrapped.get(digest)
    if ring is None:
        ring = _unwrapped[digest] = parse(wrapper.unwrap)
    return ring


def _save(path: Path, ring: Keyring, wrapper: TransitKeyWrap | None, exclusive: bool = False) -> bool:
    if wrapper is None:
        return save_keyring(ring, path, exclusive=exclusive)
    return save_keyring(ring, path, wrapper.wrap, wrapper.protection, exclusive=exclusive)


def keys_from_env(settings: Settings) -> bool:
    """True if the master keys come from DATAVAULT_MASTER_KEYS (read-only here), False for the keyring file."""
    return bool(settings.master_keys and settings.pseudonym_key)


def save_keyring_file(settings: Settings, keyring: Keyring) -> None:
    """Replace the keyring file (0600, atomic; wrapped under the newest transit version if configured);
    only for keys that do not come from the environment."""
    with _lock:
        _save(settings.keyring_path, keyring, key_wrap(settings))


def protect_keyring(settings: Settings) -> dict:
    """Wrap the keys at rest under the configured transit key (again, under its newest version, if they
    already are). The keyring file is rewritten; keys from the environment are printed wrapped instead."""
    wrapper = key_wrap(settings)
    if wrapper is None:
        raise ConfigError(f"set DATAVAULT_KEY_BACKEND={BACKEND} (and VAULT_ADDR, VAULT_TOKEN) to protect the keys")
    if keys_from_env(settings):
        ring = keyring_for(settings)
        return {"environment": {
            "DATAVAULT_MASTER_KEYS": ",".join(f"{k}:{wrapper.wrap(master_key_label(k), ring.keys[k])}"
                                              for k in ring.key_ids),
            "DATAVAULT_PSEUDONYM_KEY": wrapper.wrap(PSEUDONYM_KEY_LABEL, ring.pseudonym_key),
        }, "transit_key": wrapper.protection, "transit_version": wrapper.latest_version()}
    with _lock:
        path = settings.keyring_path
        if not path.exists():
            raise KeyringError(f"there is no keyring file at {path} to protect")
        text = path.read_text()
        protection = Keyring.protection_of(text)
        if protection is not None and not wrapper.matches(protection):
            raise KeyringError(f"the keyring file {path} is protected by {protection}, not by the configured "
                               f"{wrapper.protection}")
        ring = Keyring.from_json(text, unwrap=wrapper.unwrap if protection else None)
        _save(path, ring, wrapper)
    return {"keyring_file": str(path), "was": protection["backend"] if protection else "plaintext",
            "key_ids": ring.key_ids, "transit_key": wrapper.protection,
            "transit_version": wrapper.latest_version()}


def anonymizer_for(keyring: Keyring) -> Anonymizer:
    """The anonymizer keyed by the keyring's pseudonym key."""
    return Anonymizer(Pseudonymizer(keyring.pseudonym_key))


@cache
def embedder(model_path: str | None = None) -> Embedder:
    """One embedding model per process (torch + the model take seconds to load)."""
    return Embedder(model_path)


def redis_url(settings: Settings) -> str:
    """Configured Redis, or the embedded one (started on first use)."""
    return settings.redis_url or embedded.start_redis(settings.home)


def postgres_url(settings: Settings) -> str:
    """Configured PostgreSQL, or the embedded one (started on first use)."""
    return settings.postgres_url or embedded.start_postgres(settings.home)
