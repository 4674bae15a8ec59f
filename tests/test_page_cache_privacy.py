"""The page cache keeps pages for anonymous readers only, and never a page meant for one reader.

Each layer is tested on its own, so that losing any one of them fails a test:

- who asks (`cacheable_request`): a staff user's page, full of internal material, is never stored nor served
  to anyone else, and a staff user is never served the public page kept for anonymous readers. Tested on
  every cached output through the real views, with material only staff may see as the marker; the same test
  holds every staff response to `Cache-Control: private, no-store` (views.py and feeds.py), which keeps it
  out of this cache and out of any shared cache on the way.
- what was rendered (`cacheable_response`): a response marked private or no-store, that sets a cookie (its
  own, the session's or the CSRF middleware's), or that asked for a CSRF token, holds something of one
  reader's and is never kept, even for an anonymous reader. No public view makes such a response for an
  anonymous reader today, so a view of the test's own (served through `cache.serve` and the whole
  middleware stack) makes each kind, and counts its renders: a page served from the cache is not rendered.

The cache is never cleared here: each test gets a Redis key prefix of its own and an empty per-process
cache of recent pages.
"""

import re
import uuid
from datetime import UTC, datetime

import pytest
import time_machine
from django.db import connection
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import path, reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control

from monitor.alerts.sweep import run_sweep
from monitor.evidence.models import INTERNAL
from monitor.pages import cache
from tests.factories import AgreementFactory, CommitmentFactory, PartyFactory, ReportFactory, SourceFactory, UserFactory

BEFORE_DUE = datetime(2020, 3, 8, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def own_cache(settings, monkeypatch):
    settings.CACHES = {
        **settings.CACHES,
        "default": {**settings.CACHES["default"], "KEY_PREFIX": f"privacy-test-{uuid.uuid4().hex}"},
    }
    monkeypatch.setattr(cache, "recent", cache.Recent(size=32))


# --- staff and the public, through the real pages -------------------------------------------------------


@pytest.fixture
def clock():
    with time_machine.travel(BEFORE_DUE, tick=False) as traveller:
        yield traveller


@pytest.fixture
def secrets(clock):
    """Talks that were held, on an agreement that does not publish computed verdicts, and an internal report.

    The public sees the verdict as awaiting an analyst, no status change in the feeds, and no internal report;
    staff see "met", the change, the internal report and the staff banner.
    """
    taliban = PartyFactory(name="Taliban", slug="taliban")
    agreement = AgreementFactory(slug="accord", title="Accord", publish_computed_verdicts=False)
    agreement.parties.set([taliban])
    talks = CommitmentFactory(
        agreement=agreement, key="talks", title="Talks begin", owed_by=[taliban],
        rule={"categories": ["talks_started"], "attribution": "any"}, due_offset=10,
    )
    wire = SourceFactory(name="Wire", reliability="B")
    for summary, visibility in (("Talks open in Doha", "public"), ("Internal note on the talks", INTERNAL)):
        ReportFactory(
            summary=summary, category="talks_started", occurred_at=datetime(2020, 3, 7, 8, tzinfo=UTC),
            recorded_at=timezone.now(), source=wire, credibility=2, visibility=visibility,
        )
    run_sweep(now=timezone.now())
    return talks


def fetch(client, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    return response, len(queries)


def accord(view, **kwargs):
    return reverse(view, kwargs={"agreement": "accord", **kwargs})


# Every output the cache serves, with what only staff may see on it (and, where the public sees something
# else in its place, that).
OUTPUTS = {
    "home": (lambda: reverse("pages:home"), "Staff view.", None),
    "agreement": (lambda: accord("pages:agreement"), "Staff view.", "Provisional — awaiting"),
    "commitment": (lambda: accord("pages:commitment", key="talks"), "Internal note on the talks",
                   "Provisional — awaiting"),
    "badge": (lambda: accord("pages:badge", key="talks"), "Met (provisional)", "awaiting an analyst"),
    "calendar": (lambda: accord("pages:deadlines"), "Status: Met.", "awaiting an analyst"),
    "commitment feed": (lambda: accord("pages:commitment-feed", key="talks"), "<entry>", None),
    "agreement feed": (lambda: accord("pages:agreement-feed"), "<entry>", None),
}


# Committed, as in production: a page seen inside a transaction that has written is never cached.
@pytest.mark.django_db(transaction=True)
def test_a_staff_page_is_never_kept_for_the_public_nor_the_public_page_served_to_staff(client, secrets):
    staff = UserFactory(username="staff", is_superuser=True)
    for output, (url, staff_only, public_only) in OUTPUTS.items():
        url = url()

        client.force_login(staff)
        first, _ = fetch(client, url)
        assert staff_only in first.content.decode(), output
        # No shared cache on the way (a proxy, a CDN) may keep it either.
        assert {"private", "no-store"} <= set(re.split(r",\s*", first["Cache-Control"])), output
        again, queries = fetch(client, url)
        assert staff_only in again.content.decode() and queries > 1, output  # rendered again: not kept

        client.logout()
        public, _ = fetch(client, url)
        assert staff_only not in public.content.decode(), output
        assert public_only is None or public_only in public.content.decode(), output
        assert "private" not in public.get("Cache-Control", ""), output
        # The control: this output is cached for the public, and the staff visits left the data version alone.
        cached, queries = fetch(client, url)
        assert (cached.content, queries) == (public.content, 1), output

        client.force_login(staff)
        after, queries = fetch(client, url)
        assert staff_only in after.content.decode() and queries > 1, output
        client.logout()


# --- responses that belong to one reader -----------------------------------------------------------------


def _private(request, response, reader):
    patch_cache_control(response, private=True)


def _no_store(request, response, reader):
    patch_cache_control(response, no_store=True)


def _own_cookie(request, response, reader):
    response.set_cookie("reader", str(reader))


def _csrf_token(request, response, reader):
    # What a page with a form does ({% csrf_token %}); the CSRF middleware then sets the cookie.
    response.content += f" token {get_token(request)}".encode()


def _session(request, response, reader):
    # What a page that remembers something of its reader does (django.contrib.messages, say); the session
    # middleware then sets the session cookie, after the view has returned.
    request.session["reader"] = reader


PERSONAL = {
    "private": (_private, lambda r: "private" in r["Cache-Control"]),
    "no-store": (_no_store, lambda r: "no-store" in r["Cache-Control"]),
    "own cookie": (_own_cookie, lambda r: "reader" in r.cookies),
    "CSRF token": (_csrf_token, lambda r: "csrftoken" in r.cookies),
    "session cookie": (_session, lambda r: "sessionid" in r.cookies),
}


class Renders:
    count = 0


def personal_page(request, kind):
    """A page served through the public pages' cache, that says which render it came from."""

    def render(now):
        Renders.count += 1
        response = HttpResponse(f"rendered for reader {Renders.count}")
        if kind in PERSONAL:
            PERSONAL[kind][0](request, response, Renders.count)
        return response

    return cache.serve(request, render, follows_clock=False)


urlpatterns = [path("personal/<str:kind>/", personal_page)]


@pytest.fixture
def readers(settings, monkeypatch):
    """Two anonymous readers, each in a browser of their own, asking for the test's own page."""
    settings.ROOT_URLCONF = __name__
    monkeypatch.setattr(Renders, "count", 0)
    # The data version as production reads it after a committed request (the test's transaction, where the
    # session is saved, would otherwise turn the cache off and hide what is tested here).
    version = f"privacy-{uuid.uuid4().hex}"
    monkeypatch.setattr(cache, "data_version", lambda: version)
    return Client(), Client()


def test_the_readers_own_page_is_kept_and_served_to_the_next_reader(readers):
    # The control for the test below: the same page with nothing of its reader's is served from the cache.
    first, second = (reader.get("/personal/public/") for reader in readers)
    assert first.content == second.content == b"rendered for reader 1"
    assert Renders.count == 1


@pytest.mark.django_db  # the session is stored in the database
@pytest.mark.parametrize(
    "kind",
    [
        "private",
        "no-store",
        "own cookie",
        "CSRF token",
        "session cookie",
    ],
)
def test_a_response_that_belongs_to_its_reader_is_never_served_to_another(readers, kind):
    first_reader, second_reader = readers
    url = f"/personal/{kind}/"
    first = first_reader.get(url)
    assert first.content.startswith(b"rendered for reader 1")
    assert PERSONAL[kind][1](first), f"the test's page did not make a {kind} response"
    second = second_reader.get(url)
    assert second.content.startswith(b"rendered for reader 2"), f"served the first reader's {kind} page"
    # Nor is it kept for the first reader's next visit: kept anywhere, another reader could be served it.
    assert first_reader.get(url).content.startswith(b"rendered for reader 3")
