"""Every agreement recorded before revisions existed gets its r1, so every agreement has a current revision.

Made by "migration" at the instant the agreement was created: its terms as they stand are the first
revision the monitor can name (earlier edits are in the history tables, not revisions).
"""

from django.db import migrations


def give_r1(apps, schema_editor):
    Agreement = apps.get_model("terms", "Agreement")
    Revision = apps.get_model("terms", "Revision")
    Revision.objects.bulk_create(
        Revision(agreement_id=pk, number=1, made_at=created, made_by="migration", reason="first revision: the terms "
                 "as they stood when revisions began to be recorded", changes=[])
        for pk, created in Agreement.objects.filter(revisions__isnull=True).values_list("pk", "created")
    )


def take_r1(apps, schema_editor):
    Revision = apps.get_model("terms", "Revision")
    Revision.objects.filter(made_by="migration", number=1).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("terms", "0010_provisions"),
    ]

    operations = [migrations.RunPython(give_r1, take_r1)]
