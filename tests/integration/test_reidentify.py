"""Authorized re-identification: sealed identities, role + reason required, every attempt audited."""

from __future__ import annotations

import psycopg
import pytest

from datavault_dagster import orchestrate, runtime
from datavault_dagster.cli import produce, reidentify
from datavault_dagster.services.identities import Identities, ReidentificationDenied
from datavault_dagster.services.settings import Settings
from simulations import generate_records


def test_reidentification_needs_an_allowed_role_and_a_reason_and_is_audited(dv_env, monkeypatch):
    monkeypatch.setenv("DATAVAULT_REIDENTIFY_ROLES", "privacy-officer,dpo")
    settings = Settings.from_env()
    produce(settings, "healthcare", 12, seed=21, progress=False)
    outcomes = orchestrate.process(settings.home, progress=False)
    assert outcomes and all(o.success for o in outcomes)

    record = generate_records("healthcare", 12, seed=21)[0]
    name = f"{record['patient']['first_name']} {record['patient']['last_name']}"
    anonymizer = runtime.anonymizer_for(runtime.keyring_for(settings))
    pseudonym = anonymizer.pseudonyms.person(name)
    answer = f"{pseudonym} was prescribed metformin; P-aaaaaaaaaa is unknown."

    with pytest.raises(ReidentificationDenied) as denied:
        reidentify(settings, answer, role="analyst", reason="curious")
    assert name not in str(denied.value) and "audited" in str(denied.value)
    with pytest.raises(ReidentificationDenied):
        reidentify(settings, answer, role="dpo", reason="  ")  # a reason is required

    revealed = reidentify(settings, answer, role="privacy-officer", reason="subject access request #12")
    assert revealed == f"{name} ({pseudonym}) was prescribed metformin; P-aaaaaaaaaa is unknown."

    identities = Identities(settings.postgres_url)
    audit = identities.audit_rows()
    assert [(r[1], r[4], r[5], r[6]) for r in audit] == [
        ("analyst", 2, 0, False), ("dpo", 2, 0, False), ("privacy-officer", 2, 1, True),
    ]
    # neither the audit trail nor the identity map holds a name in plaintext
    with psycopg.connect(settings.postgres_url) as conn:
        cells = [str(c) for t in ("identities", "reidentification_audit")
                 for row in conn.execute(f"SELECT * FROM datavault.{t}").fetchall() for c in row]
    assert cells and not [c for c in cells if record["patient"]["last_name"] in c]
    # one identity per person, keyed by pseudonym, bound to the record's subject
    count = identities.conn.execute("SELECT count(*) FROM datavault.identities").fetchone()[0]
    people = {(r["patient"]["first_name"], r["patient"]["last_name"]) for r in generate_records("healthcare", 12,
                                                                                                 seed=21)}
    assert count == len(people)
    identities.close()
