"""The sweep benchmark at its small scale (bench/sweep.py): 100 commitments, 10,000 reports.

The full-size figures are in docs/performance.md; this checks that the benchmark still runs end to
end and that what it relies on holds: the hand-written SQL computes the statuses the sweep records,
the sweep's queries do not grow with the number of commitments, and the re-evaluation of new
reports leaves nothing for the next full sweep to find.
"""

import pytest

from bench import sweep

pytestmark = [
    pytest.mark.timeout(120),
    # The SQL builds temporary tables dropped at commit, and the generator flushes the database.
    pytest.mark.django_db(transaction=True),
]


def test_the_small_benchmark_agrees_with_the_sql_and_keeps_its_query_count():
    result = sweep.measure("small", log=lambda *args: None)
    print(sweep.section(result, "tests/test_bench_sweep.py"))  # shown if an assertion fails

    assert result.disagreements == []
    assert len(result.statuses) == 100
    assert len(set(result.statuses.values())) >= 6  # the generated data reaches most statuses
    (small, (s_first, s_steady)), (large, (l_first, l_steady)) = result.by_size.items()
    assert (small, large) == (51, 100)
    assert l_first.transitions == 100 and l_steady.transitions == 0
    assert (s_first.queries, s_steady.queries) == (l_first.queries, l_steady.queries)
    assert 0 < result.targeted.commitments < 100
    assert result.after.transitions == 0
    # A quiet minute judges nothing, in a few queries for all agreements (none is swept), and a report
    # nobody counts brings nothing to judge.
    assert result.idle.commitments == 0 and result.idle.queries <= 12 and result.unread.commitments == 0


def test_the_section_states_the_figures_the_targets_and_whether_they_were_met():
    runs = {
        17: (sweep.Sweep(0.5, 21, 17, 17, 3), sweep.Sweep(0.4, 18, 17, 0, 0)),
        100: (sweep.Sweep(2.0, 21, 100, 100, 9), sweep.Sweep(1.2, 18, 100, 0, 0)),
    }
    result = sweep.Result(
        "small", commitments=100, agreements=6, reports=10_000, by_size=runs, first=runs[100][0],
        steady=[runs[100][1], sweep.Sweep(1.0, 18, 100, 0, 0)], sql=[0.9, 0.8], statuses={i: "met" for i in range(100)},
        phases={"reading reports": 0.4, "judging": 0.3, "reports read": 8000}, arriving=100,
        targeted=sweep.Sweep(0.3, 23, 40, 5, 0), after=sweep.Sweep(1.1, 18, 100, 0, 0),
        idle=sweep.Sweep(0.01, 6, 0, 0, 0), unread=sweep.Sweep(0.005, 9, 0, 0, 0),
        sql_statements={"REPORTS": (0.1, 6000), "EVIDENCE": (0.1, 24000), "PAIRS": (0.3, 1200),
                        "VARIANTS": (0.0, 20), "JUDGE": (0.2, 97)},
    )
    text = sweep.section(result, "python -m bench.sweep --scale small")

    assert text.startswith("## Sweep at scale\n")
    assert "| **sweep / SQL** | **1.25** | ≤ 1.3 | yes |" in text
    assert "| queries, sweep with nothing new: 17 / 100 commitments | 18 / 18 | equal | yes |" in text
    assert "| **re-evaluation / full sweep** | **0.273** | ≤ 0.05 | **no** |" in text
    assert "| **beat's tick, nothing due / full sweep** | **0.0100** | ≤ 0.01 | yes |" in text
    assert "The re-evaluation misses its target" in text
    # Where the yardstick's own time goes, statement by statement, and how it is made fast.
    assert "| `PAIRS` | which report counts for which commitment (ids)" in text and "| 0.3 | 1,200 |" in text
    assert "How the SQL is made fast, from `EXPLAIN ANALYZE`" in text
