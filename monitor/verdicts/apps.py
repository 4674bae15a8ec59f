from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VerdictsConfig(AppConfig):
    name = "monitor.verdicts"
    label = "verdicts"
    verbose_name = _("Verdicts")
