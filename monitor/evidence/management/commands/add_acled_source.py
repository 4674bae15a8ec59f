"""Create ACLED as a ready source (issue 15), so `import_reports FILE --format acled` works after the quick start.

    python manage.py add_acled_source

Idempotent by name: a source named "ACLED" (any case) that already exists is left exactly as its
administrator set it; only a missing one is created. bin/start runs it.

Its coverage follows what was imported (`Source.coverage_from_imports`): no period is declared here. A
coverage period says "no ACLED row here means zero events" (docs/importing.md, *Coverage: zero or no
data*), which is true only of days whose export we hold; so each successful import of an ACLED file
appends a period from the file's first to its last event day, countrywide in Afghanistan, recorded when
the import completes. Declaring ACLED's own coverage (from 2017, open-ended) would make every day since
2017 without an imported row read as a covered day with zero events.

A command rather than a data migration, so that the source stands only where someone asked for it, not
in every test database.
"""

from django.core.management.base import BaseCommand
from django.db import transaction

from monitor.evidence import models as ev
from monitor.evidence.importing.acled import EVENT_TYPES

# ACLED's six event types (the importer's list, as its export writes them in `event_type`): what the source
# declares it reports, so a rule naming one of them is never "no source reports this".
ACLED_EVENT_TYPES = list(EVENT_TYPES)
# The country each import's period covers, whole: ACLED's exports for this monitor are of Afghanistan.
COUNTRY = "Afghanistan"


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
        declared_coverage="Afghanistan: the days of each export imported, from its first to its last event "
                          "(ACLED itself covers the country from 1 January 2017).",
        coverage_from_imports=True,
        coverage_country=COUNTRY,
        categories=ACLED_EVENT_TYPES,
        licence="ACLED terms of use: counts and analysis may be published, with attribution; "
                "its rows may not be republished.",
        may_republish=False,
    )
    return source, True


class Command(BaseCommand):
    help = (
        "Create the ACLED source (licence, reliability B, event types) unless a source named ACLED exists. Its "
        "coverage follows the imports: each ACLED file imported declares the days from its first to its last "
        "event covered (zero events on a day without a row); every other day reads no data."
    )

    def handle(self, *args, **options):
        source, created = ensure_acled_source()
        if created:
            self.stdout.write(f"Created the source “{source.name}” (reliability B, rows not republished; "
                              f"coverage: the days of each export imported, {COUNTRY}).")
        else:
            self.stdout.write(f"A source named “{source.name}” exists; left as it is.")
