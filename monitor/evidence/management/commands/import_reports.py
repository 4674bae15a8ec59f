"""Import reports from an ACLED export or a file in the monitor's report format (docs/importing.md).

    python manage.py import_reports events.csv --format acled --source ACLED
    python manage.py import_reports reports.json --format native

All or nothing: if any row has a problem, every problem is printed (line,
column, reason) and nothing is written, unless --skip-invalid is given.

Who imports: with --user, that user, with that user's permissions (a Monitor's file may not
give new reports a `recorded_at`: only those who may back-date can). Without it, the command
is an administrator's tool (whoever runs it has the server): it may back-date, and the
reports' history names "manage.py import_reports" as who did.
"""

import os
import sys

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from monitor.evidence import models as ev
from monitor.evidence.importing.problems import ProblemLog
from monitor.evidence.importing.run import import_file
from monitor.evidence.importing.zones import default_time_zone
from terms.rules import RuleError, validate_time_zone

# Who back-dated, in the history of reports this command imports without --user.
COMMAND = "manage.py import_reports"


class Command(BaseCommand):
    help = "Import reports from an ACLED CSV export or a CSV/JSON file in the monitor's report format."

    def add_arguments(self, parser):
        parser.add_argument("file", help="The file to import (.csv; .json for the report format).")
        parser.add_argument("--format", required=True, choices=[ev.ACLED, ev.NATIVE])
        parser.add_argument(
            "--source", metavar="NAME",
            help="The source the rows come from (required for ACLED unless a source is named “ACLED”).",
        )
        parser.add_argument(
            "--time-zone", metavar="ZONE",
            help="Zone of dates without a time (default: the agreements' zone if they share one, else UTC).",
        )
        parser.add_argument("--skip-invalid", action="store_true", help="Import the good rows, skip the bad ones.")
        parser.add_argument("--dry-run", action="store_true", help="Check and count, write nothing.")
        parser.add_argument(
            "--user", metavar="USERNAME",
            help="Import as this user: recorded as entering the reports, and held to their permissions (only "
                 "Analysts and Administrators may back-date with recorded_at). Without it: as an administrator.",
        )

    def handle(self, *args, **options):
        path = options["file"]
        if not os.path.isfile(path):
            raise CommandError(f"{path}: no such file.")
        source = self.source(options["source"], options["format"])
        zone = options["time_zone"] or default_time_zone()
        try:
            validate_time_zone(zone)
        except RuleError as e:
            raise CommandError(f"--time-zone: {e.message}") from None
        user = None
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"--user: no user named {options['user']!r}.")

        name = os.path.basename(path)
        problems = ProblemLog(keep=0, sink=lambda p: self.stderr.write(f"{name}: {p}"))
        with transaction.atomic():
            # The job row is the import's record; it goes too if nothing is imported.
            job = ev.ImportJob.objects.create(
                file_name=name, file_size=os.path.getsize(path), format=options["format"], source=source,
                time_zone=zone, skip_invalid=options["skip_invalid"], state=ev.IMPORTING, created_by=user,
            )
            with open(path, "rb") as binary:
                outcome = import_file(job, binary, commit=not options["dry_run"], log=problems, user=user,
                                      progress=self.progress if options["verbosity"] > 1 else None,
                                      backdater=COMMAND if user is None else None)
            if not outcome.committed:
                transaction.set_rollback(True)
            else:
                job.state = ev.DONE
                job.rows, job.rows_invalid = outcome.rows, outcome.rows_invalid
                job.rows_created, job.rows_updated = outcome.created, outcome.updated
                job.rows_unchanged, job.problem_count = outcome.unchanged, problems.count
                job.summary = outcome.summary
                job.save()

        counts = (
            f"{outcome.rows} rows: {outcome.created} new, {outcome.updated} updated, {outcome.unchanged} unchanged, "
            f"{outcome.rows_invalid} with problems."
        )
        if outcome.committed:
            self.stdout.write(self.style.SUCCESS(f"{name}: imported. {counts}"))
        elif options["dry_run"] and outcome.importable and (problems.count == 0 or options["skip_invalid"]):
            self.stdout.write(f"{name}: checked, nothing written (dry run). {counts}")
        else:
            hint = "" if options["skip_invalid"] or outcome.fatal else " Fix them, or use --skip-invalid."
            raise CommandError(f"{name}: nothing imported. {counts}{hint}")
        self.print_summary(outcome.summary)

    def source(self, name, fmt):
        if name:
            source = ev.Source.objects.filter(name__iexact=name).first()
            if source is None:
                raise CommandError(f"--source: no source named {name!r}; add it in the admin (with its licence).")
            return source
        if fmt == ev.ACLED:
            source = ev.Source.objects.filter(name__iexact="ACLED").first()
            if source is None:
                raise CommandError("--source: name the source of these ACLED rows (no source is named “ACLED”).")
            return source
        return None

    def progress(self, rows, bytes_read, invalid=0):
        sys.stderr.write(f"\r{rows} rows, {bytes_read // (1024 * 1024)} MB read, {invalid} with problems")

    def print_summary(self, summary):
        parties = ", ".join(f"{slug}: {n}" for slug, n in summary.get("parties", {}).items()) or "none"
        self.stdout.write(f"Rows by party: {parties}; not attributed to a party: {summary.get('unattributed', 0)}.")
        if summary.get("places_respelled"):
            self.stdout.write(f"Place names respelled through known variants: {summary['places_respelled']}.")
