"""The memory benchmark at a tiny size (bench/memory.py), and what keeps a sweep's memory down.

The full-size figures are in docs/performance.md; this checks that the benchmark runs end to end, each
sweep in a fresh process against the test database, and gives every figure. How much memory is the
benchmark's to say: no size is asserted here.
"""

from datetime import UTC, datetime

import pytest

from bench import memory
from monitor.verdicts import engine, inputs
from tests import realparts

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(300),
    pytest.mark.django_db(transaction=True),  # the generator flushes; the sweeps run in other processes
]


def test_the_benchmark_sweeps_each_size_in_a_fresh_process_and_states_the_growth(monkeypatch):
    monkeypatch.setitem(memory.SIZES, "small", (20, [1_000, 2_000]))
    result = memory.measure("small", database_url=realparts.database_url(), log=lambda *args: None)
    text = memory.section(result, "tests/test_bench_memory.py")
    print(text)  # shown if an assertion fails

    small, large = result.points
    assert (small.reports, large.reports) == (1_000, 2_000)
    for point in result.points:
        for figures in (point.first, point.steady):
            assert figures["commitments"] == 20
            assert figures["peak_mb"] >= figures["baseline_mb"] > 0
            assert len(figures["after_each_mb"]) == 6  # every generated agreement, one after the other
    # Twice the reports, about twice what the largest agreement reads: the growth measured is the reports'.
    assert 1.5 * small.first["largest_read"] < large.first["largest_read"] <= 2_000
    assert "| 2,000 reports, full sweep, nothing new |" in text and "Growth from 1,000 to 2,000 reports" in text
    # Every agreement is in force at this size: every conflict is followed, and no report goes.
    assert result.followed.reports == 2_000 and result.followed.first["commitments"] == 20
    assert "less every conflict no agreement in force follows" in text


def test_the_reports_a_sweep_holds_share_each_repeated_value():
    source = engine.SourceRef(id=1, name="ACLED")
    at = datetime(2024, 1, 1, tzinfo=UTC)

    def row(pk):
        # Each value a new object, as the database driver makes them for every row.
        fresh = lambda text: "".join(list(text))  # noqa: E731
        return (pk, 1, at.replace(), None, fresh("day"), at.replace(), fresh("Battles"), fresh("Armed clash"),
                fresh("affirms"), None, fresh("Taizz"), fresh("Taizz"), fresh("Ansar Allah"), 2, None, None,
                fresh("Civilians (Yemen)"), fresh("12"))

    first, second = inputs._evidence([row(1), row(2)], {1: source}, {})

    for field in ("category", "sub_category", "admin1", "actor1", "actor2", "occurred_at", "recorded_at"):
        assert getattr(first, field) is getattr(second, field), field
    assert (first.category, first.admin1, first.occurred_at) == ("Battles", "Taizz", at)
