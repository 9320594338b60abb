"""Process-wide handles shared by CLI commands and Dagster runs: loaded once, reused, never at import."""

from __future__ import annotations

import threading
from functools import cache

from .domain.anonymize import Anonymizer, Pseudonymizer
from .domain.crypto import Keyring, load_or_create_keyring, save_keyring
from .domain.embed import Embedder
from .services import embedded
from .services.settings import Settings

_lock = threading.Lock()


def keyring_for(settings: Settings) -> Keyring:
    """The keyring from DATAVAULT_MASTER_KEYS/DATAVAULT_PSEUDONYM_KEY, else the 0600 file in the data dir."""
    if settings.master_keys and settings.pseudonym_key:
        return Keyring.from_strings(settings.master_keys, settings.pseudonym_key)
    with _lock:
        return load_or_create_keyring(settings.keyring_path)


def keys_from_env(settings: Settings) -> bool:
    """True if the master keys come from DATAVAULT_MASTER_KEYS (read-only here), False for the keyring file."""
    return bool(settings.master_keys and settings.pseudonym_key)


def save_keyring_file(settings: Settings, keyring: Keyring) -> None:
    """Replace the keyring file (0600, atomic); only for keys that do not come from the environment."""
    with _lock:
        save_keyring(keyring, settings.keyring_path)


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
