"""The sweep at scale: every commitment judged against every report, beside hand-written SQL.

    .venv/bin/python -m bench.sweep [--scale small|full]

On the data `bench/generate.py` makes (full: 10,000 commitments across 100 agreements, 1,000,000
ACLED-shaped reports; small: 100 and 10,000), in one run, in the bench_sweep database:

1. Queries at two sizes: with a tenth of the agreements in force (1,000 commitments at full; half
   of them, 51, at small), a
   first sweep (every commitment gets its first status) and a second one (nothing changes); then,
   the status history forgotten, the same two with every agreement in force. The query counts
   must be equal at both sizes.
2. The full sweep (`run_sweep`, exactly as the periodic task runs it) against `bench/verdict_sql.py`,
   which computes every commitment's status in SQL alone. The steady sweep (nothing new) and the
   SQL each run twice, and the faster run of each counts. The SQL's statuses must equal the
   statuses the sweep recorded, commitment by commitment; the run stops if one differs.
3. Where the sweep's time goes: reading the commitments, reading the reports, weighing and filing
   them (`EvidenceIndex`), judging (`evaluate_agreement`), timed one by one outside the sweep.
4. Beat's tick with nothing due and nothing new (every minute: `tick`, as `monitor.sweep` runs it),
   and the re-evaluation of one new report no commitment counts.
5. 1,000 new reports (100 at small) arrive as an import writes them, and the re-evaluation
   `reports_changed` queues runs (on PostgreSQL: the pending changes the triggers wrote absorbed,
   then what they marked judged, per group of agreements with something marked: `tick`); then a full sweep
   at the same instant, which must find nothing left to record.

The query counts are of sweeps run agreement by agreement (the most one agreement's sweep took);
the timed full sweeps run per group of agreements sharing parties, as the nightly check does, and the
re-evaluation as its task fans out (`tick`). Targets (issues 6 and 16): the full sweep at most 1.3x the SQL;
the same number of queries at 1,000 and 10,000 commitments; the periodic sweep with nothing due
at most 0.01x a full sweep; re-evaluating what 1,000 new reports affect at most 0.05x.
"""

import argparse
import time
from dataclasses import dataclass, field

from bench import generate

DB_NAME = "bench_sweep"
TARGET_SQL = 1.3
TARGET_TARGETED = 0.05
TARGET_IDLE = 0.01
ARRIVING = {"small": 100, "medium": 300, "full": 1_000}


@dataclass
class Sweep:
    seconds: float
    queries: int
    commitments: int
    transitions: int
    alerts: int


@dataclass
class Result:
    scale: str
    commitments: int = 0
    agreements: int = 0
    reports: int = 0
    generated_in: float = 0.0
    # size -> (first sweep, second sweep)
    by_size: dict = field(default_factory=dict)
    first: Sweep | None = None
    steady: list = field(default_factory=list)
    sql: list = field(default_factory=list)
    # the faster SQL run's main statements: name -> (seconds, rows written)
    sql_statements: dict = field(default_factory=dict)
    disagreements: list = field(default_factory=list)
    statuses: dict = field(default_factory=dict)
    phases: dict = field(default_factory=dict)
    bounds: dict = field(default_factory=dict)
    arriving: int = 0
    targeted: Sweep | None = None
    after: Sweep | None = None
    idle: Sweep | None = None
    unread: Sweep | None = None

    @property
    def sweep_seconds(self):
        return min(s.seconds for s in self.steady)

    @property
    def sql_seconds(self):
        return min(self.sql)

    @property
    def sql_ratio(self):
        return self.sweep_seconds / self.sql_seconds

    @property
    def first_ratio(self):
        return self.first.seconds / self.sql_seconds

    @property
    def idle_ratio(self):
        return self.idle.seconds / self.sweep_seconds

    @property
    def unread_ratio(self):
        return self.unread.seconds / self.sweep_seconds

    @property
    def targeted_ratio(self):
        return self.targeted.seconds / self.after.seconds

    @property
    def queries_equal(self):
        (a_first, a_steady), (b_first, b_steady) = self.by_size.values()
        return a_first.queries == b_first.queries and a_steady.queries == b_steady.queries


def measure(scale, log=print):
    """Generate the data into the database Django is set up against, and measure; returns a Result."""
    from django.db import connection

    from bench import verdict_sql
    from monitor.alerts import models as am
    from monitor.alerts.triggers import describe
    from monitor.verdicts.models import StatusChange

    commitments, reports = generate.SCALES[scale]
    result = Result(scale, commitments=commitments, reports=reports, arriving=ARRIVING[scale])
    log(f"generating {commitments} commitments and {reports} reports")
    made = generate.generate(commitments, reports, log=log)
    result.generated_in, result.agreements = made.seconds, len(made.agreements)

    # A tenth of the agreements (at least the three first, which have subscribers, so that both
    # sizes owe alerts and do the same kinds of work).
    tenth = made.agreements[: max(3, len(made.agreements) // 10)]
    for agreements in (tenth, made.agreements):
        forget_sweeps()
        generate.in_force(agreements)
        first, second = sweep(), sweep()
        log(f"{first.commitments} commitments: first sweep {first.seconds:.1f} s, {first.queries} queries; "
            f"second {second.seconds:.1f} s, {second.queries} queries")
        result.by_size[first.commitments] = (first, second)
    result.first = first
    # The full sweep timed as the nightly check runs it: one run per group of agreements sharing parties.
    result.steady = [sweep(grouped=True), sweep(grouped=True)]
    log(f"full sweep per group: {result.steady[0].seconds:.1f} s, {result.steady[1].seconds:.1f} s")

    for _ in range(2):
        timings = {}
        started = time.perf_counter()
        statuses = verdict_sql.statuses(generate.NOW, timings=timings)
        result.sql.append(time.perf_counter() - started)
        log(f"hand-written SQL: {result.sql[-1]:.1f} s")
        if result.sql[-1] == min(result.sql):
            result.sql_statements = {name: (timings.get(name, 0.0), int(timings.get(f"{name} (rows)", 0)))
                                     for name in verdict_sql.MAIN}
    changes = (
        StatusChange.objects.filter(commitment_id__in=statuses).order_by("commitment_id", "-id")
        .distinct("commitment_id")
    )
    recorded = {c.commitment_id: c.new_status for c in changes}
    # The SQL weighs credible reports only: where claims below the counting grade make the sweep's verdict
    # "unconfirmed", the SQL's is the verdict on credible reports alone, which the reason records.
    credible = {
        c.commitment_id: (c.reason_params or {}).get("without") if c.new_status == "unconfirmed" else c.new_status
        for c in changes
    }
    result.statuses = recorded
    result.disagreements = sorted(
        (pk, recorded.get(pk), status) for pk, status in statuses.items() if credible.get(pk) != status
    )
    assert not result.disagreements, f"the SQL and the sweep disagree: {result.disagreements[:20]}"

    result.phases = phases()
    log("phases: " + ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v:.1f} s"
                                for k, v in result.phases.items()))

    # Beat's tick with nothing due and nothing new: what a quiet minute costs.
    result.idle = tick()
    log(f"periodic sweep, nothing due: {result.idle.seconds:.3f} s, {result.idle.queries} queries")

    # One report no commitment counts: absorbed, nothing marked, nothing judged, no report read.
    unread = generate.unread_report()
    result.unread = tick(changes=describe([unread]))
    log(f"a report no commitment counts: {result.unread.seconds:.3f} s, {result.unread.commitments} judged")

    ids = generate.arriving_reports(result.arriving)
    changes = describe(ids)
    result.targeted = tick(changes=changes)
    result.after = sweep(grouped=True)
    log(f"{len(ids)} new reports: re-evaluation {result.targeted.seconds:.1f} s "
        f"({result.targeted.commitments} commitments, {result.targeted.transitions} transitions); "
        f"full sweep after it {result.after.seconds:.1f} s ({result.after.transitions} transitions)")
    assert result.after.transitions == 0, "the targeted re-evaluation missed transitions the full sweep found"
    result.bounds = bounds(changes)
    log("bounds: " + ", ".join(f"{k} {v:.1f}" for k, v in result.bounds.items()))
    connection.close()
    return result


def sweep(changes=None, trigger=None, grouped=False):
    """Every agreement in force swept as of the benchmark's instant, one `run_sweep` per agreement, timed;
    `queries` is the most any one agreement's sweep took. `grouped`: one `run_sweep` per group of agreements
    sharing parties, as the nightly check (`monitor.sweep_agreements`) and `manage.py sweep` run them
    (`queries`: the most any one group's run took).

    `trigger`: MANUAL (the default) judges every commitment. What is due or marked by the pending changes
    is judged by `tick`, as beat's tick and the re-evaluation choose the agreements to sweep.
    """
    from django.db import connection

    from monitor.alerts import models as am
    from monitor.alerts.sweep import in_force, run_sweep, sharing

    queries, most, totals = [], 0, [0, 0, 0]

    def count(execute, sql, params, many, context):
        queries.append(1)
        return execute(sql, params, many, context)

    started = time.perf_counter()
    for group in (sharing(in_force()) if grouped else [[a] for a in in_force()]):
        queries.clear()
        with connection.execute_wrapper(count):
            run = run_sweep(now=generate.NOW, trigger=trigger or am.MANUAL, changes=changes, agreements=group)
        most = max(most, len(queries))
        totals = [totals[0] + run.commitments_evaluated, totals[1] + run.transitions, totals[2] + run.alerts_queued]
    seconds = time.perf_counter() - started
    return Sweep(seconds, most, *totals)


def tick(changes=None):
    """Beat's tick as `monitor.sweep` runs it, or with `changes` the re-evaluation `reports_changed` queues
    (`monitor.reevaluate_reports`), the sweeps they would send run here: the pending changes absorbed, the
    agreements with something to do chosen (`owed_sweeps`), swept per group sharing parties (`sharing`: one
    `monitor.sweep_group` task each, one read of what is due in the group); `queries` is the whole run's."""
    from django.db import connection

    from monitor.alerts import models as am
    from monitor.alerts.sweep import absorb_pending, in_force, owed_sweeps, run_sweep, sharing

    queries, totals = [], [0, 0, 0]

    def count(execute, sql, params, many, context):
        queries.append(1)
        return execute(sql, params, many, context)

    started = time.perf_counter()
    with connection.execute_wrapper(count):
        absorb_pending(generate.NOW)
        for group in sharing(owed_sweeps(in_force(), generate.NOW)):
            run = run_sweep(now=generate.NOW, trigger=am.BEAT if changes is None else am.REPORTS, changes=changes,
                            agreements=group, wait=changes is not None)
            totals = [totals[0] + run.commitments_evaluated, totals[1] + run.transitions,
                      totals[2] + run.alerts_queued]
    return Sweep(time.perf_counter() - started, len(queries), *totals)


def forget_sweeps():
    """Every status change, alert and sweep record gone: the next sweep is a first one."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE verdicts_statuschange, verdicts_statuschange_evidence, alerts_alert, alerts_deliveryattempt, "
            "alerts_sweeprun, alerts_nextcheck, alerts_pendingchange, alerts_digestday"
        )


def phases():
    """The sweep's reading and judging, timed one by one, as the sweep does them."""
    from django.conf import settings

    from monitor.verdicts import engine, inputs
    from terms.models import IN_FORCE, Agreement

    now, out = generate.NOW, {}
    started = time.perf_counter()
    commitments = list(inputs.commitments_for(Agreement.objects.filter(state=IN_FORCE), parties=False))
    terms = inputs.terms_for(commitments)
    out["reading commitments"] = time.perf_counter() - started
    started = time.perf_counter()
    evidence = inputs.evidence_for(terms, now)
    coverage = inputs.coverage_for(now)
    out["reading reports"] = time.perf_counter() - started
    started = time.perf_counter()
    index = engine.EvidenceIndex(evidence, now)
    out["weighing and filing them"] = time.perf_counter() - started
    started = time.perf_counter()
    engine.evaluate_agreement(terms, index, as_of=now, known_at=now, coverage=engine.CoverageIndex(coverage, now),
                              due_soon_days=settings.MONITOR_DUE_SOON_DAYS, details=False)
    out["judging"] = time.perf_counter() - started
    out["reports read"] = len(evidence)
    return out


def bounds(changes):
    """What re-evaluating these changes cannot do without: judging the affected commitments, reading what they count.

    Judged with the same index a full sweep builds, so the times compare with `phases`.
    """
    from django.conf import settings

    from monitor.verdicts import engine, inputs
    from terms.models import IN_FORCE, Agreement

    now = generate.NOW
    commitments = list(inputs.commitments_for(Agreement.objects.filter(state=IN_FORCE), parties=False))
    terms = inputs.terms_for(commitments)
    chosen = engine.affected(terms, inputs.changes_for(changes), as_of=now)
    needed = engine.anchors_of(terms, chosen)
    scoped = [t for t in terms if t.id in needed]
    index = engine.EvidenceIndex(inputs.evidence_for(terms, now), now)
    coverage = engine.CoverageIndex(inputs.coverage_for(now), now)
    out = {}
    for name, chosen_terms in (("judging all", terms), ("judging the affected", scoped)):
        started = time.perf_counter()
        engine.evaluate_agreement(chosen_terms, index, as_of=now, known_at=now, coverage=coverage,
                                  due_soon_days=settings.MONITOR_DUE_SOON_DAYS, details=False)
        out[name] = time.perf_counter() - started
    counted = set()
    for term in scoped:
        anchor_day = None
        if term.window.anchor == "commitment":  # its window is not known here: every report its rule counts
            counting, disputed = index.qualified(term, until=now)
        else:
            counting, disputed = engine._candidates(index, term, anchor_day, now)
        counted.update(e.id for e in counting)
        counted.update(e.id for e in disputed)
    out["reports they can count"] = len(counted)
    out["reports read by a full sweep"] = len(index.all)
    return out


def yes(ok):
    return "yes" if ok else "**no**"


def section(result, command):
    (small, (s_first, s_steady)), (large, (l_first, l_steady)) = result.by_size.items()
    phases = dict(result.phases)
    read = phases.pop("reports read", 0)
    accounted = sum(phases.values())
    lines = [
        "## Sweep at scale",
        "",
        f"`{command}`: {result.commitments:,} commitments across {result.agreements} agreements in six conflicts,"
        f" {result.reports:,} ACLED-shaped reports over six and a half years"
        f" (`bench/generate.py`, generated in {result.generated_in:.0f} s). The sweep is `run_sweep` as the"
        " periodic task runs it, as of 1 July 2024; the yardstick is `bench/verdict_sql.py`, the same verdict"
        " statuses computed by PostgreSQL alone in a few statements (one backend, as the sweep is one process).",
        "",
        "| measure | figure | target | met |",
        "| --- | --- | --- | --- |",
        f"| full sweep, nothing new, per group of agreements sharing parties (best of 2) |"
        f" {result.sweep_seconds:.1f} s, {l_steady.queries} queries per agreement | | |",
        f"| hand-written SQL, same statuses (best of 2) | {result.sql_seconds:.1f} s | | |",
        f"| **sweep / SQL** | **{result.sql_ratio:.2f}** | ≤ {TARGET_SQL} | {yes(result.sql_ratio <= TARGET_SQL)} |",
        f"| first sweep ({result.first.transitions:,} first statuses recorded) / SQL | {result.first_ratio:.2f}"
        f" ({result.first.seconds:.1f} s) | | |",
        f"| statuses where the SQL and the sweep disagree | {len(result.disagreements)} of {len(result.statuses):,}"
        f" | 0 | {yes(not result.disagreements)} |",
        f"| queries, first sweep: {small:,} / {large:,} commitments | {s_first.queries} / {l_first.queries}"
        f" | equal | {yes(s_first.queries == l_first.queries)} |",
        f"| queries, sweep with nothing new: {small:,} / {large:,} commitments | {s_steady.queries} /"
        f" {l_steady.queries} | equal | {yes(s_steady.queries == l_steady.queries)} |",
        f"| re-evaluating what {result.arriving:,} new reports affect ({result.targeted.commitments:,} commitments,"
        f" {result.targeted.transitions} transitions, {result.targeted.queries} queries) | "
        f"{result.targeted.seconds:.1f} s | | |",
        f"| full sweep after them (finds nothing left: {result.after.transitions} transitions) |"
        f" {result.after.seconds:.1f} s | | |",
        f"| **re-evaluation / full sweep** | **{result.targeted_ratio:.3f}** | ≤ {TARGET_TARGETED} |"
        f" {yes(result.targeted_ratio <= TARGET_TARGETED)} |",
        *([f"| beat's tick, nothing due and nothing new ({result.idle.queries} queries in all) |"
           f" {result.idle.seconds * 1000:.0f} ms | | |",
           f"| **beat's tick, nothing due / full sweep** | **{result.idle_ratio:.4f}** | ≤ {TARGET_IDLE} |"
           f" {yes(result.idle_ratio <= TARGET_IDLE)} |"] if result.idle else []),
        *([f"| re-evaluation after 1 report no commitment counts ({result.unread.commitments} commitments judged) |"
           f" {result.unread.seconds * 1000:.0f} ms ({result.unread_ratio:.4f} × full sweep) | milliseconds, no report"
           f" read | {yes(result.unread.commitments == 0 and result.unread.seconds < 1)} |"] if result.unread else []),
        "",
        f"Where a sweep's time goes: its parts timed alone, one after the other ({read:,} reports read; together"
        f" {accounted:.1f} s, against the sweep's {result.sweep_seconds:.1f} s, which also reads the latest"
        " statuses, assessments and subscriptions):",
        "",
        "| part | seconds | share |",
        "| --- | --- | --- |",
    ]
    for name, seconds in phases.items():
        lines.append(f"| {name} | {seconds:.1f} | {seconds / accounted:.0%} |")
    if result.sql_statements:
        from bench.verdict_sql import MAIN

        lines += [
            "",
            f"Where the SQL's time goes: its main statements in its faster run (of {result.sql_seconds:.1f} s),"
            " with the rows each wrote:",
            "",
            "| statement | what it does | seconds | rows |",
            "| --- | --- | --- | --- |",
        ]
        for name, (seconds, rows) in result.sql_statements.items():
            lines.append(f"| `{name}` | {MAIN[name]} | {seconds:.1f} | {rows:,} |")
    lines += ["", *notes(result)]
    return "\n".join(lines)


# What `EXPLAIN ANALYZE` shows of the SQL's main statements (`verdict_sql.statuses(..., explain=True)`), at full
# scale: the yardstick is meant to be the floor, so how it is made fast is said with it.
SQL_PLAN = [
    "How the SQL is made fast, from `EXPLAIN ANALYZE` of its main statements (`verdict_sql.statuses(...,"
    " explain=True)`): `REPORTS` scans the reports once, keeping those whose category or sub-category is a"
    " spelling some rule in force names (a hashed lookup per row) or that are linked by hand, and folds places"
    " and actors once per spelling; `PAIRS` is a hash join per way a rule selects (category and province,"
    " place or none, and party, unidentified actor or anyone), filtered on the window's instants, then one"
    " hash aggregate to make the (commitment, report) ids distinct: it writes ids only (and the commitment's"
    " kind), never the report's columns. Merge joins are turned off there: on the temporary tables' estimates"
    " the planner would sort the millions of filed reports to merge them, slower than hashing. `JUDGE` joins"
    " the pairs to the reports where each kind's aggregate reads them: a ceiling's events per day and a"
    " prohibition's violations per day are counted once for both variants (the counting reports, and with"
    " the disputed ones), and the days no source covers are grouped once, not a subquery per commitment"
    " (those subqueries, scanning every pair for each prohibition, once took most of the SQL's time)."
    " What is left is the pairs themselves: building and deduplicating them, then reading them per kind.",
]


def notes(result):
    out = [
        "How it was made fast, and what bounds it: the engine files each report once, by category,"
        " then splits a category by province, place and acting party the first time a rule asks, and"
        " reads each commitment's reports by bisecting on time, so a commitment touches only the"
        " reports its rule and window can count; covered days are merged intervals per set of"
        " provinces; a ceiling visits its days with events and counts the clean days between them;"
        " reports are read as tuples with psycopg's C timestamp loader (Django's Python one took"
        " longer than judging). What is left grows with the pairs of (commitment, report that"
        " counts for it) — the SQL's join produces the same pairs — plus, for the sweep, building one"
        " Python object per report read.",
        "",
        "The SQL does not build the engine's reasons, evidence lists and daily series, which the"
        " sweep records with every transition and the pages show; it only says the status.",
        "",
        *SQL_PLAN,
    ]
    if result.targeted_ratio > TARGET_TARGETED:
        b = result.bounds
        out += [
            "",
            f"The re-evaluation misses its target, and what bounds it is what the new reports touch."
            f" {result.arriving:,} ACLED events of three days, over every conflict and province, touch"
            f" {result.targeted.commitments:,} of the {result.commitments:,} commitments: every open ceiling"
            " and prohibition whose categories, places and parties they match (most open since their"
            " agreement was signed, years ago) and every deadline they could meet. Those are the long"
            " ones: judged alone with a full sweep's index they take"
            f" {b.get('judging the affected', 0):.1f} s of the {b.get('judging all', 0):.1f} s that judging all"
            f" {result.commitments:,} takes, and they can count {b.get('reports they can count', 0):,} of the"
            f" {b.get('reports read by a full sweep', 0):,} reports a full sweep reads. No choice of which"
            " commitments to re-judge gets under that: a verdict on a window years long is judged from"
            " the window's reports (its reason counts its days with data and its breached days).",
            "",
            "What was tried: skipping commitments whose window closed before the reports happened, or"
            " that their categories, places and parties cannot touch (`engine.affected`, held by a"
            " property test to move no verdict it skips); reading only the affected commitments'"
            " categories; judging withdrawn verdicts from the commitment and its anchors rather than its"
            " agreement; the engine work above, which makes both sides cheaper but not their ratio."
            " What would meet it is incremental verdicts: each long commitment's state (its last breach,"
            " its clean days, its first act) kept between sweeps and advanced by new reports, which the"
            " engine, a pure function of all the evidence, deliberately does not have.",
        ]
    if result.sql_ratio > TARGET_SQL:
        out += [
            "",
            "The sweep misses its target against the SQL: see the parts above; reading and filing a"
            " report in Python costs more than PostgreSQL scanning it.",
        ]
    return out


def run(scale):
    from bench.common import setup_django

    setup_django(DB_NAME)
    command = "python -m bench.sweep" + ("" if scale == "full" else f" --scale {scale}")
    return section(measure(scale), command)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=("small", "medium", "full"), default="small")
    args = parser.parse_args()
    print(run(args.scale))


if __name__ == "__main__":
    main()
