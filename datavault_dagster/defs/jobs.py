"""Jobs: one run per stream-range partition (seal + embed), and the RAG query job."""

import dagster as dg

from ..pipeline import answer_question
from .assets import encrypted_records, record_embeddings
from .partitions import stream_batches
from .resources import EmbedderResource, KeyringResource, LanceDBResource, LLMResource, VaultResource

ingest_partition = dg.define_asset_job(
    "ingest_partition",
    selection=dg.AssetSelection.assets(encrypted_records, record_embeddings),
    partitions_def=stream_batches,
    description="Seal one stream range into the vault, then embed it into LanceDB (with all asset checks).",
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
