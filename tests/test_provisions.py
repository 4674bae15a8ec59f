"""The agreement's text in the agreement file: every provision accounted for, and what a bad text tells its author."""

from pathlib import Path

import pytest

from terms import provisions as P
from terms.agreement_file import AgreementFileError, load_agreement_file
from terms.models import Agreement, Commitment, Provision

pytestmark = pytest.mark.django_db

SIGNED = Path(__file__).resolve().parent.parent / "agreements" / "us-taliban-2020-signed.yaml"
REPORTED = Path(__file__).resolve().parent.parent / "agreements" / "us-taliban-2020.yaml"

# A small valid file with a text; each bad-text case breaks it in one place.
ACCORD = """\
format: 1
agreement:
  slug: text-accord
  title: Text accord
  time_zone: Asia/Kabul
parties:
  - slug: north
    name: Northern Front
provisions:
  - number: Article 1
    status: monitored
    category: security
    wording: The Northern Front shall withdraw its forces within ten days.
  - number: Article 2
    status: not_monitorable
    reason: aspirational
    category: political
    summary: The parties hope for lasting friendship.
    quote: lasting friendship
    source: The mediator's copy
  - number: Article 3
    status: not_yet_modelled
    category: justice
    summary: Prisoners are exchanged.
    source: The mediator's copy
commitments:
  - key: withdraw
    title: Forces withdrawn within ten days
    owed_by: [north]
    provisions: [article-1]
    basis: {kind: official_text, by: Article 1}
    kind: deadline
    rule: {categories: [withdrawal]}
    window: {from: signing, due: 10}
"""


def write(tmp_path, text):
    path = tmp_path / "accord.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text, needle, last=False):
    lines = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    return lines[-1] if last else lines[0]


def refused(tmp_path, old, new):
    """Load ACCORD with one edit; the single problem it raises, after checking nothing was written."""
    assert old in ACCORD
    text = ACCORD.replace(old, new, 1)
    with pytest.raises(AgreementFileError) as e:
        load_agreement_file(write(tmp_path, text))
    assert not Agreement.objects.exists() and not Provision.objects.exists() and not Commitment.objects.exists()
    return text, e.value.errors


def test_a_text_loads_with_its_numbers_classes_and_citations(tmp_path):
    agreement = load_agreement_file(write(tmp_path, ACCORD)).agreement
    provisions = list(agreement.provisions.order_by("position"))
    assert [(p.ref, p.number, p.status, p.reason, p.category) for p in provisions] == [
        ("article-1", "Article 1", "monitored", "", "security"),
        ("article-2", "Article 2", "not_monitorable", "aspirational", "political"),
        ("article-3", "Article 3", "not_yet_modelled", "", "justice"),
    ]
    assert [p.ref for p in Commitment.objects.get(key="withdraw").provisions.all()] == ["article-1"]
    assert str(P.Counts.of(agreement)) == "1 of 3 provisions monitored, 1 not monitorable, 1 not yet modelled"


def test_a_commitment_may_cite_a_provision_by_its_number_as_written(tmp_path):
    load_agreement_file(write(tmp_path, ACCORD.replace("provisions: [article-1]", 'provisions: ["Article 1"]')))
    assert [p.ref for p in Commitment.objects.get(key="withdraw").provisions.all()] == ["article-1"]


def test_a_provision_numbered_twice_is_refused_naming_both_lines(tmp_path):
    text, errors = refused(tmp_path, "  - number: Article 3", "  - number: Article 2")
    second = line_of(text, "number: Article 2", last=True)
    assert [(e.line, e.field) for e in errors] == [(second, "provisions[2].number")]
    assert f"'Article 2' is already used at line {line_of(text, 'number: Article 2')}" in errors[0].message


def test_two_numbers_that_make_the_same_reference_are_refused(tmp_path):
    text, errors = refused(tmp_path, "  - number: Article 3", "  - number: article 1")
    assert [e.field for e in errors] == ["provisions[2].number"]
    assert "gives the same reference 'article-1' as 'Article 1'" in errors[0].message


def test_a_citation_of_a_provision_that_does_not_exist_is_refused(tmp_path):
    text, errors = refused(tmp_path, "provisions: [article-1]", "provisions: [article-1, article-9]")
    assert [(e.line, e.field) for e in errors] == [(line_of(text, "article-9"), "commitments[0].provisions[1]")]
    assert "'article-9' is not a provision of this file's text" in errors[0].message
    assert str(errors[0]).startswith(f"{tmp_path / 'accord.yaml'}, line {errors[0].line}, commitments[0].provisions[1]")


def test_a_monitored_provision_no_commitment_cites_is_refused(tmp_path):
    text, errors = refused(tmp_path, "    status: not_yet_modelled", "    status: monitored")
    status = line_of(text, "status: monitored", last=True)
    assert [(e.line, e.field) for e in errors] == [(status, "provisions[2].status")]
    assert "'Article 3' is classified monitored, but no tracked commitment cites it" in errors[0].message


def test_a_commitment_citing_a_provision_not_monitored_is_refused(tmp_path):
    text, errors = refused(tmp_path, "provisions: [article-1]", "provisions: [article-1, article-2]")
    assert [e.field for e in errors] == ["commitments[0].provisions[1]"]
    assert "'Article 2' is classified not_monitorable" in errors[0].message
    assert "may cite only a monitored provision" in errors[0].message


def test_a_provision_left_unclassified_is_refused_when_the_text_is_present(tmp_path):
    text, errors = refused(tmp_path, "    status: not_yet_modelled\n", "")
    assert [(e.line, e.field) for e in errors] == [(line_of(text, "number: Article 3"), "provisions[2].status")]
    assert "is required: classify every provision" in errors[0].message


def test_a_provision_not_monitorable_must_say_why(tmp_path):
    _text, errors = refused(tmp_path, "    reason: aspirational\n", "")
    assert [e.field for e in errors] == ["provisions[1].reason"]
    assert "is required for a provision that is not monitorable" in errors[0].message


def test_a_summary_must_name_its_source(tmp_path):
    _text, errors = refused(tmp_path, "    source: The mediator's copy\ncommitments:", "commitments:")
    assert [e.field for e in errors] == ["provisions[2].source"]


def test_a_tracked_commitment_must_cite_when_the_text_is_present(tmp_path):
    _text, errors = refused(tmp_path, "    provisions: [article-1]\n", "")
    # The commitment cites nothing, so the monitored provision is uncited too: both are said.
    assert sorted(e.field for e in errors) == ["commitments[0].provisions", "provisions[0].status"]


def test_a_file_without_a_text_loads_and_may_not_cite(tmp_path):
    without = ACCORD.split("provisions:\n", 1)[0] + "commitments:" + ACCORD.split("commitments:", 1)[1]
    with pytest.raises(AgreementFileError) as e:
        load_agreement_file(write(tmp_path, without))
    assert [p.field for p in e.value.errors] == ["commitments[0].provisions[0]"]
    assert "this file has no `provisions` section" in e.value.errors[0].message
    load_agreement_file(write(tmp_path, without.replace("    provisions: [article-1]\n", "")))
    assert Agreement.objects.get().provisions.count() == 0


def test_reloading_keeps_the_text_in_sync(tmp_path):
    path = write(tmp_path, ACCORD)
    load_agreement_file(path)
    assert not load_agreement_file(path).changed  # the same file twice changes nothing
    edited = (
        ACCORD.replace("The parties hope for lasting friendship.", "The parties hope for peace.")
        .replace(
            "  - number: Article 3\n    status: not_yet_modelled\n    category: justice\n"
            "    summary: Prisoners are exchanged.\n    source: The mediator's copy\n",
            "  - number: Article 4\n    status: monitored\n    wording: Talks begin.\n",
        )
        .replace("provisions: [article-1]", "provisions: [article-4]")
        .replace("  - number: Article 1\n    status: monitored", "  - number: Article 1\n    status: not_yet_modelled")
    )
    result = load_agreement_file(write(tmp_path, edited))
    agreement = Agreement.objects.get()
    assert [(p.ref, p.status) for p in agreement.provisions.order_by("position")] == [
        ("article-1", "not_yet_modelled"), ("article-2", "not_monitorable"), ("article-4", "monitored"),
    ]
    assert agreement.provisions.get(ref="article-2").summary == "The parties hope for peace."
    assert [p.ref for p in Commitment.objects.get(key="withdraw").provisions.all()] == ["article-4"]
    assert any("article-3" in c and "deleted" in c for c in result.changes)


def test_the_signed_doha_text_loads_with_every_provision_classified():
    agreement = load_agreement_file(SIGNED).agreement
    provisions = list(agreement.provisions.order_by("position"))
    assert all(p.status in dict(P.STATUSES) for p in provisions)
    assert all(p.reason for p in provisions if p.status == P.NOT_MONITORABLE)
    assert all(p.category in P.CATEGORY_LABELS for p in provisions)
    refs = [p.ref for p in provisions]
    for ref in ("part-one-a", "part-one-a-1", "part-one-a-2", "part-one-b", "part-one-b-1", "part-one-b-2",
                "part-one-c", "part-one-d", "part-one-e", "part-two-1", "part-two-5", "part-three-1", "part-three-3"):
        assert ref in refs
    assert str(P.Counts.of(agreement)) == "13 of 24 provisions monitored, 7 not monitorable, 4 not yet modelled"
    # Every commitment cites what it monitors, and every monitored provision is cited.
    for commitment in agreement.commitments.all():
        assert commitment.provisions.exists(), commitment.key
    assert {c.key for c in agreement.provisions.get(ref="part-two-3").commitments.all()} == {
        "no-recruiting-training-fundraising", "no-hosting"
    }
    # Every summary names its source, and no provision both summarises and claims official wording.
    assert all(p.source for p in provisions if not p.wording)


def test_the_reported_terms_carry_no_text_and_still_load():
    agreement = load_agreement_file(REPORTED).agreement
    assert agreement.provisions.count() == 0
    assert not P.Counts.of(agreement)


def test_the_admin_shows_the_provisions_with_their_class_on_the_agreement_and_in_their_own_list(admin_client):
    agreement = load_agreement_file(SIGNED).agreement
    page = admin_client.get(f"/admin/terms/agreement/{agreement.pk}/change/").content.decode()
    assert 'name="provisions-TOTAL_FORMS" value="24"' in page
    assert 'name="provisions-0-status"' in page and 'name="provisions-0-reason"' in page
    listing = admin_client.get("/admin/terms/provision/", {"status__exact": "not_yet_modelled"}).content.decode()
    assert "Part One, B.2" in listing and "Part One, A.1" not in listing
    provision = agreement.provisions.get(ref="part-three-2")
    form = admin_client.get(f"/admin/terms/provision/{provision.pk}/change/").content.decode()
    assert "seek positive relations with each other" in form
