"""Jobs: one run per stream-range partition (seal + embed), the RAG query job, key rotation and erasure."""

import dagster as dg

from ..domain.anonymize import Pseudonymizer
from ..domain.erasure import check_subject_pseudonyms
from ..erasure import forget_subjects as erase_subjects
from ..pipeline import answer_question
from ..rotation import RewrapReport, rotate_all
from ..services.settings import Settings
from .assets import encrypted_records, record_embeddings
from .partitions import stream_batches
from .resources import (
    EmbedderResource,
    KeyringResource,
    LanceDBResource,
    LLMResource,
    RedisResource,
    VaultResource,
)

ingest_partition = dg.define_asset_job(
    "ingest_partition",
    selection=dg.AssetSelection.assets(encrypted_records, record_embeddings),
    partitions_def=stream_batches,
    description="Seal one stream range into the vault, then embed it into LanceDB (with all asset checks).",
    # One process per run: the steps share the run worker's models and connections. With the multiprocess
    # executor each of the 8 steps started its own process and loaded Dagster, the definitions and its model
    # again (~3-5 min a run on 2 cores, more than the work itself); steps still retry (RetryPolicy), a dead run
    # worker is still re-run (fail_dead_runs + run_retries).
    executor_def=dg.in_process_executor,
)


class AskConfig(dg.Config):
    """A question for the RAG job; `datavault ask --via-dagster` anonymizes it before it reaches run config."""

    question: str
    top_k: int = 4


@dg.op(description="Anonymize the question, retrieve top-k records, open them from the vault and ask the LLM.")
def answer(
    context: dg.OpExecutionContext,
    config: AskConfig,
    keys: KeyringResource,
    vault: VaultResource,
    lancedb: LanceDBResource,
    embedder: EmbedderResource,
    llm: LLMResource,
) -> dg.Output[dict]:
    """Answer with citations (pseudonymous records only ever reach the LLM)."""
    result = answer_question(
        config.question,
        anonymizer=keys.anonymizer(),
        embedder=embedder.embedder(),
        vectors=lancedb.store(),
        vault=vault.vault(),
        keyring=keys.keyring(),
        complete=llm.complete,
        model=llm.model,
        k=config.top_k,
        identities=vault.identities(),
    )
    context.log.info(f"answer cites {len(result.citations)} of {len(result.sources)} retrieved records")
    value = {
        "answer": result.text,
        "citations": [s.citation for s in result.citations],
        "sources": [s.citation for s in result.sources],
    }
    return dg.Output(value, metadata={
        "answer": dg.MetadataValue.md(result.text),
        "citations": ", ".join(value["citations"]) or "none",
        "sources_retrieved": len(result.sources),
        "model": result.model,
    })


@dg.job(description="RAG over the vault: anonymized question -> LanceDB top-k -> vault -> LLM -> cited answer.")
def rag_query() -> None:
    """The resource-backed question-answering job (not an asset)."""
    answer()


@dg.op(description="Re-wrap every subject key under the primary master key, partition by partition, then sweep.")
def rewrap_keys(
    context: dg.OpExecutionContext, keys: KeyringResource, vault: VaultResource, redis: RedisResource
) -> dg.Output[dict]:
    """Rotate the vault onto the primary master key; progress and records per key id go to the run's log."""
    keyring, v = keys.keyring(), vault.vault()
    before = v.key_id_counts()
    context.log.info(f"re-wrapping under primary master key {keyring.primary!r}; records per key id {before}")

    def progress(done: int, total: int, report: RewrapReport) -> None:
        if report.partition_key is None:
            context.log.info(f"sweep: {report.subject_keys_rewrapped} more subject keys re-wrapped, "
                             f"{report.dead_letter_stream_entries_resealed} dead-letter stream entries re-sealed")
            return
        context.log.info(
            f"[{done}/{total}] partition {report.partition_key}: {report.subject_keys_rewrapped} subject keys "
            f"re-wrapped, {report.records_moved} records moved, {report.records_upgraded} v1 records upgraded, "
            f"{report.dead_letters_resealed} dead letters re-sealed; records per key id {report.records_per_key_id}"
        )
        context.log_event(dg.AssetObservation(
            asset_key=encrypted_records.key, partition=report.partition_key,
            metadata={"records_per_key_id": report.records_per_key_id, "primary_key_id": keyring.primary},
        ))

    rotation = rotate_all(v, keyring, redis.streams(), on_partition=progress, identities=vault.identities())
    summary = rotation.summary()
    return dg.Output(summary, metadata={**summary, "records_per_key_id_before": before})


@dg.job(description="Key rotation: re-wrap subject keys (and re-seal v1 envelopes, dead letters, identities) "
                    "under the primary master key, partition by partition. Add the new primary to the keyring first.")
def rotate_keys() -> None:
    """Re-wrap the vault under the primary master key."""
    rewrap_keys()


class ForgetConfig(dg.Config):
    """The subjects to erase, by pseudonym only: `subject_pseudonym` (one) or `subject_pseudonyms` (a batch, one
    pass). `datavault forget --domain D --subject-id ID` derives the pseudonym locally, so a real name or
    producer id never reaches run config."""

    subject_pseudonym: str | None = None
    subject_pseudonyms: list[str] | None = None


@dg.op(description="Right to erasure: shred the subjects' keys, delete their records, vectors (down to the files), "
                   "raw stream entries and dead letters, restore k-anonymity and re-embed the coarsened neighbours; "
                   "store one receipt per subject and return it (a batch: the summary and the receipts).")
def forget(
    context: dg.OpExecutionContext,
    config: ForgetConfig,
    keys: KeyringResource,
    vault: VaultResource,
    redis: RedisResource,
    lancedb: LanceDBResource,
    embedder: EmbedderResource,
) -> dg.Output[dict]:
    """Erase one subject (or a batch) everywhere and return its receipt (or the batch's summary and receipts)."""
    if (config.subject_pseudonym is None) == (config.subject_pseudonyms is None):
        raise dg.Failure("give either subject_pseudonym (one 'S-…') or subject_pseudonyms (a list), not both")
    subjects = check_subject_pseudonyms([config.subject_pseudonym] if config.subject_pseudonym is not None
                                        else config.subject_pseudonyms or [])
    if not subjects:
        raise dg.Failure("subject_pseudonyms is empty")
    keyring = keys.keyring()
    what = subjects[0] if config.subject_pseudonym is not None else f"{len(subjects)} subjects"
    result = erase_subjects(
        subjects, streams=redis.streams(), vault=vault.vault(), vectors=lancedb.store(), keyring=keyring,
        pseudonym=Pseudonymizer(keyring.pseudonym_key).subject, embedder=embedder.embedder(),
        on_step=lambda step, counts: context.log.info(f"erasure of {what}: {step} {counts}"),
        identities=vault.identities(), min_k=Settings.from_env().min_k, anonymizer=keys.anonymizer(),
    )
    if config.subject_pseudonym is not None:
        receipt = result["receipts"][0]
        return dg.Output(receipt, metadata={
            "receipt_id": receipt["receipt_id"],
            "subject_pseudonym": receipt["subject_pseudonym"],
            **{k: v for k, v in receipt["removed"].items() if isinstance(v, int)},
            "verified": receipt["verified"],
            "receipt": dg.MetadataValue.json(receipt),
        })
    summary = result["summary"]
    for receipt in result["receipts"]:
        context.log.info(f"erasure of {receipt['subject_pseudonym']}: receipt {receipt['receipt_id']}, "
                         f"removed {receipt['removed']}")
    return dg.Output(result, metadata={
        "batch_id": summary["batch_id"],
        "subjects": summary["subjects"],
        "subject_pseudonyms": ", ".join(summary["receipt_ids"]),
        **{k: v for k, v in summary["removed"].items() if isinstance(v, int)},
        "verified": summary["verified"],
        "summary": dg.MetadataValue.json(summary),
    })


@dg.job(description="Right to erasure by subject pseudonym (config: subject_pseudonym 'S-…', or "
                    "subject_pseudonyms ['S-…', …] for a batch erased in one pass).")
def forget_subject() -> None:
    """Erase one subject, or a batch of them."""
    forget()
