"""Pages, feeds and calendars name the revision of the terms they used: its table moves the data version too.

A migration adding the trigger that 0001_data_version puts on every table a public page reads
(tests/test_page_cache.py holds the list complete), for the table terms 0009 adds.
"""

from django.db import migrations

from monitor.pages.watching import watch


class Migration(migrations.Migration):
    dependencies = [("pages", "0005_watch_provisions"), ("terms", "0011_every_agreement_has_r1")]

    operations = [watch("terms_revision")]
