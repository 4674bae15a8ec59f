"""The quick start's demo: what a new reader sees on the link bin/start prints."""

import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from monitor.evidence.management.commands.load_demo import DEMO_ANALYST, demo_path
from monitor.evidence.models import Report
from monitor.verdicts.models import Assessment
from tests.test_pages import headline, row, text

pytestmark = pytest.mark.django_db

START = Path(__file__).resolve().parent.parent / "bin" / "start"


@pytest.fixture
def demo():
    call_command("load_agreement", "agreements/us-taliban-2020.yaml", stdout=StringIO())
    call_command("load_demo", stdout=StringIO())


def demo_page(client):
    response = client.get(demo_path())
    assert response.status_code == 200
    return response.content.decode()


def test_the_demo_page_as_of_1_june_2020_shows_assessed_verdicts_and_a_few_awaiting_an_analyst(client, demo):
    page = demo_page(client)
    # The agreement publishes assessed verdicts only (as the seed file has it): the demo analyst's make the story.
    assert headline(page) == {"met": "1", "missed": "1", "breached": "1", "no_data": "1", "awaiting": "2"}
    assert "✗ Breached" in row(page, "cut-ties-al-qaeda") and "Assessed by an analyst" in row(page, "cut-ties-al-qaeda")
    assert "✗ Missed" in row(page, "talks-begin")
    assert "Met" in row(page, "withdrawal-begins")  # marked for review, settled by the assessment
    assert "Provisional — awaiting an analyst's assessment" in row(page, "violence-major-cities")
    # Its target is garbled: no analyst signs a verdict against it, so it stays under review.
    assert "Under review" in row(page, "troop-reduction") and "Missed" not in row(page, "troop-reduction")
    assert "2 commitments awaiting an analyst; the computed status is shown to staff" in text(page)


def test_the_demo_assessments_say_they_are_demo_on_the_commitment_page_and_in_the_admin(client, admin_client, demo):
    page = text(client.get(demo_path().replace("/?", "/commitments/cut-ties-al-qaeda/?")).content.decode())
    assert "Demo assessment: the UN monitoring team's report" in page
    assert DEMO_ANALYST not in page  # the public never sees who signed
    admin = admin_client.get("/admin/verdicts/assessment/").content.decode()
    assert DEMO_ANALYST in admin
    assessments = Assessment.objects.all()
    assert assessments.count() == 5
    assert all(a.reason.startswith("Demo assessment:") and a.author.username == DEMO_ANALYST for a in assessments)
    assert not assessments[0].author.has_usable_password()  # no one logs in as the demo analyst


def test_loading_the_demo_twice_adds_nothing(demo):
    reports, assessments = Report.objects.count(), Assessment.objects.count()
    out = StringIO()
    call_command("load_demo", stdout=out)
    assert (Report.objects.count(), Assessment.objects.count()) == (reports, assessments)
    assert "0 analyst's assessments added" in out.getvalue()


def test_the_front_page_says_how_many_commitments_await_an_analyst_rather_than_showing_zeros(client, demo):
    page = text(client.get("/").content.decode())
    assert "2 commitments awaiting an analyst; the computed status is shown to staff." in page


def test_the_link_bin_start_prints_is_the_demo_page_and_answers(client, demo):
    links = re.findall(r"http://127\.0\.0\.1:\$PORT(/agreements/\S+)", START.read_text())
    assert links == [demo_path()]
    assert "Assessed by an analyst" in demo_page(client)


def test_the_demo_without_assessments_leaves_every_verdict_to_an_analyst(client):
    call_command("load_agreement", "agreements/us-taliban-2020.yaml", stdout=StringIO())
    call_command("load_demo", "--without-assessments", stdout=StringIO())
    assert not Assessment.objects.exists()
    assert headline(demo_page(client)) == {"awaiting": "6"}
