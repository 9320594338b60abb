"""Sealed identities behind pseudonyms, and the audit trail of every authorized re-identification."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import psycopg

from ..domain.crypto import Keyring
from ..domain.errors import DataVaultError, InvalidToken

SCHEMA_SQL = """
CREATE SCHEMA IF NOT EXISTS datavault;
CREATE TABLE IF NOT EXISTS datavault.identities (
    domain            text        NOT NULL,
    pseudonym         text        NOT NULL,
    subject_pseudonym text        NOT NULL,
    key_id            text        NOT NULL,
    envelope          bytea       NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (domain, pseudonym)
);
CREATE INDEX IF NOT EXISTS identities_subject_idx ON datavault.identities (subject_pseudonym);
CREATE TABLE IF NOT EXISTS datavault.reidentification_audit (
    id                  bigserial   PRIMARY KEY,
    at                  timestamptz NOT NULL DEFAULT now(),
    actor               text        NOT NULL,
    role                text        NOT NULL,
    reason              text        NOT NULL,
    text_sha256         text        NOT NULL,
    pseudonyms_seen     integer     NOT NULL,
    pseudonyms_revealed integer     NOT NULL,
    allowed             boolean     NOT NULL
);
"""

_PERSON = re.compile(r"\bP-[a-z2-7]{10}\b")


class ReidentificationDenied(DataVaultError):
    """Re-identification was asked for without an authorized role (the attempt is audited)."""


@dataclass(frozen=True)
class Identity:
    """A person behind a pseudonym, as written at ingestion."""

    domain: str
    pseudonym: str
    subject_pseudonym: str
    name: str


def _aad_domain(domain: str) -> str:
    return f"identity:{domain}"


class Identities:
    """The sealed pseudonym -> name map (only opened for audited, authorized re-identification)."""

    def __init__(self, url: str) -> None:
        self.conn = psycopg.connect(url, autocommit=True)

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def ensure_schema(self) -> None:
        """Create the tables if absent."""
        with self.conn.transaction():
            self.conn.execute("SELECT pg_advisory_xact_lock(hashtext('datavault.identities'))")
            self.conn.execute(SCHEMA_SQL)

    def remember(self, identities: Iterable[Identity], keyring: Keyring) -> int:
        """Seal and store identities not yet known; returns how many were new."""
        new = 0
        with self.conn.transaction(), self.conn.cursor() as cur:
            for ident in identities:
                envelope = keyring.seal(json.dumps({"name": ident.name}).encode(), domain=_aad_domain(ident.domain),
                                        record_id=ident.pseudonym)
                cur.execute(
                    """INSERT INTO datavault.identities (domain, pseudonym, subject_pseudonym, key_id, envelope)
                       VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1""",
                    (ident.domain, ident.pseudonym, ident.subject_pseudonym, keyring.primary, envelope),
                )
                new += cur.fetchone() is not None
        return new

    def reidentify(self, text: str, keyring: Keyring, *, actor: str, role: str, reason: str,
                   allowed_roles: Iterable[str]) -> str:
        """Replace pseudonyms in text by 'Name (P-…)' for an allowed role; every attempt is audited."""
        seen = sorted(set(_PERSON.findall(text)))
        allowed = role in set(allowed_roles) and bool(reason.strip())
        names: dict[str, str] = {}
        if allowed and seen:
            rows = self.conn.execute(
                "SELECT domain, pseudonym, envelope FROM datavault.identities WHERE pseudonym = ANY(%s)", (seen,)
            ).fetchall()
            for domain, pseudonym, envelope in rows:
                try:
                    names[pseudonym] = json.loads(
                        keyring.open(bytes(envelope), domain=_aad_domain(domain), record_id=pseudonym)
                    )["name"]
                except InvalidToken:
                    continue  # a key that was destroyed (erasure) or retired
        self.conn.execute(
            """INSERT INTO datavault.reidentification_audit
               (actor, role, reason, text_sha256, pseudonyms_seen, pseudonyms_revealed, allowed)
               VALUES (%s, %s, %s, %s, %s, %s, %s)""",
            (actor, role, reason, hashlib.sha256(text.encode()).hexdigest(), len(seen), len(names), allowed),
        )
        if not allowed:
            raise ReidentificationDenied(
                f"role {role!r} may not re-identify (allowed: {', '.join(sorted(set(allowed_roles)))}); "
                "a reason is required; the attempt was audited"
            )
        return _PERSON.sub(lambda m: f"{names[m.group(0)]} ({m.group(0)})" if m.group(0) in names else m.group(0),
                           text)

    def subjects_of(self, pseudonyms: Iterable[str]) -> list[tuple[str, str]]:
        """(domain, subject pseudonym) of the records whose subject carries these person pseudonyms."""
        wanted = sorted(set(pseudonyms))
        if not wanted:
            return []
        return self.conn.execute(
            """SELECT DISTINCT domain, subject_pseudonym FROM datavault.identities WHERE pseudonym = ANY(%s)
               ORDER BY domain, subject_pseudonym""", (wanted,)
        ).fetchall()

    def audit_rows(self) -> list[tuple]:
        """The audit trail, oldest first (no names, no text: a hash of what was re-identified)."""
        return self.conn.execute(
            """SELECT actor, role, reason, text_sha256, pseudonyms_seen, pseudonyms_revealed, allowed
               FROM datavault.reidentification_audit ORDER BY id"""
        ).fetchall()

    def key_usage(self, key_id: str) -> int:
        """Identities sealed under master key `key_id`."""
        cur = self.conn.execute("SELECT count(*) FROM datavault.identities WHERE key_id = %s", (key_id,))
        return int(cur.fetchone()[0])  # type: ignore[index]

    def reseal(self, keyring: Keyring, batch: int = 1000) -> int:
        """Re-seal every identity not under the primary master key (key rotation); returns how many."""
        done = 0
        while True:
            rows = self.conn.execute(
                """SELECT domain, pseudonym, key_id, envelope FROM datavault.identities WHERE key_id <> %s
                   ORDER BY domain, pseudonym LIMIT %s""", (keyring.primary, batch),
            ).fetchall()
            moved = 0
            with self.conn.transaction(), self.conn.cursor() as cur:
                for domain, pseudonym, key_id, envelope in rows:
                    sealed = keyring.rotate(bytes(envelope), domain=_aad_domain(domain), record_id=pseudonym)
                    cur.execute(
                        """UPDATE datavault.identities SET key_id = %s, envelope = %s
                           WHERE domain = %s AND pseudonym = %s AND key_id = %s""",
                        (keyring.primary, sealed, domain, pseudonym, key_id),
                    )
                    moved += cur.rowcount
            done += moved
            if len(rows) < batch or not moved:
                return done

    def count_subject(self, subject_pseudonym: str) -> int:
        """Identities bound to one subject."""
        return self.count_subjects([subject_pseudonym])[subject_pseudonym]

    def count_subjects(self, subject_pseudonyms: Sequence[str]) -> dict[str, int]:
        """Identities bound to each of the given subjects."""
        found = dict(self.conn.execute(
            """SELECT subject_pseudonym, count(*) FROM datavault.identities WHERE subject_pseudonym = ANY(%s)
               GROUP BY 1""", (list(subject_pseudonyms),)).fetchall())
        return {s: int(found.get(s, 0)) for s in subject_pseudonyms}

    def forget_subject(self, subject_pseudonym: str) -> int:
        """Delete the identities of one subject (right to erasure); returns rows removed."""
        return self.forget_subjects([subject_pseudonym])[subject_pseudonym]

    def forget_subjects(self, subject_pseudonyms: Sequence[str]) -> dict[str, int]:
        """Delete the identities of several subjects in one statement; returns rows removed per subject."""
        cur = self.conn.execute("DELETE FROM datavault.identities WHERE subject_pseudonym = ANY(%s) "
                                "RETURNING subject_pseudonym", (list(subject_pseudonyms),))
        removed = Counter(row[0] for row in cur.fetchall())
        return {s: removed.get(s, 0) for s in subject_pseudonyms}
