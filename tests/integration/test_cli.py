"""The `datavault` command as a user runs it, against the real test servers."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import redis

from simulations import generate_records, pii_values

ROOT = Path(__file__).resolve().parents[2]
DATAVAULT = str(Path(sys.executable).parent / "datavault")


def _run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DATAVAULT, *args], cwd=ROOT, env=dict(os.environ), input=stdin, capture_output=True,
                          text=True, timeout=600)


def test_anonymize_text_and_jsonl_lines(dv_env):
    text = ("Call Dr. Jane Doe at (555) 123-4567 or jane.doe@example.com\n"
            "SSN 123-45-6789, card 4111 1111 1111 1111, seen 2024-03-05\n"
            "nothing personal here\n")
    result = _run("anonymize", stdin=text)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("Call Dr. P-") and "[PHONE]" in lines[0] and "[EMAIL]" in lines[0]
    assert lines[1] == "SSN [SSN], card [CARD], seen [DATE]"  # plain text has no subject to shift its dates by
    assert lines[2] == "nothing personal here"
    assert "Jane" not in result.stdout and "555" not in result.stdout

    good, bad = generate_records("healthcare", 2, seed=5)
    bad = json.loads(json.dumps(bad))
    bad["patient"]["ssn"] = "999-999-999"
    result = _run("anonymize", "--jsonl", stdin=json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    assert result.returncode == 1  # one line was rejected
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert first["record_id"] == good["record_id"] and first["patient"]["pseudonym"].startswith("P-")
    assert second == {"error": "invalid_pattern", "field": "patient.ssn", "record_id": bad["record_id"], "line": 2}
    assert "999-999-999" not in result.stderr and "patient.ssn" in result.stderr
    leaked = [v for v in pii_values(good, "healthcare") if len(v) >= 4 and v.lower() in result.stdout.lower()]
    assert leaked == []


def test_anonymize_explain_names_type_recognizer_score_and_cue_but_not_the_value(dv_env):
    text = "My driver's license number is D1234-56789, call me on 95 87 33 33; Frau Kaya, aged 82\n"
    result = _run("-v", "anonymize", "--explain", stdin=text)  # INFO logs on stderr: they must not carry values
    assert result.returncode == 0, result.stderr
    first, *explained = result.stdout.splitlines()
    assert first == "My driver's license number is [ID], call me on [PHONE]; Frau " + first.split("Frau ")[1]
    rows = {line.split()[1]: line for line in explained}
    assert set(rows) >= {"ID", "PHONE", "PERSON", "AGE"}
    assert "pattern:id:after-cue" in rows["ID"] and "cue=\"driver's license number is\"" in rows["ID"]
    assert "cue='call'" in rows["PHONE"] and "score=" in rows["PHONE"] and "[30:41]" in rows["ID"]
    for value in ("D1234", "56789", "95 87", "Kaya", "82"):
        assert all(value not in line for line in explained), value  # the explanation never repeats a value
        # nor does any log line (as a whole value: "82" may sit inside a timestamp's milliseconds)
        assert not re.search(rf"(?<![\w,.:]){re.escape(value)}(?![\w])", result.stderr), value


def test_sealed_producer_leaves_no_plaintext_in_redis_and_is_processed(dv_env):
    result = _run("produce", "--domain", "finance", "--count", "12", "--seed", "6", "--sealed")
    assert result.returncode == 0, result.stderr
    client = redis.Redis.from_url(os.environ["DATAVAULT_REDIS_URL"])
    entries = client.xrange("datavault:raw:finance")
    assert len(entries) == 12
    raw = b" ".join(k + b"=" + v for _, fields in entries for k, v in fields.items()).lower()
    assert all(b"sealed" in fields and b"payload" not in fields for _, fields in entries)
    records = generate_records("finance", 12, seed=6)
    # long identifiers only: any 4-letter first name occurs by chance in that much base64
    assert not [v for r in records for v in pii_values(r, "finance") if len(v) >= 9 and v.lower().encode() in raw]

    result = _run("process")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "1 succeeded, 0 failed" in result.stdout
    status = json.loads(_run("status").stdout)
    assert status["domains"]["finance"]["vault_records"] == 12
    assert status["domains"]["finance"]["raw_stream_entries"] == 0
    assert status["vectors"] >= 12 and status["records_per_key_id"] == {"k1": 12}
