"""The retry policy: backoff, Retry-After, and how answers are classified."""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest

from hl7bridge.engine.retry import ack_outcome, backoff_secs, http_outcome, retry_delay_secs


def test_backoff_doubles_from_the_initial_delay_and_stops_at_the_cap() -> None:
    delays = [backoff_secs(n, initial_secs=0.5, max_secs=4, jitter=0) for n in range(1, 7)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_jitter_spreads_delays_within_its_fraction() -> None:
    rng = random.Random(7)
    delays = {round(backoff_secs(3, initial_secs=1, max_secs=100, jitter=0.2, rng=rng), 6) for _ in range(50)}
    assert len(delays) > 40 and all(3.2 <= d <= 4.8 for d in delays)


def test_a_longer_retry_after_wins_but_never_past_the_cap() -> None:
    retry = SimpleNamespace(initial_backoff_ms=100, max_backoff_secs=30, multiplier=2.0, jitter=0.0)
    assert retry_delay_secs(1, retry, retry_after_secs=10) == 10
    assert retry_delay_secs(1, retry, retry_after_secs=600) == 30
    assert retry_delay_secs(1, retry, retry_after_secs=0.01) == pytest.approx(0.1)


@pytest.mark.parametrize("status, outcome", [(200, "success"), (201, "success"), (204, "success"),
                                             (408, "retry"), (429, "retry"), (500, "retry"), (503, "retry"),
                                             (400, "dead_letter"), (404, "dead_letter"), (422, "dead_letter")])
def test_http_statuses_are_classified(status: int, outcome: str) -> None:
    assert http_outcome(status) == outcome


def test_ack_codes_follow_the_defaults_unless_a_destination_overrides_them() -> None:
    assert [ack_outcome(c) for c in ("AA", "CA", "AE", "CE", "AR", "CR", "timeout")] == [
        "success", "success", "retry", "retry", "dead_letter", "dead_letter", "retry"]
    assert ack_outcome("AE", {"AE": "dead_letter"}) == "dead_letter"


def test_retry_after_is_read_as_seconds_or_as_an_http_date() -> None:
    import email.utils
    import time

    from hl7bridge.connectors.http import parse_retry_after

    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    later = email.utils.formatdate(time.time() + 60, usegmt=True)
    assert 55 <= parse_retry_after(later) <= 61
    assert parse_retry_after(email.utils.formatdate(time.time() - 60, usegmt=True)) == 0.0
