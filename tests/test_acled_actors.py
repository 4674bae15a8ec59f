"""ACLED read as ACLED means it (issue 14, point 4).

ACLED's codebook: "Actor 1 and Actor 2 do not imply directionality (e.g. attacker or defender)".
So a rule reads either actor by default (a party named as actor 2 of a battle may be the side that
attacked), `actors: actor1` for sources whose first actor is the acting side, and `interactions`
for ACLED's codes of the two actors' types. An import keeps what ACLED says of its own row, and its
rows' credibility is shown as the dataset's default until an analyst grades it.
"""

import html
import io
import re
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from monitor.accounts.roles import ANALYST, grant_role
from monitor.evidence import models as ev
from monitor.verdicts.engine import evaluate, evaluate_agreement
from terms.agreement_file import AgreementFileError, load_agreement_file
from terms.models import Agreement
from terms.rules import Rule, RuleError
from tests.engine_factories import GOVERNMENT, TALIBAN, party, report, term, utc
from tests.factories import SourceFactory, UserFactory

DATA = Path(__file__).parent / "data" / "import"
AFGHAN_FORCES = "Military Forces of Afghanistan (2014-2021)"
BATTLES = {"categories": ["Battles"]}


def battle(day, actor1, actor2, **kwargs):
    return report(date(2020, 3, day), category="Battles", actor1=actor1, actor2=actor2, **kwargs)


# --- which actors a rule reads ---------------------------------------------------------------------------


def test_a_battle_naming_the_party_as_actor_2_breaches_its_ceasefire_under_the_default_either():
    t = term("prohibition", rule=BATTLES)
    clash = battle(5, AFGHAN_FORCES, "Taliban")
    verdict = evaluate(t, [clash], as_of=utc(2020, 3, 10))
    assert verdict.status == "breached"
    assert clash.id in verdict.evidence


def test_the_same_battle_does_not_count_when_the_rule_reads_actor_1_only():
    t = term("prohibition", rule={**BATTLES, "actors": "actor1"})
    clash = battle(5, AFGHAN_FORCES, "Taliban")
    verdict = evaluate(t, [clash], as_of=utc(2020, 3, 10))
    assert verdict.status != "breached"
    assert verdict.evidence == ()
    # As actor 1, the party's act counts under either reading.
    assert evaluate(t, [battle(5, "Taliban", AFGHAN_FORCES)], as_of=utc(2020, 3, 10)).status == "breached"


def test_a_deadline_is_met_by_an_act_naming_the_party_as_actor_2_only_under_either():
    released = report(date(2020, 3, 5), category="prisoners_released", actor1="Government of Afghanistan",
                      actor2="Islamic Emirate of Afghanistan")
    either = term("deadline", rule={"categories": ["prisoners_released"]})
    first_only = term("deadline", rule={"categories": ["prisoners_released"], "actors": "actor1"})
    assert evaluate(either, [released], as_of=utc(2020, 3, 20)).status == "met"
    assert evaluate(first_only, [released], as_of=utc(2020, 3, 20)).status == "missed"


def test_a_battle_between_two_owing_parties_counts_against_each_of_them():
    t = term("prohibition", rule=BATTLES, owing=(TALIBAN, GOVERNMENT), share="each")
    verdict = evaluate(t, [battle(5, "Afghan National Security Forces", "Taliban")], as_of=utc(2020, 3, 10))
    assert verdict.status == "breached"
    assert [(p.name, p.status) for p in verdict.parties] == [
        ("Taliban", "breached"), ("Government of Afghanistan", "breached")]
    # Reading actor 1 only, the same battle is the government's alone.
    first_only = replace(t, rule=replace(t.rule, actors="actor1"))
    verdict = evaluate(first_only, [battle(5, "Afghan National Security Forces", "Taliban")], as_of=utc(2020, 3, 10))
    assert [(p.name, p.status) for p in verdict.parties] == [
        ("Taliban", "in_compliance"), ("Government of Afghanistan", "breached")]


def test_a_non_party_fighting_the_party_is_evidence_under_either_and_context_under_actor_1():
    neighbour = frozenset({"northern neighbour forces"})
    clash = battle(5, "Northern Neighbour Forces", "Taliban")
    either = replace(term("prohibition", rule=BATTLES), non_party_names=neighbour)
    verdict = evaluate(either, [clash], as_of=utc(2020, 3, 10))
    assert (verdict.status, verdict.context) == ("breached", ())
    first_only = replace(term("prohibition", rule={**BATTLES, "actors": "actor1"}), non_party_names=neighbour)
    verdict = evaluate(first_only, [clash], as_of=utc(2020, 3, 10))
    assert (verdict.status, verdict.context) == ("in_compliance", (clash.id,))
    # A non-party's attack on civilians stays context under either, whatever the attribution.
    on_civilians = battle(6, "Northern Neighbour Forces", "Civilians (Afghanistan)")
    anyone = replace(term("prohibition", rule={**BATTLES, "attribution": "any"}), non_party_names=neighbour)
    verdict = evaluate(anyone, [on_civilians], as_of=utc(2020, 3, 10))
    assert (verdict.status, verdict.context) == ("in_compliance", (on_civilians.id,))


def test_the_index_and_the_sift_agree_on_a_party_named_as_actor_2():
    ts = [term("prohibition", rule=BATTLES, id=1), term("prohibition", rule={**BATTLES, "actors": "actor1"}, id=2)]
    clash = battle(5, AFGHAN_FORCES, "Taliban")
    indexed = evaluate_agreement(ts, [clash], as_of=utc(2020, 3, 10))
    assert indexed[1].status == "breached" and indexed[2].status != "breached"
    assert indexed[1].status == evaluate(ts[0], [clash], as_of=utc(2020, 3, 10)).status


# --- interactions --------------------------------------------------------------------------------------


def test_a_rule_naming_interactions_counts_only_events_of_those_actor_types():
    # 27: a rebel group and civilians. The Taliban attacking civilians counts; its battle with state forces (12) not.
    t = term("prohibition", rule={"categories": ["Violence against civilians", "Battles"], "interactions": [27]})
    on_civilians = report(date(2020, 3, 5), category="Violence against civilians", actor1="Taliban",
                          actor2="Civilians (Afghanistan)", interaction="27")
    with_forces = battle(6, AFGHAN_FORCES, "Taliban", interaction="12")
    assert evaluate(t, [with_forces], as_of=utc(2020, 3, 10)).status == "in_compliance"
    verdict = evaluate(t, [with_forces, on_civilians], as_of=utc(2020, 3, 10))
    assert verdict.status == "breached" and verdict.evidence == (on_civilians.id,)
    indexed = evaluate_agreement([t], [with_forces, on_civilians], as_of=utc(2020, 3, 10))[t.id]
    assert (indexed.status, indexed.evidence) == ("breached", (on_civilians.id,))


def test_interactions_written_in_words_match_as_acled_writes_them():
    rule = Rule.from_dict("prohibition", {"interactions": ["State forces-Civilians", 17]})
    assert rule.interactions == ("State forces-Civilians", "17")
    t = term("prohibition", rule={"interactions": ["State forces-Civilians"]}, owing=(party("Police"),))
    act = report(date(2020, 3, 5), category="Attack", actor1="Police", interaction="state forces - civilians")
    assert evaluate(t, [act], as_of=utc(2020, 3, 10)).status == "breached"


@pytest.mark.parametrize("rule, field", [
    ({"actors": "attacker"}, "rule.actors"),
    ({"interactions": "17"}, "rule.interactions"),
    ({"interactions": [True]}, "rule.interactions"),
])
def test_a_rule_with_an_unknown_actors_reading_or_bad_interactions_is_refused(rule, field):
    with pytest.raises(RuleError) as caught:
        Rule.from_dict("prohibition", rule)
    assert caught.value.field == field


@pytest.mark.django_db
def test_an_agreement_file_with_an_unknown_actors_reading_names_the_line_and_loads_nothing(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text("""\
format: 1
agreement: {slug: a, title: A, time_zone: Asia/Kabul}
parties: [{slug: north, name: Northern Front}]
commitments:
  - key: calm
    title: Calm
    owed_by: [north]
    basis: {kind: official_text}
    kind: prohibition
    rule: {categories: [Battles], actors: attacker}
""", encoding="utf-8")
    with pytest.raises(AgreementFileError) as caught:
        load_agreement_file(path)
    assert "rule.actors" in str(caught.value) and "either, actor1" in str(caught.value)


# --- the import keeps ACLED's fields; grades are the dataset's default until graded ---------------------


@pytest.fixture
def imported(db):
    acled = SourceFactory(name="ACLED", kind=ev.EVENT_DATASET, reliability="B", may_republish=False)
    call_command("import_reports", str(DATA / "acled-6-rows-bom.csv"), "--format", "acled",
                 "--time-zone", "Asia/Kabul", stdout=io.StringIO(), stderr=io.StringIO())
    return acled


def test_an_acled_import_keeps_source_scale_coordinates_precision_and_interaction(imported):
    row = ev.Report.objects.get(source_ref="AFG0000001")
    assert (row.original_source, row.source_scale) == ("Pajhwok Afghan News; TOLOnews", "National")
    assert (row.latitude, row.longitude, row.geo_precision) == (34.5, 69.2, 1)
    assert row.interaction == "12"
    assert row.source == imported  # the report's source is ACLED; the outlets ACLED drew on are kept beside it


def test_imported_rows_carry_the_dataset_default_credibility_until_an_analyst_grades_them(imported, client):
    row = ev.Report.objects.get(source_ref="AFG0000001")
    assert (row.credibility, row.credibility_graded, row.grade) == (2, False, "B2")  # counted as before
    client.force_login(grant_role(UserFactory(), ANALYST))
    listing = client.get(reverse("admin:evidence_report_changelist")).content.decode()
    assert "B2 (dataset default)" in listing
    url = reverse("admin:evidence_report_change", args=[row.pk])
    page = client.get(url)
    assert "2: probably true (dataset default)" in page.content.decode()
    form = page.context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    value = data.pop("occurred_at")
    data["occurred_at_0"], data["occurred_at_1"] = value.date().isoformat(), value.time().isoformat()
    data.update({"credibility": "1", "verification_changes-TOTAL_FORMS": "0",
                 "verification_changes-INITIAL_FORMS": "0"})
    data.pop("credibility_graded", None)  # left unticked: setting the credibility is what grades it
    assert client.post(url, data).status_code == 302
    row.refresh_from_db()
    assert (row.credibility, row.credibility_graded) == (1, True)
    assert "dataset default" not in client.get(url).content.decode()
    listing = client.get(reverse("admin:evidence_report_changelist")).content.decode()
    assert "B1" in listing and "B1 (dataset default)" not in listing


def test_reimporting_leaves_an_analysts_grade_as_it_is(imported):
    ev.Report.objects.filter(source_ref="AFG0000001").update(credibility=1, credibility_graded=True)
    call_command("import_reports", str(DATA / "acled-6-rows-bom.csv"), "--format", "acled",
                 "--time-zone", "Asia/Kabul", stdout=io.StringIO(), stderr=io.StringIO())
    row = ev.Report.objects.get(source_ref="AFG0000001")
    assert (row.credibility, row.credibility_graded) == (1, True)
    assert ev.Report.objects.filter(credibility_graded=False).count() == ev.Report.objects.count() - 1


def test_a_report_entered_by_hand_is_graded_by_whoever_entered_it(db):
    row = ev.Report.objects.create(summary="Seen", category="x", occurred_at=utc(2020, 3, 5),
                                   source=SourceFactory(), credibility=3)
    assert row.credibility_graded and str(row.credibility_shown) == "3: possibly true"


# --- the public page ------------------------------------------------------------------------------------


@pytest.fixture
def demo(db):
    call_command("load_agreement", "agreements/us-taliban-2020.yaml", stdout=io.StringIO())
    call_command("load_demo", stdout=io.StringIO())
    agreement = Agreement.objects.get(slug="us-taliban-2020")
    agreement.publish_computed_verdicts = True
    agreement.save()
    return agreement


def commitment_page(client, key):
    url = reverse("pages:commitment", kwargs={"agreement": "us-taliban-2020", "key": key})
    response = client.get(url, {"as_of": "2020-06-01", "known_at": "2020-06-01"})
    assert response.status_code == 200
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def test_a_listed_dataset_row_shows_its_dataset_fields_and_its_default_credibility(client, demo):
    un = ev.Report.objects.get(summary__startswith="A UN monitoring report finds the Taliban consulted al-Qaeda")
    ev.Report.objects.filter(pk=un.pk).update(
        credibility_graded=False, original_source="UN Security Council monitoring team", source_scale="International",
        interaction="20", latitude=34.53, longitude=69.17, geo_precision=1)
    page = commitment_page(client, "cut-ties-al-qaeda")
    grade = f"grade {un.source.reliability}{un.credibility} (credibility: dataset default)"
    assert grade in page
    assert "reported by UN Security Council monitoring team (International)" in page
    assert "interaction 20" in page and "34.53, 69.17 (1: the place itself)" in page
    assert "A report's first or second actor" in page  # the rule in plain words says which actors it reads
    ev.Report.objects.filter(pk=un.pk).update(credibility_graded=True)
    assert "dataset default" not in commitment_page(client, "cut-ties-al-qaeda")


def test_a_row_whose_licence_forbids_republishing_shows_none_of_its_dataset_fields_to_the_public(client, demo):
    rows = ev.Report.objects.filter(source__may_republish=False)
    assert rows.exists()
    rows.update(original_source="LICENSED-OUTLET-7c", interaction="27")
    page = commitment_page(client, "violence-major-cities")
    assert "LICENSED-OUTLET-7c" not in page and "interaction 27" not in page


def test_the_api_says_when_a_reports_credibility_is_the_datasets_default(client, demo):
    public = ev.Report.objects.get(source_ref="talks-open")
    url = reverse("api:report-detail", kwargs={"pk": public.pk})
    assert client.get(url).json()["credibility_graded"] is True
    ev.Report.objects.filter(pk=public.pk).update(credibility_graded=False)
    assert client.get(url).json()["credibility_graded"] is False


def test_the_api_gives_a_dataset_rows_own_fields(client, demo):
    public = ev.Report.objects.get(source_ref="talks-open")
    ev.Report.objects.filter(pk=public.pk).update(
        original_source="Pajhwok", source_scale="National", interaction="12", latitude=34.53, longitude=69.17,
        geo_precision=2)
    body = client.get(reverse("api:report-detail", kwargs={"pk": public.pk})).json()
    assert {k: body[k] for k in ("original_source", "source_scale", "interaction", "latitude", "longitude",
                                 "geo_precision")} == {
        "original_source": "Pajhwok", "source_scale": "National", "interaction": "12", "latitude": 34.53,
        "longitude": 69.17, "geo_precision": 2}
