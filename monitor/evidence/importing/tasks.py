"""Background checks and imports of large uploads (see jobs.py).

The worker finds them through monitor/evidence/tasks.py (Celery's autodiscovery
looks for each app's `tasks` module).
"""

from celery import shared_task

from . import jobs


@shared_task(name="evidence.check_import", ignore_result=True)
def check_import(job_id):
    jobs.check(job_id)


@shared_task(name="evidence.run_import", ignore_result=True)
def run_import(job_id):
    # Safe to deliver twice: the job is claimed by state, and the import is one transaction.
    jobs.execute(job_id)
