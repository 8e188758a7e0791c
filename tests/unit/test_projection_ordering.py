"""The decision every consumed event goes through, and what a poison record still tells us."""

import json
import uuid

import pytest

from projections.incoming import Identity, Incoming
from projections.ordering import Verdict, decide
from projections.stats import Counts

AGGREGATE = uuid.uuid4()


@pytest.mark.parametrize(("last", "version"), [(3, 1), (3, 3), (1, 1)])
def test_a_version_at_or_below_the_last_applied_one_is_a_duplicate(last: int, version: int) -> None:
    assert decide(last, version) is Verdict.DUPLICATE


@pytest.mark.parametrize(("last", "version"), [(0, 1), (3, 4)])
def test_the_version_right_after_the_last_applied_one_is_next(last: int, version: int) -> None:
    assert decide(last, version) is Verdict.NEXT


@pytest.mark.parametrize(("last", "version"), [(0, 2), (3, 5), (3, 40)])
def test_a_version_further_ahead_is_a_gap_and_is_never_applied_blindly(last: int, version: int) -> None:
    assert decide(last, version) is Verdict.GAP
    assert Verdict.GAP.waits


def test_every_later_event_of_an_aggregate_waits_behind_its_dead_letter() -> None:
    assert decide(3, 5, dead_letters={4}) is Verdict.BLOCKED
    assert decide(3, 6, dead_letters={4}) is Verdict.BLOCKED
    assert Verdict.BLOCKED.waits


def test_a_record_too_broken_to_name_its_version_still_blocks_its_aggregate() -> None:
    assert decide(3, 4, dead_letters={None}) is Verdict.BLOCKED


def test_the_dead_letter_delivered_again_is_a_duplicate_not_a_second_dead_letter() -> None:
    assert decide(3, 4, dead_letters={4}) is Verdict.DUPLICATE


def test_a_duplicate_stays_a_duplicate_behind_a_dead_letter() -> None:
    assert decide(3, 2, dead_letters={4}) is Verdict.DUPLICATE


def test_a_record_that_is_not_json_is_identified_by_its_key() -> None:
    record = Incoming(b"\xff not json", key=str(AGGREGATE).encode())
    assert record.salvage_identity() == Identity(AGGREGATE, None)


def test_an_envelope_failing_validation_still_names_its_aggregate_and_version() -> None:
    value = f'{{"aggregate_id": "{AGGREGATE}", "aggregate_version": 7, "data": 1}}'.encode()
    assert Incoming(value, key=b"not-a-uuid").salvage_identity() == Identity(AGGREGATE, 7)


@pytest.mark.parametrize("version", ["7", True, 0, -1, None])
def test_a_version_that_is_not_a_positive_whole_number_is_not_trusted(version: object) -> None:
    value = json.dumps({"aggregate_id": str(AGGREGATE), "aggregate_version": version}).encode()
    assert Incoming(value).salvage_identity() == Identity(AGGREGATE, None)


def test_a_record_with_neither_readable_ids_nor_key_belongs_to_no_aggregate() -> None:
    assert Incoming(b"[1, 2]").salvage_identity() == Identity(None, None)


def test_counts_add_up_field_by_field() -> None:
    counts = Counts(applied=2, parked=1)
    counts.add(Counts(applied=1, duplicates_skipped=4, dead_lettered=1))
    assert counts == Counts(applied=3, duplicates_skipped=4, parked=1, dead_lettered=1)
    assert counts.total == 9
