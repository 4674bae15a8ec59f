"""`share` in agreement files: what the loader stores and refuses, and a two-party file end to end."""

import html
import json
import re
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

from monitor.verdicts import inputs
from monitor.verdicts.engine.shares import per_party
from terms.agreement_file import AgreementFileError, load_agreement_file
from terms.models import Commitment
from tests.factories import ReportFactory, SourceFactory
from tests.test_agreement_file import MINIMAL, line_of, row_counts, write

pytestmark = pytest.mark.django_db


def edited(**edits):
    text = MINIMAL
    for old, new in edits.values():
        assert old in text
        text = text.replace(old, new, 1)
    return text


TALKS_OWED = "    owed_by: [north]\n"
CALM_OWED = "    owed_by: [north, south]\n"


def test_unsaid_share_is_each_for_several_parties(tmp_path):
    load_agreement_file(write(tmp_path, MINIMAL))

    assert Commitment.objects.get(key="calm").share == "each"


def test_a_stated_share_is_stored(tmp_path):
    load_agreement_file(write(tmp_path, edited(calm=(CALM_OWED, CALM_OWED + "    share: jointly\n"))))

    assert Commitment.objects.get(key="calm").share == "jointly"


def test_unsaid_share_with_attribution_any_is_each_and_judged_once(tmp_path):
    text = edited(calm=("limit: 5}", "limit: 5, attribution: any}"))
    load_agreement_file(write(tmp_path, text))

    calm = Commitment.objects.get(key="calm")
    assert calm.share == "each"
    assert inputs.term_for(calm).share == "each"
    assert not per_party(inputs.term_for(calm))


@pytest.mark.parametrize(
    ("edits", "field", "message", "needle"),
    [
        (
            {"talks": (TALKS_OWED, TALKS_OWED + "    share: each\n")},
            "commitments[0].share",
            "only 'north' owes it",
            "share: each",
        ),
        (
            {"calm": (CALM_OWED, CALM_OWED + "    share: both\n")},
            "commitments[1].share",
            "must be one of each, any, jointly, not 'both'",
            "share: both",
        ),
        (
            {
                "share": (CALM_OWED, CALM_OWED + "    share: each\n"),
                "rule": ("limit: 5}", "limit: 5, attribution: any}"),
            },
            "commitments[1].share",
            "cannot be told apart",
            "share: each",
        ),
    ],
    ids=["each_on_a_single_party", "unknown_share", "each_with_attribution_any"],
)
def test_a_bad_share_names_file_line_and_field_and_loads_nothing(tmp_path, edits, field, message, needle):
    text = edited(**edits)
    path = write(tmp_path, text)
    counts = row_counts()

    with pytest.raises(AgreementFileError) as raised:
        load_agreement_file(path)

    problem = next(p for p in raised.value.errors if p.field == field)
    assert (problem.path, problem.line) == (str(path), line_of(text, needle))
    assert message in problem.message
    assert row_counts() == counts


# --- end to end: a two-party file, one party's act, compliance --json --------------------

WITHDRAWAL = """\
format: 1
agreement:
  slug: line-of-contact
  title: Line of contact
  signed_on: 2022-02-15
  time_zone: Europe/Kyiv
parties:
  - slug: ukraine
    name: Ukraine
    names: [Armed Forces of Ukraine]
  - slug: dpr
    name: DPR
commitments:
  - key: heavy-weapons
    title: Both sides withdraw heavy weapons
    owed_by: [ukraine, dpr]
    share: each
    basis: {kind: official_text}
    kind: deadline
    rule: {categories: [withdrawal]}
    window: {from: signing, due: 10}
"""


def compliance(as_of):
    out = StringIO()
    call_command("compliance", "--json", "--as-of", as_of, stdout=out)
    [c] = json.loads(out.getvalue())["agreements"][0]["commitments"]
    return c


def test_both_sides_withdraw_is_missed_when_only_one_side_withdrew_late(tmp_path):
    call_command("load_agreement", str(write(tmp_path, WITHDRAWAL)), stdout=StringIO())
    ReportFactory(
        category="withdrawal", actor1="Armed Forces of Ukraine", occurred_at=datetime(2022, 2, 26, 9, tzinfo=UTC),
        recorded_at=datetime(2022, 2, 26, 12, tzinfo=UTC), source=SourceFactory(name="OSCE SMM", reliability="A"),
    )

    before = compliance("2022-02-20")
    assert before["status"] == "due_soon"
    assert [(p["party"], p["status"]) for p in before["computed"]["parties"]] == [
        ("dpr", "due_soon"), ("ukraine", "due_soon"),
    ]

    after = compliance("2022-03-01")
    assert after["status"] == "missed"
    assert after["computed"]["reason"]["code"] == "shares.each"
    assert after["computed"]["sentence"] == "DPR: missed; Ukraine: met late on 26 February 2022."
    dpr, ukraine = after["computed"]["parties"]
    assert (dpr["party"], dpr["status"], dpr["since"]) == ("dpr", "missed", "2022-02-25T22:00:00+00:00")
    assert (ukraine["party"], ukraine["status"]) == ("ukraine", "met_late")
    assert ukraine["sentence"].startswith("Met late on 26 February 2022")
    assert ukraine["reason"]["code"] == "deadline.met_late"


# --- the commitment page and the API show each party's verdict ------------------------------


@pytest.fixture
def withdrawal(tmp_path):
    published = WITHDRAWAL.replace("  time_zone: Europe/Kyiv\n", "  time_zone: Europe/Kyiv\n  publish_computed_verdicts: true\n")
    call_command("load_agreement", str(write(tmp_path, published)), stdout=StringIO())
    ReportFactory(
        category="withdrawal", actor1="Armed Forces of Ukraine", occurred_at=datetime(2022, 2, 26, 9, tzinfo=UTC),
        recorded_at=datetime(2022, 2, 26, 12, tzinfo=UTC), source=SourceFactory(name="OSCE SMM", reliability="A"),
    )


def test_the_commitment_page_shows_each_partys_verdict(client, withdrawal):
    url = reverse("pages:commitment", kwargs={"agreement": "line-of-contact", "key": "heavy-weapons"})
    page = client.get(url, {"as_of": "2022-03-01", "known_at": "2022-03-01"}).content.decode()

    seen = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())
    assert "Each party" in seen
    assert re.search(r"DPR ?: \S* ?Missed Missed: due by the end of 25 February 2022", seen)
    assert re.search(r"Ukraine ?: \S* ?Met late Met late on 26 February 2022", seen)


def test_the_api_gives_each_partys_verdict(withdrawal):
    response = APIClient().get(
        reverse("api:commitment-list", kwargs={"agreement": "line-of-contact"}),
        {"as_of": "2022-03-01", "known_at": "2022-03-01"},
    )

    [c] = response.json()["commitments"]
    verdict = c["verdict"]
    assert verdict["status"] == "missed"
    assert [(p["party"], p["status"]) for p in verdict["parties"]] == [("dpr", "missed"), ("ukraine", "met_late")]
    assert verdict["parties"][1]["sentence"].startswith("Met late on 26 February 2022")
