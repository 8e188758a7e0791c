"""The contract of the idempotency store (`services/api/store.py`), run against the in-memory
store (tests/unit) and PostgreSQL (tests/integration) by subclasses that provide `store`.

Expiry and lapsed leases are shown with zero durations, which have lapsed by the next call,
so no test waits for a clock.
"""

import threading
from datetime import timedelta
from uuid import uuid4

from services.api.store import IdempotencyStore, RecordedResponse, Scope

LONG = timedelta(hours=1)
NOW = timedelta(0)
RESPONSE = RecordedResponse(201, (("content-type", "application/json"), ("location", "/v1/x")), b'{"a":1}')


def scope(tenant: str = "acme") -> Scope:
    return Scope(tenant, "POST", "/v1/orders", f"key-{uuid4().hex}")


class IdempotencyStoreContract:
    def test_the_first_claim_wins_and_the_next_sees_it_in_flight(self, store: IdempotencyStore) -> None:
        s = scope()
        assert store.claim(s, "fp", "first", LONG, LONG) is None
        held = store.claim(s, "fp", "second", LONG, LONG)
        assert held is not None
        assert (held.fingerprint, held.response) == ("fp", None)

    def test_a_completed_claim_hands_out_its_response_as_recorded(self, store: IdempotencyStore) -> None:
        s = scope()
        store.claim(s, "fp", "first", LONG, LONG)
        store.complete(s, "first", RESPONSE)
        held = store.claim(s, "other fp", "second", LONG, LONG)
        assert held is not None
        assert (held.fingerprint, held.response) == ("fp", RESPONSE)

    def test_a_released_claim_can_be_claimed_again(self, store: IdempotencyStore) -> None:
        s = scope()
        store.claim(s, "fp", "first", LONG, LONG)
        store.release(s, "first")
        assert store.claim(s, "fp", "second", LONG, LONG) is None

    def test_a_lapsed_lease_is_taken_over_and_its_holder_can_no_longer_complete_or_release(
        self, store: IdempotencyStore
    ) -> None:
        s = scope()
        store.claim(s, "fp", "crashed", NOW, LONG)
        assert store.claim(s, "fp", "retry", LONG, LONG) is None
        store.complete(s, "crashed", RESPONSE)
        store.release(s, "crashed")
        held = store.claim(s, "fp", "third", LONG, LONG)
        assert held is not None
        assert held.response is None  # still the retry's claim

    def test_a_completed_record_outlives_its_lease(self, store: IdempotencyStore) -> None:
        s = scope()
        store.claim(s, "fp", "first", NOW, LONG)
        store.complete(s, "first", RESPONSE)
        held = store.claim(s, "fp", "second", LONG, LONG)
        assert held is not None
        assert held.response == RESPONSE

    def test_an_expired_record_counts_as_absent_and_is_reaped(self, store: IdempotencyStore) -> None:
        expired, kept = scope(), scope()
        store.claim(expired, "fp", "first", LONG, NOW)
        store.complete(expired, "first", RESPONSE)
        store.claim(kept, "fp", "first", LONG, LONG)
        assert store.reap() >= 1
        assert store.claim(kept, "fp", "second", LONG, LONG) is not None
        assert store.claim(expired, "fp", "second", LONG, LONG) is None

    def test_scopes_that_differ_in_any_part_are_independent(self, store: IdempotencyStore) -> None:
        s = scope()
        store.claim(s, "fp", "first", LONG, LONG)
        for other in (s._replace(tenant="globex"), s._replace(method="PUT"), s._replace(route="/v1/x")):
            assert store.claim(other, "fp", "first", LONG, LONG) is None

    def test_of_many_concurrent_claims_exactly_one_wins(self, store: IdempotencyStore) -> None:
        s, start, won = scope(), threading.Barrier(8), []

        def claim(token: str) -> None:
            start.wait()
            won.append(store.claim(s, "fp", token, LONG, LONG) is None)

        threads = [threading.Thread(target=claim, args=(f"t{i}",)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(won) == [False] * 7 + [True]
