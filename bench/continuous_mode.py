"""Sensor-driven continuous mode under `dagster dev`: prints how long until the UI answers and the runs finish.

    python bench/continuous_mode.py [--count 30] [--port 3334]

Starts `dagster dev` (webserver + daemon) on a fresh data dir with the embedded servers, produces records
with `datavault produce`, waits for the Redis sensor's runs to finish, then prints `datavault status`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=30)
    parser.add_argument("--port", type=int, default=3334)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="dv-continuous-"))
    (home / "dagster").mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster" / "dagster.yaml")
    env = dict(os.environ, DAGSTER_HOME=str(home / "dagster"), DATAVAULT_HOME=str(home), DATAVAULT_BATCH_SIZE="20")
    log = open(home / "dagster-dev.log", "w")
    dev = subprocess.Popen([str(BIN / "dagster"), "dev", "-p", str(args.port), "-h", "127.0.0.1"], cwd=ROOT,
                           env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def gql(query: str) -> dict:
        req = urllib.request.Request(f"http://127.0.0.1:{args.port}/graphql",
                                     data=json.dumps({"query": query}).encode(),
                                     headers={"Content-Type": "application/json"})
        return json.loads(urllib.request.urlopen(req, timeout=10).read())

    try:
        started = time.time()
        for _ in range(120):
            time.sleep(1)
            try:
                gql("{ version }")
                break
            except OSError:
                continue
        print(f"dagster dev UI answered after {time.time() - started:.0f} s")
        subprocess.run([str(BIN / "datavault"), "produce", "--domain", "healthcare", "--count", str(args.count)],
                       cwd=ROOT, env=env, check=True, capture_output=True)
        produced = time.time()
        statuses: list[str] = []
        for _ in range(120):
            time.sleep(5)
            runs = gql("{ runsOrError { ... on Runs { results { status } } } }")["data"]["runsOrError"]["results"]
            statuses = [r["status"] for r in runs]
            if runs and all(s in ("SUCCESS", "FAILURE", "CANCELED") for s in statuses):
                break
        print(f"sensor-launched runs finished {time.time() - produced:.0f} s after produce: {statuses}")
    finally:
        os.killpg(dev.pid, signal.SIGTERM)
        time.sleep(5)
        try:
            os.killpg(dev.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    status = subprocess.run([str(BIN / "datavault"), "status"], cwd=ROOT, env=env, capture_output=True, text=True)
    print(status.stdout)
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
