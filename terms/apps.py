from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TermsConfig(AppConfig):
    name = "terms"
    verbose_name = _("Agreements and commitments")

    def ready(self):
        # Every agreement gets its r1 the moment it exists (terms.revisions).
        from terms import revisions

        revisions.connect()
