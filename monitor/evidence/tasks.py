"""Celery finds an app's tasks in its `tasks` module: the import tasks live with the importer."""

from monitor.evidence.importing.tasks import check_import, run_import  # noqa: F401
