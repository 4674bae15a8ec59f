from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.utils.translation import gettext_lazy as _


class VerdictsConfig(AppConfig):
    name = "monitor.verdicts"
    label = "verdicts"
    verbose_name = _("Verdicts")

    def ready(self):
        connection_created.connect(plan_cursors_for_every_row)


def plan_cursors_for_every_row(sender, connection, **kwargs):
    """Every server-side cursor this monitor opens is read to its end (`inputs.rows`, `.iterator()`).

    PostgreSQL plans a cursor for its first tenth of rows by default (`cursor_tuple_fraction`): to skip a
    sort it then walks every report in time order by index, which read one agreement's reports three to
    five times slower than finding them by actor and place and sorting them (docs/performance.md). Set
    once per connection, not per read: a read adds no query. (Behind PgBouncer in transaction mode a
    session setting may not follow the connection; reads are then slower, never wrong.)
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET cursor_tuple_fraction = 1")
