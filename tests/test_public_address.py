"""What leaves the site (feeds, calendars, badges' embed code, citations) names its public address,
SITE_ROOT; never http://localhost:8000 when the site is served at another host or port."""

import re

import pytest
from django.urls import reverse

from tests.factories import AgreementFactory, CommitmentFactory

pytestmark = pytest.mark.django_db

SITE = "https://monitor.example.org"


@pytest.fixture
def deal():
    agreement = AgreementFactory(slug="deal", title="The deal")
    CommitmentFactory(agreement=agreement, key="talks", title="Talks begin")
    return agreement


def body(response):
    assert response.status_code == 200
    return b"".join(response.streaming_content).decode() if response.streaming else response.content.decode()


def test_feeds_and_calendars_link_to_the_public_address(client, deal, settings):
    settings.SITE_ROOT = SITE
    feed = body(client.get(reverse("pages:agreement-feed", kwargs={"agreement": "deal"})))
    assert f'href="{SITE}/agreements/deal/"' in feed
    assert f'href="{SITE}/agreements/deal/changes.atom"' in feed
    assert "testserver" not in feed and "localhost" not in feed
    calendar = body(client.get(reverse("pages:deadlines", kwargs={"agreement": "deal"})))
    assert f"URL:{SITE}/agreements/deal/commitments/talks/" in calendar.replace("\r\n ", "")
    assert "testserver" not in calendar


def test_a_commitment_page_gives_badge_code_and_citation_with_the_public_address(client, deal, settings):
    settings.SITE_ROOT = SITE
    page = body(client.get(reverse("pages:commitment", kwargs={"agreement": "deal", "key": "talks"}),
                           {"as_of": "2020-03-20", "known_at": "2020-03-20"}))
    assert f"&lt;img src=&quot;{SITE}/agreements/deal/commitments/talks/badge.svg&quot;" in page
    citation = rf'<a href="{re.escape(SITE)}/agreements/deal/commitments/talks/\?as_of=[^"]+" rel="bookmark"'
    assert re.search(citation, page)
    assert "testserver" not in page


def test_without_a_public_address_feeds_name_the_address_the_reader_asked_for_not_localhost(client, deal, settings):
    settings.SITE_ROOT = ""
    feed = body(client.get(reverse("pages:agreement-feed", kwargs={"agreement": "deal"})))
    assert 'href="http://testserver/agreements/deal/"' in feed
    assert "localhost" not in feed
