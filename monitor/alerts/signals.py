"""Saving or re-verifying a report schedules a re-evaluation once the transaction commits."""

from django.db.models.signals import post_save
from django.dispatch import receiver

from monitor.alerts.triggers import reports_changed
from monitor.evidence.models import Report, VerificationChange


@receiver(post_save, sender=Report, dispatch_uid="alerts.report_saved")
def report_saved(sender, instance, raw=False, **kwargs):
    if not raw:
        reports_changed([instance.pk])


@receiver(post_save, sender=VerificationChange, dispatch_uid="alerts.report_verified")
def report_verified(sender, instance, raw=False, created=False, **kwargs):
    if created and not raw:
        reports_changed([instance.report_id])
