"""The agreement as signed in Doha (agreements/us-taliban-2020-signed.yaml): it loads beside the
reported terms without renaming a shared party, its due dates are the text's calendar dates, and
every commitment gets a verdict."""

import json
from datetime import date, datetime, timedelta
from io import StringIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command

from monitor.evidence.models import Report
from terms.models import Agreement, Party, PartyName

AGREEMENTS = Path(__file__).resolve().parent.parent / "agreements"
REPORTED = AGREEMENTS / "us-taliban-2020.yaml"
SIGNED = AGREEMENTS / "us-taliban-2020-signed.yaml"
KABUL = ZoneInfo("Asia/Kabul")

pytestmark = pytest.mark.django_db

# Key, owing party, the last day to act as the text dates it (None: a prohibition, ongoing).
# Day 135 after 29 February 2020 is 13 July 2020; 29 May is day 90 and 27 August day 180;
# fourteen months, by the format's month rule, end on 29 April 2021.
EXPECTED = [
    ("forces-to-8600", "united-states", date(2020, 7, 13)),
    ("five-bases", "united-states", date(2020, 7, 13)),
    ("full-withdrawal", "united-states", date(2021, 4, 29)),
    ("release-taliban-prisoners", "united-states", date(2020, 3, 10)),
    ("release-other-side-prisoners", "united-states", date(2020, 3, 10)),
    ("negotiations-start", "taliban", date(2020, 3, 10)),
    ("un-sanctions", "united-states", date(2020, 5, 29)),
    ("us-sanctions", "united-states", date(2020, 8, 27)),
    ("no-use-of-afghan-soil", "taliban", None),
    ("no-cooperation-with-threats", "taliban", None),
    ("no-recruiting-training-fundraising", "taliban", None),
    ("no-hosting", "taliban", None),
    ("no-asylum-for-threats", "taliban", None),
    ("no-travel-documents-for-threats", "taliban", None),
]


def load(*paths):
    out, err = StringIO(), StringIO()
    call_command("load_agreement", *[str(p) for p in paths], stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def parties_as_stored():
    return {
        p.slug: (p.name, p.description, sorted(p.names.values_list("name", flat=True)))
        for p in Party.objects.prefetch_related("names")
    }


def compliance(*args):
    out = StringIO()
    call_command("compliance", "--json", "--agreement", "us-taliban-2020-signed", *args, stdout=out)
    [agreement] = json.loads(out.getvalue())["agreements"]
    return agreement


def end_of_kabul_day(day):
    """The instant a deadline on `day` ends: local midnight after it, in UTC."""
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=KABUL)


# --- loading ----------------------------------------------------------------


def test_loads_alone_signed_in_force_in_kabul_time_with_its_two_parties():
    out, err = load(SIGNED)
    assert "created 1 agreement, 2 parties, 1 non-party actor" in out
    assert err == ""

    agreement = Agreement.objects.get(slug="us-taliban-2020-signed")
    assert agreement.title.startswith("Agreement for Bringing Peace to Afghanistan")
    assert (agreement.signed_on, agreement.state, agreement.time_zone) == (date(2020, 2, 29), "in_force", "Asia/Kabul")
    assert "US State Department" in agreement.source
    assert set(agreement.parties.values_list("slug", flat=True)) == {"taliban", "united-states"}
    # The Afghan government signed nothing: listed apart, owing nothing.
    assert list(agreement.non_party_actors.values_list("slug", flat=True)) == ["government-of-afghanistan"]
    assert not agreement.commitments.filter(owed_by__slug="government-of-afghanistan").exists()
    assert list(agreement.commitments.values_list("key", flat=True)) == [key for key, _, _ in EXPECTED]
    # Every term is the official text, with its section, a summary and a quotation.
    for commitment in agreement.commitments.all():
        assert commitment.basis == "official_text", commitment.key
        assert commitment.basis_source.startswith(("Part One", "Part Two", "Preamble")), commitment.key
        assert commitment.basis_note.startswith("In short:"), commitment.key
        assert commitment.text.startswith('"'), commitment.key
    # No invented history ships with it.
    assert not Report.objects.exists()


@pytest.mark.parametrize("first, second", [(REPORTED, SIGNED), (SIGNED, REPORTED)])
def test_loads_beside_the_reported_terms_without_renaming_a_shared_party(first, second):
    load(first)
    before = parties_as_stored()

    out, err = load(second)

    assert "updated" not in out, out  # neither a party's name nor its description nor its names
    assert err == ""
    after = parties_as_stored()
    for slug in ("taliban", "united-states"):
        assert after[slug] == before.get(slug, after[slug])
    assert after["taliban"][0] == "Taliban" and after["united-states"][0] == "United States"
    assert Party.objects.filter(slug__in=["taliban", "united-states"]).count() == 2
    assert PartyName.objects.filter(normalized="islamic emirate of afghanistan").count() == 1
    # One party each, shared by both agreements.
    for slug in ("taliban", "united-states"):
        assert set(Party.objects.get(slug=slug).agreements.values_list("slug", flat=True)) == {
            "us-taliban-2020", "us-taliban-2020-signed"}


def test_both_files_load_in_one_command_and_again_without_change():
    load(REPORTED, SIGNED)
    out, err = load(REPORTED, SIGNED)
    assert out.count("no changes") == 2, out
    assert err == ""


# --- what a reader sees -----------------------------------------------------


def test_each_commitment_is_due_when_the_text_says_and_owed_by_whom_it_says():
    load(REPORTED, SIGNED)
    verdicts = {c["key"]: c for c in compliance("--as-of", "2020-03-20")["commitments"]}

    assert list(verdicts) == [key for key, _, _ in EXPECTED]
    for key, party, due in EXPECTED:
        c = verdicts[key]
        assert c["owed_by"] == [party], key
        assert c["tracked"] is True, key
        due_at = c["computed"]["due_at"]
        if due is None:
            assert due_at is None, key
        else:
            assert datetime.fromisoformat(due_at) == end_of_kabul_day(due), key


def test_the_dates_a_reader_would_check_against_the_text():
    load(SIGNED)
    verdicts = {c["key"]: c for c in compliance("--as-of", "2020-03-20")["commitments"]}
    due = {key: verdicts[key]["computed"]["due_at"] for key in verdicts}
    # 10 March 2020 ends at 19:30 UTC (Kabul is UTC+4:30): prisoners and talks alike.
    assert due["negotiations-start"] == due["release-taliban-prisoners"] == "2020-03-10T19:30:00+00:00"
    assert due["forces-to-8600"] == due["five-bases"] == "2020-07-13T19:30:00+00:00"
    assert due["un-sanctions"] == "2020-05-29T19:30:00+00:00"
    assert due["us-sanctions"] == "2020-08-27T19:30:00+00:00"
    assert due["full-withdrawal"] == "2021-04-29T19:30:00+00:00"
    # Titles carry the figures and dates the text gives.
    assert "8,600" in verdicts["forces-to-8600"]["title"]
    assert "five" in verdicts["five-bases"]["title"].lower()
    assert "5,000" in verdicts["release-taliban-prisoners"]["title"]
    assert "1,000" in verdicts["release-other-side-prisoners"]["title"]
    assert "10 March 2020" in verdicts["negotiations-start"]["title"]
    assert "29 May 2020" in verdicts["un-sanctions"]["title"]
    assert "27 August 2020" in verdicts["us-sanctions"]["title"]
    assert "al-Qaeda" in verdicts["no-use-of-afghan-soil"]["title"]


# --- verdicts ---------------------------------------------------------------


def test_every_commitment_gets_a_verdict_as_of_20_march_2020_with_no_reports():
    load(REPORTED, SIGNED)
    agreement = compliance("--as-of", "2020-03-20")
    assert agreement["signed_on"] == "2020-02-29"
    assert agreement["state"] == "in_force"
    verdicts = {c["key"]: c for c in agreement["commitments"]}

    for key, c in verdicts.items():
        assert c["computed"]["status"], key
        assert c["computed"]["sentence"], key
        assert c["status"] not in ("awaiting_signature", "not_tracked"), key
    # Nothing reported by 10 March: the talks are missed, ten days overdue; the prisoner
    # releases, judged as counts, have no count reported by their due date ...
    talks = verdicts["negotiations-start"]["computed"]
    assert (talks["status"], talks["days_overdue"]) == ("missed", 10)
    assert "10 March 2020" in talks["sentence"]
    for key in ("release-taliban-prisoners", "release-other-side-prisoners"):
        assert verdicts[key]["computed"]["status"] == "no_data", key
        assert "10 March 2020" in verdicts[key]["computed"]["sentence"], key
        assert verdicts[key]["needs_review"] is True, key
    # ... while the July, May, August and April deadlines are still ahead ...
    for key in ("forces-to-8600", "five-bases", "full-withdrawal", "un-sanctions", "us-sanctions"):
        assert verdicts[key]["computed"]["status"] not in ("missed", "met", "met_late"), key
        assert verdicts[key]["computed"]["days_left"] > 0, key
    # ... and no credible report breaches a guarantee; but with no source covering a day and none
    # reporting these categories, none is said to be kept either: no data, never "in compliance".
    for key, _, due in EXPECTED:
        if due is None:
            assert verdicts[key]["computed"]["status"] == "no_data", key
            assert verdicts[key]["computed"]["reason"]["code"] in ("coverage.no_source", "coverage.insufficient"), key


def test_the_reported_terms_stay_unsigned_beside_the_signed_text():
    load(REPORTED, SIGNED)
    out = StringIO()
    call_command("compliance", "--json", "--as-of", "2020-03-20", stdout=out)
    by_slug = {a["slug"]: a for a in json.loads(out.getvalue())["agreements"]}
    assert by_slug["us-taliban-2020"]["signed_on"] is None
    assert by_slug["us-taliban-2020-signed"]["signed_on"] == "2020-02-29"
