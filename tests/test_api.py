"""The read API, the OpenAPI schema, and monitors posting reports with a token."""

import json
from datetime import UTC, datetime
from io import StringIO

import pytest
import yaml
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from monitor.evidence.models import ARRIVED_API, INTERNAL, Report
from monitor.verdicts.models import StatusChange
from terms.models import Agreement
from tests.factories import AssessmentFactory, ReportFactory, UserFactory

pytestmark = pytest.mark.django_db

SLUG = "us-taliban-2020"


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def demo():
    call_command("load_agreement", "agreements/us-taliban-2020.yaml", stdout=StringIO())
    # The reports alone: these tests are about what an unassessed verdict shows, and add the assessments they need.
    call_command("load_demo", "--without-assessments", stdout=StringIO())
    return Agreement.objects.get(slug=SLUG)


@pytest.fixture
def published(demo):
    demo.publish_computed_verdicts = True
    demo.save()
    return demo


def commitments(api, **params):
    response = api.get(reverse("api:commitment-list", kwargs={"agreement": SLUG}), params)
    assert response.status_code == 200, response.content
    return response.json()


def compliance(*args):
    out = StringIO()
    call_command("compliance", "--json", "--agreement", SLUG, *args, stdout=out)
    return {c["key"]: c for c in json.loads(out.getvalue())["agreements"][0]["commitments"]}


# --- reading -----------------------------------------------------------------------------------


def test_agreements_list_and_detail_link_to_pages_and_verdicts(api, demo):
    listing = api.get(reverse("api:agreement-list")).json()
    assert listing["count"] == 1
    [agreement] = listing["results"]
    assert agreement["slug"] == SLUG and agreement["signed_on"] == "2020-02-29"
    assert {p["slug"] for p in agreement["parties"]} == {"taliban", "united-states"}
    # The Afghan government signed nothing: listed apart.
    assert [p["slug"] for p in agreement["non_party_actors"]] == ["government-of-afghanistan"]
    assert agreement["page"].endswith("/agreements/us-taliban-2020/")
    assert api.get(agreement["commitments"]).status_code == 200
    assert api.get(reverse("api:agreement-detail", kwargs={"agreement": SLUG})).json()["title"] == agreement["title"]


@pytest.mark.parametrize(
    ("as_of", "known_at"), [("2020-03-11", "2020-03-11"), ("2020-03-18", "2020-06-01"), ("2020-10-01", "2020-10-01")]
)
def test_published_verdicts_are_the_ones_manage_py_compliance_gives_for_the_same_dates(api, published, as_of, known_at):
    expected = compliance("--as-of", as_of, "--known-at", known_at)
    body = commitments(api, as_of=as_of, known_at=known_at)
    # A commitment under review (the seed file marks three) is withheld from the public; the command is staff's.
    under_review = {c["key"] for c in body["commitments"] if c["under_review"]}
    assert under_review == {k for k, v in expected.items() if v["needs_review"] and v["provisional"]}
    assert all(c["verdict"]["status"] is None for c in body["commitments"] if c["key"] in under_review)
    got = {c["key"]: c["verdict"] for c in body["commitments"] if c["key"] not in under_review}
    expected = {k: v for k, v in expected.items() if k not in under_review}
    assert {k: v["status"] for k, v in got.items()} == {k: v["status"] for k, v in expected.items()}
    assert {k: v["sentence"] for k, v in got.items()} == {k: v["computed"]["sentence"] for k, v in expected.items()}
    assert body["as_of"] == expected["talks-begin"]["computed"]["as_of"].replace("+00:00", "Z")


def test_an_unpublished_verdict_is_sent_without_its_status_reason_or_evidence(api, demo):
    talks = {c["key"]: c for c in commitments(api, as_of="2020-03-11")["commitments"]}["talks-begin"]
    verdict = talks["verdict"]
    assert verdict["published"] is False and verdict["provisional"] is True
    assert verdict["status"] is None and verdict["computed_status"] is None
    assert verdict["reason"] is None and verdict["sentence"] is None and verdict["evidence"] == []
    # Neutral facts stay.
    assert verdict["due_day"] == "2020-03-10" and verdict["days_to_due"] == -1


def test_an_assessed_verdict_names_no_analyst_to_the_public_but_does_to_staff(api, demo):
    AssessmentFactory(commitment=demo.commitments.get(key="cut-ties-al-qaeda"), computed_status="breached",
                      assessed_at=datetime(2020, 5, 30, tzinfo=UTC), author=UserFactory(username="amina.k"))
    url = reverse("api:commitment-detail", kwargs={"agreement": SLUG, "key": "cut-ties-al-qaeda"})
    public = api.get(url, {"as_of": "2020-06-01"}).json()
    assert public["verdict"]["status"] == "breached" and public["verdict"]["assessed"] is True
    assert public["assessment"]["covers_computed"] is True
    assert "author" not in public["assessment"]
    api.force_authenticate(UserFactory(username="viewer", is_staff=True))
    assert api.get(url, {"as_of": "2020-06-01"}).json()["assessment"]["author"] == "amina.k"


def test_commitment_detail_gives_words_basis_rule_and_window(api, demo):
    body = api.get(reverse("api:commitment-detail", kwargs={"agreement": SLUG, "key": "violence-major-cities"})).json()
    assert body["basis"] == "reported" and body["rule"]["limit"] == 10
    assert body["window"] == {"anchor": "signing", "anchor_commitment": None, "unit": "days", "starts": 10,
                              "due": None, "ends": None, "grace_days": 0, "reasonable_days": None}
    assert body["competing_accounts"][0]["account"] == "within seven days"
    assert body["owed_by"] == ["taliban"]


def test_a_bad_date_is_a_400_naming_the_parameter(api, demo):
    response = api.get(reverse("api:commitment-list", kwargs={"agreement": SLUG}), {"as_of": "2020-13-45"})
    assert response.status_code == 400
    assert "as_of" in response.json()


def test_reports_list_only_rows_the_public_may_see(api, demo):
    ReportFactory(summary="Internal memo.", visibility=INTERNAL)
    body = api.get(reverse("api:report-list")).json()
    summaries = {r["summary"] for r in body["results"]}
    assert "Internal memo." not in summaries
    assert not any(s.startswith("Synthetic") for s in summaries)  # the licensed dataset's rows
    assert body["count"] == 8  # the demo's narrative reports
    first = body["results"][0]
    assert first["summary"].startswith("Intra-Afghan negotiations open in Doha") and first["grade"] == "B1"
    assert "entered_by" not in first and "visibility" not in first


def test_reports_filter_by_category_and_date(api, demo):
    body = api.get(
        reverse("api:report-list"), {"category": "us_troop_level", "occurred_after": "2020-03-01T00:00:00Z"}
    ).json()
    assert [r["value"] for r in body["results"]] == [8600.0]
    assert api.get(reverse("api:report-list"), {"occurred_after": "soon"}).status_code == 400


def test_a_report_that_is_not_public_is_not_found(api, demo):
    internal = ReportFactory(summary="Internal memo.", visibility=INTERNAL)
    licensed = Report.objects.filter(source__may_republish=False).first()
    public = Report.objects.get(source_ref="talks-open")
    assert api.get(reverse("api:report-detail", kwargs={"pk": internal.pk})).status_code == 404
    assert api.get(reverse("api:report-detail", kwargs={"pk": licensed.pk})).status_code == 404
    assert api.get(reverse("api:report-detail", kwargs={"pk": public.pk})).json()["source_ref"] == "talks-open"


def test_a_commitments_reports_are_those_its_rule_counts_with_licensed_ones_only_counted(api, demo):
    url = reverse("api:commitment-reports", kwargs={"agreement": SLUG, "key": "violence-major-cities"})
    body = api.get(url, {"as_of": "2020-03-25", "known_at": "2020-06-01"}).json()
    assert body["count"] == 0 and body["not_listed_licence"] > 100
    talks = api.get(reverse("api:commitment-reports", kwargs={"agreement": SLUG, "key": "talks-begin"}),
                    {"as_of": "2020-10-01"}).json()
    assert [r["source_ref"] for r in talks["results"]] == ["talks-open", "talks-stalled", "talks-claim"]


def test_status_changes_filter_by_agreement_and_commitment(api, published):
    talks = published.commitments.get(key="talks-begin")
    first = StatusChange.objects.create(
        commitment=talks, new_status="due_soon", effective_at=datetime(2020, 3, 2, tzinfo=UTC),
        detected_at=datetime(2020, 3, 3, tzinfo=UTC), reason_code="deadline.pending",
        reason_params={"due": "2020-03-10", "days_left": 7},
    )
    StatusChange.objects.create(
        commitment=talks, previous=first, old_status="due_soon", new_status="missed",
        effective_at=datetime(2020, 3, 10, 19, 30, tzinfo=UTC), detected_at=datetime(2020, 3, 11, tzinfo=UTC),
        reason_code="deadline.missed", reason_params={"due": "2020-03-10", "grace_days": 0},
    )
    body = api.get(reverse("api:statuschange-list"), {"agreement": SLUG, "commitment": "talks-begin"}).json()
    assert [(c["old_status"], c["new_status"]) for c in body["results"]] == [("due_soon", "missed"), ("", "due_soon")]
    assert body["results"][0]["sentence"].startswith("Missed: due by the end of 10 March 2020")
    other = api.get(reverse("api:statuschange-list"), {"agreement": SLUG, "commitment": "fight-isis"}).json()
    assert other["count"] == 0
    assert api.get(reverse("api:statuschange-list"), {"commitment": "talks-begin"}).status_code == 400


# --- the schema --------------------------------------------------------------------------------


def test_openapi_schema_describes_every_endpoint_and_generates_without_warnings(api, db):
    response = api.get(reverse("api:schema"))
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert set(schema["paths"]) >= {
        "/api/agreements/", "/api/agreements/{agreement}/", "/api/agreements/{agreement}/commitments/",
        "/api/agreements/{agreement}/commitments/{key}/", "/api/agreements/{agreement}/commitments/{key}/reports/",
        "/api/reports/", "/api/reports/{id}/", "/api/status-changes/",
    }
    params = {p["name"] for p in schema["paths"]["/api/agreements/{agreement}/commitments/"]["get"]["parameters"]}
    assert {"as_of", "known_at"} <= params
    assert "post" in schema["paths"]["/api/reports/"]
    out, err = StringIO(), StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", "--urlconf", "monitor.urls", stdout=out, stderr=err)
    assert "Warning" not in err.getvalue() and "Error" not in err.getvalue()


# --- monitors posting reports ------------------------------------------------------------------


@pytest.fixture
def monitor():
    user = UserFactory(username="field-monitor", is_staff=False)
    user.user_permissions.add(Permission.objects.get(codename="add_report", content_type__app_label="evidence"))
    return user


def token_client(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def report(**fields):
    return {
        "summary": "Talks open in Doha.",
        "category": "intra_afghan_talks_started",
        "occurred_at": "2020-09-12T08:00:00Z",
        "source": "Wire service (demo)",
        "source_ref": "wire-2020-09-12",
        "credibility": 2,
        **fields,
    }


def test_a_monitor_with_a_token_posts_a_report_recorded_now_and_claimed(demo, monitor):
    before = timezone.now()
    response = token_client(monitor).post(
        reverse("api:report-list"),
        report(recorded_at="2020-01-01T00:00:00Z", verification="verified", commitment="us-taliban-2020/talks-begin"),
        format="json",
    )
    assert response.status_code == 201, response.json()
    saved = Report.objects.get(pk=response.json()["id"])
    # What was known when is the server's to say: a back-dated recorded_at would rewrite the past.
    assert saved.recorded_at >= before
    assert saved.verification == "claimed"
    assert saved.entered_by == monitor and saved.arrived_via == ARRIVED_API
    assert saved.commitment.key == "talks-begin"
    assert response.json()["source"] == "Wire service (demo)"


def test_a_posted_report_may_carry_the_datasets_own_fields_as_a_file_may(demo, monitor):
    kept = {"credibility_graded": False, "interaction": "12", "original_source": "Pajhwok",
            "source_scale": "National", "latitude": 34.5, "longitude": 69.2, "geo_precision": 1}
    client = token_client(monitor)
    response = client.post(reverse("api:report-list"), report(**kept), format="json")
    assert response.status_code == 201, response.json()
    saved = Report.objects.get(pk=response.json()["id"])
    assert {k: getattr(saved, k) for k in kept} == kept
    assert {k: response.json()[k] for k in kept} == kept
    refused = client.post(reverse("api:report-list"), report(source_ref="wire-2", latitude=95, geo_precision=4),
                          format="json")
    assert refused.status_code == 400
    assert set(refused.json()) == {"latitude", "geo_precision"}


def test_reading_is_open_but_posting_needs_a_token_with_the_right_to_add_reports(api, demo):
    assert api.post(reverse("api:report-list"), report(), format="json").status_code == 401
    reader = UserFactory(username="reader", is_staff=False)
    assert token_client(reader).post(reverse("api:report-list"), report(), format="json").status_code == 403
    assert not Report.objects.filter(source_ref="wire-2020-09-12").exists()


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"occurred_until": "2020-09-01T00:00:00Z"}, "occurred_until", "before occurred_at"),
        ({"credibility": 7}, "credibility", "Must be 6 or less"),
        ({"source": "Nobody"}, "source", "No source named"),
        ({"source_ref": "talks-open"}, "source_ref", "already recorded"),
        ({"url": "javascript:alert(1)"}, "url", "Is not a web address"),
        ({"occurred_at": "2999-01-01T00:00:00Z"}, "occurred_at", "in the future"),
        ({"value": "NaN"}, "value", ""),
        ({"stance": "maybe"}, "stance", "Must be one of affirms, denies"),
        ({"commitment": "us-taliban-2020/no-such"}, "commitment", "No commitment"),
        ({"summary": ""}, "summary", "Is required"),
        ({"source_ref": ""}, "source_ref", "Is required"),
        ({"fatalities": -3}, "fatalities", ""),
        ({"actors": "Taliban"}, "actors", "Unknown field"),
    ],
    ids=["period-backwards", "credibility", "unknown-source", "duplicate-id", "url", "future", "nan", "stance",
         "commitment", "summary", "no-id", "negative-fatalities", "unknown-key"],
)
def test_a_posted_report_is_held_to_the_importers_rules(demo, monitor, fields, field, message):
    response = token_client(monitor).post(reverse("api:report-list"), report(**fields), format="json")
    assert response.status_code == 400
    errors = response.json()
    flat = json.dumps(errors)
    assert field in errors, errors
    assert message in flat, errors
    assert not Report.objects.filter(summary="Talks open in Doha.").exists()


def test_a_posted_date_means_what_it_means_in_a_file_the_start_of_that_day_in_kabul(demo, monitor):
    response = token_client(monitor).post(
        reverse("api:report-list"), report(occurred_at="12 September 2020", admin1="kabul"), format="json"
    )
    assert response.status_code == 201, response.json()
    saved = Report.objects.get(pk=response.json()["id"])
    # Kabul is UTC+4:30: the local day starts at 19:30 UTC the evening before.
    assert saved.occurred_at == datetime(2020, 9, 11, 19, 30, tzinfo=UTC)
    assert saved.precision == "day"


def test_posting_the_same_report_twice_records_it_once(demo, monitor):
    client = token_client(monitor)
    assert client.post(reverse("api:report-list"), report(), format="json").status_code == 201
    again = client.post(reverse("api:report-list"), report(), format="json")
    assert again.status_code == 400 and "already recorded" in json.dumps(again.json())
    assert Report.objects.filter(source_ref="wire-2020-09-12").count() == 1
