"""Sweeps on several workers: every agreement judged by one worker process, then by two.

    .venv/bin/python -m bench.shards [--scale small|full]

Sweeps are per agreement, each under its own agreement's lock (monitor/alerts/sweep.py), so
worker processes judge different agreements at once. On the data `bench/generate.py` makes
(full: 10,000 commitments in 100 agreements, 1,000,000 reports; small: 1,000 commitments in 100
agreements of 10, 20,000 reports), every agreement in force and its statuses recorded once, the
nightly check (`monitor.check`: every commitment of every agreement judged again, one task per
group of agreements sharing parties, `sweep.sharing`) is sent to real Celery workers (solo pool, one
process each) and timed from the send to the last group's run committed: once with one worker
process, once with two. Both runs judge
the same commitments and record nothing new.

Target (issue 16): two processes at least 1.3x the throughput of one, on 2 cores that also run
PostgreSQL.
"""

import argparse
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import generate
from bench.common import machine, setup_django

DB_NAME = "bench_shards"
BROKER_URL = os.environ.get("BENCH_SHARDS_REDIS_URL", "redis://127.0.0.1:6379/11")
TARGET = 1.3
# commitments, reports, commitments per agreement: a hundred agreements at both sizes
SIZES = {"small": (1_000, 20_000, 10), "full": (10_000, 1_000_000, 100)}


@dataclass
class Result:
    scale: str
    commitments: int = 0
    agreements: int = 0
    reports: int = 0
    seconds: dict = field(default_factory=dict)  # worker processes -> seconds for the whole check
    judged: dict = field(default_factory=dict)  # worker processes -> commitments judged
    transitions: dict = field(default_factory=dict)

    @property
    def speedup(self):
        return self.seconds[1] / self.seconds[2]


def measure(scale, workdir, log=print):
    """Generate into the database Django is set up against, then time the check with one and two workers."""
    import redis

    from monitor.alerts import models as am
    from monitor.alerts.sweep import in_force, run_sweep, sharing
    from monitor.celery import app as celery_app
    from tests import realparts

    commitments, reports, per_agreement = SIZES[scale]
    usual, generate.COMMITMENTS_PER_AGREEMENT = generate.COMMITMENTS_PER_AGREEMENT, per_agreement
    try:
        made = generate.generate(commitments, reports, log=log)
    finally:
        generate.COMMITMENTS_PER_AGREEMENT = usual  # other benchmarks (and their smoke tests) keep theirs
    generate.in_force(made.agreements)
    # No one to email: the workers' time is the sweeps', not an SMTP server's.
    am.Subscription.objects.all().delete()
    result = Result(scale, commitments=commitments, agreements=len(made.agreements), reports=reports)
    from django.utils import timezone

    run_sweep(now=timezone.now(), trigger=am.MANUAL)  # every status recorded once: the checks find nothing new
    env = realparts.process_env(1, REDIS_URL=BROKER_URL, CACHE_URL=BROKER_URL)
    with realparts.broker(celery_app, BROKER_URL):
        for processes in (1, 2):
            with redis.Redis.from_url(BROKER_URL) as client:
                client.flushdb()
            # The check's sweeps go to its queue (`checks`, CELERY_TASK_ROUTES): here every worker takes them.
            workers = [realparts.Worker(env, Path(workdir) / f"worker-{processes}-{n}.log", f"shards{processes}{n}",
                                        queues="celery,checks")
                       for n in range(processes)]
            try:
                for worker in workers:
                    worker.start()
                groups = len(sharing(in_force()))
                started_at = timezone.now()
                started = time.perf_counter()
                celery_app.send_task("monitor.check")
                runs = am.SweepRun.objects.filter(trigger=am.CHECK, started_at__gte=started_at, finished_at__isnull=False)
                # One run per group of agreements sharing parties (`sweep.sharing`): one task each.
                realparts.wait_until(lambda: runs.count() >= groups, timeout=3600, every=0.2,
                                     what="every group's check")
                result.seconds[processes] = time.perf_counter() - started
                result.judged[processes] = sum(r.commitments_evaluated for r in runs)
                result.transitions[processes] = sum(r.transitions for r in runs)
            finally:
                for worker in workers:
                    worker.stop()
            log(f"{processes} worker process(es): {result.seconds[processes]:.1f} s, "
                f"{result.judged[processes]} commitments judged")
    with redis.Redis.from_url(BROKER_URL) as client:
        client.flushdb()  # the broker's queues and bindings: nothing of the run left behind
    return result


def yes(ok):
    return "yes" if ok else "**no**"


def section(result, command):
    return "\n".join([
        "## Sweeps on several workers",
        "",
        f"`{command}`: the nightly check (`monitor.check`, every commitment judged again, one task per"
        f" group of agreements sharing parties) over {result.agreements} agreements, {result.commitments:,}"
        f" commitments and {result.reports:,} reports, sent to real Celery workers (solo pool), timed from the"
        " send to the last group's run committed. Both runs judge every commitment and record nothing new.",
        "",
        "| measure | figure | target | met |",
        "| --- | --- | --- | --- |",
        f"| one worker process | {result.seconds[1]:.1f} s ({result.judged[1]:,} commitments judged) | | |",
        f"| two worker processes | {result.seconds[2]:.1f} s ({result.judged[2]:,} commitments judged) | | |",
        f"| **throughput, two / one** | **{result.speedup:.2f}** | ≥ {TARGET} | {yes(result.speedup >= TARGET)} |",
        "",
        f"On {machine()}, where the workers share the cores with PostgreSQL. Each group of agreements sharing"
        " parties is one task (each agreement under its own lock, the group's reports read once), so"
        " throughput grows with the worker processes (on one machine or several) until the cores,"
        " PostgreSQL's included, are busy, or until there are fewer groups than processes: one group is"
        " judged by one process at a time.",
    ]) + "\n"


def run(scale="small"):
    os.environ.setdefault("REDIS_URL", BROKER_URL)
    setup_django(DB_NAME)
    with tempfile.TemporaryDirectory(prefix="bench-shards-") as workdir:
        result = measure(scale, workdir)
    return section(result, f".venv/bin/python -m bench.shards --scale {scale}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SIZES), default="small")
    print(run(parser.parse_args().scale))


if __name__ == "__main__":
    main()
