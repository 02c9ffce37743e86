"""Reports answer from memory and refresh in the background: the first visitor after the
figures grow old waits no longer than the second, and a person's own write shows at once."""

from collections.abc import Callable

import pytest

from dashboard import refreshing
from dashboard.refreshing import RefreshedInBackground

TTL = 120.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Report:
    """A report whose figures are whatever the database holds now; counts its queries."""

    def __init__(self) -> None:
        self.figure = 1
        self.queries = 0
        self.fail = False

    def __call__(self, *, day: str) -> tuple[str, int]:
        self.queries += 1
        if self.fail:
            raise RuntimeError("database went away")
        return day, self.figure


@pytest.fixture
def setup() -> tuple[Report, Clock, list[Callable[[], None]], RefreshedInBackground]:
    report, clock, started = Report(), Clock(), []
    cached = RefreshedInBackground(report, ttl=TTL, clock=clock, start=started.append)
    return report, clock, started, cached


def test_within_the_ttl_the_figures_come_from_memory(setup) -> None:
    report, clock, started, cached = setup

    assert cached(day="mon") == ("mon", 1)
    report.figure = 2
    clock.now += TTL - 1

    assert cached(day="mon") == ("mon", 1)
    assert (report.queries, started) == (1, [])
    assert cached(day="tue") == ("tue", 2)  # other arguments, other figures


def test_old_figures_are_answered_at_once_and_refreshed_in_the_background(setup) -> None:
    report, clock, started, cached = setup
    cached(day="mon")
    report.figure = 2
    clock.now += TTL + 1

    # The visitor after expiry gets the last figures without a query of their own …
    assert cached(day="mon") == ("mon", 1)
    assert report.queries == 1
    # … and a crowd of visitors starts one refresh, not one each.
    assert cached(day="mon") == ("mon", 1)
    assert len(started) == 1

    started.pop()()  # the background refresh runs
    assert cached(day="mon") == ("mon", 2)
    assert report.queries == 2


def test_a_failed_refresh_keeps_the_figures_and_is_tried_again(setup) -> None:
    report, clock, started, cached = setup
    cached(day="mon")
    clock.now += TTL + 1
    report.fail = True

    cached(day="mon")
    started.pop()()
    assert cached(day="mon") == ("mon", 1)

    report.fail, report.figure = False, 3
    assert len(started) == 1  # the next call tries again
    started.pop()()
    assert cached(day="mon") == ("mon", 3)


def test_after_a_write_the_next_call_reads_afresh_and_an_older_refresh_is_dropped(setup) -> None:
    report, clock, started, cached = setup
    cached(day="mon")
    clock.now += TTL + 1
    cached(day="mon")  # a refresh starts with the database as it was …
    refresh = started.pop()

    report.figure = 5  # … a person books a payment, and the page clears the caches
    cached.clear()
    assert cached(day="mon") == ("mon", 5)
    report.figure = 4  # what the late refresh reads is not put back over newer figures
    refresh()
    assert cached(day="mon") == ("mon", 5)


def test_the_least_recently_used_arguments_are_let_go(setup) -> None:
    report, _clock, _started, cached = setup
    for day in range(refreshing.MAX_ENTRIES + 1):
        cached(day=str(day))
    queries = report.queries

    cached(day=str(refreshing.MAX_ENTRIES))  # kept
    cached(day="0")  # the oldest, let go: queried again
    assert report.queries == queries + 1
