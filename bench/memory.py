"""A full sweep's peak memory, at two report counts over the same commitments (issue 16, point 7).

    .venv/bin/python -m bench.memory [--scale small|full]

On the data `bench/generate.py` makes (full: 10,000 commitments in 100 agreements, with 1,000,000
reports and then 2,000,000; small: 100 commitments in 6 agreements, with 10,000 reports and then
20,000), each in a database of its own (bench_memory_<reports>), the first IN_FORCE agreements in
force (2 at full: 200 commitments; every one at small), the SWEEPS, each in a fresh Python
process whose peak resident set size (`getrusage(RUSAGE_SELF).ru_maxrss`) is the figure:

1. the first sweep: every commitment judged and its first status recorded, with the reports it
   rests on (all a full sweep reads and judges, and more written);
2. at small size, the full sweep again, nothing new (the nightly check's work);
3. then the first sweep once more on the largest size's database with every report of a conflict no
   agreement in force follows removed (`followed_only`): the same reports for the agreements swept,
   far fewer in all.

Both run agreement by agreement, as the fan-out of `monitor.sweep` and `monitor.check` runs them,
each agreement in a transaction of its own: what one agreement's sweep holds is dropped before the
next, so the peak is the largest agreement's, whatever the number of agreements (the process's
resident size after each agreement is recorded to show it), and two agreements measure what a
hundred would, in a fiftieth of the time. The commitments are the same at both sizes (same
seed): only the reports double, so the growth from the first size to the second is what a sweep's
memory owes to the number of reports. Target: at most 500 MB, and flat past 1M (issue 16).
"""

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field

from bench import generate
from bench.common import ROOT, machine, setup_django

DB_PREFIX = os.environ.get("BENCH_MEMORY_DB_PREFIX", "bench_memory")
# commitments, [report counts]
SIZES = {"small": (100, [10_000, 20_000]), "full": (10_000, [1_000_000, 2_000_000])}
IN_FORCE = {"small": None, "full": 2}  # agreements in force (None: every one)
# Which sweeps are measured: at full size the first alone (it reads and judges all a full sweep does, and
# writes every status besides; each agreement's takes minutes on a shared 2-core machine).
SWEEPS = {"small": ("first", "steady"), "full": ("first",)}
TARGET_MB = 500


@dataclass
class Point:
    reports: int
    first: dict  # the first sweep's figures (`sweep_here`)
    steady: dict | None = None  # the full sweep's, nothing new (not measured at full size)


@dataclass
class Result:
    scale: str
    commitments: int = 0
    agreements: int = 0
    points: list = field(default_factory=list)
    generated_in: dict = field(default_factory=dict)
    # The largest size again, the reports of conflicts no agreement in force follows removed (`followed_only`).
    followed: Point | None = None

    def growth_mb(self, which="first"):
        return self.points[-1].__dict__[which]["peak_mb"] - self.points[0].__dict__[which]["peak_mb"]


def db_name(reports):
    return f"{DB_PREFIX}_{reports}"


def prepare(commitments, reports, in_force=None, log=print):
    """Generate into the database Django is set up against; the first `in_force` agreements in force, never swept.

    A database holding these many commitments and reports already (a run stopped after generating)
    is kept: its sweeps are forgotten.
    """
    from bench.sweep import forget_sweeps
    from monitor.evidence.models import Report
    from terms.models import Agreement, Commitment

    if Report.objects.count() == reports and Commitment.objects.count() == commitments:
        made = generate.Generated(list(Agreement.objects.order_by("id").values_list("id", flat=True)),
                                  commitments, reports, 0.0)
    else:
        made = generate.generate(commitments, reports, log=log)
    generate.in_force(made.agreements[:in_force])
    forget_sweeps()
    return made


def _max_rss_mb():
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def sweep_here():
    """The full sweep in this (fresh) process; returns its figures as a dict. Django must be set up."""
    from django.db import connection

    from monitor.alerts import models as am
    from monitor.alerts.sweep import in_force, run_sweep
    from monitor.verdicts import inputs

    connection.ensure_connection()
    baseline, after_each = _max_rss_mb(), []
    largest, usual = [0], inputs.evidence_for

    def counted(*args, **kwargs):
        evidence = usual(*args, **kwargs)
        largest[0] = max(largest[0], len(evidence))
        return evidence

    inputs.evidence_for = counted
    judged = 0
    started = time.perf_counter()
    try:
        for agreement_id in in_force():
            judged += run_sweep(now=generate.NOW, trigger=am.MANUAL, agreements=[agreement_id]).commitments_evaluated
            after_each.append(_rss_mb())
    finally:
        inputs.evidence_for = usual
    return {"baseline_mb": baseline, "peak_mb": _max_rss_mb(), "seconds": time.perf_counter() - started,
            "commitments": judged, "largest_read": largest[0], "after_each_mb": after_each}


def _rss_mb():
    """The resident size now (not the peak): what the process still holds between agreements."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def sweep_in_fresh_process(database_url):
    """`sweep_here` in a new interpreter pointed at `database_url`: its peak is the sweep's alone."""
    return _in_process(database_url, "sweep_here")


def measure(scale, *, database_url=None, log=print, prepared=False):
    """Each size: generated (unless `prepared`), then swept in fresh processes.

    `database_url`: one database for every size, regenerated here for each (the smoke test's, with
    Django set up against it); by default each size has a database of its own (bench_memory_<reports>),
    generated by a process of its own (Django is set up against one database per process).
    """
    commitments, sizes = SIZES[scale]
    result = Result(scale, commitments=commitments)
    for reports in sizes:
        started = time.perf_counter()
        if database_url is not None:
            from django.db import connection

            url = database_url
            prepare(commitments, reports, IN_FORCE[scale], log=log)
            connection.close()  # the children read what this process committed
        else:
            url = _url(db_name(reports))
            if not prepared:
                subprocess.run([sys.executable, "-m", "bench.memory", "--scale", scale, "--generate-only", str(reports)],
                               cwd=ROOT, check=True)
        result.generated_in[reports] = time.perf_counter() - started
        sweeps = {}
        for which in SWEEPS[scale]:
            sweeps[which] = figures = sweep_in_fresh_process(url)
            log(f"{reports:,} reports, {which} sweep: peak {figures['peak_mb']:.0f} MB (baseline "
                f"{figures['baseline_mb']:.0f} MB), {figures['seconds']:.1f} s, {figures['commitments']} commitments,"
                f" largest agreement read {figures['largest_read']:,} reports, resident after each agreement "
                + " ".join(f"{m:.0f}" for m in figures["after_each_mb"]))
        result.commitments = sweeps["first"]["commitments"]
        result.points.append(Point(reports=reports, **sweeps))
    # What grows a sweep's memory is what its agreement can count, not every report held: the largest
    # size again, without the conflicts no agreement in force follows.
    remaining = _in_process(url, "followed_only")
    figures = sweep_in_fresh_process(url)
    log(f"{remaining:,} reports (the followed conflicts' alone): peak {figures['peak_mb']:.0f} MB, "
        f"largest agreement read {figures['largest_read']:,} reports")
    result.followed = Point(reports=remaining, first=figures)
    return result


def followed_only():
    """Remove every report of a conflict no agreement in force is about, and their sweeps' records; how many remain.

    The generated agreements are titled by their conflict ("Yemen: Ansar Allah – ... agreement 2"), as
    its reports name their country. Statuses recorded are forgotten first (they rest on reports).
    """
    from django.db import connection

    from bench.sweep import forget_sweeps
    from monitor.evidence.models import Report
    from terms.models import IN_FORCE, Agreement

    followed = sorted({title.split(":", 1)[0] for title in
                       Agreement.objects.filter(state=IN_FORCE).values_list("title", flat=True)})
    forget_sweeps()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM evidence_verificationchange v USING evidence_report r "
                       "WHERE v.report_id = r.id AND NOT r.country = ANY(%s)", [followed])
        cursor.execute("DELETE FROM evidence_report WHERE NOT country = ANY(%s)", [followed])
        cursor.execute("TRUNCATE alerts_pendingchange")  # the deletion's own: nothing here sweeps them
        cursor.execute("ANALYZE evidence_report")
    return Report.objects.count()


def _in_process(database_url, name):
    """`name`, a function of this module, run in a new interpreter against `database_url`; what it returns."""
    code = f"import json, django; django.setup(); from bench import memory; print(json.dumps(memory.{name}()))"
    env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "monitor.settings"}
    env.setdefault("SECRET_KEY", "benchmark-only-secret-key-0123456789abcdefghijklmnop")
    env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")  # as bench.common.setup_django: never database 0
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _url(name):
    from bench.common import PG_SERVER

    return f"{PG_SERVER}/{name}"


def yes(ok):
    return "yes" if ok else "**no**"


def section(result, command):
    first, last = result.points[0], result.points[-1]
    millions = (last.reports - first.reports) / 1e6
    rows = []
    for p in result.points:
        for which, name in (("first", "first sweep"), ("steady", "full sweep, nothing new")):
            f = p.__dict__[which]
            if f is None:
                continue
            rows.append(
                f"| {p.reports:,} reports, {name} | {f['peak_mb']:.0f} MB (baseline {f['baseline_mb']:.0f} MB) |"
                f" {f['seconds']:.1f} s | {f['largest_read']:,} | {min(f['after_each_mb']):.0f}–"
                f"{max(f['after_each_mb']):.0f} MB | ≤ {TARGET_MB} MB | {yes(f['peak_mb'] <= TARGET_MB)} |")
    measured = [(w, n) for w, n in (("first", "first sweep"), ("steady", "full sweep")) if first.__dict__[w]]
    growth = [f"{name}: **{result.growth_mb(which):+.0f} MB** ({result.growth_mb(which) / millions:+.0f} MB per"
              " million reports)" for which, name in measured]
    flat = all(result.growth_mb(which) / millions < 50 for which, _ in measured)
    followed = result.followed
    elsewhere = []
    if followed is not None:
        f = followed.first
        rows.append(
            f"| {followed.reports:,} reports: the {last.reports:,} less every conflict no agreement in force follows,"
            f" first sweep | {f['peak_mb']:.0f} MB (baseline {f['baseline_mb']:.0f} MB) | {f['seconds']:.1f} s |"
            f" {f['largest_read']:,} | {min(f['after_each_mb']):.0f}–{max(f['after_each_mb']):.0f} MB |"
            f" ≤ {TARGET_MB} MB | {yes(f['peak_mb'] <= TARGET_MB)} |")
        gone = last.reports - followed.reports
        change = f["peak_mb"] - last.first["peak_mb"]
        elsewhere = [
            "",
            f"Without the {gone:,} reports of the conflicts no agreement in force follows (the same"
            f" {followed.reports:,} of its own conflicts left): peak **{change:+.0f} MB** against"
            f" {last.reports:,} reports. What a sweep holds grows with the reports its agreement's rules can count"
            " (its own conflict's), not with the total held.",
        ]
    return "\n".join([
        "## A full sweep's peak memory",
        "",
        f"`{command}`: {result.commitments:,} commitments judged agreement by agreement, as the fan-out runs"
        f" them, each sweep in a fresh process, at {first.reports:,} and {last.reports:,} reports over the same"
        " commitments; the peak resident set size (`ru_maxrss`), and the resident size after each agreement"
        " (what the process keeps between agreements).",
        "",
        "| reports, sweep | peak RSS | time | most reports one agreement read | resident after each agreement"
        " | target | met |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *rows,
        "",
        f"Growth from {first.reports:,} to {last.reports:,} reports: " + "; ".join(growth)
        + f". Flat (under 50 MB per million): {yes(flat)}.",
        *elsewhere,
        "",
        f"On {machine()}.",
    ]) + "\n"


def run(scale="small"):
    result = measure(scale)
    return section(result, f".venv/bin/python -m bench.memory --scale {scale}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SIZES), default="small")
    parser.add_argument("--prepared", action="store_true", help="the databases are generated already: sweep only")
    parser.add_argument("--generate-only", type=int, metavar="REPORTS",
                        help="generate the database for this report count and stop")
    args = parser.parse_args()
    if args.generate_only:
        setup_django(db_name(args.generate_only))
        started = time.perf_counter()
        prepare(SIZES[args.scale][0], args.generate_only, IN_FORCE[args.scale])
        print(f"generated {args.generate_only:,} reports in {time.perf_counter() - started:.0f} s")
        return
    result = measure(args.scale, prepared=args.prepared)
    print(section(result, f".venv/bin/python -m bench.memory --scale {args.scale}"))


if __name__ == "__main__":
    main()
