"""Create ACLED as a ready source (issue 15), so `import_reports FILE --format acled` works after the quick start.

    python manage.py add_acled_source

Idempotent by name: a source named "ACLED" (any case) that already exists is left exactly as its
administrator set it; only a missing one is created. bin/start runs it.

A command rather than a data migration: a declared coverage period says "no ACLED row here means zero
events" (docs/importing.md, *Coverage: zero or no data*), which is only true where the export has been
imported; created in every database by a migration it would also stand in every test database.
"""

import datetime

from django.core.management.base import BaseCommand
from django.db import transaction

from monitor.evidence import models as ev
from monitor.evidence.importing.acled import EVENT_TYPES

# ACLED's six event types (the importer's list, as its export writes them in `event_type`): what the source
# declares it reports, so a rule naming one of them is never "no source reports this".
ACLED_EVENT_TYPES = list(EVENT_TYPES)
COVERAGE_FROM = datetime.date(2017, 1, 1)


@transaction.atomic
def ensure_acled_source():
    """The source named ACLED: (source, created)."""
    existing = ev.Source.objects.filter(name__iexact="ACLED").first()
    if existing is not None:
        return existing, False
    source = ev.Source.objects.create(
        name="ACLED",
        kind=ev.EVENT_DATASET,
        # B, "usually reliable": a curated dataset with a published method, not an eyewitness.
        reliability="B",
        url="https://acleddata.com",
        declared_coverage="Afghanistan, from 1 January 2017 (ACLED's coverage of the country).",
        categories=ACLED_EVENT_TYPES,
        licence="ACLED terms of use: counts and analysis may be published, with attribution; "
                "its rows may not be republished.",
        may_republish=False,
    )
    ev.Coverage.objects.create(source=source, starts_on=COVERAGE_FROM, country="Afghanistan")
    return source, True


class Command(BaseCommand):
    help = "Create the ACLED source (licence, reliability, coverage, event types) unless a source named ACLED exists."

    def handle(self, *args, **options):
        source, created = ensure_acled_source()
        if created:
            self.stdout.write(f"Created the source “{source.name}” (reliability B, rows not republished, "
                              f"coverage Afghanistan from {COVERAGE_FROM:%d %B %Y}).")
        else:
            self.stdout.write(f"A source named “{source.name}” exists; left as it is.")
