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
def reevaluate_reports(report_ids):
    # The sweep is cheap and set-based, so re-evaluating "what these reports affect" is a full
    # sweep: it can never miss a commitment the reports touch through an anchor or a group.
    run_sweep(now=timezone.now(), trigger=am.REPORTS)


@shared_task(name="monitor.send_alerts", ignore_result=True)
def send_alerts():
    while delivery.send_due(timezone.now()):
        pass
