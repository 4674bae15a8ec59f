"""Public pages read milestones (a commitment counted from one): their table moves the data version too.

A migration adding the trigger that 0001_data_version puts on every table a public page reads
(tests/test_page_cache.py holds the list complete), for the table terms 0006 adds.
"""

from django.db import migrations

from monitor.pages.watching import watch


class Migration(migrations.Migration):
    dependencies = [("pages", "0003_watch_non_party_actors"), ("terms", "0006_milestones")]

    operations = [watch("terms_milestone")]
