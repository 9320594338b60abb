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

    def __reduce__(self) -> tuple[type[InvalidRecord], tuple[str, str, str, str]]:
        return type(self), (self.record_id, self.field, self.code, self.detail)  # across a process boundary


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


class InvalidSubject(DataVaultError):
    """A value given as a subject pseudonym is not one; never echoes the value (it may be a real name)."""

    def __init__(self, where: str = "") -> None:
        self.where = where  # e.g. "item 3 of 10" or "subjects.txt line 4": a position, never the value
        message = "not a subject pseudonym: expected 'S-' and 10 characters a-z/2-7 (see `datavault forget -h`)"
        super().__init__(f"{where}: {message}" if where else message)


class KeyInUse(DataVaultError):
    """A master key cannot be retired while anything still depends on it; names the counts, never key bytes."""

    def __init__(self, key_id: str, usage: dict[str, int]) -> None:
        self.key_id = key_id
        self.usage = usage
        users = ", ".join(f"{n} {what}" for what, n in usage.items() if n)
        super().__init__(f"master key {key_id!r} is still in use ({users})")
