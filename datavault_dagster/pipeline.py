"""The pipeline's steps as plain functions over the services: used by Dagster assets, the CLI and tests."""

from __future__ import annotations

import base64
import json
import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .domain.anonymize import AnonymizedRecord, Anonymizer, KnownPII, find_leaks, guard
from .domain.batches import StreamRange
from .domain.crypto import Keyring
from .domain.detect import OtherPeople
from .domain.embed import Embedder, chunk_text, embedding_id, record_text
from .domain.errors import InvalidRecord, InvalidToken, LeakDetected
from .domain.quasi import KReport, enforce_k, present_fields, quasi_identifiers
from .domain.rag import Answer, Source, build_messages, cited_sources, rank_records, subject_tokens
from .domain.records import RawRecord, parse_entry
from .services.identities import Identities, Identity
from .services.streams import Entry, Streams
from .services.vault import DeadLetter, UpsertCounts, Vault, VaultRow
from .services.vectors import VectorRow, VectorStore

log = logging.getLogger(__name__)

NO_CONTEXT_ANSWER = "I don't know: no records in the vault match the question (nothing has been indexed yet?)."


@dataclass(frozen=True)
class Rejected:
    """Why one entry went to the dead letters (ids, field and code only)."""

    stream_id: str
    record_id: str
    field: str
    code: str


@dataclass
class SealReport:
    """What sealing one partition did."""

    partition_key: str
    entries_read: int = 0
    sealed: int = 0
    counts: UpsertCounts = field(default_factory=lambda: UpsertCounts(0, 0, 0))
    rejected: list[Rejected] = field(default_factory=list)
    new_dead_letters: int = 0
    skipped_erased: int = 0  # entries of subjects erased after they were written (never sealed again)
    key_id: str = ""
    k: KReport = field(default_factory=lambda: KReport(0, 0, 0, 0))
    seconds: float = 0.0


@dataclass
class EmbedReport:
    """What embedding one partition did."""

    partition_key: str
    records: int = 0
    chunks: int = 0
    blocked: list[str] = field(default_factory=list)  # record ids held back by the leak guard
    unreadable: list[str] = field(default_factory=list)  # record ids whose envelope did not open
    seconds: float = 0.0


def _dead_letter_payload(entry: Entry) -> bytes:
    return json.dumps(entry.fields, sort_keys=True).encode()


def anonymize_entry(entry: Entry, domain: str, keyring: Keyring, anonymizer: Anonymizer) -> AnonymizedRecord:
    """Validate, anonymize and leak-check one entry on its own."""
    return anonymize_parsed(parse_entry(domain, entry.stream_id, entry.fields, keyring), anonymizer)


def anonymize_parsed(record: RawRecord, anonymizer: Anonymizer, others: OtherPeople | None = None) -> AnonymizedRecord:
    """Anonymize and leak-check one validated record (`others`: the rest of its batch, see `other_people`)."""
    try:
        anon = anonymizer.anonymize_record(record, others)
    except (LookupError, ValueError, TypeError, ArithmeticError) as exc:
        # ArithmeticError: e.g. a sentinel date (9999-12-31) the subject's date shift pushes past the calendar.
        # `from None`: the original error can quote the value ("Invalid isoformat string: '1961-19-07'"), and a
        # chained cause would carry it into tracebacks and Dagster's serialized error info.
        raise InvalidRecord(record.record_id, "<record>", "cannot_anonymize", type(exc).__name__) from None
    body = anon.to_json()
    try:
        guard(body.decode(), anon.known.all_raw(), f"vault write of record {record.record_id!r}")
    except LeakDetected as exc:
        raise InvalidRecord(record.record_id, "<anonymized>", "pii_leak_blocked", ",".join(exc.kinds)) from exc
    return anon


def seal_partition(
    rng: StreamRange,
    streams: Streams,
    vault: Vault,
    keyring: Keyring,
    anonymizer: Anonymizer,
    min_k: int = 1,
    identities: Identities | None = None,
) -> SealReport:
    """Read a stream range, anonymize (k-anonymous within the batch) and seal each record under its subject's key;
    bad ones become dead letters. Subject keys are created on first use (race-safe with concurrent runs)."""
    started = time.perf_counter()
    report = SealReport(partition_key=rng.partition_key, key_id=keyring.primary)
    letters: list[DeadLetter] = []
    accepted: list[tuple[Entry, AnonymizedRecord]] = []

    def dead_letter(entry: Entry, exc: InvalidRecord) -> None:
        log.warning("dead letter: %s (stream id %s)", exc, entry.stream_id)
        report.rejected.append(Rejected(entry.stream_id, exc.record_id, exc.field, exc.code))
        sealed = keyring.seal(_dead_letter_payload(entry), domain=f"deadletter:{rng.domain}", record_id=entry.stream_id)
        letters.append(DeadLetter(rng.domain, entry.stream_id, exc.record_id, rng.partition_key, exc.code,
                                  exc.field, keyring.primary, sealed))

    parsed: list[tuple[Entry, RawRecord]] = []
    for entry in streams.read_range(rng):
        report.entries_read += 1
        try:
            parsed.append((entry, parse_entry(rng.domain, entry.stream_id, entry.fields, keyring)))
        except InvalidRecord as exc:
            dead_letter(entry, exc)
    # everyone in the batch, so that a note naming another patient or customer pseudonymizes them too
    others = anonymizer.other_people(record for _, record in parsed)
    for entry, record in parsed:
        try:
            accepted.append((entry, anonymize_parsed(record, anonymizer, others)))
        except InvalidRecord as exc:
            dead_letter(entry, exc)
    erased = vault.erased_entries([(anon.subject_pseudonym, entry.stream_id) for entry, anon in accepted])
    if erased:
        log.info("partition %s: %d entries of erased subjects skipped", rng.partition_key, len(erased))
        accepted = [(entry, anon) for entry, anon in accepted if entry.stream_id not in erased]
    qis = [quasi_identifiers(a.document) for _, a in accepted]
    report.k = enforce_k(qis, present_fields(qis), min_k)
    subject_keys = vault.subject_keys(rng.domain, (a.subject_pseudonym for _, a in accepted),
                                      create=keyring.new_subject_key)
    rows: list[VaultRow] = []
    for entry, anon in accepted:
        key = subject_keys[anon.subject_pseudonym]
        envelope = keyring.seal(anon.to_json(), domain=rng.domain, record_id=anon.record_id, subject_key=key)
        rows.append(VaultRow(rng.domain, anon.record_id, entry.stream_id, rng.partition_key, anon.subject_pseudonym,
                             key.key_id, envelope))
    report.counts = vault.upsert_records(rows)
    report.sealed = len(rows) - report.counts.skipped_erased
    report.skipped_erased = len(erased) + report.counts.skipped_erased
    if report.counts.skipped_erased:  # an erasure started meanwhile: remember no identity of its subject
        late = vault.erased_entries([(anon.subject_pseudonym, entry.stream_id) for entry, anon in accepted])
        accepted = [(entry, anon) for entry, anon in accepted if entry.stream_id not in late]
    if identities is not None:  # sealed pseudonym -> name map, only for audited re-identification
        identities.remember(
            (Identity(rng.domain, quasi_identifiers(a.document)["pseudonym"], a.subject_pseudonym, a.known.names[0])
             for _, a in accepted if a.known.names),
            keyring,
        )
    new_letters = vault.add_dead_letters(letters)
    for d in new_letters:
        streams.dead_letter(d.domain, {
            "stream_id": d.stream_id, "record_id": d.record_id, "reason_code": d.reason_code, "field": d.field,
            "key_id": d.key_id, "sealed": base64.b64encode(d.sealed_payload).decode(),
        })
    report.new_dead_letters = len(new_letters)
    report.seconds = time.perf_counter() - started
    return report


def open_record(row: VaultRow, keyring: Keyring) -> dict:
    """Decrypt a vault row to its anonymized document (`InvalidToken` once its subject key is shredded)."""
    return json.loads(keyring.open(row.envelope, domain=row.domain, record_id=row.record_id,
                                   subject_key=row.subject_key))


def known_values_matcher(values: Sequence[str]) -> re.Pattern[str] | None:
    """One case-insensitive whole-word matcher for many raw identifiers (compiled once per partition)."""
    words = sorted({v.lower() for v in values if len(v) >= 4}, key=len, reverse=True)
    if not words:
        return None
    return re.compile("(?<![a-z0-9])(?:" + "|".join(map(re.escape, words)) + ")(?![a-z0-9])")


def embed_partition(
    partition_key: str,
    vault: Vault,
    keyring: Keyring,
    embedder: Embedder,
    vectors: VectorStore,
    raw_identifiers: Sequence[str] = (),
) -> EmbedReport:
    """Open a partition's records, embed their text chunks and merge them into LanceDB."""
    started = time.perf_counter()
    report = EmbedReport(partition_key=partition_key)
    rows = embed_records(vault.partition_records(partition_key), keyring, embedder, report, raw_identifiers)
    vectors.upsert(rows)
    vectors.delete_stale(partition_key, [r.id for r in rows])
    report.seconds = time.perf_counter() - started
    return report


def embed_records(
    rows: Sequence[VaultRow],
    keyring: Keyring,
    embedder: Embedder,
    report: EmbedReport,
    raw_identifiers: Sequence[str] = (),
) -> list[VectorRow]:
    """Open vault records and embed their text chunks; the vector rows to write (the caller writes them).

    Fail-closed leak guard: a text that still matches a PII pattern or any raw identifier of the input is held
    back (its record id and the kinds are reported, never the value); so is a record that does not open.
    """
    known = known_values_matcher(raw_identifiers)
    texts: list[str] = []
    meta: list[tuple[str, str, str, int]] = []
    for row in rows:
        try:
            doc = open_record(row, keyring)
        except InvalidToken:
            log.error("record %r of partition %s does not decrypt; not embedded", row.record_id, row.partition_key)
            report.unreadable.append(row.record_id)
            continue
        text = record_text(doc)
        kinds = find_leaks(text, [])
        if known is not None and known.search(text.lower()):
            kinds.append("known_identifier")
        if kinds:
            log.error("leak guard held back record %r (kinds: %s)", row.record_id, ",".join(kinds))
            report.blocked.append(row.record_id)
            continue
        report.records += 1
        for n, chunk in enumerate(chunk_text(text)):
            texts.append(chunk)
            meta.append((row.domain, row.record_id, row.partition_key, n))
    vecs = embedder.embed(texts)
    out = [
        VectorRow(embedding_id(d, rid, n, embedder.name), rid, d, pk, n, vecs[i], embedder.name)
        for i, (d, rid, pk, n) in enumerate(meta)
    ]
    report.chunks += len(out)
    return out


def known_pii_of_range(rng: StreamRange, streams: Streams, keyring: Keyring, anonymizer: Anonymizer) -> list[str]:
    """Raw identifiers of every valid record still in a range (for the privacy checks)."""
    values: set[str] = set()
    for entry in streams.read_range(rng):
        try:
            record = parse_entry(rng.domain, entry.stream_id, entry.fields, keyring)
        except InvalidRecord:
            continue
        values.update(anonymizer.known_pii(record).identifiers())
    return sorted(values)


def find_known_values(texts: Sequence[str], values: Sequence[str]) -> int:
    """How many texts contain any of the values (case-insensitive); never says which."""
    lowered = [v.lower() for v in values if len(v) >= 4]
    return sum(1 for t in texts if any(v in t.lower() for v in lowered))


def answer_question(
    question: str,
    *,
    anonymizer: Anonymizer,
    embedder: Embedder,
    vectors: VectorStore,
    vault: Vault,
    keyring: Keyring,
    complete: Callable[[list[dict[str, str]]], str],
    model: str,
    k: int = 4,
    identities: Identities | None = None,
) -> Answer:
    """Anonymize the question, retrieve top-k records, open them from the vault and ask the LLM.

    A person named in the question becomes the pseudonym their records carry; those records are retrieved
    first (through the sealed identity map's pseudonym -> subject link), then the nearest vectors.
    """
    anon_q = guard(anonymizer.anonymize_text(question, KnownPII()), [], "question")
    named: list[tuple[str, str]] = []
    people = subject_tokens(anon_q)
    if identities is not None and people:
        named = vault.subject_record_keys(identities.subjects_of(people), limit=k)
    hits = rank_records(vectors.search(embedder.embed([anon_q])[0], limit=k * 4), k) if vectors.count() else []
    keys = list(dict.fromkeys(named + [(h.domain, h.record_id) for h in hits]))[:k]
    rows = vault.get_records(keys)
    sources: list[Source] = []
    for domain, record_id in keys:
        row = rows.get((domain, record_id))
        if row is None:  # erased since it was indexed
            continue
        try:
            doc = open_record(row, keyring)
        except InvalidToken:
            continue
        sources.append(Source(len(sources) + 1, domain, record_id, record_text(doc)))
    if not sources:
        return Answer(question=anon_q, text=NO_CONTEXT_ANSWER, citations=[], sources=[], model=model)
    messages = build_messages(anon_q, sources)
    for m in messages:
        guard(m["content"], [], "LLM prompt")
    text = complete(messages).strip()
    return Answer(question=anon_q, text=text, citations=cited_sources(text, sources), sources=sources, model=model)


def count_by(items: Sequence[Rejected]) -> dict[str, int]:
    """Dead letters per reason code."""
    return dict(Counter(r.code for r in items))
