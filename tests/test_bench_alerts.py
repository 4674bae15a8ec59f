"""The alert latency benchmark at its small scale (bench/alerts.py): real worker, beat, Redis and SMTP server.

The full-size figures are in docs/performance.md; this checks that the benchmark still runs end to
end, gives every figure, and that the promise it measures (every email arrives, once) holds at a
small size. How fast is the benchmark's to say: no wall-clock figure is asserted here. Its worker
and beat use the test run's own Redis.
"""

import pytest

from bench import alerts
from tests import isolation

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(240, method="signal"),  # signal: the worker and beat are stopped even on a timeout
    pytest.mark.django_db(transaction=True),  # the worker and beat are other processes: committed rows only
]


def test_every_breach_and_missed_deadline_emails_its_subscriber_once(tmp_path, monkeypatch):
    monkeypatch.setattr(alerts, "BROKER_URL", isolation.current().redis.url(10))
    result = alerts.measure("small", workdir=tmp_path)
    print(alerts.section(result, "tests/test_bench_alerts.py"))  # shown if an assertion fails

    assert alerts.Result.missing(result.reports) == []
    assert alerts.Result.missing(result.deadlines) == []
    assert result.emails == len(result.reports) + len(result.deadlines)  # and nothing twice
    assert result.subjects["report-0@example.org"] == [
        "[Compliance monitor] Breached: No attacks of kind 0 (Latency: reports)"]  # bench/alerts.py names them
    assert result.subjects["deadline-0@example.org"] == [
        "[Compliance monitor] Missed: Talks begin (0) (Latency: deadline 0)"]
    figures = alerts.report_figures(result)  # (p50, p95, worst) of (a) and of (b): every one measured
    assert all(f is not None and f >= 0 for stage in figures for f in stage), figures
    # Within one sweep: each deadline is found by the first sweep after it, however slow the machine.
    assert [s.first_sweep_after for s in result.deadlines] == [True] * len(result.deadlines)
    assert all(s.found_by == "beat" for s in result.deadlines)


def test_the_benchmark_section_states_figures_targets_and_what_bounds_them(tmp_path):
    result = alerts.Result(scale="small", sizes=alerts.SCALES["small"])
    result.reports = [
        alerts.Sample(f"report-{i}@example.org", cause_at=100.0, detected_at=100.1, found_by="reports",
                      swept_at=100.3, send_started_at=100.4, arrived_at=100.5 + i)
        for i in range(5)
    ]
    result.deadlines = [alerts.Sample("deadline-0@example.org", cause_at=200.0)]  # never arrived

    section = alerts.section(result, "python -m bench.alerts --scale small")

    assert section.startswith("## Alert latency\n")
    assert "| (a) report saved → email | 5/5 | 2.50 | 4.30 | 4.50 | p95 < 5 s | yes |" in section
    assert "| (b) deadline passed → email | 0/1 |" in section and "| **no** |" in section
    assert "Missing emails: deadline-0@example.org." in section
    assert "What bounds it" in section


def test_deadlines_passing_during_the_nightly_check_each_email_once_found_by_their_timed_sweep(tmp_path, monkeypatch):
    monkeypatch.setattr(alerts, "BROKER_URL", isolation.current().redis.url(10))
    monkeypatch.setitem(alerts.CHECK_SIZES, "small", (100, 2_000, None, 3, 2.0))
    alerts.prepare_check_data("small", log=lambda *args: None)
    result = alerts.measure_during_check("small", workdir=tmp_path, log=lambda *args: None)
    text = alerts.section_during_check(result, "tests/test_bench_alerts.py")
    print(text)  # shown if an assertion fails

    assert alerts.Result.missing(result.deadlines) == []
    assert result.emails == 3  # one each, nothing twice, and nothing from the generated agreements
    assert result.checks >= 1 and result.commitments == 100
    # No deadline waited for beat's tick (every 60 s here): each was found by the sweep sent for its instant.
    assert result.timed == 3
    assert "| (c) deadline passed → email, during the check | 3/3 |" in text
