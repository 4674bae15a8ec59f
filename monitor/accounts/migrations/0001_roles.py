"""Create the staff roles (Viewer, Monitor, Analyst, Administrator) as groups.

Permissions are normally created after all migrations have run; they are
created here first so that the groups get them on a fresh database too.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def create_roles(apps, schema_editor):
    from monitor.accounts.roles import sync_roles

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0, using=schema_editor.connection.alias)
        app_config.models_module = None
    sync_roles(apps, using=schema_editor.connection.alias)


def remove_roles(apps, schema_editor):
    from monitor.accounts.roles import ROLES

    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("terms", "0002_history"),
        ("evidence", "0002_imports_places_history"),
        ("verdicts", "0003_assessment_history"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
