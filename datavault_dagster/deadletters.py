"""Dead letters for operators: list them (ids, reason codes and fields only) and replay them after a fix."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from .domain.crypto import Keyring
from .domain.errors import InvalidToken
from .pipeline import dead_letter_fields
from .services.streams import Streams, encode_fields, raw_stream
from .services.vault import DeadLetter, Vault

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LetterInfo:
    """One dead letter as an operator sees it: where it came from and why, never its content."""

    domain: str
    stream_id: str
    record_id: str
    partition_key: str
    reason_code: str
    field: str
    key_id: str


def _info(letter: DeadLetter) -> LetterInfo:
    return LetterInfo(letter.domain, letter.stream_id, letter.record_id, letter.partition_key, letter.reason_code,
                      letter.field, letter.key_id)


def select(vault: Vault, *, domain: str | None = None, partition_key: str | None = None,
           reason: str | None = None, stream_ids: Sequence[str] = ()) -> list[DeadLetter]:
    """Dead letters matching every given filter (all of them if none is given)."""
    wanted = set(stream_ids)
    return [d for d in vault.dead_letters(partition_key)
            if (domain is None or d.domain == domain) and (reason is None or d.reason_code == reason)
            and (not wanted or d.stream_id in wanted)]


def list_letters(vault: Vault, **filters: object) -> list[dict[str, str]]:
    """The selected dead letters as plain dicts (for `datavault deadletters`)."""
    return [asdict(_info(d)) for d in select(vault, **filters)]  # type: ignore[arg-type]


@dataclass
class ReplayReport:
    """What a replay did."""

    replayed: int = 0
    unopenable: int = 0  # sealed under a master key no longer in the keyring
    new_stream_ids: list[str] | None = None


def replay(letters: Sequence[DeadLetter], vault: Vault, streams: Streams, keyring: Keyring) -> ReplayReport:
    """Put each dead letter's exact raw entry back at the end of its domain's stream (a new stream id, so the
    sensor plans it into a new partition), then drop the dead letter (row and dead-letter stream entry).

    Crash-safe in that order: an entry re-added whose dead letter was not yet dropped is replayed twice at worst,
    and the vault keeps one row per record id. A replayed entry that is still bad becomes a new dead letter."""
    report = ReplayReport(new_stream_ids=[])
    for letter in letters:
        try:
            fields = dead_letter_fields(letter.sealed_payload, letter.domain, letter.stream_id, keyring)
        except (InvalidToken, ValueError):
            log.error("dead letter %s/%s does not open under the keyring; left in place", letter.domain,
                      letter.stream_id)
            report.unopenable += 1
            continue
        new_id = streams.client.xadd(raw_stream(letter.domain), encode_fields(fields)).decode()
        vault.delete_dead_letters([(letter.domain, letter.stream_id)])
        streams.delete_dead_letter_entries(letter.domain, [letter.stream_id])
        log.info("replayed dead letter %s/%s as stream entry %s", letter.domain, letter.stream_id, new_id)
        report.replayed += 1
        report.new_stream_ids.append(new_id)  # type: ignore[union-attr]
    return report
