"""The public pages' cache: a rendered page is kept under everything it depends on, so it is never stale.

A page is a function of four things, and the cache key names each of them:

- the data: the version kept by a PostgreSQL trigger on every table a page reads
  (monitor/pages/migrations/0001_data_version.py). Any committed write, however it
  was made (the admin, its bulk actions, an import batch, the sweep, the API, raw
  SQL), moves the version, so the next reader misses the cache and renders anew;
- the clock, for a page shown "now": the instant such a page is shown as of is the
  current minute (the page says so, to the minute), so "now" pages are kept per
  minute and a deadline passing shows from the minute it passes. A page given its
  own "as of" and "as known at" does not depend on the clock at all;
- the address (scheme, host, path, every query parameter: the cutoffs, the page of
  evidence) and the language;
- the audience: only anonymous readers are served from, or stored in, the cache.
  Anyone logged in (staff see internal material; see `monitor.evidence.publication`)
  always gets a page rendered for them, and no page rendered for them is kept.

The version is read before the page, and a page reads the data after it, so a page
stored under a version shows that version's data or newer, never older.

A page is not cached when the request's own transaction has written to the
database (its version could be rolled back and reused), nor on SQLite, nor when
the cache is down: it is rendered, as without a cache.

What the cache cannot serve costs a render, and each new "as of" misses it: renders
for anonymous readers are counted per client (`MONITOR_RENDER_RATE`, see
`render_limited`), and a client past its rate gets a 429 for anything not already
cached, while what is cached is still served to it.
"""

import hashlib
import ipaddress
import logging
import threading
from collections import OrderedDict

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpResponse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_ratelimit.core import get_usage

from monitor.accounts.client import client_address

log = logging.getLogger(__name__)

# "Now" pages are good for their minute; the rest until the data changes (a change makes their key
# unreachable, and Redis drops them after this long).
NOW_TIMEOUT = 120
TIMEOUT = 24 * 3600


def data_version():
    """A string naming the current state of everything public pages read, or None when it cannot be known.

    None on SQLite, and in a transaction that has written: what it sees may be rolled back, and its
    version then reused by other data (monitor/pages/migrations/0002_data_version_function.py).
    """
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pages_data_version()")
        return cursor.fetchone()[0]


def minute(now):
    return now.replace(second=0, microsecond=0)


def cacheable_request(request):
    return request.method == "GET" and not request.user.is_authenticated


def cacheable_response(request, response):
    return (
        response.status_code == 200
        # A page that asked for a CSRF token holds one reader's token: not for anyone else.
        and not request.META.get("CSRF_COOKIE_NEEDS_UPDATE")
        and not response.streaming
        and not response.cookies
        # Cookies the middleware sets only after this decision: a session the render wrote to, and
        # messages it queued (the cookie storage), belong to this reader as much as the page does.
        and not getattr(getattr(request, "session", None), "modified", False)
        and not getattr(getattr(request, "_messages", None), "added_new", False)
        and "private" not in response.get("Cache-Control", "")
        and "no-store" not in response.get("Cache-Control", "")
    )


def address_for(request, params=None):
    """The request's address as its page's key names it.

    `params`: {name: normalise} for a view that reads only these query parameters and shows no other
    (the commitment page: the cutoffs, the page of evidence, the chart's span). Any other parameter is
    left out, and each value is normalised (`normalise(value)` names the page it gives; None: as though
    it were not given), in a fixed order: `?utm_source=x`, `?b=2&a=1` and `?page=first` reach the page
    already kept for the same view rather than making a new key, and a new render, each. None: every
    parameter as given (a view whose parameters are not known here).
    """
    if params is None:
        return request.build_absolute_uri()
    kept = []
    for name, normalise in params.items():
        value = normalise(request.GET.get(name))
        if value is not None:
            kept.append(f"{name}={value}")
    return request.build_absolute_uri(request.path) + "?" + "&".join(kept)


def key_for(request, version, now, params=None):
    """The cache key of this request's page; `now` is None for a page that does not depend on the clock."""
    address = address_for(request, params)
    parts = [version, translation.get_language() or "", now.isoformat() if now else "-", address]
    return "pages:" + hashlib.sha256("\n".join(parts).encode()).hexdigest()


class Recent:
    """The last few pages this process served, by key: a hit here skips the round trip to Redis.

    Safe because a key names everything its page depends on: an entry is never wrong, only unused once
    the data version or the minute moves on. Written by hand rather than with Django's LocMemCache,
    which would need a cache alias in the settings and pickles every value on the way in and out.
    """

    def __init__(self, size):
        self.size = size
        self._pages = OrderedDict()
        # gthread workers serve requests from several threads of one process.
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            page = self._pages.get(key)
            if page is not None:
                self._pages.move_to_end(key)
            return page

    def put(self, key, page):
        with self._lock:
            self._pages[key] = page
            self._pages.move_to_end(key)
            while len(self._pages) > self.size:
                self._pages.popitem(last=False)

    def clear(self):
        with self._lock:
            self._pages.clear()


# A few dozen pages of ~50 KB: a few MB per process, and the pages read most stay here.
recent = Recent(size=32)


# --- uncached renders, per client ----------------------------------------------------------------

RENDER_GROUP = "pages:render"


def _client(request):
    """The client's address as an ipaddress object (None if there is none), as every per-address limit
    reads it: behind our proxies, the address the outermost one saw (monitor.accounts.client)."""
    try:
        ip = ipaddress.ip_address(client_address(request))
    except ValueError:
        return None
    return (ip.ipv4_mapped or ip) if ip.version == 6 else ip


def _exempt(ip):
    for network in getattr(settings, "MONITOR_RENDER_RATE_EXEMPT", ()):
        try:
            if ip in ipaddress.ip_network(network, strict=False):
                return True
        except (ValueError, TypeError):
            continue
    return False


def _client_key(ip):
    # One IPv6 client usually holds a whole /64, as django-ratelimit assumes too.
    return str(ipaddress.ip_network(f"{ip}/64", strict=False).network_address) if ip.version == 6 else str(ip)


def render_limited(request):
    """Seconds this client must wait before another uncached render, or None if it may have one now.

    Counts one render. Staff (logged in) are never held back, nor the addresses in
    `MONITOR_RENDER_RATE_EXEMPT` (by default this machine: a health check, a benchmark, a proxy that
    does not say who its client is). An empty `MONITOR_RENDER_RATE` turns the limit off. When the
    cache that keeps the counts is down, nobody is held back: it is there to share the work fairly,
    never to stand between a reader and a page.
    """
    rate = getattr(settings, "MONITOR_RENDER_RATE", "")
    if not rate or request.user.is_authenticated:
        return None
    ip = _client(request)
    if ip is None or _exempt(ip):
        return None
    key = _client_key(ip)
    try:
        usage = get_usage(request, group=RENDER_GROUP, key=lambda _group, _request: key, rate=rate, increment=True)
    except Exception:
        log.warning("render rate limit unavailable; rendering", exc_info=True)
        return None
    if usage is None or usage["limit"] == 0 and usage["time_left"] == -1:  # off, or the counts not kept
        return None
    return max(1, usage["time_left"]) if usage["should_limit"] else None


def too_many_renders(wait):
    response = HttpResponse(
        _("Too many pages asked for from your address that were not ready: please try again in %(n)s seconds.")
        % {"n": wait},
        status=429,
        content_type="text/plain; charset=utf-8",
    )
    response["Retry-After"] = str(wait)
    return response


def _render_if_allowed(request, render, now):
    wait = render_limited(request)
    return too_many_renders(wait) if wait else render(now)


def serve(request, render, *, follows_clock, now=None, params=None):
    """The page `render(now)` makes for this request, from the cache when it holds it.

    `now` (floored to the minute) is passed to `render`, so the page is shown as of exactly the minute
    it is kept under. `follows_clock` is False for a page whose content does not depend on the clock.
    `params`: the query parameters the page reads, normalised (`address_for`). A render the cache
    cannot spare counts against the client's rate (`render_limited`).
    """
    now = minute(now or timezone.now())
    if request.user.is_authenticated:
        return render(now)
    if not cacheable_request(request):
        return _render_if_allowed(request, render, now)
    version = data_version()
    if version is None:
        return _render_if_allowed(request, render, now)
    key = key_for(request, version, now if follows_clock else None, params)
    kept = recent.get(key)
    if kept is None:
        try:
            kept = cache.get(key)
        except Exception:
            # The cache is there to save work, never to stand between a reader and a page.
            log.warning("page cache unavailable; rendering", exc_info=True)
            return render(now)
        if kept is not None:
            recent.put(key, kept)
    if kept is not None:
        status, content, headers = kept
        return HttpResponse(content, status=status, headers=headers)
    wait = render_limited(request)
    if wait:
        return too_many_renders(wait)
    response = render(now)
    if cacheable_response(request, response):
        kept = (response.status_code, response.content, list(response.items()))
        recent.put(key, kept)
        timeout = NOW_TIMEOUT if follows_clock else TIMEOUT
        try:
            # Into Redis from the second time a page is asked for: a crawler asking for every "as of"
            # once leaves a marker of a few bytes per address there, not a page of tens of kilobytes.
            if not cache.add(f"{key}:asked", True, timeout):
                cache.set(key, kept, timeout)
        except Exception:
            log.warning("page cache unavailable; page not kept", exc_info=True)
    return response
