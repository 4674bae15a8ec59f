from django.conf import settings

from terms.models import Agreement


def default_time_zone():
    """The zone for dates without a time: the agreements' zone when they all share one, else UTC."""
    zones = set(Agreement.objects.values_list("time_zone", flat=True).distinct()[:2])
    return zones.pop() if len(zones) == 1 else "UTC"


def admin_time_zone():
    """The zone the admin enters and shows times in: the agreement's when all agreements share one zone
    (the usual case: one agreement), else the ADMIN_TIME_ZONE setting (UTC unless set)."""
    zones = set(Agreement.objects.values_list("time_zone", flat=True).distinct()[:2])
    return zones.pop() if len(zones) == 1 else settings.ADMIN_TIME_ZONE
