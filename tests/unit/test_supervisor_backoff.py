"""How long the supervisor waits before restarting a child that died."""

from infrastructure.supervisor import MAX_BACKOFF_S, STABLE_AFTER_S, restart_delay


def test_a_child_dying_soon_after_each_start_is_restarted_less_and_less_often() -> None:
    restarts, delays = 0, []
    for _ in range(8):
        delay, restarts = restart_delay(restarts, lived_s=1.0)
        delays.append(delay)
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, MAX_BACKOFF_S, MAX_BACKOFF_S]


def test_a_child_that_ran_for_a_while_is_restarted_at_once_whatever_came_before() -> None:
    assert restart_delay(restarts=6, lived_s=STABLE_AFTER_S) == (0.5, 1)
    assert restart_delay(restarts=6, lived_s=STABLE_AFTER_S - 0.1) == (MAX_BACKOFF_S, 7)
