"""A cited view reads the history (what was recorded at its cutoff) and the revisions: their tables move the data
version too.

A view cited "as known at" a past instant is judged from django-simple-history's tables
(monitor/verdicts/recorded.py), and its banner names the latest revision of the terms
(monitor/pages/later.py). History rows are written with the rows they copy, whose tables already
move the version; the trigger on the history tables themselves keeps that true of any write (a
history row corrected by hand, `populate_history`). The same trigger 0001_data_version puts on
every table a public page reads; idempotent, as another migration may add it to a table first.
"""

from django.db import migrations

from monitor.pages.watching import watch


class Migration(migrations.Migration):
    dependencies = [
        ("pages", "0007_watch_attachments"),
        ("terms", "0012_history_for_names"),
        ("evidence", "0002_imports_places_history"),
    ]

    operations = [
        watch(
            "terms_historicalagreement",
            "terms_historicalagreement_non_party_actors",
            "terms_historicalcommitment",
            "terms_historicalcommitment_owed_by",
            "terms_historicalparty",
            "terms_historicalpartyname",
            "terms_historicalmilestone",
            "terms_revision",
            "evidence_historicalsource",
            "evidence_historicalreport",
        )
    ]
