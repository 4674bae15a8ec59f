from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _sync_roles(sender, using="default", apps=None, **kwargs):
    # After every migrate, so models added later join the roles (see roles.py).
    from django.apps import apps as global_apps

    from monitor.accounts.roles import sync_roles

    sync_roles(apps or global_apps, using=using)


class AccountsConfig(AppConfig):
    name = "monitor.accounts"
    label = "accounts"
    verbose_name = _("Staff and roles")

    def ready(self):
        # sender=self: once per migrate, after auth has created the permissions of the apps listed before this one.
        post_migrate.connect(_sync_roles, sender=self, dispatch_uid="accounts.sync_roles")
        from monitor.accounts import throttle  # noqa: F401 - connects the per-name failure count
