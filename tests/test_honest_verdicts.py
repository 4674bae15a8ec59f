"""Verdicts that claim no more than the evidence (issue 14, point 3), as a reader, a subscriber and a client see them.

Five rules (docs/architecture.md, "Verdicts that claim no more than the evidence"): a commitment under
review shows no computed verdict and raises no alert until an analyst settles it; "in compliance" needs
sources covering enough of the window; a rule no source can report is "no source reports this"; an
agreement that is over says so at the top; the headline counts only published verdicts.
"""

import html
import re
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from monitor.alerts import models as am
from monitor.alerts import triggers
from monitor.alerts.delivery import send_due
from monitor.alerts.sweep import run_sweep
from monitor.evidence.importing import exports
from monitor.verdicts import statuses as S
from monitor.verdicts.engine import evaluate
from tests import engine_factories as ef
from tests.factories import (
    AgreementFactory,
    AssessmentFactory,
    CommitmentFactory,
    CoverageFactory,
    PartyFactory,
    ReportFactory,
    SourceFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

# Signed 29 February 2020 (the factories' default), in Kabul: talks due 10 March, missed at its midnight.
AFTER_MISS = datetime(2020, 3, 12, tzinfo=UTC)
NOTE = "The troop figure in the text is garbled: 8,600 or 6,800?"


@pytest.fixture(autouse=True)
def _locmem_email(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def text(markup):
    markup = re.sub(r"<(script|style)\b.*?</\1>", " ", markup, flags=re.DOTALL)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def page(client, name, expect=200, **kwargs):
    params = kwargs.pop("params", {})
    response = client.get(reverse(name, kwargs=kwargs), params)
    assert response.status_code == expect, response.content[:500]
    return response.content.decode()


def row(markup, key):
    match = re.search(rf'<tr id="c-{key}".*?</tr>', markup, flags=re.DOTALL)
    assert match, f"no row for {key}"
    return text(match.group(0))


def headline(markup):
    return dict(re.findall(r'<div class="hl hl-(\w+)"><dt>[^<]*</dt><dd>(\d+)</dd>', markup))


def cut(day):
    return {"as_of": day, "known_at": day}


# --- 1. a commitment marked for review ----------------------------------------------------------------


@pytest.fixture
def garbled():
    """A missed deadline, in an agreement that publishes computed verdicts, marked for an analyst's review."""
    agreement = AgreementFactory(slug="deal", title="The deal", publish_computed_verdicts=True)
    return CommitmentFactory(agreement=agreement, key="talks", title="Talks begin", needs_review=True,
                             review_note=NOTE)


def test_a_commitment_marked_for_review_shows_no_verdict_on_any_public_output(client, garbled):
    run_sweep(now=AFTER_MISS)  # records the miss, so the feed has a change to withhold
    agreement_page = page(client, "pages:agreement", agreement="deal", params=cut("2020-03-12"))
    assert "Missed" not in row(agreement_page, "talks")
    assert f"Under review: {NOTE}" in row(agreement_page, "talks")

    commitment_page = text(page(client, "pages:commitment", agreement="deal", key="talks", params=cut("2020-03-12")))
    assert f"Under review: {NOTE}" in commitment_page
    assert "Missed" not in commitment_page and "days overdue" not in commitment_page
    assert "no alert is sent" in commitment_page

    api = client.get(reverse("api:commitment-detail", kwargs={"agreement": "deal", "key": "talks"}),
                     cut("2020-03-12")).json()
    assert api["under_review"] is True and api["review_note"] == NOTE
    assert api["verdict"]["published"] is False
    assert api["verdict"]["status"] is None and api["verdict"]["computed_status"] is None

    assert "Missed" not in page(client, "pages:agreement-feed", agreement="deal")
    assert "Missed" not in page(client, "pages:commitment-feed", agreement="deal", key="talks")
    badge = page(client, "pages:badge", agreement="deal", key="talks")
    assert "under review" in badge and "Missed" not in badge
    assert "Missed" not in page(client, "pages:deadlines", agreement="deal")
    # The export meant for publication (the admin's "export verdicts"): withheld there too.
    [exported] = exports.verdict_rows([garbled], as_of=AFTER_MISS)
    assert (exported["shown"], exported["status"], exported["sentence"]) == (False, None, None)


def test_staff_see_the_computed_verdict_of_a_commitment_under_review_marked_as_withheld(client, garbled):
    staff = UserFactory(username="analyst", is_staff=True)
    client.force_login(staff)
    commitment_page = text(page(client, "pages:commitment", agreement="deal", key="talks", params=cut("2020-03-12")))
    assert "Missed" in commitment_page
    assert f"Under review: {NOTE}" in commitment_page
    assert "withheld from the public, and raises no alert" in commitment_page


def test_a_commitment_under_review_raises_no_alert_until_settled_then_its_alert_goes_out_once(garbled):
    staff = UserFactory(username="watcher", email="watcher@example.org")
    am.Subscription.objects.create(user=staff, agreement=garbled.agreement,
                                   confirmed_at=datetime(2020, 1, 1, tzinfo=UTC), reminder_days=[])
    am.Subscription.objects.create(email="press@example.org", agreement=garbled.agreement,
                                   confirmed_at=datetime(2020, 1, 1, tzinfo=UTC), reminder_days=[])
    run_sweep(now=AFTER_MISS)
    send_due(AFTER_MISS)
    assert garbled.status_changes.latest("id").new_status == S.MISSED  # recorded all the same
    assert [m.subject for m in mail.outbox if "Missed" in m.subject] == []
    assert not am.Alert.objects.filter(commitment=garbled).exists()

    garbled.needs_review = False  # the analyst settles the question: the figure is 8,600
    garbled.save()
    later = datetime(2020, 3, 13, tzinfo=UTC)
    run_sweep(now=later)
    send_due(later)
    run_sweep(now=datetime(2020, 3, 13, 1, tzinfo=UTC))
    send_due(datetime(2020, 3, 13, 1, tzinfo=UTC))
    missed = sorted(m.to[0] for m in mail.outbox if "Missed" in m.subject)
    assert missed == ["press@example.org", "watcher@example.org"]


def test_an_assessment_settles_a_review_and_publishes_the_analysts_verdict(client, garbled):
    AssessmentFactory(commitment=garbled, computed_status=S.MISSED, action="confirm",
                      assessed_at=datetime(2020, 3, 11, tzinfo=UTC))
    talks = row(page(client, "pages:agreement", agreement="deal", params=cut("2020-03-12")), "talks")
    assert "Missed" in talks and "Assessed by an analyst" in talks
    assert "Under review" not in talks


# --- 2. "in compliance" needs enough data -----------------------------------------------------------


@pytest.fixture
def ban():
    """A prohibition in force from the signing (29 February 2020), in a category a source declares."""
    agreement = AgreementFactory(slug="ban", title="The ban", publish_computed_verdicts=True)
    source = SourceFactory(name="Monitor", categories=["attack_on_city"])
    return CommitmentFactory(agreement=agreement, key="no-attacks", title="No attacks on cities", kind="prohibition",
                             due_offset=None, rule={"categories": ["attack_on_city"], "attribution": "any"}), source


def test_a_prohibition_covered_on_too_few_days_says_insufficient_data_with_the_share(client, ban):
    _commitment, source = ban
    # 29 February to 29 March is 30 days; sources cover 12 of them (1 to 12 March): 40 %.
    CoverageFactory(source=source, starts_on=date(2020, 3, 1), ends_on=date(2020, 3, 12))
    no_attacks = row(page(client, "pages:agreement", agreement="ban", params=cut("2020-03-29")), "no-attacks")
    assert "In compliance" not in no_attacks
    assert "No data" in no_attacks
    said = "Insufficient data: sources cover 40 % of the days since 29 February 2020; at least 80 % needed"
    assert said in no_attacks
    api = client.get(reverse("api:commitment-detail", kwargs={"agreement": "ban", "key": "no-attacks"}),
                     cut("2020-03-29")).json()
    assert api["verdict"]["status"] == S.NO_DATA
    assert api["verdict"]["reason"]["code"] == "coverage.insufficient"
    assert api["verdict"]["reason"]["params"]["share"] == 40


def test_the_share_needed_is_the_agreements_setting(client, ban):
    commitment, source = ban
    CoverageFactory(source=source, starts_on=date(2020, 3, 1), ends_on=date(2020, 3, 12))
    commitment.agreement.coverage_share = 40
    commitment.agreement.save()
    # Known now, after the change: a view cited before it reads the share as recorded then (the test below).
    known_now = {"as_of": "2020-03-29", "known_at": timezone.now().isoformat()}
    assert "In compliance" in row(page(client, "pages:agreement", agreement="ban", params=known_now), "no-attacks")


def test_raising_the_share_needed_after_a_citation_leaves_the_cited_view_as_it_was_with_a_banner(client, ban):
    commitment, source = ban
    CoverageFactory(source=source, starts_on=date(2020, 3, 1), ends_on=date(2020, 3, 12))  # 40 % of the days
    commitment.agreement.coverage_share = 40
    commitment.agreement.save()
    cited = {"as_of": "2020-03-29", "known_at": timezone.now().isoformat()}
    assert "In compliance" in row(page(client, "pages:agreement", agreement="ban", params=cited), "no-attacks")

    commitment.agreement.coverage_share = 80
    commitment.agreement.save()

    markup = page(client, "pages:agreement", agreement="ban", params=cited)
    assert "In compliance" in row(markup, "no-attacks")  # the cited link shows what it showed
    assert 'class="later-change"' in markup  # and says that today's settings judge otherwise
    now = page(client, "pages:agreement", agreement="ban",
               params={"as_of": "2020-03-29", "known_at": timezone.now().isoformat()})
    assert "Insufficient data" in row(now, "no-attacks")


def test_a_ban_covered_every_day_is_in_compliance_and_a_violation_breaches_it_however_thin_the_coverage(client, ban):
    commitment, source = ban
    CoverageFactory(source=source, starts_on=date(2020, 2, 1))
    assert "In compliance" in row(page(client, "pages:agreement", agreement="ban", params=cut("2020-03-29")),
                                  "no-attacks")
    other = AgreementFactory(slug="thin", publish_computed_verdicts=True)
    CommitmentFactory(agreement=other, key="no-attacks", kind="prohibition", due_offset=None,
                      rule={"categories": ["attack_on_city"], "attribution": "any"})
    ReportFactory(category="attack_on_city", source=source, occurred_at=datetime(2020, 3, 20, tzinfo=UTC),
                  recorded_at=datetime(2020, 3, 20, 1, tzinfo=UTC))
    assert "Breached" in row(page(client, "pages:agreement", agreement="thin", params=cut("2020-03-29")), "no-attacks")


def test_the_engine_judges_a_thin_ceiling_insufficient_from_the_share_its_term_carries():
    ceiling = ef.term("ceiling", rule={"limit": 5, "categories": ["Battles"]})
    periods = [ef.coverage(date(2020, 2, 29), date(2020, 3, 9))]  # 10 of the 31 days to 30 March
    as_of = ef.at(2020, 3, 30, 12)
    assert evaluate(ceiling, [], as_of=as_of, coverage=periods).status == S.IN_COMPLIANCE  # no share: as before
    thin = evaluate(replace(ceiling, coverage_share=80), [], as_of=as_of, coverage=periods)
    assert thin.status == S.NO_DATA
    assert thin.reason.code == "coverage.insufficient"
    assert thin.reason.params["share"] == 32 and thin.reason.params["needed"] == 80
    assert "Insufficient data: sources cover 32 % of the days since 29 February 2020" in thin.sentence


# --- 3. no source reports this ---------------------------------------------------------------------


def test_a_rule_no_source_reports_says_so_instead_of_in_compliance(client):
    agreement = AgreementFactory(slug="quiet", publish_computed_verdicts=True)
    CommitmentFactory(agreement=agreement, key="no-recruiting", kind="prohibition", due_offset=None,
                      rule={"categories": ["child_recruitment"], "attribution": "any"})
    source = SourceFactory(name="Wire", categories=["Battles"])
    CoverageFactory(source=source, starts_on=date(2020, 2, 1))
    quiet = row(page(client, "pages:agreement", agreement="quiet", params=cut("2020-03-29")), "no-recruiting")
    assert "In compliance" not in quiet
    assert "No source reports this: no source declares the categories child_recruitment" in quiet

    source.categories = ["Battles", "child_recruitment"]  # a source now says it reports it
    source.save()
    assert "In compliance" in row(page(client, "pages:agreement", agreement="quiet", params=cut("2020-03-30")),
                                  "no-recruiting")


def test_a_category_a_report_once_carried_counts_as_reported(client):
    agreement = AgreementFactory(slug="carried", publish_computed_verdicts=True)
    CommitmentFactory(agreement=agreement, key="no-recruiting", kind="prohibition", due_offset=None, starts_offset=20,
                      rule={"categories": ["child_recruitment"], "attribution": "any"})
    source = SourceFactory(name="Wire")
    CoverageFactory(source=source, starts_on=date(2020, 2, 1))
    # Before the ban applied: it speaks to no verdict, but shows a source reports the category.
    ReportFactory(category="child_recruitment", source=source, occurred_at=datetime(2020, 3, 1, tzinfo=UTC),
                  recorded_at=datetime(2020, 3, 2, tzinfo=UTC))
    assert "In compliance" in row(page(client, "pages:agreement", agreement="carried", params=cut("2020-03-29")),
                                  "no-recruiting")
    # As known before that report was recorded, no source had reported it.
    early = row(page(client, "pages:agreement", agreement="carried",
                     params={"as_of": "2020-03-01", "known_at": "2020-03-01"}), "no-recruiting")
    assert "In compliance" not in early


def test_the_first_report_of_a_category_anywhere_ends_no_source_reports_this_at_the_targeted_sweep():
    agreement = AgreementFactory(slug="quiet", publish_computed_verdicts=True)
    kabul = CommitmentFactory(agreement=agreement, key="kabul", kind="prohibition", due_offset=None,
                              rule={"categories": ["child_recruitment"], "admin1": ["Kabul"], "attribution": "any"})
    CoverageFactory()
    run_sweep(now=datetime(2020, 3, 20, tzinfo=UTC))
    latest = kabul.status_changes.latest("id")
    assert (latest.new_status, latest.reason_code) == (S.NO_DATA, "coverage.no_source")
    # Reported in Kandahar: no act the Kabul rule counts, but now some source reports the category.
    report = ReportFactory(category="child_recruitment", admin1="Kandahar",
                           occurred_at=datetime(2020, 3, 20, 6, tzinfo=UTC),
                           recorded_at=datetime(2020, 3, 20, 7, tzinfo=UTC))
    run_sweep(now=datetime(2020, 3, 20, 8, tzinfo=UTC), trigger=am.REPORTS, changes=triggers.describe([report.id]))
    assert kabul.status_changes.latest("id").new_status == S.IN_COMPLIANCE


# --- 4. an agreement that is over ------------------------------------------------------------------


def test_an_agreement_whose_every_commitment_closed_says_so_and_its_countdowns_stop(client):
    agreement = AgreementFactory(slug="over", title="Over")  # computed verdicts unpublished
    CommitmentFactory(agreement=agreement, key="talks", title="Talks begin")  # due 10 March 2020
    CommitmentFactory(agreement=agreement, key="calm", kind="ceiling", due_offset=None, ends_offset=61,
                      rule={"categories": ["Battles"], "limit": 3, "attribution": "any"})  # last day 30 April
    markup = page(client, "pages:agreement", agreement="over", params=cut("2026-12-01"))
    assert "Closed on 30 April 2020: every commitment's window is over." in text(markup)
    talks = row(markup, "talks")
    assert "due date passed" not in talks
    assert "closed on 10 March 2020" in talks
    detail = text(page(client, "pages:commitment", agreement="over", key="talks", params=cut("2026-12-01")))
    assert "Countdown closed on 10 March 2020" in detail


def test_an_agreement_still_running_keeps_its_countdowns(client):
    agreement = AgreementFactory(slug="running")
    CommitmentFactory(agreement=agreement, key="talks")
    CommitmentFactory(agreement=agreement, key="ban", kind="prohibition", due_offset=None,
                      rule={"categories": ["Battles"], "attribution": "any"})
    markup = page(client, "pages:agreement", agreement="running", params=cut("2020-03-20"))
    assert "Closed on" not in text(markup)
    assert "due date passed 10 days ago" in row(markup, "talks")


@pytest.mark.parametrize("state, said", [("terminated", "Terminated on 1 May 2021."),
                                         ("superseded", "Superseded on 1 May 2021.")])
def test_a_terminated_or_superseded_agreement_says_so_at_the_top(client, state, said):
    agreement = AgreementFactory(slug="ended", state=state, ended_on=date(2021, 5, 1))
    CommitmentFactory(agreement=agreement, key="ban", kind="prohibition", due_offset=None,
                      rule={"categories": ["Battles"], "attribution": "any"})
    markup = page(client, "pages:agreement", agreement="ended")
    top = text(markup).split("At a glance", 1)[0]
    assert said in top
    assert "It no longer binds its parties, and no alerts are sent." in top


# --- 5. the headline -------------------------------------------------------------------------------


def test_the_headline_shows_no_zeros_for_unpublished_verdicts_and_names_them_awaiting(client):
    agreement = AgreementFactory(slug="quiet-deal", title="Quiet deal")  # computed verdicts unpublished
    party = PartyFactory()
    for n in range(6):
        CommitmentFactory(agreement=agreement, key=f"c{n}", owed_by=[party])
    markup = page(client, "pages:agreement", agreement="quiet-deal", params=cut("2020-03-12"))
    assert headline(markup) == {"awaiting": "6"}  # no "Met 0", "Missed 0" beside verdicts no one may see
    assert "6 commitments awaiting an analyst; the computed status is shown to staff." in text(markup)
    home = page(client, "pages:home")
    assert headline(home) == {"awaiting": "6"}


def test_the_headline_counts_only_the_published_verdicts(client):
    agreement = AgreementFactory(slug="mixed", publish_computed_verdicts=True)
    CommitmentFactory(agreement=agreement, key="missed")
    CommitmentFactory(agreement=agreement, key="reviewed", needs_review=True, review_note="Which date?")
    markup = page(client, "pages:agreement", agreement="mixed", params=cut("2020-03-12"))
    assert headline(markup) == {"missed": "1", "awaiting": "1"}
    assert "1 commitment awaiting an analyst" in text(markup)
    # Every verdict published: zeros are true zeros, and shown.
    CommitmentFactory(agreement=AgreementFactory(slug="all-published", publish_computed_verdicts=True), key="missed")
    shown = headline(page(client, "pages:agreement", agreement="all-published", params=cut("2020-03-12")))
    assert shown["missed"] == "1" and shown["met"] == "0" and "awaiting" not in shown


# --- the agreement file ------------------------------------------------------------------------------


def test_the_agreement_file_sets_the_coverage_share_and_the_end_and_refuses_a_share_over_100(tmp_path):
    from terms.agreement_file import AgreementFileError, load_agreement_file
    from terms.models import Agreement
    from tests.test_agreement_file import MINIMAL, write

    extra = "  coverage_share: 60\n  state: superseded\n  ended_on: 2021-05-01\n"
    text = MINIMAL.replace("  time_zone: Asia/Kabul\n", "  time_zone: Asia/Kabul\n" + extra)
    load_agreement_file(write(tmp_path, text))
    accord = Agreement.objects.get(slug="test-accord")
    assert (accord.coverage_share, accord.state, accord.ended_on) == (60, "superseded", date(2021, 5, 1))

    load_agreement_file(write(tmp_path, MINIMAL, "default.yaml"))
    assert Agreement.objects.get(slug="test-accord").coverage_share == 80  # the documented default

    bad = MINIMAL.replace("  time_zone: Asia/Kabul\n", "  time_zone: Asia/Kabul\n  coverage_share: 150\n")
    with pytest.raises(AgreementFileError) as raised:
        load_agreement_file(write(tmp_path, bad, "bad.yaml"))
    [problem] = raised.value.errors
    assert (problem.field, problem.line) == ("agreement.coverage_share", 7)
    assert "must be a percentage, 0 to 100" in problem.message
    assert Agreement.objects.get(slug="test-accord").coverage_share == 80  # nothing written
