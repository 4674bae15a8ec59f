"""Celery tasks. Each is idempotent: running one twice, or two at once, does no harm.

Celery delivers at least once and beat may fire twice; the guarantees come from
the sweep's lock and the outbox's unique keys, not from how often a task runs.
"""

from celery import shared_task
from django.utils import timezone

from monitor.alerts import delivery
from monitor.alerts import models as am
from monitor.alerts.sweep import run_sweep


@shared_task(name="monitor.sweep", ignore_result=True)
def sweep():
    run_sweep(now=timezone.now(), trigger=am.BEAT)


@shared_task(name="monitor.reevaluate_reports", ignore_result=True)
def reevaluate_reports(changes):
    """A targeted sweep of what these reports can affect (`triggers.describe`; a list of ids too).

    Messages queued before descriptions existed carry a bare list of ids, read as such.
    """
    run_sweep(now=timezone.now(), trigger=am.REPORTS, changes=changes)


@shared_task(name="monitor.send_alerts", ignore_result=True)
def send_alerts():
    while delivery.send_due(timezone.now()):
        pass
