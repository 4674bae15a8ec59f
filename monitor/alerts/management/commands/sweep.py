"""manage.py sweep [--send]: run one sweep now, as the scheduled task does; optionally send the due alerts.

Safe to run at any time, from any number of machines at once: sweeps take turns
on a database lock and alerts are unique per recipient (monitor/alerts/sweep.py).
"""

from django.core.management.base import BaseCommand
from django.utils import timezone

from monitor.alerts import models as am
from monitor.alerts.delivery import send_due
from monitor.alerts.sweep import run_sweep


class Command(BaseCommand):
    help = "Evaluate every commitment in force now, record transitions and queue the alerts they owe."

    def add_arguments(self, parser):
        parser.add_argument(
            "--send", action="store_true",
            help="Also send the due alerts from this process instead of leaving them to the worker.",
        )

    def handle(self, *args, send, **options):
        run = run_sweep(now=timezone.now(), trigger=am.MANUAL)
        self.stdout.write(
            f"{run.commitments_evaluated} commitments evaluated, {run.transitions} transitions, "
            f"{run.alerts_queued} alerts queued."
        )
        if send:
            sent = 0
            while accepted := send_due(timezone.now()):
                sent += accepted
            pending = am.Alert.objects.filter(state=am.PENDING).count()
            self.stdout.write(f"{sent} alerts sent; {pending} pending (retried later by the worker).")
