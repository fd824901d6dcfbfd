"""The retry ladder: delays between attempts with jitter, carried by SQS in hops of <= 15 min."""
from __future__ import annotations

import datetime as dt
import email.utils
import math
import random
import re

MAX_SQS_DELAY = 900
MAX_RETRY_AFTER = 86400
JITTER = 0.1


def next_delay(attempts_made: int, schedule: tuple[int, ...],
               rng: random.Random | None = None) -> float | None:
    """Seconds to wait after `attempts_made` failed attempts, or None when the ladder is done.

    The schedule lists the delays between attempts (the first attempt goes at once), so a
    schedule of n steps allows n + 1 attempts. Each step is spread by +-10% so that a burst of
    failures does not come back as a burst.
    """
    if attempts_made < 1 or attempts_made > len(schedule):
        return None
    base = schedule[attempts_made - 1]
    return base * (rng or random).uniform(1 - JITTER, 1 + JITTER)


def hop_seconds(remaining: float) -> int:
    """The SQS DelaySeconds for the next hop towards a due time `remaining` seconds away.

    Rounded to the nearest second: the sender treats a step as due up to a second early.
    """
    return max(0, min(MAX_SQS_DELAY, math.floor(remaining + 0.5)))


_DELTA_SECONDS = re.compile(r"[0-9]{1,12}", re.ASCII)


def retry_after_seconds(value: str | None, now: dt.datetime) -> float | None:
    """A Retry-After header as seconds from now, capped at one day; None when it is not one.

    Strictly RFC 9110: ASCII digits (delta-seconds) or an HTTP date. Anything else (Unicode
    digits such as "²", which str.isdigit accepts and float refuses, signs, fractions) is
    ignored, never an exception: it is parsed after the attempt was made.
    """
    if not value:
        return None
    value = value.strip()
    if _DELTA_SECONDS.fullmatch(value):
        seconds = float(int(value))
    elif value.isascii() and len(value) <= 64:
        try:
            when = email.utils.parsedate_to_datetime(value)
            if when.tzinfo is None:
                when = when.replace(tzinfo=dt.UTC)
            seconds = (when - now).total_seconds()
        except (TypeError, ValueError, OverflowError, IndexError):
            return None
    else:
        return None
    return max(0.0, min(float(MAX_RETRY_AFTER), seconds))
