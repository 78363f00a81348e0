import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from trajkit.teachers.retry import RetryPolicy, is_retryable_status, parse_retry_after


def test_retry_after_seconds_milliseconds_and_dates():
    assert parse_retry_after({"Retry-After": "3"}) == 3.0
    assert parse_retry_after({"retry-after": "0.5"}) == 0.5
    assert parse_retry_after({"retry-after-ms": "250", "Retry-After": "9"}) == 0.25
    now = datetime(2026, 1, 1, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=7), usegmt=True)
    assert parse_retry_after({"Retry-After": later}, now=now.timestamp()) == 7.0
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after({}) is None and parse_retry_after(None) is None


def test_backoff_grows_is_jittered_and_capped():
    policy = RetryPolicy(max_retries=10, base_delay_s=1.0, max_delay_s=8.0)
    rng = random.Random(0)
    for index in range(8):
        ceiling = min(8.0, 2.0**index)
        delays = {policy.backoff(index, rng) for _ in range(20)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # jittered


def test_retry_after_wins_over_backoff_and_is_bounded():
    policy = RetryPolicy(base_delay_s=0.1)
    assert policy.delay(0, 2.5) == 2.5
    assert policy.delay(0, 10_000) == 120.0
    assert policy.delay(0, None) <= 0.1


def test_which_statuses_are_retried():
    assert all(is_retryable_status(s) for s in (408, 409, 429, 500, 502, 503, 504))
    assert not any(is_retryable_status(s) for s in (400, 401, 403, 404, 422))
