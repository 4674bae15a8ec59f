"""Transition alerts are keyed on their status change, no longer on the instant it took effect.

The old key, c<commitment>:<event>:<effective instant>:<address>, took a status restored at the
same instant (missed, not missed after all, missed again) for a repeat and sent nothing. The sweep
now keys them c<commitment>:<event>:sc<status change>:<address> (sweep.transition_key); the rows
already in the outbox are re-keyed here so that the next sweep finds them and sends none again.
Corrections are keyed on the alert they correct, and follow.
"""

from django.db import migrations

TRANSITION_EVENTS = ("missed", "breached", "disputed", "met_late", "breach_over")


def rekey(apps, schema_editor):
    Alert = apps.get_model("alerts", "Alert")
    changed = []
    rows = Alert.objects.filter(event__in=TRANSITION_EVENTS, status_change__isnull=False, commitment__isnull=False)
    for alert in rows.only("id", "key", "event", "commitment_id", "status_change_id", "to_email").iterator(2000):
        alert.key = f"c{alert.commitment_id}:{alert.event}:sc{alert.status_change_id}:{alert.to_email}"
        changed.append(alert)
        if len(changed) >= 2000:
            Alert.objects.bulk_update(changed, ["key"])
            changed = []
    Alert.objects.bulk_update(changed, ["key"])
    changed = []
    corrections = Alert.objects.filter(event="correction", corrects__isnull=False).select_related("corrects")
    for alert in corrections.iterator(2000):
        alert.key = f"{alert.corrects.key}:correction"
        changed.append(alert)
    Alert.objects.bulk_update(changed, ["key"], batch_size=2000)


class Migration(migrations.Migration):
    dependencies = [("alerts", "0003_escalation")]

    operations = [migrations.RunPython(rekey, migrations.RunPython.noop, elidable=True)]
