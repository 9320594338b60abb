"""The pipeline's steps as plain functions over the services: used by Dagster assets, the CLI and tests."""

from __future__ import annotations

import base64
import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from .domain.anonymize import AnonymizedRecord, Anonymizer, KnownPII, guard
from .domain.batches import StreamRange
from .domain.crypto import Keyring
from .domain.detect import OtherPeople
from .domain.drift import DetectionStats
from .domain.embed import Embedder, chunk_text, embedding_id, record_text
from .domain.errors import InvalidRecord, InvalidToken
from .domain.leaks import (
    BATCH_MIN_LEN,
    OWN_MIN_LEN,
    IdentifierMatcher,
    describe,
    record_id_leaks,
    record_leaks,
    text_leaks,
)
from .domain.quasi import KReport, enforce_k, present_fields, quasi_identifiers
from .domain.rag import Answer, Source, build_messages, cited_sources, rank_records, subject_tokens
from .domain.records import RawRecord, parse_entry, stream_marker
from .forkmap import fork_map
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
    detections: DetectionStats = field(default_factory=DetectionStats)  # counts per entity type, never a value
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


def dead_letter_payload(entry: Entry) -> bytes:
    # ASCII JSON: bytes that were not UTF-8 stay as \\udcxx escapes, so `dead_letter_fields` gives them back exactly
    return json.dumps(entry.fields, sort_keys=True).encode()


def dead_letter_fields(sealed_payload: bytes, domain: str, stream_id: str, keyring: Keyring) -> dict[str, str]:
    """The raw stream entry a dead letter holds (opened with the master key it was sealed under)."""
    fields = json.loads(keyring.open(sealed_payload, domain=f"deadletter:{domain}", record_id=stream_id))
    return {str(k): str(v) for k, v in fields.items()}


# what a record's own data can make the anonymizer raise: bad dates, missing keys, types the schema let through
_FORESEEN = (LookupError, ValueError, TypeError, ArithmeticError)


def _internal(record_id: str, exc: BaseException) -> InvalidRecord:
    """An unforeseen failure of one record: its type only (`from None` by the caller: messages quote values)."""
    return InvalidRecord(record_id, "<record>", "internal_error", type(exc).__name__)


@dataclass(frozen=True)
class LeakContext:
    """The identifiers a range's anonymized records are checked against, before sealing and in the checks alike:
    every valid record's whole identifiers (`batch`) and each record's own, single name parts included."""

    batch: IdentifierMatcher
    own: dict[tuple[str, str], list[str]]

    def own_matcher(self, domain: str, record_id: str) -> IdentifierMatcher | None:
        values = self.own.get((domain, record_id))
        return IdentifierMatcher(values, OWN_MIN_LEN) if values else None


def leak_context(records: Iterable[RawRecord], anonymizer: Anonymizer) -> LeakContext:
    """The leak guard's identifier lists for a batch of valid records (the newest entry of a record id wins)."""
    batch: set[str] = set()
    own: dict[tuple[str, str], list[str]] = {}
    for record in records:
        try:
            known = anonymizer.known_pii(record)
        except Exception:  # noqa: BLE001 - its own anonymization dead-letters it
            continue
        batch.update(known.identifiers())
        own[(record.domain, record.record_id)] = known.all_raw()
    return LeakContext(IdentifierMatcher(batch, BATCH_MIN_LEN), own)


def parse_range(rng: StreamRange, streams: Streams,
                keyring: Keyring) -> tuple[list[tuple[Entry, RawRecord]], list[tuple[Entry, InvalidRecord]]]:
    """Every entry of a range, parsed: the valid records, and the rejected entries with why (any exception of
    one entry is that entry's problem, never the partition's)."""
    parsed: list[tuple[Entry, RawRecord]] = []
    rejected: list[tuple[Entry, InvalidRecord]] = []
    for entry in streams.read_range(rng):
        try:
            parsed.append((entry, parse_entry(rng.domain, entry.stream_id, entry.fields, keyring)))
        except InvalidRecord as exc:
            rejected.append((entry, exc))
        except Exception as exc:  # noqa: BLE001 - isolate the entry; its type is all we keep
            rejected.append((entry, _internal(stream_marker(entry.stream_id), exc)))
    return parsed, rejected


def anonymize_entry(entry: Entry, domain: str, keyring: Keyring, anonymizer: Anonymizer) -> AnonymizedRecord:
    """Validate, anonymize and leak-check one entry on its own."""
    return anonymize_parsed(parse_entry(domain, entry.stream_id, entry.fields, keyring), anonymizer)


def anonymize_parsed(record: RawRecord, anonymizer: Anonymizer, others: OtherPeople | None = None,
                     context: LeakContext | None = None) -> AnonymizedRecord:
    """Anonymize and leak-check one validated record (`others`: the rest of its batch, see `other_people`;
    `context`: the batch's identifiers, see `leak_context`). A record the guard stops is never sealed."""
    marker = stream_marker(record.stream_id)
    batch = context.batch if context is not None else None
    try:
        own = IdentifierMatcher(anonymizer.known_pii(record).all_raw(), OWN_MIN_LEN)
    except _FORESEEN as exc:
        raise InvalidRecord(marker, "<record>", "cannot_anonymize", type(exc).__name__) from None
    if record_id_leaks(record.record_id, own, batch):  # e.g. the subject's own name or someone's customer id
        raise InvalidRecord(marker, "record_id", "looks_like_pii")
    try:
        anon = anonymizer.anonymize_record(record, others)
    except _FORESEEN as exc:
        # ArithmeticError: e.g. a sentinel date (9999-12-31) the subject's date shift pushes past the calendar.
        # `from None`: the original error can quote the value ("Invalid isoformat string: '1961-19-07'"), and a
        # chained cause would carry it into tracebacks and Dagster's serialized error info.
        raise InvalidRecord(record.record_id, "<record>", "cannot_anonymize", type(exc).__name__) from None
    leaks = record_leaks(record.record_id, anon.document, own, batch)
    if leaks:
        raise InvalidRecord(record.record_id, leaks[0].field, "pii_leak_blocked", describe(leaks))
    return anon


def seal_partition(
    rng: StreamRange,
    streams: Streams,
    vault: Vault,
    keyring: Keyring,
    anonymizer: Anonymizer,
    min_k: int = 1,
    identities: Identities | None = None,
    workers: int = 1,
) -> SealReport:
    """Read a stream range, anonymize (k-anonymous within the batch) and seal each record under its subject's key;
    bad ones become dead letters. Subject keys are created on first use (race-safe with concurrent runs).

    Per-record isolation: whatever goes wrong with one entry (parsing, validation, anonymization, the leak guard,
    an unforeseen exception) makes it a dead letter and the rest of the partition lands; only infrastructure
    errors (Redis, PostgreSQL) fail the partition, and its run is retried. `workers` > 1 anonymizes in that many
    processes (see `forkmap`); the result is the same, in the same order.
    """
    started = time.perf_counter()
    report = SealReport(partition_key=rng.partition_key, key_id=keyring.primary)
    letters: list[DeadLetter] = []
    accepted: list[tuple[Entry, AnonymizedRecord]] = []
    parsed, rejected = parse_range(rng, streams, keyring)
    report.entries_read = len(parsed) + len(rejected)
    context = leak_context((record for _, record in parsed), anonymizer)
    # an entry already dead-lettered (by an earlier run, or quarantined by an operator) is never sealed on a re-run
    settled = vault.dead_letter_stream_ids(rng.domain, [entry.stream_id for entry, _ in parsed])
    if settled:
        parsed = [(entry, record) for entry, record in parsed if entry.stream_id not in settled]

    def dead_letter(entry: Entry, exc: InvalidRecord) -> None:
        if exc.record_id != stream_marker(entry.stream_id) and context.batch.search(exc.record_id):
            exc = InvalidRecord(stream_marker(entry.stream_id), exc.field, exc.code, exc.detail)  # an id that is PII
        log.warning("dead letter: %s (stream id %s)", exc, entry.stream_id)
        report.rejected.append(Rejected(entry.stream_id, exc.record_id, exc.field, exc.code))
        sealed = keyring.seal(dead_letter_payload(entry), domain=f"deadletter:{rng.domain}", record_id=entry.stream_id)
        letters.append(DeadLetter(rng.domain, entry.stream_id, exc.record_id, rng.partition_key, exc.code,
                                  exc.field, keyring.primary, sealed))

    for entry, exc in rejected:
        dead_letter(entry, exc)
    # everyone in the batch, so that a note naming another patient or customer pseudonymizes them too
    others = anonymizer.other_people(record for _, record in parsed)

    def anonymize_one(record: RawRecord) -> tuple[AnonymizedRecord, dict[str, str]] | InvalidRecord:
        try:
            anon = anonymize_parsed(record, anonymizer, others, context)
            anon.known.others = None  # the batch's values: already here, not worth a trip through a pipe
            return anon, quasi_identifiers(anon.document)
        except InvalidRecord as exc:
            return exc
        except Exception as exc:  # noqa: BLE001 - one record's problem; its type is all we keep
            return _internal(record.record_id, exc)

    qis: list[dict[str, str]] = []
    with anonymizer.primed(record for _, record in parsed):
        results = fork_map(anonymize_one, [record for _, record in parsed], workers)
    for (entry, _), result in zip(parsed, results, strict=True):
        if isinstance(result, InvalidRecord):
            dead_letter(entry, result)
            continue
        accepted.append((entry, result[0]))
        qis.append(result[1])
    erased = vault.erased_entries([(anon.subject_pseudonym, entry.stream_id) for entry, anon in accepted])
    if erased:
        log.info("partition %s: %d entries of erased subjects skipped", rng.partition_key, len(erased))
        keep = [i for i, (entry, _) in enumerate(accepted) if entry.stream_id not in erased]
        accepted, qis = [accepted[i] for i in keep], [qis[i] for i in keep]
    report.k = enforce_k(qis, present_fields(qis), min_k)
    for _, anon in accepted:
        report.detections.add(anon.scan)
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
    vault.put_detection_stats(rng, report.detections)
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
    known = IdentifierMatcher(raw_identifiers, BATCH_MIN_LEN)
    texts: list[str] = []
    meta: list[tuple[str, str, str, int]] = []
    for row in rows:
        try:
            doc = open_record(row, keyring)
        except InvalidToken:
            log.error("record %r of partition %s does not decrypt; not embedded", row.record_id, row.partition_key)
            report.unreadable.append(row.record_id)
            continue
        try:
            text = record_text(doc)
        except Exception as exc:  # noqa: BLE001 - one record's problem, never the partition's
            log.error("record %r of partition %s has no text to embed (%s)", row.record_id, row.partition_key,
                      type(exc).__name__)
            report.unreadable.append(row.record_id)
            continue
        kinds = [leak.kind for leak in text_leaks("text", text, None, known)]
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
    """Whole raw identifiers of every valid record still in a range (the guard in front of the vector store)."""
    parsed, _ = parse_range(rng, streams, keyring)
    return leak_context((record for _, record in parsed), anonymizer).batch.values


@dataclass
class LeakScan:
    """What the vault holds of a partition, scanned with the leak guard's own matching (`record_leaks`)."""

    raw_identifiers: int = 0
    rows: int = 0
    dead_letters: int = 0
    unreadable: int = 0
    # (record id, or `<stream ID>` when the record id column itself is the finding; field; kind): never a value
    findings: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def records(self) -> list[str]:
        """The records (or stream markers) with findings, in order."""
        return list(dict.fromkeys(r for r, _, _ in self.findings))


def scan_partition(rng: StreamRange, streams: Streams, vault: Vault, keyring: Keyring,
                   anonymizer: Anonymizer) -> LeakScan:
    """The blocking vault check's scan: every vault row and dead letter of a partition against the identifiers of
    its range, exactly as the guard before sealing compared them (same lists, same matcher)."""
    parsed, _ = parse_range(rng, streams, keyring)
    context = leak_context((record for _, record in parsed), anonymizer)
    scan = LeakScan(raw_identifiers=len(context.batch))
    rows = vault.partition_records(rng.partition_key)
    letters = vault.dead_letters(rng.partition_key)
    scan.rows, scan.dead_letters = len(rows), len(letters)
    for row in rows:
        own = context.own_matcher(row.domain, row.record_id)
        if record_id_leaks(row.record_id, own, context.batch):
            scan.findings.append((stream_marker(row.stream_id), "record_id", "looks_like_pii"))
            continue
        for column in ("stream_id", "partition_key", "subject_pseudonym", "key_id"):
            scan.findings += [(row.record_id, column, leak.kind)
                              for leak in text_leaks(column, getattr(row, column), own, context.batch,
                                                     patterns=False)]
        try:
            doc = open_record(row, keyring)
        except InvalidToken:
            scan.unreadable += 1  # `every_blob_decrypts` fails for it
            continue
        scan.findings += [(row.record_id, leak.field, leak.kind) for leak in record_leaks("", doc, own, context.batch)
                          if leak.field != "record_id"]
    for letter in letters:
        for column in ("record_id", "field", "reason_code", "key_id"):
            if text_leaks(column, getattr(letter, column), None, context.batch, patterns=False):
                scan.findings.append((stream_marker(letter.stream_id), f"dead_letters.{column}", "batch_identifier"))
    return scan


def count_known_values(texts: Sequence[str], values: Sequence[str]) -> int:
    """How many texts hold any of the values as a whole value (the leak guard's matching); never says which."""
    matcher = IdentifierMatcher(values, BATCH_MIN_LEN)
    return sum(1 for t in texts if matcher.search(t))


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
