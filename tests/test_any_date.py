"""The date-sensitive tests pass whatever day CI runs on.

The suite runs under one frozen clock (tests/clock.py, default: the 1st of a
month). Here the alert, trend and export tests run again, each in a pytest of
their own with time-machine frozen at another awkward date: the 15th, the last
day of a 31-day month (the month before has no 31st) and a leap day."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

DATE_TESTS = [
    "tests/test_web_alerts.py",
    "tests/test_clustering_recurring.py",
    "tests/test_web_app.py::test_company_page",
    "tests/test_web_app.py::test_api_company",
    "tests/test_web_app.py::test_company_feed",
    "tests/test_web_app.py::test_trend_details_numbers",
    "tests/test_web_app.py::test_export_csv",
    "tests/test_web_app.py::test_export_json",
    "tests/test_web_app.py::test_export_csv_injection",
    "tests/test_web_compare.py::test_compare_api_matches_the_company_pages",
]


@pytest.mark.slow
@pytest.mark.parametrize("when", ["2026-03-15T12:00:00Z", "2026-03-31T23:10:00Z", "2028-02-29T06:00:00Z"])
def test_date_sensitive_tests_pass_on(when):
    env = {**os.environ, "COMPLAINTWATCH_TEST_NOW": when, "PYTEST_ADDOPTS": ""}
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *DATE_TESTS],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert r.returncode == 0, f"under {when}:\n{r.stdout[-4000:]}\n{r.stderr[-2000:]}"
    assert " passed" in r.stdout and " failed" not in r.stdout


def test_the_clock_is_frozen_for_the_run():
    from datetime import datetime, timezone

    from tests.clock import NOW

    # time-machine ticks from NOW, so "now" is NOW plus the run's elapsed time
    elapsed = datetime.now(timezone.utc) - NOW
    assert 0 <= elapsed.total_seconds() < 6 * 3600
