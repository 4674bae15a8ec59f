"""The admin in the agreement's time zone, day first (issue 15).

Public pages count days in the agreement's zone; an admin in UTC and US style had a monitor enter
"03/05 08:00" meaning Kabul's morning of 3 May and store UTC's 5 March. Every admin page is therefore
rendered, and every form it posts read, in one zone (`admin_time_zone`: the agreement's, or the
ADMIN_TIME_ZONE setting when agreements differ) and in en-GB's day-first formats (monitor/formats/en_GB).
The zone is named in the page header (templates/admin/base_site.html) and under each date field.
"""

from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation

from monitor.evidence.importing.zones import admin_time_zone


class AdminLocalTime:
    def __init__(self, get_response):
        self.get_response = get_response
        self.prefix = None

    def __call__(self, request):
        if self.prefix is None:
            try:
                self.prefix = reverse("admin:index")
            except NoReverseMatch:
                # A URLconf without the admin (a test's, a deployment serving only the public pages): nothing to do.
                return self.get_response(request)
        if not request.path.startswith(self.prefix):
            return self.get_response(request)
        zone = admin_time_zone()
        request.admin_time_zone = zone
        # English only: a language with its own formats (Dari, Pashto, later) keeps them.
        language = "en-gb" if (translation.get_language() or "en").startswith("en") else translation.get_language()
        with timezone.override(zone), translation.override(language):
            return self.get_response(request)
