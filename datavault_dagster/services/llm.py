"""The LLM behind answers: any litellm model string; `local/...` runs the bundled GGUF model offline."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from .settings import offline_environment

log = logging.getLogger(__name__)


def complete(model: str, messages: list[dict[str, str]], *, home: Path, max_tokens: int = 256,
             temperature: float = 0.1) -> str:
    """One chat completion through litellm; returns the answer text."""
    offline_environment()
    import litellm

    litellm.suppress_debug_info = True  # its help banner goes to stdout on every error
    if model.startswith("local/"):
        from .local_llm import register_local_provider

        # the joined GGUF (1.1 GB) lives under <DATAVAULT_MODEL_HOME or DATAVAULT_HOME>/models
        register_local_provider(Path(os.environ.get("DATAVAULT_MODEL_HOME") or home))
    response = litellm.completion(model=model, messages=messages, max_tokens=max_tokens, temperature=temperature)
    return response.choices[0].message.content or ""
