"""Unit tests for finding a subject's data: pseudonym checks and subject attribution of stream entries."""

from __future__ import annotations

import base64
import json

import pytest

from datavault_dagster.cli import read_subjects
from datavault_dagster.domain.anonymize import Pseudonymizer
from datavault_dagster.domain.crypto import Keyring
from datavault_dagster.domain.erasure import (
    check_subject_pseudonym,
    check_subject_pseudonyms,
    subject_id_in,
    subject_of_dead_letter,
    subject_of_entry,
)
from datavault_dagster.domain.errors import InvalidSubject
from datavault_dagster.domain.records import stream_fields
from simulations import generate_records

RING = Keyring.generate()
PSEUDONYM = Pseudonymizer(RING.pseudonym_key).subject


@pytest.mark.parametrize("value", ["S-abcdefghij", "S-2345672345"])
def test_subject_pseudonyms_pass(value: str) -> None:
    assert check_subject_pseudonym(value) == value


@pytest.mark.parametrize("value", ["Jane Doe", "P-abcdefghij", "S-abcdefghi", "S-abcdefghijk", "S-ABCDEFGHIJ",
                                   "S-abcdefgh18", " S-abcdefghij", "", "S-abcdefghij\n", None])
def test_anything_else_is_refused_without_echoing_it(value) -> None:
    with pytest.raises(InvalidSubject) as info:
        check_subject_pseudonym(value)
    if value:
        assert value.strip() not in str(info.value)


def test_a_batch_is_checked_whole_and_deduplicated_in_order() -> None:
    assert check_subject_pseudonyms(["S-bbbbbbbbbb", "S-aaaaaaaaaa", "S-bbbbbbbbbb"]) == ["S-bbbbbbbbbb",
                                                                                       "S-aaaaaaaaaa"]
    assert check_subject_pseudonyms(iter([])) == []


@pytest.mark.parametrize(("batch", "where"), [
    (["S-aaaaaaaaaa", "Jane Doe", "S-bbbbbbbbbb"], "item 2 of 3"),
    (["jane.doe@example.com"], "item 1 of 1"),
    (["S-aaaaaaaaaa", "S-bbbbbbbbbb", "S-abcdefgh18"], "item 3 of 3"),
])
def test_a_bad_item_refuses_the_batch_by_position_without_echoing_it(batch: list[str], where: str) -> None:
    with pytest.raises(InvalidSubject) as info:
        check_subject_pseudonyms(batch)
    assert str(info.value).startswith(where + ": not a subject pseudonym")
    assert not [v for v in batch if not v.startswith("S-a") and v in str(info.value)]
    with pytest.raises(InvalidSubject, match="^queue.txt line 7: "):
        check_subject_pseudonyms(batch, where=lambda i: "queue.txt line 7")


def test_subject_files_skip_comments_and_blank_lines(tmp_path) -> None:
    path = tmp_path / "queue.txt"
    path.write_text("# DSAR queue\n\nS-aaaaaaaaaa\n  S-bbbbbbbbbb  # ticket 12\n#S-cccccccccc\n\tJane Doe\n")
    assert read_subjects(str(path)) == [(f"{path} line 3", "S-aaaaaaaaaa"), (f"{path} line 4", "S-bbbbbbbbbb"),
                                        (f"{path} line 6", "Jane Doe")]

    class Stdin:
        def read(self) -> str:
            return "S-aaaaaaaaaa\n# done\n"

    assert read_subjects("-", stdin=Stdin()) == [("stdin line 1", "S-aaaaaaaaaa")]


@pytest.mark.parametrize("domain", ["healthcare", "finance"])
def test_plain_and_sealed_entries_are_attributed_to_their_subject(domain: str) -> None:
    record = generate_records(domain, 3, seed=11)[0]
    subject_id = record["patient"]["patient_id"] if domain == "healthcare" else record["customer"]["customer_id"]
    expected = PSEUDONYM(domain, subject_id)
    assert subject_of_entry(domain, stream_fields(domain, record), RING, PSEUDONYM) == expected
    assert subject_of_entry(domain, stream_fields(domain, record, RING), RING, PSEUDONYM) == expected
    # sealed under a key this keyring does not hold: cannot say
    assert subject_of_entry(domain, stream_fields(domain, record, Keyring.generate()), RING, PSEUDONYM) is None


def test_invalid_records_are_still_attributed_when_they_name_their_subject() -> None:
    record = generate_records("healthcare", 1, seed=2)[0]
    record["patient"]["ssn"] = "12-345-6789"  # fails validation, still the same patient
    text = json.dumps(record)
    assert subject_id_in("healthcare", text) == record["patient"]["patient_id"]
    broken = text[: text.index('"mrn"')]  # truncated JSON that still holds the id
    assert subject_id_in("healthcare", broken) == record["patient"]["patient_id"]
    assert subject_id_in("healthcare", '{"record_id": "x", "trunc') is None
    assert subject_id_in("finance", text) is None  # a finance record names a customer
    assert subject_of_entry("healthcare", {"record_id": "x"}, RING, PSEUDONYM) is None


def test_dead_letters_are_attributed_through_their_sealed_entry() -> None:
    record = generate_records("finance", 1, seed=3)[0]
    fields = stream_fields("finance", record)
    sealed = RING.seal(json.dumps(fields, sort_keys=True).encode(), domain="deadletter:finance", record_id="5-0")
    expected = PSEUDONYM("finance", record["customer"]["customer_id"])
    assert subject_of_dead_letter("finance", "5-0", sealed, RING, PSEUDONYM) == expected
    assert subject_of_dead_letter("finance", "6-0", sealed, RING, PSEUDONYM) is None  # bound to its stream id
    assert subject_of_dead_letter("finance", "5-0", base64.b64encode(sealed), RING, PSEUDONYM) is None
