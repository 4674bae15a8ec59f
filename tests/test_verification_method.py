"""Verifying a report asks how it was verified (issue 14): the method is recorded with the verification and
the public page says it ("Verified (two independent sources) on 6 March 2020")."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from monitor.accounts.roles import ANALYST, grant_role
from monitor.evidence import models as ev
from tests.factories import ReportFactory, SourceFactory, UserFactory
from tests.test_pages import text
from tests.test_report_attachments import talks  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:evidence_report_changelist")


@pytest.fixture
def report(talks):  # noqa: F811
    return ReportFactory(summary="Talks opened in Doha.", source=SourceFactory(name="Wire", reliability="B"),
                         entered_by=UserFactory(username="mina"))


@pytest.fixture
def analyst(client):
    user = grant_role(UserFactory(username="amina"), ANALYST)
    client.force_login(user)
    return user


def verify(client, reports, **answers):
    return client.post(CHANGELIST, {"action": "verify_reports", "_selected_action": [r.pk for r in reports],
                                    "index": 0, **answers}, follow=True)


def evidence_text(client):
    with time_machine.travel(timezone.now() + timedelta(minutes=1)):
        response = client.get(reverse("pages:commitment", kwargs={"agreement": "accord", "key": "talks"}))
    markup = response.content.decode()
    return text(markup[markup.index('id="evidence"'):])


def test_verifying_without_a_method_asks_for_one_and_verifies_nothing(client, report, analyst):
    asked = verify(client, [report])
    assert "How were these reports verified?" in asked.content.decode()
    refused = verify(client, [report], confirm="yes")
    assert refused.context["form"].errors == {"method": ["This field is required."]}
    report.refresh_from_db()
    assert report.verification == ev.CLAIMED and not report.verification_changes.exists()


def test_a_method_not_in_the_list_is_refused(client, report, analyst):
    refused = verify(client, [report], confirm="yes", method="gut_feeling")
    assert "method" in refused.context["form"].errors
    assert not report.verification_changes.exists()


def test_other_needs_the_method_described(client, report, analyst):
    refused = verify(client, [report], confirm="yes", method=ev.OTHER_METHOD, method_note="  ")
    assert refused.context["form"].errors == {
        "method_note": ["Is required when the method is “other”: describe how it was verified."]}
    assert not report.verification_changes.exists()


def test_the_method_is_recorded_with_the_verification_and_shown_on_the_public_page(client, report, analyst):
    with time_machine.travel(datetime(2026, 3, 6, 10, tzinfo=UTC), tick=False):
        done = verify(client, [report], confirm="yes", method=ev.TWO_SOURCES, method_note="Wire and the mission.")
    assert "1 report marked verified." in done.content.decode()
    change = report.verification_changes.get()
    assert (change.new_state, change.method, change.method_note, change.changed_by) == (
        ev.VERIFIED, ev.TWO_SOURCES, "Wire and the mission.", analyst)
    client.logout()
    # Kabul's day: 10:00 UTC is 14:30 on 6 March there.
    assert "verification: Verified (two independent sources) on 6 March 2026" in evidence_text(client)


def test_a_method_described_in_words_is_shown_as_written(client, report, analyst):
    verify(client, [report], confirm="yes", method=ev.OTHER_METHOD, method_note="UN mission's patrol log")
    client.logout()
    assert "Verified (other: UN mission's patrol log) on" in evidence_text(client)


def test_a_verification_recorded_before_methods_were_asked_shows_no_method(client, report):
    report.set_verification(ev.VERIFIED, by=UserFactory(username="old"), at=datetime(2025, 1, 2, 9, tzinfo=UTC))
    shown = evidence_text(client)
    assert "verification: Verified on 2 January 2025" in shown and "Verified (" not in shown


def test_a_disputed_report_shows_no_verification_method(client, report):
    report.set_verification(ev.VERIFIED, method=ev.SITE_VISIT, at=datetime(2025, 1, 2, 9, tzinfo=UTC))
    report.set_verification(ev.DISPUTED, at=datetime(2025, 1, 3, 9, tzinfo=UTC))
    shown = evidence_text(client)
    assert "verification: Disputed" in shown and "site visit" not in shown


def test_the_model_refuses_a_method_not_in_the_list_or_on_another_state(report):
    with pytest.raises(ValidationError, match="not one of"):
        report.set_verification(ev.VERIFIED, method="hunch")
    with pytest.raises(ValidationError, match="only when verifying"):
        ev.Report.objects.filter(pk=report.pk).set_verification(ev.REJECTED, method=ev.SITE_VISIT)
    assert not report.verification_changes.exists()


def test_the_method_page_lists_the_verification_methods_and_how_to_check_a_download(client):
    shown = text(client.get(reverse("pages:method")).content.decode())
    assert ("shows it beside the date: two independent sources; site visit; official record; imagery; "
            "other (described).") in shown
    assert "compare it with the digest of the file you download" in shown
