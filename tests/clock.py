"""One clock for the whole test run.

Every test runs under a frozen clock (time-machine, started in conftest.py's
``pytest_configure``; it ticks, so timeouts and durations still work) and
fixtures date their posts from ``NOW``, so no test depends on the day CI runs.
``COMPLAINTWATCH_TEST_NOW`` (ISO 8601) moves that clock; ``tests/test_any_date.py``
runs the date-sensitive tests under the 1st, the 15th and the last day of a
month and a leap day that way.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone

# The 1st of a month: the day of the month that found the last date bug.
DEFAULT_NOW = "2026-03-01T09:30:00+00:00"


def _parse(raw: str) -> datetime:
    when = datetime.fromisoformat(raw)
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).replace(microsecond=0)


NOW: datetime = _parse(os.environ.get("COMPLAINTWATCH_TEST_NOW") or DEFAULT_NOW)
