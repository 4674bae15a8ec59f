"""Agreement files: the seed agreement, reloading, and what a bad file tells its author."""

import shutil
from datetime import date
from io import StringIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command, execute_from_command_line
from django.core.management.base import CommandError

from monitor.verdicts import engine
from monitor.verdicts import statuses as S
from terms import agreement_file
from terms.agreement_file import AgreementFileError, load_agreement_file
from terms.models import Agreement, Commitment, Party, PartyName
from terms.rules import Rule, day_start, normalize_name

SEED = Path(__file__).resolve().parent.parent / "agreements" / "us-taliban-2020.yaml"

# A small valid file that each bad-file case breaks in one place.
MINIMAL = """\
format: 1
agreement:
  slug: test-accord
  title: Test accord
  signed_on: null
  time_zone: Asia/Kabul
parties:
  - slug: north
    name: Northern Front
    names: [North, Northern Front Fighters]
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
  - key: calm
    title: No more than five attacks a day once talks begin
    owed_by: [north, south]
    basis: {kind: reported, by: A mediator}
    kind: ceiling
    rule: {categories: [Battles], limit: 5}
    window: {from: talks, starts: 0}
"""


def row_counts():
    return (Agreement.objects.count(), Party.objects.count(), PartyName.objects.count(), Commitment.objects.count())


def write(tmp_path, text, name="accord.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text, needle):
    """The number of the last line containing `needle` (a repeated key is reported where it repeats)."""
    return max(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def edited_seed(tmp_path, old, new):
    text = SEED.read_text(encoding="utf-8")
    assert old in text
    return write(tmp_path, text.replace(old, new, 1), "us-taliban-2020.yaml")


def verdict(commitment):
    """The engine's verdict now, built straight from the model (the inputs layer is elsewhere)."""
    agreement = commitment.agreement
    term = engine.Term(
        id=commitment.pk,
        key=commitment.key,
        title=commitment.title,
        kind=commitment.kind,
        rule=Rule.from_dict(commitment.kind, commitment.rule),
        window=commitment.window(),
        time_zone=agreement.time_zone,
        signed_on=agreement.signed_on,
        tracked=commitment.tracked,
    )
    now = day_start(date(2020, 3, 1), term.tz)
    return engine.evaluate(term, [], as_of=now)


# --- the seed agreement -----------------------------------------------------


@pytest.mark.django_db
def test_the_us_taliban_agreement_loads_as_an_unsigned_draft_in_kabul_time():
    result = load_agreement_file(SEED)

    agreement = Agreement.objects.get(slug="us-taliban-2020")
    assert result.agreement == agreement
    assert agreement.signed_on is None
    assert agreement.state == "draft"
    assert agreement.time_zone == "Asia/Kabul"
    assert agreement.publish_computed_verdicts is False
    # The Afghan government signed nothing: it is a non-party actor, not a party.
    assert set(agreement.parties.values_list("slug", flat=True)) == {"taliban", "united-states"}
    assert list(agreement.non_party_actors.values_list("slug", flat=True)) == ["government-of-afghanistan"]
    assert list(agreement.commitments.values_list("key", flat=True)) == [
        "cut-ties-al-qaeda",
        "fight-isis",
        "withdrawal-begins",
        "violence-major-cities",
        "talks-begin",
        "troop-reduction",
        "ceasefire",
    ]
    assert result.created == {"agreement": 1, "party": 2, "non-party actor": 1, "party name": 11, "commitment": 7}
    assert not result.warnings


@pytest.mark.django_db
def test_every_seed_commitment_is_reported_not_official_and_quotes_the_article():
    load_agreement_file(SEED)

    for commitment in Commitment.objects.all():
        assert commitment.basis == "reported", commitment.key
        assert commitment.basis_source, commitment.key
        assert commitment.text, commitment.key
    assert Commitment.objects.get(key="talks-begin").text == (
        "And talks with the Afghan government begin in the first 10 days"
    )


@pytest.mark.django_db
def test_until_the_signing_date_is_known_every_tracked_seed_commitment_awaits_signature():
    load_agreement_file(SEED)

    statuses = {c.key: verdict(c).status for c in Commitment.objects.select_related("agreement")}
    assert statuses.pop("ceasefire") == S.NOT_TRACKED
    assert set(statuses.values()) == {S.AWAITING_SIGNATURE}


@pytest.mark.django_db
def test_the_garbled_troop_figure_is_recorded_as_written_and_flagged_for_an_analyst():
    load_agreement_file(SEED)

    reduction = Commitment.objects.get(key="troop-reduction")
    assert reduction.kind == "target"
    assert reduction.owed_by.get().slug == "united-states"
    assert (reduction.rule["target"], reduction.rule["unit"], reduction.due_offset) == (6, "troops", 7)
    assert reduction.needs_review
    assert "garbled" in reduction.review_note
    assert "reduced to six within seven days after signing" in reduction.text


@pytest.mark.django_db
def test_the_ceasefire_is_recorded_as_discussed_but_not_tracked():
    load_agreement_file(SEED)

    ceasefire = Commitment.objects.get(key="ceasefire")
    assert not ceasefire.tracked
    assert "do not speak on the ceasefire" in ceasefire.text


@pytest.mark.django_db
def test_violence_ceiling_binds_from_day_ten_in_major_cities_with_the_seven_day_reading_kept():
    load_agreement_file(SEED)

    ceiling = Commitment.objects.get(key="violence-major-cities")
    assert ceiling.kind == "ceiling"
    assert (ceiling.rule["limit"], ceiling.starts_offset, ceiling.ends_offset) == (10, 10, None)
    assert {"Kabul", "Kandahar", "Herat", "Jalalabad"} <= set(ceiling.rule["locations"])
    assert "Sediqqi" in ceiling.basis_source
    assert ceiling.competing_accounts[0]["account"] == "within seven days"


@pytest.mark.django_db
def test_talks_deadline_keeps_the_competing_oslo_account():
    load_agreement_file(SEED)

    talks = Commitment.objects.get(key="talks-begin")
    assert (talks.kind, talks.due_offset, talks.rule["attribution"]) == ("deadline", 10, "any")
    assert talks.competing_accounts[0]["account"] == "within seven days, in Oslo"


@pytest.mark.django_db
def test_acled_actor_names_belong_to_the_right_party_and_nato_to_none():
    load_agreement_file(SEED)

    def owner(name):
        row = PartyName.objects.filter(normalized=normalize_name(name)).first()
        return row and row.party.slug

    assert owner("Taliban") == "taliban"
    assert owner("Islamic Emirate of Afghanistan") == "taliban"
    assert owner("Military Forces of the United States") == "united-states"
    assert owner("Military Forces of Afghanistan (2014-2021)") == "government-of-afghanistan"
    assert owner("Police Forces of Afghanistan (2014-2021)") == "government-of-afghanistan"
    assert owner("NATO: North Atlantic Treaty Organization") is None


@pytest.mark.django_db
def test_the_example_in_the_format_documentation_loads(tmp_path):
    doc = (SEED.parent.parent / "docs" / "agreement-format.md").read_text(encoding="utf-8")
    example = doc.split("## Example", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]

    result = load_agreement_file(write(tmp_path, example))

    assert result.created["commitment"] == 3


# --- loading again ----------------------------------------------------------


@pytest.mark.django_db
def test_loading_the_same_file_twice_creates_nothing_and_changes_nothing():
    load_agreement_file(SEED)
    before = {c.pk: c.updated for c in Commitment.objects.all()}
    agreement_updated = Agreement.objects.get().updated
    counts = row_counts()

    result = load_agreement_file(SEED)

    assert not result.changed
    assert result.changes == []
    assert row_counts() == counts
    assert {c.pk: c.updated for c in Commitment.objects.all()} == before
    assert Agreement.objects.get().updated == agreement_updated


@pytest.mark.django_db
def test_setting_the_signing_date_updates_the_agreement_in_place_and_starts_the_clocks(tmp_path):
    load_agreement_file(SEED)
    agreement = Agreement.objects.get()
    counts = row_counts()

    result = load_agreement_file(edited_seed(tmp_path, "signed_on: null", "signed_on: 2020-02-29"))

    assert result.updated == {"agreement": 1}
    assert result.changes == ["updated agreement us-taliban-2020 (signed_on)"]
    assert row_counts() == counts
    agreement.refresh_from_db()
    assert agreement.signed_on == date(2020, 2, 29)
    talks = Commitment.objects.select_related("agreement").get(key="talks-begin")
    assert talks.window().resolve(agreement.signed_on, ZoneInfo(agreement.time_zone)).due_day == date(2020, 3, 10)
    assert verdict(talks).status != S.AWAITING_SIGNATURE


@pytest.mark.django_db
def test_editing_a_commitment_updates_it_without_creating_another(tmp_path):
    load_agreement_file(SEED)
    talks_pk = Commitment.objects.get(key="talks-begin").pk

    result = load_agreement_file(
        edited_seed(
            tmp_path,
            'owed_by: [taliban]\n    text: "And talks',
            'owed_by: [taliban, united-states]\n    text: "And talks',
        )
    )

    assert result.created == {}
    assert result.changes == ["updated commitment talks-begin (owed_by)"]
    talks = Commitment.objects.get(key="talks-begin")
    assert talks.pk == talks_pk
    assert set(talks.owed_by.values_list("slug", flat=True)) == {"taliban", "united-states"}


@pytest.mark.django_db
def test_an_edit_with_a_mistake_in_it_changes_nothing_already_loaded(tmp_path):
    load_agreement_file(SEED)
    path = edited_seed(tmp_path, "signed_on: null", "signed_on: 2020-02-29")
    path.write_text(path.read_text(encoding="utf-8").replace("due: 10}", "due: ten}"), encoding="utf-8")

    with pytest.raises(AgreementFileError):
        load_agreement_file(path)

    assert Agreement.objects.get().signed_on is None


@pytest.mark.django_db
def test_a_commitment_dropped_from_the_file_is_kept_and_reported(tmp_path):
    load_agreement_file(SEED)
    text = SEED.read_text(encoding="utf-8")
    without_ceasefire = text[: text.index("  # Discussed, not agreed")]

    result = load_agreement_file(write(tmp_path, without_ceasefire))

    assert Commitment.objects.filter(key="ceasefire").exists()
    assert len(result.warnings) == 1
    assert "commitment ceasefire is in the database but not in this file" in result.warnings[0]


# --- bad files --------------------------------------------------------------

# (id, {text in MINIMAL: its replacement}, field, message, a piece of the line the problem is on)
BAD = [
    (
        "missing_required_field",
        {"  title: Test accord\n": ""},
        "agreement.title",
        "is required",
        "  slug: test-accord",
    ),
    (
        "offset_not_a_whole_number",
        {"window: {from: signing, due: 10}": "window: {from: signing, due: ten}"},
        "commitments[0].window.due",
        "must be a whole number",
        "due: ten",
    ),
    (
        "unknown_field",
        {"    kind: deadline\n": "    kind: deadline\n    deadline: 10\n"},
        "commitments[0].deadline",
        "unknown field",
        "deadline: 10",
    ),
    (
        "unknown_kind",
        {"kind: deadline": "kind: promise"},
        "commitments[0].kind",
        "must be one of deadline, target, ceiling, prohibition",
        "kind: promise",
    ),
    (
        "bad_time_zone",
        {"time_zone: Asia/Kabul": "time_zone: Asia/Kabool"},
        "agreement.time_zone",
        "unknown time zone 'Asia/Kabool'",
        "Asia/Kabool",
    ),
    (
        "region_not_time_zone",
        {"time_zone: Asia/Kabul": "time_zone: America"},
        "agreement.time_zone",
        "unknown time zone 'America'",
        "America",
    ),
    (
        "impossible_date",
        {"signed_on: null": "signed_on: 2020-02-30"},
        "agreement.signed_on",
        "cannot be read as a date: day is out of range for month",
        "2020-02-30",
    ),
    (
        "date_in_words",
        {"signed_on: null": "signed_on: 29 February 2020"},
        "agreement.signed_on",
        "must be a date written YYYY-MM-DD",
        "29 February",
    ),
    (
        "duplicate_commitment_key",
        {"  - key: calm": "  - key: talks"},
        "commitments[1].key",
        "'talks' is already used at line 14",
        "  - key: talks\n",
    ),
    (
        "duplicate_party_slug",
        {"  - slug: south": "  - slug: north"},
        "parties[1].slug",
        "'north' is already used at line 8",
        "  - slug: north\n",
    ),
    (
        "owed_by_unknown_party",
        {"owed_by: [north, south]": "owed_by: [north, west]"},
        "commitments[1].owed_by[1]",
        "'west' is not one of the parties (north, south)",
        "owed_by: [north, west]",
    ),
    (
        "counted_from_unknown_commitment",
        {"window: {from: talks, starts: 0}": "window: {from: tlaks, starts: 0}"},
        "commitments[1].window.from",
        "'tlaks' is neither 'signing' nor a commitment key in this file",
        "from: tlaks",
    ),
    (
        "counted_from_a_ceiling",
        {
            "window: {from: signing, due: 10}": "window: {from: calm, due: 10}",
            "window: {from: talks, starts: 0}": "window: {from: signing, starts: 0}",
        },
        "commitments[0].window.from",
        "'calm' is a ceiling, which is never met",
        "from: calm",
    ),
    (
        "ceiling_without_limit",
        {"rule: {categories: [Battles], limit: 5}": "rule: {categories: [Battles]}"},
        "commitments[1].rule.limit",
        "a ceiling needs a limit",
        "rule: {categories: [Battles]}",
    ),
    (
        "misspelt_rule_field",
        {"rule: {categories: [Battles], limit: 5}": "rule: {categories: [Battles], limt: 5}"},
        "commitments[1].rule.limt",
        "unknown field",
        "limt: 5",
    ),
    (
        # A deadline without a due day is a duty without a date (tests/test_duties_without_date.py);
        # a reasonable time is for those alone.
        "reasonable_time_on_a_duty_with_a_due_day",
        {"window: {from: signing, due: 10}": "window: {from: signing, due: 10, reasonable_days: 30}"},
        "commitments[0].window.reasonable_days",
        "a duty with a due date has no reasonable time",
        "reasonable_days: 30",
    ),
    (
        "name_claimed_by_two_parties",
        {"    name: Southern Army\n": "    name: Southern Army\n    names: [north]\n"},
        "parties[1].names[0]",
        "'north' already names party 'north'",
        "names: [north]",
    ),
    (
        "field_given_twice",
        {"  title: Test accord\n": "  title: Test accord\n  title: Another accord\n"},
        "agreement.title",
        "appears twice (first at line 4)",
        "Another accord",
    ),
    (
        "reported_without_reporter",
        {"basis: {kind: reported, by: A mediator}": "basis: {kind: reported}"},
        "commitments[1].basis.by",
        "is required for a reported term",
        "basis: {kind: reported}",
    ),
    (
        "text_where_a_flag_belongs",
        {"    kind: deadline\n": "    kind: deadline\n    tracked: maybe\n"},
        "commitments[0].tracked",
        "must be true or false",
        "tracked: maybe",
    ),
    (
        "unsupported_format",
        {"format: 1": "format: 2"},
        "format",
        "this loader reads format 1, not 2",
        "format: 2",
    ),
]


@pytest.mark.django_db
def test_the_minimal_example_used_for_bad_files_is_itself_valid(tmp_path):
    result = load_agreement_file(write(tmp_path, MINIMAL))

    calm = Commitment.objects.get(key="calm")
    assert result.created["commitment"] == 2
    assert (calm.anchor, calm.anchor_commitment.key) == ("commitment", "talks")


@pytest.mark.django_db
@pytest.mark.parametrize(("edits", "field", "message", "needle"), [case[1:] for case in BAD], ids=[c[0] for c in BAD])
def test_a_bad_file_names_file_line_and_field_and_writes_nothing(tmp_path, edits, field, message, needle):
    text = MINIMAL
    for old, new in edits.items():
        assert old in text
        text = text.replace(old, new, 1)
    path = write(tmp_path, text)
    counts = row_counts()

    with pytest.raises(AgreementFileError) as raised:
        load_agreement_file(path)

    # Some mistakes cause a second problem (a party renamed away is no longer
    # there to owe anything): the one under test is the one in this field.
    problem = next(p for p in raised.value.errors if p.field == field)
    assert (problem.path, problem.line) == (str(path), line_of(text, needle.rstrip("\n")))
    assert message in problem.message
    assert str(problem).startswith(f"{path}, line {problem.line}, {field}: ")
    assert row_counts() == counts


@pytest.mark.django_db
def test_commitments_counting_from_each_other_in_a_loop_are_reported_once(tmp_path):
    text = MINIMAL.replace("kind: ceiling", "kind: deadline").replace(
        "window: {from: talks, starts: 0}", "window: {from: talks, due: 5}"
    )
    text = text.replace("window: {from: signing, due: 10}", "window: {from: calm, due: 10}")

    with pytest.raises(AgreementFileError) as raised:
        load_agreement_file(write(tmp_path, text))

    [problem] = raised.value.errors
    assert problem.field == "commitments[0].window.from"
    assert problem.message == "commitments count from each other in a loop: talks → calm → talks"
    assert row_counts() == (0, 0, 0, 0)


@pytest.mark.django_db
def test_every_problem_in_a_file_is_reported_at_once_in_file_order(tmp_path):
    text = (
        MINIMAL.replace("time_zone: Asia/Kabul", "time_zone: Mars/Olympus")
        .replace("due: 10}", "due: 1.5}")
        .replace("owed_by: [north, south]", "owed_by: [north, east]")
    )

    with pytest.raises(AgreementFileError) as raised:
        load_agreement_file(write(tmp_path, text))

    assert [p.field for p in raised.value.errors] == [
        "agreement.time_zone",
        "commitments[0].window.due",
        "commitments[1].owed_by[1]",
    ]
    assert str(raised.value).count(str(tmp_path)) == 3


@pytest.mark.django_db
def test_a_yaml_syntax_error_names_its_line(tmp_path):
    text = MINIMAL.replace("    title: Talks begin", "    title: Talks: begin [at once")
    path = write(tmp_path, text)

    with pytest.raises(AgreementFileError) as raised:
        load_agreement_file(path)

    [problem] = raised.value.errors
    assert problem.line == line_of(text, "Talks: begin")
    assert str(problem).startswith(f"{path}, line {problem.line}, not valid YAML: ")


@pytest.mark.django_db
def test_a_name_already_belonging_to_another_party_in_the_database_is_refused(tmp_path):
    nato = Party.objects.create(slug="nato", name="NATO")
    PartyName.objects.create(party=nato, name="Northern Front Fighters")
    counts = row_counts()

    with pytest.raises(AgreementFileError) as raised:
        load_agreement_file(write(tmp_path, MINIMAL))

    [problem] = raised.value.errors
    assert problem.field == "parties[0].names[1]"
    assert "already names party 'nato' in the database" in problem.message
    assert row_counts() == counts


@pytest.mark.django_db
def test_a_failure_part_way_through_writing_leaves_nothing_behind(tmp_path, monkeypatch):
    def fail(*args):
        raise RuntimeError("database went away")

    # Parties and the agreement are written before the commitments.
    monkeypatch.setattr(agreement_file._Writer, "write_commitments", fail)

    with pytest.raises(RuntimeError):
        load_agreement_file(write(tmp_path, MINIMAL))

    assert row_counts() == (0, 0, 0, 0)


# --- the command ------------------------------------------------------------


@pytest.mark.django_db
def test_the_command_says_what_it_created_and_then_that_nothing_changed():
    out = StringIO()
    call_command("load_agreement", str(SEED), stdout=out)
    call_command("load_agreement", str(SEED), stdout=out)

    first, second = out.getvalue().splitlines()
    assert first == f"{SEED}: created 1 agreement, 2 parties, 1 non-party actor, 11 party names, 7 commitments"
    assert second == f"{SEED}: no changes"


@pytest.mark.django_db
def test_the_command_dry_run_reports_changes_and_writes_nothing():
    out = StringIO()
    call_command("load_agreement", str(SEED), dry_run=True, stdout=out)

    assert "would be created 1 agreement" in out.getvalue()
    assert row_counts() == (0, 0, 0, 0)


@pytest.mark.django_db
def test_the_command_warns_about_commitments_left_out_of_the_file(tmp_path):
    call_command("load_agreement", str(SEED), stdout=StringIO())
    text = SEED.read_text(encoding="utf-8")
    err = StringIO()

    call_command(
        "load_agreement", str(write(tmp_path, text[: text.index("  # Discussed")])), stdout=StringIO(), stderr=err
    )

    assert "warning: commitment ceasefire is in the database but not in this file" in err.getvalue()


@pytest.mark.django_db(transaction=True)
def test_the_command_on_a_bad_file_prints_every_problem_exits_non_zero_and_loads_no_file(tmp_path, capsys):
    # Run as from a shell: the exit status is what scripts and CI see.
    good = tmp_path / "good.yaml"
    shutil.copy(SEED, good)
    bad = write(tmp_path, MINIMAL.replace("due: 10}", "due: ten}").replace("kind: ceiling", "kind: cap"), "bad.yaml")

    with pytest.raises(SystemExit) as exit_:
        execute_from_command_line(["manage.py", "load_agreement", str(good), str(bad)])

    assert exit_.value.code != 0
    err = capsys.readouterr().err
    assert (
        f"{bad}, line {line_of(bad.read_text(), 'due: ten')}, commitments[0].window.due: must be a whole number" in err
    )
    assert f"{bad}, line {line_of(bad.read_text(), 'kind: cap')}, commitments[1].kind: must be one of" in err
    assert "2 problems in 1 file; nothing was loaded." in err
    # The good file came first and was fine, but a run loads all its files or none.
    assert row_counts() == (0, 0, 0, 0)


@pytest.mark.django_db
def test_the_command_raises_command_error_for_a_missing_file(tmp_path):
    err = StringIO()
    with pytest.raises(CommandError, match="1 problem in 1 file"):
        call_command("load_agreement", str(tmp_path / "nowhere.yaml"), stderr=err)

    assert "nowhere.yaml, cannot be read" in err.getvalue()


# --- parties shared between agreements ---------------------------------------------------------

SECOND = MINIMAL.replace("slug: test-accord", "slug: second-accord").replace(
    "  - slug: north\n    name: Northern Front\n    names: [North, Northern Front Fighters]",
    "  - slug: north\n    name: Northern Front\n  - slug: united-states\n    name: United States of America",
)


@pytest.mark.django_db
def test_a_file_that_would_rename_a_party_another_agreement_shares_is_refused_naming_the_line(tmp_path):
    load_agreement_file(SEED)
    path = write(tmp_path, SECOND)

    with pytest.raises(AgreementFileError) as refused:
        load_agreement_file(path)

    [problem] = refused.value.errors
    assert problem.line == line_of(SECOND, "name: United States of America")
    assert problem.field == "parties[1].name"
    assert "shared with us-taliban-2020" in problem.message and "--rename-parties" in problem.message
    assert Party.objects.get(slug="united-states").name == "United States"
    assert not Agreement.objects.filter(slug="second-accord").exists()


@pytest.mark.django_db
def test_rename_parties_renames_a_shared_party_for_every_agreement(tmp_path):
    load_agreement_file(SEED)
    out = StringIO()
    call_command("load_agreement", str(write(tmp_path, SECOND)), "--rename-parties", stdout=out)

    assert Party.objects.get(slug="united-states").name == "United States of America"
    assert Agreement.objects.get(slug="us-taliban-2020").parties.filter(name="United States of America").exists()


@pytest.mark.django_db
def test_a_file_may_rename_a_party_no_other_agreement_shares(tmp_path):
    load_agreement_file(write(tmp_path, MINIMAL))
    load_agreement_file(write(tmp_path, MINIMAL.replace("name: Southern Army", "name: Southern Armed Forces")))
    assert Party.objects.get(slug="south").name == "Southern Armed Forces"
