"""The agreement's text on the public pages and in the API: every provision, its class, and who monitors it."""

import html
import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from terms.models import Agreement

pytestmark = pytest.mark.django_db

SIGNED = "us-taliban-2020-signed"
CUT = {"as_of": "2020-03-20", "known_at": "2020-03-20"}


@pytest.fixture
def signed():
    call_command("load_agreement", "agreements/us-taliban-2020-signed.yaml", stdout=StringIO())
    return Agreement.objects.get(slug=SIGNED)


def text(markup):
    """What a reader sees of some HTML: tags dropped, entities decoded, spaces collapsed."""
    markup = re.sub(r"<(script|style)\b.*?</\1>", " ", markup, flags=re.DOTALL)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def provision_item(markup, ref):
    """The HTML of one provision's item on the text page."""
    match = re.search(rf'<li id="{ref}"[^>]*>(.*?)</li>\s*(?=<li id=|</ol>)', markup, flags=re.DOTALL)
    assert match, f"no provision {ref}"
    return match.group(0)


def get_text_page(client, slug=SIGNED, **params):
    response = client.get(reverse("pages:text", kwargs={"agreement": slug}), params or CUT)
    assert response.status_code == 200
    return response.content.decode()


def test_the_text_page_shows_every_provision_in_order_with_an_anchor_each(client, signed):
    markup = get_text_page(client)
    refs = re.findall(r'<li id="([a-z0-9-]+)" class="provision', markup)
    assert refs == list(signed.provisions.order_by("position").values_list("ref", flat=True))
    assert len(refs) == 24 and refs[:2] == ["preamble-point-1", "preamble-point-2"] and refs[-1] == "part-three-3"
    assert "13 of 24 provisions monitored, 7 not monitorable, 4 not yet modelled" in text(markup)


def test_each_provision_says_its_class_its_reason_and_its_category(client, signed):
    markup = get_text_page(client)
    aspirational = text(provision_item(markup, "part-three-2"))
    assert "Not monitorable : Aspirational: a hope or an aim" in aspirational
    assert "International relations and sanctions" in aspirational
    assert "“seek positive relations with each other”" in aspirational
    assert "Source: Dawn (2 March 2020)" in aspirational
    chapeau = text(provision_item(markup, "part-one-a"))
    assert "Not monitorable : Procedural: introduces" in chapeau
    unmodelled = text(provision_item(markup, "part-one-b-2"))
    assert "Not yet modelled" in unmodelled and "Monitored" not in unmodelled


def test_a_monitored_provision_links_its_commitments_with_their_published_status(client, signed):
    # Unpublished computed verdicts stay unpublished here, as on the agreement page.
    item = provision_item(get_text_page(client), "preamble-point-3")
    assert 'data-commitment="negotiations-start"' in item
    assert reverse("pages:commitment", kwargs={"agreement": SIGNED, "key": "negotiations-start"}) in item
    assert "Provisional — awaiting an analyst's assessment" in text(item)
    assert "Missed" not in text(item)

    signed.publish_computed_verdicts = True
    signed.save()
    item = provision_item(get_text_page(client), "preamble-point-3")
    assert 'data-status="missed"' in item  # no report of talks starting by 10 March
    assert "Missed" in text(item)
    # A provision two commitments monitor lists both.
    both = provision_item(get_text_page(client), "part-two-3")
    assert 'data-commitment="no-recruiting-training-fundraising"' in both and 'data-commitment="no-hosting"' in both


def test_the_agreement_page_counts_the_provisions_and_links_to_the_text(client, signed):
    response = client.get(reverse("pages:agreement", kwargs={"agreement": SIGNED}), CUT)
    markup = response.content.decode()
    counts = re.search(r'<p class="provision-counts"><a href="([^"]+)">([^<]+)</a>', markup)
    assert counts.group(2) == "13 of 24 provisions monitored, 7 not monitorable, 4 not yet modelled"
    assert html.unescape(counts.group(1)).startswith(reverse("pages:text", kwargs={"agreement": SIGNED}))


def test_the_commitment_page_links_each_citation_to_its_provision(client, signed):
    response = client.get(
        reverse("pages:commitment", kwargs={"agreement": SIGNED, "key": "full-withdrawal"}), CUT
    )
    markup = response.content.decode()
    citations = re.search(r'<p class="citations">(.*?)</p>', markup, flags=re.DOTALL).group(1)
    links = re.findall(r'<a href="([^"]+)">([^<]+)</a>', citations)
    assert [(html.unescape(href).split("#")[1], label) for href, label in links] == [
        ("part-one", "Part One"), ("part-one-b-1", "Part One, B.1"),
    ]


def test_an_agreement_without_its_text_says_so_and_shows_no_counts(client):
    call_command("load_agreement", "agreements/us-taliban-2020.yaml", stdout=StringIO())
    assert "does not carry its text" in text(get_text_page(client, "us-taliban-2020"))
    markup = client.get(reverse("pages:agreement", kwargs={"agreement": "us-taliban-2020"}), CUT).content.decode()
    assert "provision-counts" not in markup


def test_the_api_gives_each_commitments_citations_and_the_agreements_counts(client, signed):
    body = client.get(reverse("api:commitment-list", kwargs={"agreement": SIGNED}), CUT).json()
    by_key = {c["key"]: c for c in body["commitments"]}
    cited = by_key["forces-to-8600"]["provisions"]
    assert [(p["ref"], p["label"]) for p in cited] == [("part-one-a-1", "Part One, A.1")]
    assert cited[0]["page"].endswith("/agreements/us-taliban-2020-signed/text/#part-one-a-1")
    detail = client.get(reverse("api:agreement-detail", kwargs={"agreement": SIGNED})).json()
    assert detail["provisions"] == {"total": 24, "monitored": 13, "not_monitorable": 7, "not_yet_modelled": 4}
    assert detail["text"].endswith("/agreements/us-taliban-2020-signed/text/")
    listing = client.get(reverse("api:agreement-list")).json()
    assert listing["results"][0]["provisions"]["total"] == 24
