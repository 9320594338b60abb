"""The few exception types DataVault raises; none of them ever carries a PII value."""

from __future__ import annotations


class DataVaultError(Exception):
    """Base class of every DataVault error."""


class InvalidRecord(DataVaultError):
    """A record failed validation; names the record id, the field and a reason code, never the value."""

    def __init__(self, record_id: str, field: str, code: str, detail: str = "") -> None:
        self.record_id = record_id
        self.field = field
        self.code = code
        self.detail = detail
        message = f"record {record_id!r}: field {field!r}: {code}"
        super().__init__(f"{message} ({detail})" if detail else message)


class InvalidToken(DataVaultError):
    """An envelope could not be opened: wrong key, tampered bytes or wrong associated data."""


class KeyringError(DataVaultError):
    """The keyring is missing, malformed or does not hold a needed key id."""


class ConfigError(DataVaultError):
    """A configuration value is missing or malformed; names the setting."""


class LeakDetected(DataVaultError):
    """Outgoing text still holds detectable PII; names the entity kinds, never the values."""

    def __init__(self, where: str, kinds: list[str]) -> None:
        self.where = where
        self.kinds = sorted(set(kinds))
        super().__init__(f"blocked {where}: possible PII of kind(s) {', '.join(self.kinds)}")
