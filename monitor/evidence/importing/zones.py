from terms.models import Agreement


def default_time_zone():
    """The zone for dates without a time: the agreements' zone when they all share one, else UTC."""
    zones = set(Agreement.objects.values_list("time_zone", flat=True).distinct()[:2])
    return zones.pop() if len(zones) == 1 else "UTC"
