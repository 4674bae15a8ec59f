"""manage.py load_agreement FILE [FILE...]: load agreement files (docs/agreement-format.md)."""

import getpass

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from terms.agreement_file import AgreementFileError, load_agreement_file

PLURALS = {
    "agreement": "agreements", "party": "parties", "non-party actor": "non-party actors", "party name": "party names",
    "milestone": "milestones", "commitment": "commitments",
}


def _counted(counter):
    """'1 agreement, 3 parties', always in that order."""
    return ", ".join(
        f"{counter[what]} {what if counter[what] == 1 else plural}" for what, plural in PLURALS.items() if counter[what]
    )


def _system_user():
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container): still a load, by someone unnamed
        return "unknown"


class Command(BaseCommand):
    help = "Load agreement files into the database: all of them, or nothing if any has a problem."

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE", help="agreement file (YAML)")
        parser.add_argument(
            "--dry-run", action="store_true", help="check the files and report what would change, writing nothing"
        )
        parser.add_argument(
            "--rename-parties", action="store_true",
            help="let the files rename parties that other agreements share (renamed there too)",
        )
        parser.add_argument(
            "--revise", metavar="REASON",
            help="record the change of judged fields as a new revision of the terms, with this reason (needed when "
            "a changed commitment has published verdicts; docs/agreement-format.md, \"Revisions\")",
        )
        parser.add_argument(
            "--by", metavar="NAME", help="who makes this load or revision, as recorded; default: the system user"
        )

    def handle(self, *args, files, dry_run, rename_parties, verbosity, revise=None, by=None, **options):
        if revise is not None and not revise.strip():
            raise CommandError("--revise needs a reason: what changed in the terms and why.")
        by = by or _system_user()
        problems, results = [], []
        # One transaction for all files, so that a problem in any of them writes
        # none; every file is still checked, so one run reports every problem.
        with transaction.atomic():
            for path in files:
                try:
                    results.append(
                        load_agreement_file(path, rename_parties=rename_parties, revise=revise and revise.strip(), by=by)
                    )
                except AgreementFileError as e:
                    problems.extend(e.errors)
            if problems or dry_run:
                transaction.set_rollback(True)
        if problems:
            for problem in problems:
                self.stderr.write(str(problem))
            bad = len({p.path for p in problems})
            raise CommandError(
                f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in {bad} "
                f"file{'s' if bad != 1 else ''}; nothing was loaded."
            )
        # Reported only now: until the transaction committed, nothing was loaded.
        for result in results:
            self.report(result, dry_run, verbosity)

    def report(self, result, dry_run, verbosity):
        would = "would be " if dry_run else ""
        parts = []
        if result.created:
            parts.append(f"{would}created {_counted(result.created)}")
        if result.updated:
            parts.append(f"{would}updated {_counted(result.updated)}")
        summary = "; ".join(parts) or "no changes"
        self.stdout.write(self.style.SUCCESS(f"{result.path}: {summary}"))
        for change in result.changes:
            # Updates say which fields changed, worth seeing every time; a first
            # load's list of everything created is detail.
            if change.startswith("updated") or verbosity >= 2:
                self.stdout.write(f"  {change}")
        revision = result.revision
        if revision is not None and (revision.number > 1 or verbosity >= 2):
            self.stdout.write(f"  {would}recorded revision {revision.label} of the terms by {revision.made_by}: "
                              f"{revision.reason}")
        for warning in result.warnings:
            self.stderr.write(self.style.WARNING(f"{result.path}: warning: {warning}"))
