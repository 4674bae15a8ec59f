"""The page benchmark at its small scale, briefly: it runs and gives every figure.

It runs `python -m bench.pages` as a reader of docs/performance.md would, against a database of its
own (dropped afterwards) and the test run's own Redis, with the asyncio load generator (always) and
with wrk (where it is installed). How fast the pages are is the benchmark's to say, not this test's:
it asserts that every scenario was measured and served only 200s.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
LOADERS = ["python"] + (["wrk"] if shutil.which("wrk") else [])


def figures(markdown):
    """{scenario label: (requests/s, ratio, p50, p99, requests, bad)} from the report's table."""
    out = {}
    for line in markdown.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 7 and re.fullmatch(r"[\d,.]+", cells[1]):
            out[cells[0]] = tuple(float(c.replace(",", "")) for c in cells[1:])
    return out


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("loader", LOADERS)
def test_the_page_benchmark_serves_only_200s_and_reports_every_scenario(loader, own_database):
    database = settings.DATABASES["default"]
    env = {
        **os.environ,
        "BENCH_PG": "postgres://{}{}@{}:{}".format(
            database["USER"], f":{database['PASSWORD']}" if database.get("PASSWORD") else "",
            database["HOST"], database["PORT"],
        ),
        # Not the test database (the benchmark replaces its data), and not the benchmark's own.
        "BENCH_PAGES_DB": own_database("bench_pages_smoke"),
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    done = subprocess.run(
        [sys.executable, "-m", "bench.pages", "--scale", "small", "--rounds", "1", "--seconds", "2",
         "--loader", loader],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=290,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = done.stdout
    assert report.startswith("## Status pages under load")
    rows = figures(report)
    assert len(rows) == 5, report
    for name, row in rows.items():
        throughput, ratio, p50, p99, requests, bad = row
        assert requests > 0 and bad == 0, (name, row)
        assert throughput > 0 and ratio > 0 and 0 < p50 <= p99, (name, row)
