"""Public pages read the agreement's text (the text page, the agreement page's counts, a commitment's
citations): its tables move the data version too.

A migration adding the trigger that 0001_data_version puts on every table a public page reads
(tests/test_page_cache.py holds the list complete), for the tables terms 0010 adds.
"""

from django.db import migrations

from monitor.pages.watching import watch


class Migration(migrations.Migration):
    dependencies = [("pages", "0004_watch_milestones"), ("terms", "0010_provisions")]

    operations = [watch("terms_provision", "terms_provision_commitments")]
