"""Configuration from the environment: which servers, where the data lives, which model."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from ..domain.errors import ConfigError

DEFAULT_LLM_MODEL = "local/qwen2.5-1.5b-instruct"
KEY_BACKENDS = ("file", "vault-transit")


def redact_url(url: str) -> str:
    """A server URL fit to print: any password (and a query string, which can carry one) replaced by ***."""
    if "://" not in url:  # libpq key=value form
        return " ".join("password=***" if p.startswith("password=") else p for p in url.split())
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{host}" if ":" in userinfo else f"{user}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, "***" if parts.query else "", ""))


REDIS_SCHEMES = ("redis", "rediss", "unix")
POSTGRES_SCHEMES = ("postgresql", "postgres")


def _is_conninfo(raw: str) -> bool:
    import psycopg

    try:
        return bool(psycopg.conninfo.conninfo_to_dict(raw))
    except psycopg.Error:
        return False


def _url(name: str, schemes: tuple[str, ...]) -> str | None:
    raw = os.environ.get(name)
    if not raw:
        return None
    scheme = urlsplit(raw).scheme if "://" in raw else ""
    if not scheme and schemes == POSTGRES_SCHEMES and _is_conninfo(raw):  # libpq's "host=… dbname=…" form
        return raw
    if scheme not in schemes:
        got = f"{scheme}://…" if scheme else "no scheme"
        raise ConfigError(f"{name} must be a URL starting with {' or '.join(x + '://' for x in schemes)} (got {got})")
    return raw


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number >= 1 (got {raw[:20]!r})") from None
    if value < 1:
        raise ConfigError(f"{name} must be >= 1")
    return value


def _recognizers(name: str = "DATAVAULT_RECOGNIZERS") -> Path | None:
    """The deployment's recognizers file, checked now: a broken file stops the command or code location at start."""
    raw = os.environ.get(name)
    if not raw:
        return None
    from ..domain.custom_rules import load_custom_rules

    path = Path(raw).expanduser().resolve()
    try:
        load_custom_rules(path)  # cached per file version: the detector reuses this parse
    except ConfigError as exc:
        raise ConfigError(f"{name}: {exc}") from None
    return path


@dataclass(frozen=True)
class Settings:
    """Every knob DataVault reads from the environment (see README, 'Configuration')."""

    home: Path
    redis_url: str | None
    postgres_url: str | None
    lancedb_uri: str
    llm_model: str
    batch_size: int
    top_k: int
    min_k: int
    reidentify_roles: tuple[str, ...]
    master_keys: str | None
    pseudonym_key: str | None
    key_backend: str = "file"  # "file" (keyring file or env, plaintext) or "vault-transit"
    vault_addr: str | None = None
    transit_mount: str = "transit"
    transit_key: str = "datavault"
    recognizers_path: Path | None = None  # YAML of deployment-specific recognizers (domain/custom_rules.py)
    anonymize_workers: int = 1  # processes that anonymize one partition (forkmap.py); default: the CPU count

    @classmethod
    def from_env(cls) -> Settings:
        """Read the DATAVAULT_* variables; unset servers mean the embedded default."""
        home = Path(os.environ.get("DATAVAULT_HOME") or ".datavault").expanduser().resolve()
        master = os.environ.get("DATAVAULT_MASTER_KEYS") or None
        pseudo = os.environ.get("DATAVAULT_PSEUDONYM_KEY") or None
        if bool(master) != bool(pseudo):
            raise ConfigError("set both DATAVAULT_MASTER_KEYS and DATAVAULT_PSEUDONYM_KEY, or neither")
        backend = os.environ.get("DATAVAULT_KEY_BACKEND") or "file"
        if backend not in KEY_BACKENDS:
            raise ConfigError(f"DATAVAULT_KEY_BACKEND must be one of {', '.join(KEY_BACKENDS)}")
        return cls(
            home=home,
            redis_url=_url("DATAVAULT_REDIS_URL", REDIS_SCHEMES),
            postgres_url=_url("DATAVAULT_POSTGRES_URL", POSTGRES_SCHEMES),
            lancedb_uri=os.environ.get("DATAVAULT_LANCEDB_URI") or str(home / "lancedb"),
            llm_model=os.environ.get("DATAVAULT_LLM_MODEL") or DEFAULT_LLM_MODEL,
            batch_size=_int("DATAVAULT_BATCH_SIZE", 500),
            top_k=_int("DATAVAULT_TOP_K", 4),
            min_k=_int("DATAVAULT_MIN_K", 3),
            reidentify_roles=tuple(
                r.strip() for r in (os.environ.get("DATAVAULT_REIDENTIFY_ROLES") or "privacy-officer").split(",")
                if r.strip()
            ),
            master_keys=master,
            pseudonym_key=pseudo,
            key_backend=backend,
            vault_addr=os.environ.get("VAULT_ADDR") or None,
            transit_mount=os.environ.get("DATAVAULT_TRANSIT_MOUNT") or "transit",
            transit_key=os.environ.get("DATAVAULT_TRANSIT_KEY") or "datavault",
            recognizers_path=_recognizers(),
            anonymize_workers=_int("DATAVAULT_ANONYMIZE_WORKERS", os.cpu_count() or 1),
        )

    @property
    def keyring_path(self) -> Path:
        """The embedded default's keyring file (0600)."""
        return self.home / "keyring.json"


def offline_environment() -> None:
    """Make the model libraries stay offline (set before importing them)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
