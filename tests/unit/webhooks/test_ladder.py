"""The retry ladder: delays between attempts, jitter, SQS hops, Retry-After."""
from __future__ import annotations

import datetime as dt
import email.utils
import random

from chalicelib.config import DEFAULT_WEBHOOK_SCHEDULE
from chalicelib.webhooks import ladder

SCHEDULE = tuple(int(s) for s in DEFAULT_WEBHOOK_SCHEDULE.split(","))


def test_next_delay_follows_schedule_within_jitter():
    rng = random.Random(7)
    for made, base in enumerate(SCHEDULE, start=1):
        delay = ladder.next_delay(made, SCHEDULE, rng)
        assert base * 0.9 <= delay <= base * 1.1


def test_next_delay_is_none_when_ladder_exhausted():
    assert ladder.next_delay(len(SCHEDULE) + 1, SCHEDULE) is None
    assert ladder.next_delay(3, (0, 0)) is None
    assert ladder.next_delay(2, (0, 0)) == 0


def test_default_ladder_lasts_about_three_days():
    total = sum(SCHEDULE)
    assert 2.5 * 86400 < total < 3.5 * 86400
    assert len(SCHEDULE) + 1 == 12  # attempts, the first at once


def test_jitter_spreads_one_step():
    rng = random.Random(1)
    delays = {round(ladder.next_delay(4, SCHEDULE, rng), 3) for _ in range(20)}
    assert len(delays) > 10


def test_hop_seconds_caps_at_sqs_limit():
    assert ladder.hop_seconds(0) == 0
    assert ladder.hop_seconds(-3) == 0
    assert ladder.hop_seconds(4.2) == 4
    assert ladder.hop_seconds(4.6) == 5
    assert ladder.hop_seconds(3600) == 900


def test_retry_after_accepts_seconds_and_http_dates():
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert ladder.retry_after_seconds("120", now) == 120
    later = email.utils.format_datetime(now + dt.timedelta(minutes=5), usegmt=True)
    assert ladder.retry_after_seconds(later, now) == 300
    assert ladder.retry_after_seconds("999999999", now) == ladder.MAX_RETRY_AFTER
    assert ladder.retry_after_seconds("soon", now) is None
    assert ladder.retry_after_seconds(None, now) is None


def test_retry_after_is_parsed_strictly():
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert ladder.retry_after_seconds("120", now) == 120
    assert ladder.retry_after_seconds(" 7 ", now) == 7
    assert ladder.retry_after_seconds("9" * 400, now) is None
    for value in ("²", "١٢", "-5", "1.5", "+3", "0x10", "\u00a0", "Thu, 99 Foo 2026 99:99:99 GMT",
                  "Fri, 31 Dec 9999 23:59:59 +9999", "a" * 100):
        assert ladder.retry_after_seconds(value, now) is None, value
