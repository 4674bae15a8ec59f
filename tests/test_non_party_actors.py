"""Actors who are not parties (issue 13, point 12): listed apart from the signatories, owing
nothing, and whose acts are shown as context, never weighed as evidence for or against a party."""

import json
import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.verdicts import inputs
from monitor.verdicts.engine import evaluate, evaluate_agreement
from monitor.verdicts.engine.values import CONTEXT_LIMIT
from terms.agreement_file import AgreementFileError, load_agreement_file
from terms.models import Agreement, Party
from tests.engine_factories import GOVERNMENT, TALIBAN, report, term, utc
from tests.factories import CoverageFactory, ReportFactory, SourceFactory
from tests.hypothesis_budget import examples
from tests.test_verdict_index import worlds

NEIGHBOUR = frozenset({"northern neighbour forces", "neighbour army"})

FILE = """\
format: 1
agreement:
  slug: border-accord
  title: Border accord
  signed_on: 2020-02-29
  time_zone: Asia/Kabul
  state: in_force
parties:
  - slug: north
    name: Northern Front
    names: [North]
  - slug: south
    name: Southern Army
non_party_actors:
  - slug: neighbour
    name: Northern Neighbour Forces
    description: A neighbour's forces operating in the area.
    names: [Neighbour Army]
commitments:
  - key: no-shelling
    title: No shelling of the border towns
    owed_by: [north]
    basis: {kind: official_text}
    kind: prohibition
    rule: {categories: [Shelling], attribution: any}
"""


def write(tmp_path, text):
    path = tmp_path / "accord.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text, needle):
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def refused(tmp_path, text):
    with pytest.raises(AgreementFileError) as caught:
        load_agreement_file(write(tmp_path, text))
    assert not Agreement.objects.exists() and not Party.objects.exists()  # nothing loaded
    return caught.value.errors


# --- the agreement file ---------------------------------------------------------------------


@pytest.mark.django_db
def test_non_party_actors_load_apart_from_the_parties_with_their_names(tmp_path):
    result = load_agreement_file(write(tmp_path, FILE))
    agreement = Agreement.objects.get(slug="border-accord")
    assert sorted(agreement.parties.values_list("slug", flat=True)) == ["north", "south"]
    assert list(agreement.non_party_actors.values_list("slug", flat=True)) == ["neighbour"]
    assert list(Party.objects.get(slug="neighbour").names.values_list("name", flat=True)) == ["Neighbour Army"]
    assert result.created["party"] == 2 and result.created["non-party actor"] == 1
    # Loading again changes nothing.
    assert not load_agreement_file(write(tmp_path, FILE)).changed


@pytest.mark.django_db
def test_a_party_the_file_now_lists_as_a_non_party_actor_moves_on_reload(tmp_path):
    as_party = FILE.replace("non_party_actors:\n", "")
    load_agreement_file(write(tmp_path, as_party))
    assert Agreement.objects.get().parties.filter(slug="neighbour").exists()

    result = load_agreement_file(write(tmp_path, FILE))

    agreement = Agreement.objects.get()
    assert not agreement.parties.filter(slug="neighbour").exists()
    assert list(agreement.non_party_actors.values_list("slug", flat=True)) == ["neighbour"]
    assert "updated agreement border-accord (parties, non_party_actors)" in result.changes


@pytest.mark.django_db
def test_a_commitment_owed_by_a_non_party_actor_is_refused_with_file_line_and_field(tmp_path):
    text = FILE.replace("    owed_by: [north]", "    owed_by: [north, neighbour]")
    [problem] = refused(tmp_path, text)
    assert problem.line == line_of(text, "owed_by: [north, neighbour]")
    assert problem.field == "commitments[0].owed_by[1]"
    assert "'neighbour' is a non-party actor" in problem.message and "owes nothing" in problem.message
    assert str(problem).startswith(f"{tmp_path / 'accord.yaml'}, line {problem.line}, commitments[0].owed_by[1]:")


@pytest.mark.django_db
def test_a_name_used_by_a_party_and_a_non_party_actor_is_refused(tmp_path):
    text = FILE.replace("names: [Neighbour Army]", "names: [Neighbour Army, NORTH]")
    [problem] = refused(tmp_path, text)
    assert problem.field == "non_party_actors[0].names[1]"
    assert "already names party 'north'" in problem.message


@pytest.mark.django_db
def test_a_slug_used_for_a_party_and_a_non_party_actor_is_refused(tmp_path):
    text = FILE.replace("  - slug: neighbour", "  - slug: south")
    [problem] = refused(tmp_path, text)
    assert problem.field == "non_party_actors[0].slug"
    assert problem.line == line_of(text, "non_party_actors:") + 1
    assert f"'south' is already used at line {line_of(text, '  - slug: south')}" in problem.message


@pytest.mark.django_db
def test_a_non_party_name_that_names_a_party_in_the_database_is_refused(tmp_path):
    load_agreement_file(write(tmp_path, FILE))
    other = FILE.replace("border-accord", "second-accord").replace("names: [Neighbour Army]", "names: [North]")
    other = other.replace("  - slug: north\n    name: Northern Front\n    names: [North]\n", "")
    other = other.replace("owed_by: [north]", "owed_by: [south]")
    path = write(tmp_path, other)
    with pytest.raises(AgreementFileError) as caught:
        load_agreement_file(path)
    [problem] = caught.value.errors
    assert problem.field == "non_party_actors[0].names[0]"
    assert "already names party 'north' in the database" in problem.message
    assert not Agreement.objects.filter(slug="second-accord").exists()


# --- the engine -----------------------------------------------------------------------------

SHELLING = {"categories": ["Shelling"]}


def neighbour_term(kind="prohibition", attribution="any", **kwargs):
    t = term(kind, rule={**SHELLING, "attribution": attribution}, owing=(TALIBAN,), **kwargs)
    return replace(t, non_party_names=NEIGHBOUR)


@pytest.mark.parametrize("attribution", ["any", "owing", "owing_or_unidentified"])
def test_a_non_party_act_never_breaches_a_prohibition_and_is_listed_as_context(attribution):
    t = neighbour_term(attribution=attribution)
    act = report(date(2020, 3, 5), category="Shelling", actor1="Northern Neighbour Forces")
    verdict = evaluate(t, [act], as_of=utc(2020, 3, 10))
    assert verdict.status == "in_compliance"
    assert verdict.evidence == ()
    assert verdict.context == (act.id,)
    # The same act by the owing party breaches it, whatever the attribution.
    own = replace(act, actor1="Taliban")
    assert evaluate(t, [own], as_of=utc(2020, 3, 10)).status == "breached"


@pytest.mark.parametrize("attribution", ["any", "owing", "owing_or_unidentified"])
def test_a_non_party_act_never_meets_a_deadline_and_is_listed_as_context(attribution):
    t = neighbour_term(kind="deadline", attribution=attribution)
    act = report(date(2020, 3, 5), category="Shelling", actor1="neighbour army")
    verdict = evaluate(t, [act], as_of=utc(2020, 3, 20))
    assert verdict.status == "missed"
    assert verdict.context == (act.id,) and act.id not in verdict.evidence


def test_a_non_party_act_an_analyst_links_to_the_commitment_is_evidence():
    t = neighbour_term(kind="deadline")
    act = report(date(2020, 3, 5), category="Shelling", actor1="Neighbour Army", commitment_id=t.id)
    verdict = evaluate(t, [act], as_of=utc(2020, 3, 20))
    assert verdict.status == "met"
    assert verdict.evidence == (act.id,) and verdict.context == ()


def test_context_is_only_what_the_rule_would_count_in_its_window_and_known():
    t = neighbour_term()
    in_rule = report(date(2020, 3, 5), category="Shelling", actor1="Neighbour Army")
    other_category = report(date(2020, 3, 5), category="Protests", actor1="Neighbour Army")
    before_window = report(date(2020, 2, 20), category="Shelling", actor1="Neighbour Army")
    not_yet_known = report(date(2020, 3, 6), category="Shelling", actor1="Neighbour Army", recorded_at=utc(2020, 4, 1))
    rejected = report(date(2020, 3, 7), category="Shelling", actor1="Neighbour Army",
                      verification=((utc(2020, 3, 8), "rejected"),))
    everything = [in_rule, other_category, before_window, not_yet_known, rejected]
    assert evaluate(t, everything, as_of=utc(2020, 3, 10)).context == (in_rule.id,)


def test_context_lists_the_most_recent_reports_up_to_its_limit():
    t = neighbour_term()
    acts = [report(date(2020, 3, 1) + timedelta(days=i), category="Shelling", actor1="Neighbour Army")
            for i in range(CONTEXT_LIMIT + 5)]
    as_of = utc(2020, 5, 1)
    verdict = evaluate(t, acts, as_of=as_of)
    assert verdict.context == tuple(a.id for a in acts[-CONTEXT_LIMIT:])
    assert evaluate_agreement([t], acts, as_of=as_of)[t.id] == verdict


def test_a_rule_naming_no_category_shows_non_party_acts_as_context():
    t = replace(term("prohibition", rule={"attribution": "any"}, owing=(GOVERNMENT,)), non_party_names=NEIGHBOUR)
    act = report(date(2020, 3, 5), category="Anything", actor1="Neighbour Army")
    verdict = evaluate_agreement([t], [act], as_of=utc(2020, 3, 10))[t.id]
    assert (verdict.status, verdict.context) == ("in_compliance", (act.id,))


@settings(max_examples=examples(150), deadline=None)
@given(worlds(), st.data())
def test_adding_non_party_acts_changes_no_verdict_but_its_context(world, data):
    ts, evidence, periods, as_of, known_at = world
    ts = [replace(t, non_party_names=NEIGHBOUR) for t in ts]
    extra = [
        replace(e, id=1000 + i, actor1=data.draw(st.sampled_from(["Neighbour Army", "northern neighbour forces"])),
                # Its other side names no owing party (one named there would make it that party's act too).
                actor2=data.draw(st.sampled_from(["", "Civilians", "Unidentified Armed Group", "Neighbour Army"])),
                commitment_id=None if e.commitment_id is None else 99)
        for i, e in enumerate(evidence)
    ]
    before = evaluate_agreement(ts, evidence, as_of=as_of, known_at=known_at, coverage=periods)
    after = evaluate_agreement(ts, evidence + extra, as_of=as_of, known_at=known_at, coverage=periods)
    for t in ts:
        assert replace(after[t.id], context=()) == replace(before[t.id], context=())
        assert not set(after[t.id].context) & set(after[t.id].evidence)


# --- inputs, pages, API ---------------------------------------------------------------------


@pytest.mark.django_db
def test_the_terms_the_database_builds_know_the_agreements_non_party_names(tmp_path):
    load_agreement_file(write(tmp_path, FILE))
    agreement = Agreement.objects.get()
    [standing] = inputs.standings([agreement], as_of=datetime(2020, 3, 10, tzinfo=UTC))
    assert standing.term.non_party_names == NEIGHBOUR
    [swept] = inputs.terms_for(list(inputs.commitments_for([agreement], parties=False)))
    assert swept.non_party_names == NEIGHBOUR
    assert inputs.term_for(standing.commitment).non_party_names == NEIGHBOUR


def page_text(client, path):
    response = client.get(path)
    assert response.status_code == 200
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


@pytest.mark.django_db
def test_the_first_agreements_page_lists_its_signatories_apart_from_the_afghan_government(client):
    call_command("load_agreement", "agreements/us-taliban-2020.yaml", stdout=StringIO())
    shown = page_text(client, reverse("pages:agreement", kwargs={"agreement": "us-taliban-2020"}))
    parties = re.search(r"Parties: (.*?)\.", shown).group(1)
    assert "Taliban" in parties and "United States" in parties
    assert "Afghanistan" not in parties
    assert "Also active, not parties: Government of Afghanistan." in shown


@pytest.mark.django_db
def test_the_api_lists_parties_and_non_party_actors_apart(client, tmp_path):
    load_agreement_file(write(tmp_path, FILE))
    body = client.get(reverse("api:agreement-detail", kwargs={"agreement": "border-accord"})).json()
    assert [p["slug"] for p in body["parties"]] == ["north", "south"]
    assert body["non_party_actors"] == [{"slug": "neighbour", "name": "Northern Neighbour Forces"}]


# --- end to end: the file, a report, the compliance JSON and the page -----------------------


@pytest.mark.django_db
def test_a_reported_non_party_act_is_context_in_the_compliance_json_and_the_page(client, tmp_path):
    call_command("load_agreement", str(write(tmp_path, FILE)), stdout=StringIO())
    # Reporting shelling every day: "in compliance" is then a finding, whatever the context adds.
    source = SourceFactory(name="Border monitors", reliability="A", categories=["Shelling"])
    CoverageFactory(source=source)

    def compliance():
        out = StringIO()
        call_command("compliance", "--json", "--agreement", "border-accord", "--as-of", "2020-03-20", stdout=out)
        [commitment] = json.loads(out.getvalue())["agreements"][0]["commitments"]
        return commitment

    before = compliance()
    shelling = ReportFactory(
        source=source, category="Shelling", actor1="Neighbour Army", summary="Neighbour artillery shells Border Town",
        occurred_at=datetime(2020, 3, 5, 8, tzinfo=UTC), recorded_at=datetime(2020, 3, 5, 12, tzinfo=UTC),
    )
    after = compliance()

    assert after["computed"]["context"] == [shelling.id]
    assert after["computed"]["evidence"] == []
    assert after["status"] == before["status"] == "in_compliance"
    assert after["computed"]["reason"] == before["computed"]["reason"]

    shown = page_text(client, reverse("pages:commitment", kwargs={"agreement": "border-accord", "key": "no-shelling"}))
    context = shown.split("Context: acts of actors who are not parties", 1)[1]
    assert "Neighbour artillery shells Border Town" in context
    evidence = shown.split("Context: acts of actors who are not parties", 1)[0].split("Evidence", 1)[-1]
    assert "Neighbour artillery shells Border Town" not in evidence
