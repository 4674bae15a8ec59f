"""The agreement page reads an agreement's non-party actors: their table moves the data version too.

A migration adding the trigger that 0001_data_version puts on every table a public page reads
(tests/test_page_cache.py holds the list complete), for the table terms 0004 adds.
"""

from django.db import migrations

from monitor.pages.watching import watch


class Migration(migrations.Migration):
    dependencies = [("pages", "0002_data_version_function"), ("terms", "0004_non_party_actors")]

    operations = [watch("terms_agreement_non_party_actors")]
