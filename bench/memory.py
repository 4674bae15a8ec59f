"""A full sweep's peak memory, at two report counts over the same commitments (issue 16, point 7).

    .venv/bin/python -m bench.memory [--scale small|full]

On the data `bench/generate.py` makes (full: 10,000 commitments in 100 agreements, with 1,000,000
reports and then 2,000,000; small: 100 commitments, with 10,000 reports and then 20,000), each in a
database of its own (bench_memory_<reports>), every agreement in force:

1. a first sweep records every commitment's first status (not measured: it writes the evidence links);
2. the full sweep, every commitment of every agreement judged again (`run_sweep`, agreement by
   agreement, as the nightly check's fan-out runs them), in a fresh Python process whose peak
   resident set size (`getrusage(RUSAGE_SELF).ru_maxrss`) is the figure; beside it the peak of the
   same process having set Django up and connected, before sweeping (the baseline).

The commitments are the same at both sizes (same seed): only the reports double, so the growth from
the first size to the second is what a sweep's memory owes to the number of reports. Target: at
most 500 MB, and flat past 1M (issue 16).
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
TARGET_MB = 500


@dataclass
class Point:
    reports: int
    baseline_mb: float  # the process with Django set up and connected, before sweeping
    peak_mb: float  # the same process's peak once every agreement is swept
    seconds: float
    commitments: int
    largest_read: int = 0  # the most reports one agreement's sweep read


@dataclass
class Result:
    scale: str
    commitments: int = 0
    agreements: int = 0
    points: list = field(default_factory=list)
    generated_in: dict = field(default_factory=dict)

    @property
    def growth_mb(self):
        return self.points[-1].peak_mb - self.points[0].peak_mb


def db_name(reports):
    return f"{DB_PREFIX}_{reports}"


def prepare(commitments, reports, log=print):
    """Generate into the database Django is set up against, every agreement in force, first statuses recorded.

    A database holding these many commitments and reports already (a run stopped after generating)
    is kept: only what is missing after it is done.
    """
    from monitor.alerts import models as am
    from monitor.alerts.sweep import in_force, run_sweep
    from monitor.evidence.models import Report
    from monitor.verdicts.models import StatusChange
    from terms.models import Agreement, Commitment

    if Report.objects.count() == reports and Commitment.objects.count() == commitments:
        made = generate.Generated(list(Agreement.objects.order_by("id").values_list("id", flat=True)),
                                  commitments, reports, 0.0)
    else:
        made = generate.generate(commitments, reports, log=log)
    generate.in_force(made.agreements)
    if not StatusChange.objects.exists():
        for agreement_id in in_force():
            run_sweep(now=generate.NOW, trigger=am.MANUAL, agreements=[agreement_id])
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
    baseline = _max_rss_mb()
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
    finally:
        inputs.evidence_for = usual
    return {"baseline_mb": baseline, "peak_mb": _max_rss_mb(), "seconds": time.perf_counter() - started,
            "commitments": judged, "largest_read": largest[0]}


def sweep_in_fresh_process(database_url):
    """`sweep_here` in a new interpreter pointed at `database_url`: its peak is the sweep's alone."""
    code = ("import json, os, django; django.setup(); from bench import memory; "
            "print(json.dumps(memory.sweep_here()))")
    env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "monitor.settings"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(scale, *, database_url=None, log=print, prepared=False):
    """Each size: generated (unless `prepared`), then swept in a fresh process.

    `database_url`: one database for every size, regenerated for each (the smoke test's); by
    default each size has a database of its own (bench_memory_<reports>), set up here.
    """
    from django.db import connection

    commitments, sizes = SIZES[scale]
    result = Result(scale, commitments=commitments)
    for reports in sizes:
        if database_url is None:
            url = setup_django(db_name(reports))
        else:
            url = database_url
        if not prepared:
            started = time.perf_counter()
            made = prepare(commitments, reports, log=log)
            result.generated_in[reports] = time.perf_counter() - started
            result.agreements = len(made.agreements)
        connection.close()  # the child reads what this process committed, with no connection of ours open
        figures = sweep_in_fresh_process(url)
        result.points.append(Point(reports=reports, **figures))
        log(f"{reports:,} reports: peak {figures['peak_mb']:.0f} MB (baseline {figures['baseline_mb']:.0f} MB), "
            f"{figures['seconds']:.1f} s, largest agreement read {figures['largest_read']:,} reports")
        if database_url is None:
            os.environ.pop("DATABASE_URL", None)
    return result


def yes(ok):
    return "yes" if ok else "**no**"


def section(result, command):
    first, last = result.points[0], result.points[-1]
    per_million = result.growth_mb / ((last.reports - first.reports) / 1e6)
    rows = [
        f"| {p.reports:,} reports | {p.peak_mb:.0f} MB (baseline {p.baseline_mb:.0f} MB) | {p.seconds:.1f} s |"
        f" {p.largest_read:,} | ≤ {TARGET_MB} MB | {yes(p.peak_mb <= TARGET_MB)} |"
        for p in result.points
    ]
    return "\n".join([
        "## A full sweep's peak memory",
        "",
        f"`{command}`: every commitment of every agreement judged again ({result.commitments:,} commitments,"
        " agreement by agreement, as the nightly check's fan-out runs them), in a fresh process, at two"
        " report counts over the same commitments; the peak resident set size (`ru_maxrss`).",
        "",
        "| reports | peak RSS | sweep | most reports one agreement read | target | met |",
        "| --- | --- | --- | --- | --- | --- |",
        *rows,
        f"| **growth** | **{result.growth_mb:+.0f} MB** ({per_million:+.0f} MB per million reports) | | |"
        " flat | " + yes(per_million < 50) + " |",
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
        prepare(SIZES[args.scale][0], args.generate_only)
        print(f"generated {args.generate_only:,} reports in {time.perf_counter() - started:.0f} s")
        return
    result = measure(args.scale, prepared=args.prepared)
    print(section(result, f".venv/bin/python -m bench.memory --scale {args.scale}"))


if __name__ == "__main__":
    main()
