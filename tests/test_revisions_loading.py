"""Loading and reloading an agreement file records revisions of its terms, and refuses to change a
cited verdict's terms silently (docs/agreement-format.md, "Revisions")."""

from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from monitor.verdicts.models import StatusChange
from terms.models import Agreement, Commitment, Revision
from tests.factories import AssessmentFactory, UserFactory

pytestmark = pytest.mark.django_db

ACCORD = """\
format: 1
agreement:
  slug: test-accord
  title: Test accord
  signed_on: 2020-02-29
  time_zone: Asia/Kabul
parties:
  - slug: north
    name: Northern Front
  - slug: south
    name: Southern Army
commitments:
  - key: talks
    title: Talks begin
    owed_by: [north]
    basis: {kind: official_text}
    kind: deadline
    rule: {categories: [talks_started]}
    window: {from: signing, due: 10}
  - key: troops
    title: Troops down to 8,600
    owed_by: [south]
    basis: {kind: official_text}
    kind: target
    rule: {categories: [troop_level], target: 8600}
    window: {from: signing, due: 135}
"""


def write(tmp_path, text):
    path = tmp_path / "accord.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def load(path, *args):
    out, err = StringIO(), StringIO()
    call_command("load_agreement", path, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def publish_a_verdict_on(key):
    StatusChange.objects.create(
        commitment=Commitment.objects.get(key=key), new_status="not_yet_due",
        effective_at=datetime(2020, 3, 1, tzinfo=UTC), reason_code="target.pending",
    )


def everything():
    """What the database holds of the agreement, to show that a refused load wrote nothing."""
    return (
        list(Commitment.objects.order_by("key").values_list("key", "title", "rule", "due_offset")),
        list(Revision.objects.values_list("number", "made_by", "reason", "changes")),
        list(Agreement.objects.values_list("title", "updated")),
    )


def test_the_first_load_records_r1_by_who_ran_it(tmp_path):
    load(write(tmp_path, ACCORD), "--by", "amira")
    (revision,) = Revision.objects.all()
    assert (revision.label, revision.made_by, revision.reason, revision.changes) == ("r1", "amira", "first load", [])


def test_the_first_load_is_by_the_system_user_when_nobody_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr("getpass.getuser", lambda: "deploy")
    load(write(tmp_path, ACCORD))
    assert Revision.objects.get().made_by == "deploy"


def test_raising_a_target_with_published_verdicts_is_refused_naming_file_commitment_and_field(tmp_path):
    path = write(tmp_path, ACCORD)
    load(path)
    publish_a_verdict_on("troops")
    before = everything()
    write(tmp_path, ACCORD.replace("target: 8600", "target: 9000").replace("due: 135", "due: 140"))
    err = StringIO()
    with pytest.raises(CommandError, match="nothing was loaded"):
        call_command("load_agreement", path, stdout=StringIO(), stderr=err)
    message = err.getvalue()
    assert path in message
    assert "commitments[1]" in message and "commitment troops" in message
    assert "rule" in message and "window.due" in message
    assert '--revise "reason"' in message
    assert everything() == before


def test_an_analysts_assessment_counts_as_a_published_verdict(tmp_path):
    path = write(tmp_path, ACCORD)
    load(path)
    AssessmentFactory(commitment=Commitment.objects.get(key="talks"), author=UserFactory())
    write(tmp_path, ACCORD.replace("due: 10", "due: 12"))
    with pytest.raises(CommandError):
        load(path)
    assert Commitment.objects.get(key="talks").due_offset == 10


def test_the_same_change_with_revise_records_the_revision_with_author_reason_and_changes(tmp_path):
    path = write(tmp_path, ACCORD)
    load(path)
    publish_a_verdict_on("troops")
    write(tmp_path, ACCORD.replace("target: 8600", "target: 9000"))
    out, _err = load(path, "--revise", "The text says 9,000 in Annex 2", "--by", "amira")
    revision = Revision.objects.get(number=2)
    assert (revision.made_by, revision.reason) == ("amira", "The text says 9,000 in Annex 2")
    assert revision.changes == [{
        "commitment": "troops", "field": "rule",
        "old": {"categories": ["troop_level"], "target": 8600}, "new": {"categories": ["troop_level"], "target": 9000},
    }]
    assert Commitment.objects.get(key="troops").rule["target"] == 9000
    assert "recorded revision r2" in out and "The text says 9,000 in Annex 2" in out


def test_changing_who_owes_a_cited_commitment_is_a_judged_change(tmp_path):
    path = write(tmp_path, ACCORD)
    load(path)
    publish_a_verdict_on("talks")
    write(tmp_path, ACCORD.replace("owed_by: [north]", "owed_by: [north, south]"))
    with pytest.raises(CommandError):
        load(path)
    load(path, "--revise", "Both sides owe the talks")
    assert Revision.objects.get(number=2).changes == [
        {"commitment": "talks", "field": "owed_by", "old": ["north"], "new": ["north", "south"]}
    ]


def test_rewording_a_cited_commitment_needs_no_revision_and_makes_none(tmp_path):
    path = write(tmp_path, ACCORD)
    load(path)
    publish_a_verdict_on("troops")
    write(tmp_path, ACCORD.replace("Troops down to 8,600", "US forces down to 8,600"))
    load(path)
    assert Commitment.objects.get(key="troops").title == "US forces down to 8,600"
    assert list(Revision.objects.values_list("number", flat=True)) == [1]


def test_a_judged_change_nobody_has_a_verdict_on_passes_and_still_makes_a_revision(tmp_path):
    path = write(tmp_path, ACCORD)
    load(path)
    publish_a_verdict_on("troops")  # another commitment's verdict does not hold this one back
    write(tmp_path, ACCORD.replace("due: 10", "due: 14"))
    load(path, "--by", "amira")
    revision = Revision.objects.get(number=2)
    assert revision.made_by == "amira"
    assert "no published verdict" in revision.reason
    assert revision.changes == [{"commitment": "talks", "field": "due_offset", "old": 10, "new": 14}]


def test_moving_a_known_signing_day_under_published_verdicts_needs_a_revision(tmp_path):
    path = write(tmp_path, ACCORD)
    load(path)
    publish_a_verdict_on("talks")
    write(tmp_path, ACCORD.replace("signed_on: 2020-02-29", "signed_on: 2020-03-01"))
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("load_agreement", path, stdout=StringIO(), stderr=err)
    assert "signed_on" in err.getvalue()
    assert Agreement.objects.get().signed_on.isoformat() == "2020-02-29"



def test_lowering_the_coverage_share_under_published_verdicts_needs_a_revision(tmp_path):
    path = write(tmp_path, ACCORD)
    load(path)
    publish_a_verdict_on("talks")
    lowered = ACCORD.replace("  time_zone: Asia/Kabul\n", "  time_zone: Asia/Kabul\n  coverage_share: 50\n")
    write(tmp_path, lowered)
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("load_agreement", path, stdout=StringIO(), stderr=err)
    assert "coverage_share" in err.getvalue() and Agreement.objects.get().coverage_share == 80

    load(path, "--revise", "The mission's sources cover half the provinces")

    assert Agreement.objects.get().coverage_share == 50
    assert Revision.objects.get(number=2).changes == [
        {"commitment": None, "field": "coverage_share", "old": 80, "new": 50}]

def test_revise_without_a_reason_is_refused(tmp_path):
    with pytest.raises(CommandError, match="needs a reason"):
        load(write(tmp_path, ACCORD), "--revise", "  ")
    assert not Agreement.objects.exists()


def test_reloading_an_unchanged_file_records_nothing(tmp_path):
    path = write(tmp_path, ACCORD)
    load(path)
    load(path)
    assert Revision.objects.count() == 1



def test_after_the_upgrade_every_agreement_recorded_before_revisions_has_r1_by_the_migration():
    import importlib

    from django.apps import apps

    from tests.factories import AgreementFactory

    give_r1 = importlib.import_module("terms.migrations.0011_every_agreement_has_r1").give_r1
    old, current = AgreementFactory(slug="old"), AgreementFactory(slug="current")
    Revision.objects.filter(agreement=old).delete()  # as it was before revisions existed
    give_r1(apps, None)
    revision = Revision.objects.get(agreement=old)
    assert (revision.label, revision.made_by, revision.made_at) == ("r1", "migration", old.created)
    assert list(current.revisions.values_list("number", "made_by")) == [(1, "system")]  # left as it was


MILESTONED = ACCORD.replace("""commitments:
""", """milestones:
  - key: elections
    title: Local elections held
    rule: {categories: [elections_held]}
commitments:
""", 1) + """  - key: amnesty
    title: Amnesty law after the elections
    owed_by: [south]
    basis: {kind: official_text}
    kind: deadline
    rule: {categories: [law_adopted]}
    window: {from: elections, due: 30}
  - key: pardons
    title: Pardons after the amnesty law
    owed_by: [south]
    basis: {kind: official_text}
    kind: deadline
    rule: {categories: [pardons_granted]}
    window: {from: amnesty, due: 10}
"""
ELECTIONS_MOVED = MILESTONED.replace("rule: {categories: [elections_held]}",
                                     "rule: {categories: [elections_held], admin1: [Kabul]}")


@pytest.mark.parametrize("cited", ["amnesty", "pardons"])
def test_changing_a_milestones_rule_that_cited_commitments_count_from_is_refused_without_revise(tmp_path, cited):
    path = write(tmp_path, MILESTONED)
    load(path)
    publish_a_verdict_on(cited)  # counted from the milestone directly (amnesty) or through amnesty (pardons)
    before = everything()
    write(tmp_path, ELECTIONS_MOVED)
    err = StringIO()
    with pytest.raises(CommandError, match="nothing was loaded"):
        call_command("load_agreement", path, stdout=StringIO(), stderr=err)
    message = err.getvalue()
    assert "milestones[0]" in message and "milestone elections" in message and "rule" in message
    assert '--revise "reason"' in message
    assert everything() == before


def test_a_milestones_rule_changed_with_revise_is_recorded_in_the_revisions_changes(tmp_path):
    path = write(tmp_path, MILESTONED)
    load(path)
    publish_a_verdict_on("amnesty")
    write(tmp_path, ELECTIONS_MOVED)
    load(path, "--revise", "Only the capital's elections count", "--by", "amira")
    revision = Revision.objects.get(number=2)
    assert (revision.made_by, revision.reason) == ("amira", "Only the capital's elections count")
    assert revision.changes == [{
        "commitment": None, "milestone": "elections", "field": "rule",
        "old": {"categories": ["elections_held"], "attribution": "any"},
        "new": {"categories": ["elections_held"], "admin1": ["Kabul"], "attribution": "any"},
    }]


def test_a_milestones_rule_nobody_counts_a_published_verdict_from_changes_with_a_revision_but_no_reason(tmp_path):
    path = write(tmp_path, MILESTONED)
    load(path)
    publish_a_verdict_on("talks")  # counted from the signing: the milestone does not move it
    write(tmp_path, ELECTIONS_MOVED)
    load(path)
    revision = Revision.objects.get(number=2)
    assert "no published verdict rests on" in revision.reason
    assert [c["milestone"] for c in revision.changes] == ["elections"]
