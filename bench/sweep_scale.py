"""How the sweep scales: time and query count for a full sweep at two sizes.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/monitor_bench SECRET_KEY=bench \\
        .venv/bin/python bench/sweep_scale.py --commitments 1000 --reports 100000

It drops and recreates the data of the database it is pointed at: never point
it at a database you care about. Not part of the test suite.
"""

import argparse
import os
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "monitor.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, reset_queries  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from monitor.alerts.sweep import run_sweep  # noqa: E402
from monitor.evidence.models import Coverage, Report, Source  # noqa: E402
from terms.models import Agreement, Commitment, Party, PartyName  # noqa: E402

EVENT_TYPES = ["Battles", "Explosions/Remote violence", "Violence against civilians", "Protests", "Riots"]
PROVINCES = ["Kabul", "Kandahar", "Herat", "Balkh", "Nangarhar", "Kunduz", "Ghazni", "Helmand", "Paktia", "Logar"]


def populate(n_commitments, n_reports, seed=1):
    rng = random.Random(seed)
    call_command("flush", "--noinput", verbosity=0)
    taliban = Party.objects.create(name="Taliban", slug="taliban")
    PartyName.objects.create(party=taliban, name="Islamic Emirate of Afghanistan")
    agreements = [
        Agreement.objects.create(
            title=f"Agreement {i}", slug=f"agreement-{i}", time_zone="Asia/Kabul", state="in_force",
            signed_on=date(2018, 1, 1) + timedelta(days=rng.randrange(1400)),
        )
        for i in range(max(1, n_commitments // 100))
    ]
    kinds = ["deadline", "target", "ceiling", "prohibition"]
    commitments = []
    for i in range(n_commitments):
        kind = kinds[i % 4]
        rule = {"categories": [rng.choice(EVENT_TYPES)], "admin1": rng.sample(PROVINCES, 2)}
        if kind == "ceiling":
            rule["limit"] = rng.randint(1, 5)
        if kind == "target":
            rule = {"categories": ["troop_level"], "target": 5000, "attribution": "any"}
        commitments.append(Commitment(
            agreement=agreements[i % len(agreements)], key=f"c{i}", title=f"Commitment {i}", kind=kind, rule=rule,
            due_offset=rng.randint(5, 400) if kind in ("deadline", "target") else None,
            ends_offset=rng.randint(30, 700) if kind == "ceiling" else None,
        ))
    Commitment.objects.bulk_create(commitments, batch_size=2000)
    through = Commitment.owed_by.through
    through.objects.bulk_create([through(commitment_id=c.id, party_id=taliban.id) for c in commitments])
    source = Source.objects.create(name="Event dataset", kind="event_dataset", reliability="B", may_republish=False)
    Coverage.objects.create(source=source, starts_on=date(2017, 1, 1), recorded_at=datetime(2017, 1, 1, tzinfo=UTC))
    start = datetime(2018, 1, 1, tzinfo=UTC)
    batch = []
    for i in range(n_reports):
        when = start + timedelta(minutes=rng.randrange(5 * 365 * 24 * 60))
        troop = i % 500 == 0
        batch.append(Report(
            summary="event", category="troop_level" if troop else rng.choice(EVENT_TYPES),
            occurred_at=when, recorded_at=when + timedelta(days=3), source=source, source_ref=f"E{i}",
            admin1=rng.choice(PROVINCES), actor1=rng.choice(["Taliban", "Unidentified Armed Group", "Police"]),
            value=rng.randint(2000, 14000) if troop else None, credibility=2,
        ))
        if len(batch) == 10000:
            Report.objects.bulk_create(batch)
            batch = []
    Report.objects.bulk_create(batch)


def measure(label):
    reset_queries()
    with CaptureQueriesContext(connection) as ctx:
        started = time.perf_counter()
        run = run_sweep(now=datetime(2023, 1, 1, tzinfo=UTC))
        elapsed = time.perf_counter() - started
    print(f"{label}: {run.commitments_evaluated} commitments, {run.transitions} transitions, "
          f"{elapsed:.2f} s, {len(ctx.captured_queries)} queries")
    return elapsed, len(ctx.captured_queries)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--commitments", type=int, default=1000)
    parser.add_argument("--reports", type=int, default=100000)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    for n in (args.commitments // 10, args.commitments):
        populate(n, args.reports)
        measure(f"first sweep, {n} commitments, {args.reports} reports")
        measure(f"next sweep (no changes), {n} commitments")


if __name__ == "__main__":
    main()
