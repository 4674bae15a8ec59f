from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AlertsConfig(AppConfig):
    name = "monitor.alerts"
    label = "alerts"
    verbose_name = _("Sweeps and alerts")

    def ready(self):
        from monitor.alerts import checks, signals  # noqa: F401  (registers the check, connects the receivers)
