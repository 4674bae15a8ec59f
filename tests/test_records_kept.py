"""Nothing of record is deleted (docs/architecture.md): a cited "as of / as known at" view keeps what it showed.

Assessments, status changes, verification changes and reports are never deleted through the admin or
the API, by any role, superusers included; deleting what they hang on (a commitment, its agreement, an
event, a source) is refused while they exist. An assessment is withdrawn by recording a withdrawal; a
report is hidden from the public by its visibility. Each of these is checked on the public page as cited
at a fixed past instant, read by an anonymous reader.
"""

import re
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.contrib import admin
from django.db.models import ProtectedError
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from monitor.accounts.roles import ADMINISTRATOR, ANALYST, ROLES, grant_role
from monitor.evidence import models as ev
from monitor.evidence.admin import VerificationChangeInline
from monitor.verdicts import inputs
from monitor.verdicts.models import Assessment, StatusChange
from terms.models import Commitment
from tests.factories import (
    AgreementFactory,
    AssessmentFactory,
    CommitmentFactory,
    PartyFactory,
    ReportFactory,
    SourceFactory,
    UserFactory,
)
from tests.test_roles import admin_form_data

pytestmark = pytest.mark.django_db

# The view a journalist cited: the status on 1 April 2020, as known then.
CITED = {"as_of": "2020-04-01T00:00Z", "known_at": "2020-04-01T00:00Z"}
RECORDS = (Assessment, StatusChange, ev.VerificationChange, ev.Report)


def administrator():
    return grant_role(UserFactory(username="administrator"), ADMINISTRATOR)


def superuser():
    return UserFactory(username="root", is_superuser=True)


EVERYONE = {role: (lambda role=role: grant_role(UserFactory(username=role.lower()), role)) for role in ROLES}
EVERYONE["superuser"] = superuser
THE_MIGHTIEST = {"Administrator": administrator, "superuser": superuser}


@pytest.fixture(params=sorted(THE_MIGHTIEST))
def mighty(request, client):
    """Logged in as an Administrator, then as a superuser: the two who could delete anything before."""
    user = THE_MIGHTIEST[request.param]()
    client.force_login(user)
    return user


@pytest.fixture
def talks():
    """A deadline met on 5 March (a B2 wire, verified on 8 March), confirmed by an analyst on 20 March.

    The agreement publishes no computed verdict: the public sees the verdict because the assessment covers it.
    """
    agreement = AgreementFactory(slug="doha", signed_on=date(2020, 2, 29), time_zone="Asia/Kabul")
    commitment = CommitmentFactory(agreement=agreement, key="talks-begin", title="Talks begin",
                                   owed_by=[PartyFactory(name="Taliban", slug="taliban")],
                                   rule={"categories": ["talks"], "attribution": "any"})
    analyst = grant_role(UserFactory(username="amina"), ANALYST)
    # Credibility 4: it counts only because an analyst verified it.
    report = ReportFactory(summary="Talks opened in Doha.", category="talks", credibility=4,
                           source=SourceFactory(name="Wire", reliability="B"),
                           entered_by=UserFactory(username="monitor-on-duty"),
                           occurred_at=datetime(2020, 3, 5, 8, tzinfo=UTC),
                           recorded_at=datetime(2020, 3, 6, 8, tzinfo=UTC))
    report.set_verification(ev.VERIFIED, by=analyst, at=datetime(2020, 3, 8, tzinfo=UTC), reason="Two wires agree.")
    AssessmentFactory(commitment=commitment, action="confirm", computed_status="met", author=analyst,
                      reason="The talks did open on 5 March.", assessed_at=datetime(2020, 3, 20, tzinfo=UTC))
    StatusChange.objects.create(
        commitment=commitment, old_status="", new_status="met", effective_at=datetime(2020, 3, 5, 8, tzinfo=UTC),
        detected_at=datetime(2020, 3, 6, 9, tzinfo=UTC), reason_code="deadline.met",
    )
    return commitment


def public_page(commitment, **cutoffs):
    """The public commitment page, read by an anonymous reader (never the logged-in admin user)."""
    response = Client().get(
        reverse("pages:commitment", kwargs={"agreement": commitment.agreement.slug, "key": commitment.key}), cutoffs
    )
    assert response.status_code == 200, response.content[:300]
    return response.content.decode()


def verdict(page):
    """What the page says the verdict is: its status (or "provisional", when withheld) and whether it is assessed."""
    section = re.search(r'<section class="verdict".*?</section>', page, flags=re.DOTALL).group(0)
    status = re.search(r'data-status="([^"]+)"', section).group(1)
    return status, "Assessed by an analyst" in section


def cited(commitment):
    return verdict(public_page(commitment, **CITED))


def counts():
    return {model.__name__: model._default_manager.count() for model in RECORDS}


# --- the reproduction: what an Administrator (or a superuser) could delete ------------------------------------


def test_an_assessment_cannot_be_deleted_from_its_page_and_the_cited_verdict_stays(client, mighty, talks):
    assert cited(talks) == ("met", True)
    assessment = talks.assessments.get()
    url = reverse("admin:verdicts_assessment_delete", args=[assessment.pk])
    shown, deleted = client.get(url), client.post(url, {"post": "yes"})
    assert cited(talks) == ("met", True)
    assert Assessment.objects.filter(pk=assessment.pk).exists()
    assert (shown.status_code, deleted.status_code) == (403, 403)


def test_assessments_cannot_be_deleted_from_the_list_and_no_delete_action_is_offered(client, mighty, talks):
    changelist = reverse("admin:verdicts_assessment_changelist")
    client.post(changelist, {"action": "delete_selected", "_selected_action": [talks.assessments.get().pk],
                             "index": 0, "post": "yes"})
    assert cited(talks) == ("met", True)
    assert talks.assessments.count() == 1
    assert 'value="delete_selected"' not in client.get(changelist).content.decode()


def test_a_report_and_its_verification_history_cannot_be_deleted_and_the_cited_verdict_stays(client, mighty, talks):
    before = counts()
    report = ev.Report.objects.get()
    url = reverse("admin:evidence_report_delete", args=[report.pk])
    shown, deleted = client.get(url), client.post(url, {"post": "yes"})
    changelist = reverse("admin:evidence_report_changelist")
    client.post(changelist, {"action": "delete_selected", "_selected_action": [report.pk], "index": 0, "post": "yes"})
    page = public_page(talks, **CITED)
    assert verdict(page) == ("met", True) and "Talks opened in Doha." in page
    assert counts() == before
    assert list(report.verification_changes.values_list("new_state", flat=True)) == [ev.VERIFIED]
    assert (shown.status_code, deleted.status_code) == (403, 403)
    assert 'value="delete_selected"' not in client.get(changelist).content.decode()


def test_the_report_page_offers_no_way_to_delete_its_verification_history(client, mighty, talks):
    report = ev.Report.objects.get()
    url = reverse("admin:evidence_report_change", args=[report.pk])
    page = client.get(url)
    assert 'name="verification_changes-0-DELETE"' not in page.content.decode()
    data = admin_form_data(page)
    data["verification_changes-0-DELETE"] = "on"  # forged
    client.post(url, data)
    assert report.verification_changes.count() == 1
    assert cited(talks) == ("met", True)


def test_status_changes_cannot_be_deleted_in_the_admin(client, mighty, talks):
    change = talks.status_changes.get()
    assert client.post(reverse("admin:verdicts_statuschange_delete", args=[change.pk]), {"post": "yes"}
                       ).status_code == 403
    assert talks.status_changes.count() == 1


def test_a_commitment_with_records_cannot_be_deleted_and_takes_none_of_them_with_it(client, mighty, talks):
    ev.Report.objects.update(commitment=talks)  # linked by hand, too
    before = counts()
    url = reverse("admin:terms_commitment_delete", args=[talks.pk])
    page = client.get(url).content.decode()
    client.post(url, {"post": "yes"})
    changelist = reverse("admin:terms_commitment_changelist")
    client.post(changelist, {"action": "delete_selected", "_selected_action": [talks.pk], "index": 0, "post": "yes"})
    assert Commitment.objects.filter(pk=talks.pk).exists()
    assert cited(talks) == ("met", True)
    assert counts() == before
    assert ev.Report.objects.get().commitment == talks
    # The page says why: the records that would go with it are protected.
    assert "would require deleting the following protected related objects" in page


def only_an_assessment(commitment):
    AssessmentFactory(commitment=commitment, computed_status="missed")


def only_a_status_change(commitment):
    StatusChange.objects.create(commitment=commitment, new_status="missed", reason_code="deadline.missed",
                                effective_at=datetime(2020, 3, 10, 19, 30, tzinfo=UTC))


def only_a_linked_report(commitment):
    ReportFactory(commitment=commitment)


ONE_RECORD = [only_an_assessment, only_a_status_change, only_a_linked_report]


@pytest.mark.parametrize("record", ONE_RECORD)
def test_a_commitment_with_any_one_record_cannot_be_deleted(client, mighty, record):
    commitment = CommitmentFactory()
    record(commitment)
    before = counts()
    client.post(reverse("admin:terms_commitment_delete", args=[commitment.pk]), {"post": "yes"})
    client.post(reverse("admin:terms_commitment_changelist"),
                {"action": "delete_selected", "_selected_action": [commitment.pk], "index": 0, "post": "yes"})
    assert Commitment.objects.filter(pk=commitment.pk).exists()
    assert counts() == before
    assert set(ev.Report.objects.values_list("commitment", flat=True)) <= {commitment.pk}


@pytest.mark.parametrize("record", ONE_RECORD)
def test_an_agreement_whose_commitments_have_records_cannot_be_deleted(client, mighty, record):
    commitment = CommitmentFactory()
    record(commitment)
    before = counts()
    client.post(reverse("admin:terms_agreement_delete", args=[commitment.agreement.pk]), {"post": "yes"})
    client.post(reverse("admin:terms_agreement_changelist"),
                {"action": "delete_selected", "_selected_action": [commitment.agreement.pk], "index": 0, "post": "yes"})
    assert Commitment.objects.filter(pk=commitment.pk).exists()
    assert counts() == before


@pytest.mark.parametrize("record", ONE_RECORD)
def test_a_commitment_with_records_cannot_be_deleted_from_its_agreement_page_either(client, mighty, record):
    commitment = CommitmentFactory()
    commitment.agreement.parties.add(PartyFactory())  # else the agreement's form is refused for want of one
    record(commitment)
    before = counts()
    url = reverse("admin:terms_agreement_change", args=[commitment.agreement.pk])
    data = admin_form_data(client.get(url))
    data["commitments-0-DELETE"] = "on"
    response = client.post(url, data)
    assert Commitment.objects.filter(pk=commitment.pk).exists()
    assert counts() == before
    assert response.status_code == 200
    errors = [str(e) for e in response.context["errors"]]
    assert len(errors) == 1 and "would require deleting the following protected related objects" in errors[0]


def test_the_agreement_page_still_deletes_a_commitment_with_no_record(client, mighty):
    commitment = CommitmentFactory()
    commitment.agreement.parties.add(PartyFactory())
    url = reverse("admin:terms_agreement_change", args=[commitment.agreement.pk])
    data = admin_form_data(client.get(url))
    data["commitments-0-DELETE"] = "on"
    assert client.post(url, data).status_code == 302
    assert not Commitment.objects.filter(pk=commitment.pk).exists()


def test_a_commitment_with_no_record_may_still_be_deleted(client, mighty):
    commitment = CommitmentFactory()  # a typing error, never judged, never linked
    client.post(reverse("admin:terms_commitment_delete", args=[commitment.pk]), {"post": "yes"})
    assert not Commitment.objects.filter(pk=commitment.pk).exists()


@pytest.fixture
def ceiling():
    """At most one attack a day in Kabul; two reports of one attack on 10 March, grouped as one event."""
    agreement = AgreementFactory(slug="kabul", signed_on=date(2020, 2, 29), time_zone="Asia/Kabul",
                                 publish_computed_verdicts=True)
    commitment = CommitmentFactory(agreement=agreement, key="calm", kind="ceiling", due_offset=None,
                                   rule={"categories": ["attack"], "attribution": "any", "limit": 1})
    source = SourceFactory(name="Mission", reliability="A")
    ev.Coverage.objects.create(source=source, starts_on=date(2020, 2, 29), country="Afghanistan",
                               recorded_at=datetime(2020, 2, 29, tzinfo=UTC))
    event = ev.EventGroup.objects.create(label="One attack")
    for n in (1, 2):
        ReportFactory(summary=f"Attack, account {n}", category="attack", source=source, credibility=1, event=event,
                      occurred_at=datetime(2020, 3, 10, 8, tzinfo=UTC),
                      recorded_at=datetime(2020, 3, 10, 12, tzinfo=UTC))
    return commitment, event


def test_an_event_with_reports_cannot_be_deleted_and_its_reports_stay_one_event(client, mighty, ceiling):
    commitment, event = ceiling
    assert cited(commitment) == ("in_compliance", False)  # one event on 10 March: at the limit, not over it
    client.post(reverse("admin:evidence_eventgroup_delete", args=[event.pk]), {"post": "yes"})
    client.post(reverse("admin:evidence_eventgroup_changelist"),
                {"action": "delete_selected", "_selected_action": [event.pk], "index": 0, "post": "yes"})
    assert ev.EventGroup.objects.filter(pk=event.pk).exists()
    assert set(ev.Report.objects.values_list("event", flat=True)) == {event.pk}
    assert cited(commitment) == ("in_compliance", False)


def test_an_event_with_no_report_may_still_be_deleted(client, mighty):
    event = ev.EventGroup.objects.create(label="Empty")
    client.post(reverse("admin:evidence_eventgroup_delete", args=[event.pk]), {"post": "yes"})
    assert not ev.EventGroup.objects.filter(pk=event.pk).exists()


def test_a_source_with_reports_cannot_be_deleted(client, mighty, talks):
    before = counts()
    source = ev.Source.objects.get(name="Wire")
    client.post(reverse("admin:evidence_source_delete", args=[source.pk]), {"post": "yes"})
    assert ev.Source.objects.filter(pk=source.pk).exists() and counts() == before


def test_deleting_what_records_hang_on_is_refused_by_the_models_whatever_calls_it(talks, ceiling):
    _commitment, event = ceiling
    for obj in (talks, talks.agreement, event, ev.Source.objects.get(name="Wire")):
        with pytest.raises(ProtectedError):
            obj.delete()
    for record in ONE_RECORD:
        commitment = CommitmentFactory()
        record(commitment)
        with pytest.raises(ProtectedError):
            commitment.delete()


@pytest.mark.parametrize("who", sorted(EVERYONE))
def test_no_one_has_a_delete_permission_for_records_in_the_admin(who, talks):
    user = EVERYONE[who]()
    request = RequestFactory().get("/")
    request.user = user
    for model in RECORDS:
        model_admin = admin.site._registry.get(model)
        if model_admin is None:
            continue  # verification changes have no admin of their own: only the report's inline
        assert not model_admin.has_delete_permission(request), model
        assert not model_admin.has_delete_permission(request, model._default_manager.first()), model
        assert "delete_selected" not in model_admin.get_actions(request), model
    inline = VerificationChangeInline(ev.Report, admin.site)
    assert not inline.has_delete_permission(request) and not inline.can_delete


def test_the_admin_of_each_record_is_registered():
    # If one stops being registered (or a new admin appears for verification changes), the test above must cover it.
    assert {m for m in RECORDS if m in admin.site._registry} == {Assessment, StatusChange, ev.Report}


# --- the API ----------------------------------------------------------------------------------------------------


def api_urls(talks, report):
    """Every address of the API, filled in with the test's objects (walked from the URL patterns)."""
    values = {"agreement": talks.agreement.slug, "key": talks.key, "pk": report.pk}
    out = []

    def walk(patterns, prefix):
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + [p])
            elif isinstance(p, URLPattern) and any(getattr(r, "namespace", None) == "api" for r in prefix):
                name = f"api:{p.name}"
                kwargs = {k: values[k] for k in p.pattern.converters}
                out.append(reverse(name, kwargs=kwargs))

    walk(get_resolver().url_patterns, [])
    return out


@pytest.mark.parametrize("method", ["delete", "put", "patch"])
def test_the_api_deletes_and_rewrites_nothing_even_for_a_superuser(client, method, talks):
    client.force_login(superuser())
    before = counts()
    urls = api_urls(talks, ev.Report.objects.get())
    assert reverse("api:report-detail", kwargs={"pk": ev.Report.objects.get().pk}) in urls
    assert len(urls) >= 8
    for url in urls:
        response = getattr(client, method)(url, data="{}", content_type="application/json")
        assert response.status_code == 405, (url, response.status_code)
    assert counts() == before


# --- withdrawing an assessment: a new record, shown in the history ------------------------------------------------


@pytest.fixture
def analyst_client(talks):
    c = Client()
    c.force_login(grant_role(UserFactory(username="bilal"), ANALYST))
    return c


def read_later(read, *args):
    """`read` two minutes from now: a page shown "now" is as of the current minute, floored."""
    with time_machine.travel(timezone.now() + timedelta(minutes=2), tick=False):
        return read(*args)


def assess(client, commitment, **fields):
    url = reverse("admin:terms_commitment_change", args=[commitment.pk])
    data = admin_form_data(client.get(url))
    data.update({f"assessments-0-{k}": v for k, v in fields.items()})
    return client.post(url, data)


def test_an_analyst_withdraws_an_assessment_by_recording_a_withdrawal(analyst_client, talks):
    response = assess(analyst_client, talks, action="withdraw", reason="The wire retracted its account.")
    assert response.status_code == 302, response.content.decode()[:2000]
    withdrawal = talks.assessments.order_by("-assessed_at").first()
    assert (withdrawal.action, withdrawal.computed_status, withdrawal.status, withdrawal.author.username) == (
        "withdraw", "met", "met", "bilal")
    assert talks.assessments.count() == 2  # the confirmation is kept

    # No assessment stands now: the verdict is provisional again, and the public sees no verdict.
    assert talks.pk not in inputs.latest_assessments([talks.pk])
    standing = next(s for s in inputs.standings([talks.agreement], as_of=timezone.now()) if s.commitment == talks)
    assert (standing.assessed, standing.provisional, standing.status) == (False, True, "met")
    now = read_later(public_page, talks)
    assert verdict(now) == ("provisional", False)
    assert "The wire retracted its account." in now and "The talks did open on 5 March." in now  # both listed

    # The view cited before the withdrawal still shows the confirmation, and not the withdrawal.
    before = public_page(talks, **CITED)
    assert verdict(before) == ("met", True)
    assert "The wire retracted its account." not in before
    assert talks.pk in inputs.latest_assessments([talks.pk], known_at=datetime(2020, 4, 1, tzinfo=UTC))

    # The commitment's admin page says so, and lists the withdrawal with the others.
    page = analyst_client.get(reverse("admin:terms_commitment_change", args=[talks.pk])).content.decode()
    assert "Met</strong> <small>(provisional)" in page
    assert "The wire retracted its account." in page
    assert "another computed status" not in page


def test_after_a_withdrawal_a_new_assessment_stands_again(analyst_client, talks):
    assert assess(analyst_client, talks, action="withdraw", reason="Retracted.").status_code == 302
    assert verdict(read_later(public_page, talks)) == ("provisional", False)
    assert assess(analyst_client, talks, action="confirm", reason="A second wire confirms.").status_code == 302
    assert verdict(read_later(public_page, talks)) == ("met", True)


def test_withdrawing_an_override_names_the_status_withdrawn_and_the_computed_verdict_is_provisional_again(
    analyst_client, talks
):
    assert assess(analyst_client, talks, action="override", status="met_late", reason="Informal talks first."
                  ).status_code == 302
    assert verdict(read_later(public_page, talks)) == ("met_late", True)
    assert assess(analyst_client, talks, action="withdraw", pam_grade="3", reason="Misread.").status_code == 302
    withdrawal = talks.assessments.get(action="withdraw")
    assert (withdrawal.computed_status, withdrawal.status, withdrawal.pam_grade) == ("met", "met_late", None)
    assert verdict(read_later(public_page, talks)) == ("provisional", False)


def test_there_is_nothing_to_withdraw_when_no_assessment_stands(analyst_client, talks):
    assess(analyst_client, talks, action="withdraw", reason="Retracted.")
    response = assess(analyst_client, talks, action="withdraw", reason="Again.")
    assert response.status_code == 200
    assert "No assessment covers the verdict shown: there is nothing to withdraw." in response.content.decode()
    assert talks.assessments.count() == 2


def test_a_withdrawal_covers_no_verdict_whatever_status_it_names():
    withdrawal = AssessmentFactory.build(action="withdraw", computed_status="met", status="met")
    assert not withdrawal.covers("met")


# --- hiding a report from the public ------------------------------------------------------------------------------


def test_hiding_a_report_removes_it_from_the_public_list_but_not_from_the_verdict_known_then(client, mighty, talks):
    report = ev.Report.objects.get()
    assert "Talks opened in Doha." in public_page(talks, **CITED)
    url = reverse("admin:evidence_report_change", args=[report.pk])
    data = admin_form_data(client.get(url))
    data["visibility"] = ev.INTERNAL
    assert client.post(url, data).status_code == 302
    report.refresh_from_db()
    assert report.visibility == ev.INTERNAL and report.verification == ev.VERIFIED  # not a judged field
    page = public_page(talks, **CITED)
    assert verdict(page) == ("met", True)  # the verdict counts what was known then
    assert "Talks opened in Doha." not in page  # the report is no longer listed publicly
    assert "rests on a report that is not public" in page  # and the reason says why its details are withheld


def test_a_withdrawal_does_not_make_a_status_change_count_as_assessed(analyst_client, talks):
    # A second transition to "met", detected after the confirmation of 20 March: no assessment was made while
    # it was the latest, so the public may not see it (the agreement publishes no computed verdict).
    first = talks.status_changes.get()
    StatusChange.objects.create(commitment=talks, previous=first, old_status="met", new_status="disputed",
                                effective_at=datetime(2020, 3, 21, tzinfo=UTC),
                                detected_at=datetime(2020, 3, 21, tzinfo=UTC), reason_code="deadline.disputed")
    again = StatusChange.objects.create(
        commitment=talks, previous=talks.status_changes.get(new_status="disputed"), old_status="disputed",
        new_status="met", effective_at=datetime(2020, 3, 22, tzinfo=UTC), detected_at=datetime(2020, 3, 22, tzinfo=UTC),
        reason_code="deadline.met",
    )

    def public_changes():
        response = Client().get(reverse("api:statuschange-list"), {"agreement": talks.agreement.slug})
        return {c["id"] for c in response.json()["results"]}

    assert again.pk not in public_changes()
    # The confirmation of "met" still stands (it covers the computed status), so it can be withdrawn.
    assert assess(analyst_client, talks, action="withdraw", reason="Retracted.").status_code == 302
    assert again.pk not in public_changes()
