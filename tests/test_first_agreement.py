"""The first agreement as the quick start loads it: the seed file, then the demo reports."""

import json
from collections import Counter
from io import StringIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command

from monitor.evidence.models import Report
from monitor.verdicts import inputs
from monitor.verdicts.management.commands.compliance import parse_instant
from terms.models import Agreement

SEED = Path(__file__).resolve().parent.parent / "agreements" / "us-taliban-2020.yaml"
KABUL = ZoneInfo("Asia/Kabul")

pytestmark = pytest.mark.django_db


def compliance(*args):
    out = StringIO()
    call_command("compliance", "--json", "--agreement", "us-taliban-2020", *args, stdout=out)
    return {c["key"]: c for c in json.loads(out.getvalue())["agreements"][0]["commitments"]}


@pytest.fixture
def seed():
    call_command("load_agreement", str(SEED), stdout=StringIO())


@pytest.fixture
def demo(seed):
    call_command("load_demo", stdout=StringIO())


def test_unsigned_seed_awaits_signature_except_the_ceasefire_which_is_not_tracked(seed):
    verdicts = compliance()
    assert verdicts.pop("ceasefire")["status"] == "not_tracked"
    assert {c["status"] for c in verdicts.values()} == {"awaiting_signature"}
    assert verdicts["troop-reduction"]["needs_review"] is True


def test_demo_talks_missed_at_kabul_midnight_then_met_late_in_september(demo):
    on_11_march = compliance("--as-of", "2020-03-11")["talks-begin"]
    assert on_11_march["status"] == "missed"
    assert on_11_march["computed"]["since"] == "2020-03-10T19:30:00+00:00"
    # The Taliban's own claim (D4) does not count; the wire service's verified denial stands.
    in_october = compliance("--as-of", "2020-10-01")["talks-begin"]
    assert in_october["status"] == "met_late"
    assert in_october["computed"]["reason"]["params"]["date"] == "2020-09-12"


def test_demo_violence_ceiling_breaches_on_exactly_the_days_over_ten_taliban_attacks(demo):
    seed_rule = Agreement.objects.get(slug="us-taliban-2020").commitments.get(key="violence-major-cities").rule
    attacks = Report.objects.filter(
        category__in=seed_rule["categories"], location__in=seed_rule["locations"], actor1="Taliban"
    )
    per_day = Counter(r.occurred_at.astimezone(KABUL).date().isoformat() for r in attacks)
    expected = sorted(day for day, n in per_day.items() if n > seed_rule["limit"] and day >= "2020-03-10")
    assert expected, "the demo data is meant to have a bad week in mid-March"

    # As known in June, the week of 18 March was over the limit on these days and no others.
    on_18_march = compliance("--as-of", "2020-03-18", "--known-at", "2020-06-01")["violence-major-cities"]
    assert on_18_march["status"] == "breached"
    [standing] = [
        s for s in inputs.standings(Agreement.objects.filter(slug="us-taliban-2020"), as_of=_end_of("2020-04-30"),
                                    known_at=_end_of("2020-06-01"))
        if s.commitment.key == "violence-major-cities"
    ]
    assert standing.computed.details["breached_days"] == expected
    assert standing.computed.status == "in_compliance"
    assert standing.computed.reason.code == "ceiling.recovered"

    # As known on 18 March itself, the dataset had not yet published that week (nor declared its coverage):
    # no breach was knowable, and too few days had data to call it in compliance.
    as_known_then = compliance("--as-of", "2020-03-18")["violence-major-cities"]["computed"]
    assert as_known_then["status"] == "no_data"
    assert as_known_then["reason"]["code"] == "coverage.insufficient"
    assert as_known_then["reason"]["params"]["days_with_data"] < as_known_then["reason"]["params"]["days"]


def test_demo_al_qaeda_ties_breached_from_the_un_report(demo):
    verdict = compliance("--as-of", "2020-06-01")["cut-ties-al-qaeda"]
    assert verdict["status"] == "breached"
    assert verdict["computed"]["since"] == "2020-05-26T19:30:00+00:00"  # 27 May, Kabul midnight
    assert "UN monitoring mission (demo) (A2)" in verdict["computed"]["sentence"]


def test_demo_is_idempotent(demo):
    before = Report.objects.count()
    call_command("load_demo", stdout=StringIO())
    assert Report.objects.count() == before


def _end_of(day):
    return parse_instant(day, KABUL, "--as-of")
