"""Duties without a date where people meet them: the agreement file, the pages, the calendar, the
alerts, and `compliance --json`.

The file below is signed on 29 February 2020 in Asia/Kabul. The designation is to be lifted with no
date, in a reasonable time of 30 days (so overdue from Kabul midnight starting 31 March, 19:30 UTC
on 30 March); the interim administration is due seven days after the designation is lifted.
"""

import json
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import icalendar
import pytest
from django.core import mail
from django.core.management import call_command
from django.urls import reverse

from monitor.alerts import models as am
from monitor.alerts.delivery import send_due
from monitor.alerts.sweep import run_sweep
from monitor.verdicts.models import StatusChange
from terms.agreement_file import AgreementFileError, load_agreement_file
from terms.models import Agreement, Commitment
from tests.factories import ReportFactory, SourceFactory, UserFactory
from tests.test_agreement_file import line_of, row_counts, write

pytestmark = pytest.mark.django_db

ACCORD = """\
format: 1
agreement:
  slug: accord
  title: The accord
  signed_on: 2020-02-29
  time_zone: Asia/Kabul
  state: in_force
  publish_computed_verdicts: true
parties:
  - slug: us
    name: United States
  - slug: north
    name: Northern Front
commitments:
  - key: lift-designation
    title: The designation of the Northern Front is lifted
    owed_by: [us]
    basis: {kind: official_text}
    kind: deadline
    rule: {categories: [designation_lifted]}
    window: {from: signing, reasonable_days: 30}
  - key: interim-administration
    title: An interim administration is formed
    owed_by: [north]
    basis: {kind: official_text}
    kind: deadline
    rule: {categories: [administration_formed]}
    window: {from: lift-designation, due: 7}
"""

OVERDUE_AT = datetime(2020, 3, 30, 19, 30, tzinfo=UTC)  # Kabul midnight starting 31 March


@pytest.fixture
def accord(tmp_path):
    call_command("load_agreement", str(write(tmp_path, ACCORD)), stdout=StringIO())
    return Agreement.objects.get(slug="accord")


def lifted(on):
    return ReportFactory(
        source=SourceFactory(name="UN Security Council", reliability="A"), category="designation_lifted",
        actor1="United States", occurred_at=on, recorded_at=on + timedelta(hours=2),
        summary="The designation was lifted.",
    )


def compliance(as_of):
    out = StringIO()
    call_command("compliance", "--json", "--agreement", "accord", "--as-of", as_of, stdout=out)
    return {c["key"]: c for c in json.loads(out.getvalue())["agreements"][0]["commitments"]}


# --- the agreement file -------------------------------------------------------------------------


def test_a_duty_without_a_date_loads_with_its_reasonable_time(accord):
    duty = accord.commitments.get(key="lift-designation")

    assert (duty.kind, duty.due_offset, duty.reasonable_days) == ("deadline", None, 30)
    assert accord.commitments.get(key="interim-administration").anchor_commitment == duty


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("{from: signing, reasonable_days: 30}", "{from: signing, due: 10, reasonable_days: 30}",
         "a duty with a due date has no reasonable time"),
        ("{from: signing, reasonable_days: 30}", "{from: signing, reasonable_days: -3}", "must be 1 or more"),
        ("{from: signing, reasonable_days: 30}", "{from: signing, grace_days: 2}", "has no grace period"),
    ],
    ids=["reasonable_time_with_a_date", "negative_reasonable_time", "grace_without_a_date"],
)
def test_a_reasonable_time_that_does_not_fit_is_refused_with_file_line_and_field(tmp_path, old, new, message):
    text = ACCORD.replace(old, new, 1)
    path = write(tmp_path, text)
    counts = row_counts()

    with pytest.raises(AgreementFileError) as raised:
        load_agreement_file(path)

    [problem] = raised.value.errors
    field = "reasonable_days" if "reasonable_days" in new else "grace_days"
    assert problem.field == f"commitments[0].window.{field}"
    assert (problem.path, problem.line) == (str(path), line_of(text, new))
    assert message in problem.message
    assert row_counts() == counts


def test_a_target_without_a_due_date_is_still_refused(tmp_path):
    text = ACCORD.replace("kind: deadline\n    rule: {categories: [designation_lifted]}",
                          "kind: target\n    rule: {categories: [designation_lifted], target: 1}", 1)
    text = text.replace("{from: signing, reasonable_days: 30}", "{from: signing}", 1)

    with pytest.raises(AgreementFileError) as raised:
        load_agreement_file(write(tmp_path, text))

    assert [(p.field, p.message) for p in raised.value.errors] == [
        ("commitments[0].window.due", "a target needs a due offset")
    ]
    assert not Commitment.objects.exists()


# --- end to end ---------------------------------------------------------------------------------


def test_a_duty_without_a_date_is_open_then_overdue_then_met_late_and_its_dependent_follows(accord):
    lifted(datetime(2020, 4, 9, 8, tzinfo=UTC))  # 12:30 on 9 April in Kabul

    in_march = compliance("2020-03-20")
    in_april = compliance("2020-04-05")
    later = compliance("2020-04-12")
    after_a_week = compliance("2020-04-20")

    assert in_march["lift-designation"]["status"] == "not_yet_due"
    assert in_march["lift-designation"]["computed"]["due_at"] is None
    assert in_march["lift-designation"]["computed"]["reason"]["code"] == "duty.open_reasonable"
    assert in_march["interim-administration"]["status"] == "awaiting_anchor"

    assert in_april["lift-designation"]["status"] == "overdue"
    assert in_april["lift-designation"]["computed"]["since"] == "2020-03-30T19:30:00+00:00"
    assert in_april["lift-designation"]["computed"]["days_overdue"] == 6
    assert in_april["lift-designation"]["computed"]["sentence"].startswith("Overdue, with no fixed deadline")
    assert in_april["interim-administration"]["status"] == "awaiting_anchor"

    assert later["lift-designation"]["status"] == "met_late"
    assert later["lift-designation"]["computed"]["since"] == "2020-04-09T08:00:00+00:00"
    assert later["interim-administration"]["status"] == "due_soon"
    assert later["interim-administration"]["computed"]["due_at"] == "2020-04-16T19:30:00+00:00"  # 9 April + 7

    assert after_a_week["interim-administration"]["status"] == "missed"


def test_a_duty_done_within_its_reasonable_time_is_met_and_its_dependent_is_counted_from_that_day(accord):
    lifted(datetime(2020, 3, 15, 8, tzinfo=UTC))

    verdicts = compliance("2020-03-16")

    assert verdicts["lift-designation"]["status"] == "met"
    assert verdicts["lift-designation"]["computed"]["sentence"] == (
        "Met on 15 March 2020 (no date was set), per UN Security Council (A2)."
    )
    assert verdicts["interim-administration"]["computed"]["due_at"] == "2020-03-22T19:30:00+00:00"


# --- pages and calendar -------------------------------------------------------------------------


def test_the_pages_show_an_overdue_duty_in_the_adverse_tone_with_no_date_set(client, accord):
    with_time = {"as_of": "2020-04-05", "known_at": "2020-04-05"}
    agreement_page = client.get(reverse("pages:agreement", kwargs={"agreement": "accord"}), with_time)
    commitment_page = client.get(
        reverse("pages:commitment", kwargs={"agreement": "accord", "key": "lift-designation"}), with_time
    )

    assert agreement_page.status_code == commitment_page.status_code == 200
    for page in (agreement_page, commitment_page):
        html = page.content.decode()
        assert 'class="status tone-bad"><span class="symbol" aria-hidden="true">!</span> Overdue (no fixed deadline)' in html
        assert "Overdue, with no fixed deadline: a reasonable time of 30 days from 29 February 2020 ended" in html
        assert "no date set" in html
        assert "6 days overdue" in html
    assert "overdue after a reasonable time of 30 days from when it applies" in commitment_page.content.decode()
    assert "No date was set: open until done." in commitment_page.content.decode()


def test_the_calendar_has_no_event_for_a_duty_without_a_date(client, accord):
    lifted(datetime(2020, 3, 15, 8, tzinfo=UTC))
    response = client.get(reverse("pages:deadlines", kwargs={"agreement": "accord"}))

    events = icalendar.Calendar.from_ical(response.content).walk("VEVENT")

    # The interim administration, counted from the lifting, has a date; the lifting has none.
    assert [str(e["summary"]) for e in events] == ["Due: An interim administration is formed"]


# --- alerts -------------------------------------------------------------------------------------


def test_an_overdue_duty_alerts_once_at_the_end_of_its_reasonable_time(accord, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    user = UserFactory(username="watcher", email="watcher@example.org")
    am.Subscription.objects.create(user=user, agreement=accord, confirmed_at=datetime(2020, 1, 1, tzinfo=UTC))
    duty = accord.commitments.get(key="lift-designation")

    for now in (datetime(2020, 3, 20, tzinfo=UTC), OVERDUE_AT + timedelta(minutes=1), OVERDUE_AT + timedelta(hours=1)):
        run_sweep(now=now)
        send_due(now)

    overdue = [m for m in mail.outbox if "Overdue" in m.subject]
    assert [m.subject for m in overdue] == [
        f"[Compliance monitor] Overdue (no fixed deadline): The designation of the Northern Front is lifted "
        f"({accord.title})"
    ]
    assert "No date was set: it is open until done." in overdue[0].body
    assert "Due by the end of" not in overdue[0].body
    change = StatusChange.objects.filter(commitment=duty).latest("id")
    assert (change.new_status, change.effective_at) == ("overdue", OVERDUE_AT)
    assert am.Alert.objects.filter(event=am.OVERDUE).count() == 1
    assert not any("Reminder" in m.subject or "Due " in m.subject for m in mail.outbox if duty.title in m.subject)


def test_an_overdue_duty_done_later_tells_its_subscribers_it_was_met_late(accord, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    user = UserFactory(username="watcher", email="watcher@example.org")
    am.Subscription.objects.create(user=user, agreement=accord, confirmed_at=datetime(2020, 1, 1, tzinfo=UTC))
    run_sweep(now=OVERDUE_AT + timedelta(minutes=1))
    lifted(datetime(2020, 4, 9, 8, tzinfo=UTC))

    run_sweep(now=datetime(2020, 4, 9, 12, tzinfo=UTC))

    events = list(am.Alert.objects.filter(commitment__key="lift-designation").order_by("id").values_list("event", flat=True))
    assert events == [am.OVERDUE, am.MET_LATE]


def test_the_duty_example_in_the_format_documentation_loads(tmp_path):
    doc = (Path(__file__).resolve().parent.parent / "docs" / "agreement-format.md").read_text(encoding="utf-8")
    example = doc.split("#### Duties without a date", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]

    load_agreement_file(write(tmp_path, example))

    windows = {c.key: (c.due_offset, c.reasonable_days) for c in Commitment.objects.all()}
    assert windows == {"lift-designation": (None, 30), "restore-services": (None, None), "interim-administration": (7, None)}
