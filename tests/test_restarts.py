"""When the local stack starts a dead process again (`lts_devtools.restarts`): at once, then
after a doubling delay while it keeps dying quickly, and at once again after a long run."""

from __future__ import annotations

from lts_devtools.restarts import Backoff, describe_exit


def test_quick_deaths_wait_longer_each_time_up_to_the_cap() -> None:
    backoff = Backoff(first=1.0, cap=30.0, stable_after=60.0)
    deaths = 0
    delays = []
    for _ in range(8):
        deaths = backoff.deaths_in_a_row(deaths, ran_for=2.0)
        delays.append(backoff.delay(deaths))
    assert delays == [0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_a_death_after_a_long_run_is_the_first_again() -> None:
    backoff = Backoff(first=1.0, cap=30.0, stable_after=60.0)
    assert backoff.deaths_in_a_row(5, ran_for=60.0) == 1
    assert backoff.delay(backoff.deaths_in_a_row(5, ran_for=61.0)) == 0.0
    assert backoff.deaths_in_a_row(5, ran_for=59.0) == 6


def test_an_exit_says_its_code_or_signal() -> None:
    assert describe_exit(-9) == "killed by SIGKILL"
    assert describe_exit(3) == "exited with 3"
    assert describe_exit(None) == "exited"
