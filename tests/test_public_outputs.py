"""What the public may see, proved for every public output: pages, feeds, calendar, badges and the API.

One set of data plants a secret of each kind where a leak would show: an
internal report that decides a verdict (so a careless sentence would cite its
source), a restricted report that breaches a prohibition, an internal
measurement that would plot on a chart, rows of a source whose licence forbids
republishing them, a subscriber's address and an analyst's name. Every public
output is fetched once, anonymously; each test then checks one rule across all
of them. The staff view of the same data is fetched too, as the control: it
shows the secrets, so their absence from the public outputs means something.
"""

import html
import json
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from django.test import Client, override_settings
from django.urls import reverse

from monitor.alerts.models import Subscription
from monitor.evidence.models import INTERNAL, RESTRICTED, VERIFIED, Report, Source
from monitor.verdicts.models import StatusChange
from terms.models import Agreement
from tests.factories import AssessmentFactory, ReportFactory, SourceFactory, UserFactory

# The mark makes pytest-django create the test database; the data itself lives in `outputs` below.
pytestmark = pytest.mark.django_db

SLUG = "us-taliban-2020"
KEYS = (
    "cut-ties-al-qaeda", "fight-isis", "withdrawal-begins", "violence-major-cities", "talks-begin",
    "troop-reduction", "ceasefire",
)
CUTOFFS = [
    {},
    {"as_of": "2020-10-01", "known_at": "2020-10-01"},
    {"as_of": "2020-03-25", "known_at": "2020-06-01"},
    {"as_of": "2020-03-09", "known_at": "2020-03-09"},
]

INTERNAL_SECRETS = ("INTERNAL-SECRET-7f3a", "Secret informant network", "INTERNAL-PLACE-3c", "98765", "98,765")
RESTRICTED_SECRETS = ("RESTRICTED-SECRET-91bc", "Restricted channel", "RESTRICTED-ACTOR-2d")
LICENSED_SECRETS = (
    "LICENSED-ROW-55e1", "LICENSED-PLACE-0a", "LICENSED-ACTOR-9f", "LICREF-4242", "Synthetic ", "AFG2020",
)
# The outputs fetched again as staff, where the planted secrets appear: the control.
STAFF_CONTROL = (
    "commitment page talks-begin", "commitment page troop-reduction", "api commitment reports",
    "api commitment talks-begin", "api commitment cut-ties-al-qaeda",
)
PERSONAL_SECRETS = ("subscriber-secret@example.org", "analyst-secret-user", "analyst-secret@example.org",
                    "entered-by-secret")


def public_outputs():
    """(name, url, params) of every public output, for every commitment."""
    agreement = {"agreement": SLUG}
    outputs = [("home", reverse("pages:home"), {}), ("method", reverse("pages:method"), {})]
    for i, cut in enumerate(CUTOFFS):
        outputs += [
            (f"agreement page {i}", reverse("pages:agreement", kwargs=agreement), cut),
            (f"api commitments {i}", reverse("api:commitment-list", kwargs=agreement), cut),
        ]
        for key in KEYS:
            kw = {**agreement, "key": key}
            outputs += [
                (f"commitment page {key} {i}", reverse("pages:commitment", kwargs=kw), cut),
                (f"api commitment {key} {i}", reverse("api:commitment-detail", kwargs=kw), cut),
            ]
            if i in (1, 2):  # two cutoffs suffice for the paginated lists: all planted reports are known by then
                outputs.append(
                    (f"api commitment reports {key} {i}", reverse("api:commitment-reports", kwargs=kw), cut)
                )
    for key in KEYS:
        kw = {**agreement, "key": key}
        outputs += [
            (f"feed {key}", reverse("pages:commitment-feed", kwargs=kw), {}),
            (f"badge {key}", reverse("pages:badge", kwargs=kw), {}),
        ]
    outputs += [
        ("agreement feed", reverse("pages:agreement-feed", kwargs=agreement), {}),
        ("deadlines calendar", reverse("pages:deadlines", kwargs=agreement), {}),
        ("api root", reverse("api:root"), {}),
        ("api agreements", reverse("api:agreement-list"), {}),
        ("api agreement", reverse("api:agreement-detail", kwargs=agreement), {}),
        ("api reports", reverse("api:report-list"), {}),
        ("api status changes", reverse("api:statuschange-list"), {}),
        ("api schema", reverse("api:schema"), {}),
    ]
    return outputs


def plant_secrets():
    call_command("load_agreement", "agreements/us-taliban-2020.yaml", stdout=StringIO())
    call_command("load_demo", stdout=StringIO())
    # One week of the demo's synthetic (licensed) events is enough to test with, and each of the many
    # outputs below then computes its verdicts in a fraction of the time.
    Report.objects.filter(source__may_republish=False).exclude(
        occurred_at__range=(datetime(2020, 3, 14, tzinfo=UTC), datetime(2020, 3, 21, tzinfo=UTC))
    ).delete()
    agreement = Agreement.objects.get(slug=SLUG)
    # Publishing computed verdicts puts the most on show: the secrets must stay out even so.
    agreement.publish_computed_verdicts = True
    agreement.save()
    commitments = {c.key: c for c in agreement.commitments.all()}
    analyst = UserFactory(username="analyst-secret-user", email="analyst-secret@example.org")
    clerk = UserFactory(username="entered-by-secret", email="entered-by-secret@example.org")

    informant = SourceFactory(name="Secret informant network", reliability="A")
    internal = ReportFactory(
        source=informant, summary="INTERNAL-SECRET-7f3a: the envoy's readout.", visibility=INTERNAL,
        category="intra_afghan_talks_started", occurred_at=datetime(2020, 3, 8, 6, tzinfo=UTC),
        recorded_at=datetime(2020, 3, 8, 7, tzinfo=UTC), credibility=1, location="INTERNAL-PLACE-3c",
        source_ref="int-1", entered_by=clerk,
    )  # decides talks-begin: met on 8 March, on this report alone
    ReportFactory(
        source=informant, summary="INTERNAL-SECRET-7f3a troop count.", visibility=INTERNAL, category="us_troop_level",
        value=98765, occurred_at=datetime(2020, 3, 5, tzinfo=UTC), recorded_at=datetime(2020, 3, 5, 1, tzinfo=UTC),
        credibility=1, source_ref="int-2",
    )
    channel = SourceFactory(name="Restricted channel", reliability="A")
    restricted = ReportFactory(
        source=channel, summary="RESTRICTED-SECRET-91bc: a named informant's account.", visibility=RESTRICTED,
        category="al_qaeda_ties", actor1="Taliban", actor2="RESTRICTED-ACTOR-2d",
        occurred_at=datetime(2020, 4, 2, tzinfo=UTC), recorded_at=datetime(2020, 4, 3, tzinfo=UTC), credibility=2,
        source_ref="res-1",
    )  # breaches the al-Qaeda prohibition from 2 April
    dataset = Source.objects.get(may_republish=False)
    licensed = ReportFactory(
        source=dataset, summary="LICENSED-ROW-55e1 attack.", category="Battles", actor1="Taliban",
        actor2="LICENSED-ACTOR-9f", location="Kabul", admin1="LICENSED-PLACE-0a", source_ref="LICREF-4242",
        occurred_at=datetime(2020, 3, 20, tzinfo=UTC), recorded_at=datetime(2020, 3, 21, tzinfo=UTC), credibility=2,
    )  # counts for the violence ceiling: a Taliban attack in Kabul
    licensed.set_verification(VERIFIED, by=analyst, at=datetime(2020, 3, 22, tzinfo=UTC))
    wire = Source.objects.get(name="Wire service (demo)")
    ReportFactory(source=wire, summary="Public report entered by a clerk.", category="isis_cooperation",
                  entered_by=clerk, occurred_at=datetime(2020, 4, 1, tzinfo=UTC),
                  recorded_at=datetime(2020, 4, 2, tzinfo=UTC), credibility=5)

    for key, secret_report, new in (("talks-begin", internal, "met"), ("cut-ties-al-qaeda", restricted, "breached")):
        change = StatusChange.objects.create(
            commitment=commitments[key], new_status=new, effective_at=secret_report.occurred_at,
            detected_at=secret_report.recorded_at,
            reason_code="deadline.met" if new == "met" else "prohibition.breached",
            reason_params={"date": "2020-03-08", "due": "2020-03-10", "days_early": 2, "count": 1,
                           "source": secret_report.source.name, "grade": "A1", "report": secret_report.id},
        )
        change.evidence.set([secret_report, licensed])
    AssessmentFactory(commitment=commitments["cut-ties-al-qaeda"], computed_status="breached", author=analyst,
                      assessed_at=datetime(2020, 4, 10, tzinfo=UTC), reason="Assessed against the record.")
    Subscription.objects.create(email="subscriber-secret@example.org", agreement=agreement,
                                confirmed_at=datetime(2020, 3, 1, tzinfo=UTC))
    Subscription.objects.create(user=analyst, agreement=agreement, commitment=commitments["talks-begin"])


def fetch(client, outputs):
    fetched = {}
    for name, url, params in outputs:
        response = client.get(url, params)
        assert response.status_code == 200, (name, url, params, response.status_code)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        text = body.decode()
        # Compare what a reader or a program sees: HTML entities and JSON escapes decoded.
        fetched[name] = text + "\n" + html.unescape(text) + "\n" + _json_text(text)
    return fetched


def _json_text(text):
    try:
        return json.dumps(json.loads(text), ensure_ascii=False)
    except ValueError:
        return ""


@pytest.fixture(scope="module")
def outputs(django_db_setup, django_db_blocker):
    """Every public output and the staff view of some, fetched once; the data is rolled back afterwards."""
    # What conftest.py sets for each test, needed here before any test runs: plain HTTP, and static
    # files linked without `collectstatic`.
    plain = override_settings(
        SECURE_SSL_REDIRECT=False,
        STORAGES={
            **settings.STORAGES,
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        },
    )
    with plain, django_db_blocker.unblock(), transaction.atomic():
        plant_secrets()
        listed = public_outputs()
        public = fetch(Client(), listed)
        staff_client = Client()
        staff_client.force_login(UserFactory(username="staff-control", is_staff=True, is_superuser=True))
        staff = fetch(staff_client, [o for o in listed if o[0].startswith(STAFF_CONTROL)])
        transaction.set_rollback(True)
    return public, staff


def leaks(outputs, secrets):
    return sorted({(name, secret) for name, body in outputs.items() for secret in secrets if secret in body})


def test_every_public_output_was_fetched(outputs):
    public, _staff = outputs
    assert len(public) == len(public_outputs()) > 80


def test_no_public_output_shows_an_internal_report(outputs):
    assert leaks(outputs[0], INTERNAL_SECRETS) == []


def test_no_public_output_shows_a_restricted_report(outputs):
    assert leaks(outputs[0], RESTRICTED_SECRETS) == []


def test_no_public_output_shows_a_row_of_a_source_whose_licence_forbids_republishing(outputs):
    assert leaks(outputs[0], LICENSED_SECRETS) == []


def test_no_public_output_shows_personal_data_of_subscribers_or_staff(outputs):
    assert leaks(outputs[0], PERSONAL_SECRETS) == []


def test_staff_see_what_the_public_does_not_so_the_checks_above_can_fail(outputs):
    _public, staff = outputs
    seen = {secret for body in staff.values() for secret in INTERNAL_SECRETS + RESTRICTED_SECRETS + LICENSED_SECRETS}
    seen = {s for s in seen if any(s in body for body in staff.values())}
    for secret in ("INTERNAL-SECRET-7f3a", "Secret informant network", "RESTRICTED-SECRET-91bc", "LICENSED-ROW-55e1",
                   "LICREF-4242", "98765"):
        assert secret in seen


def test_licensed_reports_still_count_in_the_public_numbers(outputs):
    public, _staff = outputs
    ceiling = public["commitment page violence-major-cities 2"]
    assert "more count here but are not listed" in ceiling
    # 20 March had the demo's events plus the planted licensed one: counted in the chart's table.
    assert '<th scope="row">20 Mar 2020</th><td>' in ceiling
    api = json.loads(public["api commitment violence-major-cities 2"].split("\n", 1)[0])
    daily = dict(api["verdict"]["details"]["daily"])
    assert daily["2020-03-20"] >= 1


def test_a_verdict_resting_on_a_report_that_is_not_public_shows_its_status_and_withholds_its_source(outputs):
    public, _staff = outputs
    talks = public["commitment page talks-begin 3"]
    assert "Met: this verdict rests on a report that is not public, so its source and details are withheld." in talks
    api = json.loads(public["api commitment talks-begin 3"].split("\n", 1)[0])
    assert api["verdict"]["status"] == "met" and api["verdict"]["withheld"] is True
    assert api["verdict"]["evidence"] == []
    assert set(api["verdict"]["reason"]["params"]) <= {"due", "days_early", "date"}
    # Known later, a credible denial disputes it; the act it disputes is still the hidden report.
    assert "Disputed: this verdict rests on a report that is not public" in public["commitment page talks-begin 1"]
    al_qaeda = public["commitment page cut-ties-al-qaeda 1"]
    assert "Breached: this verdict rests on a report that is not public" in al_qaeda
