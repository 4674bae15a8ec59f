"""`manage.py check --deploy`: a production site must say its public address."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def site_root_is_set(app_configs, **kwargs):
    # Emails have no request to take an address from: without SITE_ROOT every alert, confirmation and
    # unsubscribe link would point at http://localhost:8000, which no reader can open.
    if settings.SITE_ROOT:
        return []
    return [
        Warning(
            "SITE_ROOT is not set: links in alert emails would point at http://localhost:8000.",
            hint="Set SITE_ROOT to the site's public address, e.g. https://monitor.example.org (docs/operations.md).",
            id="monitor.W001",
        )
    ]
