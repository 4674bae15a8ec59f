"""Public pages read the attachments of reports (their digests, capture times): their table moves the data version.

A migration adding the trigger that 0001_data_version puts on every table a public page reads
(tests/test_page_cache.py holds the list complete), for the table evidence 0010 adds.
"""

from django.db import migrations

from monitor.pages.watching import watch


class Migration(migrations.Migration):
    dependencies = [("pages", "0006_watch_revisions"), ("evidence", "0008_attachments_and_verification_method")]

    operations = [watch("evidence_attachment")]
