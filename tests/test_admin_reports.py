"""Reviewing reports in the admin: grouping, exports as published, the audit trail and how a report arrived."""

import csv
import io
import json
from datetime import UTC, date, datetime

import pytest
from django.db import connection
from django.urls import reverse

from monitor.accounts.roles import ANALYST, MONITOR, VIEWER, grant_role
from monitor.alerts import triggers
from monitor.evidence import models as ev
from tests.factories import AgreementFactory, CommitmentFactory, ReportFactory, SourceFactory, UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:evidence_report_changelist")


def act(client, action, reports, **extra):
    return client.post(CHANGELIST, {"action": action, "_selected_action": [r.pk for r in reports], "index": 0,
                                    **extra})


def body(response):
    return b"".join(response.streaming_content).decode()


@pytest.fixture
def reevaluated(monkeypatch):
    calls = []
    monkeypatch.setattr(triggers, "reports_changed",
                        lambda ids: calls.append((sorted(ids), connection.in_atomic_block)))
    return calls


def test_grouping_reports_as_one_event_merges_the_events_they_were_in(client, reevaluated):
    monitor = grant_role(UserFactory(), MONITOR)
    client.force_login(monitor)
    a = ReportFactory(summary="Clash in Kunduz (wire)", occurred_at=datetime(2020, 3, 5, tzinfo=UTC))
    b, c = ReportFactory(summary="Clash in Kunduz (TV)"), ReportFactory(summary="Clash in Kunduz (radio)")
    old = ev.EventGroup.objects.create(label="earlier grouping")
    ev.Report.objects.filter(pk__in=[b.pk, c.pk]).update(event=old)
    response = act(client, "group_as_event", [a, b])
    assert response.status_code == 302
    event = ev.EventGroup.objects.get()
    assert event.label == "Clash in Kunduz (wire)"
    assert set(event.reports.values_list("pk", flat=True)) == {a.pk, b.pk, c.pk}  # c came with b's event
    grouped = a.history.get(history_type="~")
    assert (grouped.history_change_reason, grouped.history_user) == ("Grouped as one event", monitor)
    assert reevaluated == [(sorted([a.pk, b.pk, c.pk]), True)]


def test_verifying_hands_the_reports_to_reevaluation_inside_the_transaction(client, reevaluated):
    client.force_login(grant_role(UserFactory(), ANALYST))
    report = ReportFactory(entered_by=UserFactory())
    act(client, "verify_reports", [report], confirm="yes", method=ev.SITE_VISIT)
    assert reevaluated == [([report.pk], True)]


@pytest.fixture
def mixed_reports():
    wire = SourceFactory(name="Wire", may_republish=True)
    acled = SourceFactory(name="ACLED", may_republish=False, reliability="B")
    return {
        "public": ReportFactory(summary="=HYPERLINK(\"http://evil.example\",\"click\")", source=wire,
                                source_ref="w-1", location="+Kabul", value=-3.5),
        "internal": ReportFactory(summary="Staff note", source=wire, visibility=ev.INTERNAL),
        "restricted": ReportFactory(summary="Analysts only", source=wire, visibility=ev.RESTRICTED),
        "licensed": ReportFactory(summary="ACLED row", source=acled, source_ref="AFG1"),
    }


def test_a_csv_export_holds_only_what_may_be_published_and_neutralises_formulas(client, mixed_reports):
    client.force_login(grant_role(UserFactory(), ANALYST))
    response = act(client, "export_csv", list(mixed_reports.values()))
    assert response["Content-Disposition"].startswith('attachment; filename="reports-')
    rows = list(csv.DictReader(io.StringIO(body(response))))
    assert [r["source_ref"] for r in rows] == ["w-1"]
    assert rows[0]["summary"] == "'=HYPERLINK(\"http://evil.example\",\"click\")"
    assert rows[0]["location"] == "'+Kabul"
    assert rows[0]["value"] == "-3.5"  # a number stays a number
    assert rows[0]["grade"] == "B2" and rows[0]["verification"] == "claimed"
    notice = client.get(CHANGELIST).content.decode()
    assert ("Exported as published: 1 reports left out because their source&#x27;s licence forbids "
            "republishing rows, 2 because they are not public.") in notice


def test_a_json_export_says_what_it_withheld(client, mixed_reports):
    client.force_login(grant_role(UserFactory(), VIEWER))  # reading is enough to export what is public
    response = act(client, "export_json", list(mixed_reports.values()))
    document = json.loads(body(response))
    assert document["format"] == 1
    assert document["withheld"] == {"licence": 1, "visibility": 1}  # a viewer never had the restricted one
    assert [r["source_ref"] for r in document["reports"]] == ["w-1"]
    assert document["reports"][0]["summary"].startswith("=HYPERLINK")  # JSON is data, not a spreadsheet


@pytest.mark.parametrize("action, name", [("export_csv", "export.csv"), ("export_json", "export.json")])
def test_an_export_imports_again_as_the_same_reports(client, mixed_reports, tmp_path, action, name):
    from django.core.management import call_command

    client.force_login(grant_role(UserFactory(), ANALYST))
    path = tmp_path / name
    path.write_text(body(act(client, action, [mixed_reports["public"]])), encoding="utf-8")
    out = io.StringIO()
    call_command("import_reports", str(path), "--format", "native", stdout=out, stderr=io.StringIO())
    # Nothing changes: in CSV, the apostrophe that neutralised the formula is undone on the way in.
    assert "1 rows: 0 new, 0 updated, 1 unchanged" in out.getvalue()


KEPT = {
    "original_text": "مذاکرات در دوحه آغاز شد", "original_language": "prs", "translation": ev.MACHINE_TRANSLATION,
    "credibility_graded": False, "interaction": "12", "original_source": "Pajhwok; TOLOnews",
    "source_scale": "National", "latitude": 36.7281, "longitude": -68.868, "geo_precision": 2,
}
CLEARED = {"original_text": "", "original_language": "", "translation": "", "credibility_graded": True,
           "interaction": "", "original_source": "", "source_scale": "", "latitude": None, "longitude": None,
           "geo_precision": None}


@pytest.mark.parametrize("action, name", [("export_csv", "export.csv"), ("export_json", "export.json")])
def test_an_export_carries_the_original_words_the_grade_kind_and_acleds_own_fields_and_imports_them_back(
        client, tmp_path, action, name):
    from django.core.management import call_command

    report = ReportFactory(summary="Talks opened in Doha.", source=SourceFactory(name="Wire", may_republish=True),
                           source_ref="w-9", **KEPT)
    client.force_login(grant_role(UserFactory(), ANALYST))
    exported = body(act(client, action, [report]))
    rows = json.loads(exported)["reports"] if action == "export_json" else list(csv.DictReader(io.StringIO(exported)))
    row = rows[0]
    written = {k: row[k] for k in KEPT}
    if action == "export_csv":
        assert written == {k: ("false" if v is False else str(v)) for k, v in KEPT.items()}
    else:
        assert written == KEPT
    (tmp_path / name).write_text(exported, encoding="utf-8")
    ev.Report.objects.filter(pk=report.pk).update(**CLEARED)  # as if lost: the file brings them back
    out = io.StringIO()
    call_command("import_reports", str(tmp_path / name), "--format", "native", stdout=out, stderr=io.StringIO())
    assert "1 rows: 0 new, 1 updated, 0 unchanged" in out.getvalue()
    report.refresh_from_db()
    assert {k: getattr(report, k) for k in KEPT} == KEPT


def test_verdict_exports_list_only_public_evidence_and_withhold_unpublished_provisional_verdicts(client):
    client.force_login(grant_role(UserFactory(), VIEWER))
    published = AgreementFactory(slug="published", signed_on=date(2020, 2, 29), publish_computed_verdicts=True)
    unpublished = AgreementFactory(slug="unpublished", signed_on=date(2020, 2, 29))
    talks = CommitmentFactory(agreement=published, key="talks", rule={"categories": ["talks"], "attribution": "any"})
    quiet = CommitmentFactory(agreement=unpublished, key="talks", rule={"categories": ["talks"],
                                                                       "attribution": "any"})
    internal = ReportFactory(category="talks", visibility=ev.INTERNAL, occurred_at=datetime(2020, 3, 3, tzinfo=UTC))
    url = reverse("admin:terms_commitment_changelist")
    data = {"_selected_action": [talks.pk, quiet.pk], "index": 0}
    rows = list(csv.DictReader(io.StringIO(body(client.post(url, {**data, "action": "export_verdicts_csv"})))))
    by_agreement = {r["agreement"]: r for r in rows}
    assert by_agreement["published"]["status"] == "met" and by_agreement["published"]["evidence"] == ""
    assert "not public" in by_agreement["published"]["sentence"]
    assert by_agreement["unpublished"]["status"] == "" and by_agreement["unpublished"]["shown"] == "False"
    document = json.loads(body(client.post(url, {**data, "action": "export_verdicts_json"})))
    assert {c["agreement"]: c["evidence"] for c in document["commitments"]} == {"published": [], "unpublished": []}
    assert internal.pk


def test_every_change_to_a_report_is_in_its_history_with_who_and_when(client):
    monitor = grant_role(UserFactory(username="farida"), MONITOR)
    client.force_login(monitor)
    report = ReportFactory(summary="Clash reported", source=SourceFactory(name="Wire"))
    url = reverse("admin:evidence_report_change", args=[report.pk])
    form = client.get(url).context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    for name in ("occurred_at",):
        value = data.pop(name)
        data[f"{name}_0"], data[f"{name}_1"] = value.date().isoformat(), value.time().isoformat()
    data.update({"summary": "Clash reported in Kunduz", "verification_changes-TOTAL_FORMS": "0",
                 "verification_changes-INITIAL_FORMS": "0"})
    assert client.post(url, data).status_code == 302
    page = client.get(reverse("admin:evidence_report_history", args=[report.pk])).content.decode()
    assert "farida" in page and "Clash reported in Kunduz" in page
    assert [h.history_type for h in report.history.order_by("history_date")] == ["+", "~"]


def test_a_reports_page_says_how_it_arrived(client, tmp_path):
    client.force_login(grant_role(UserFactory(), VIEWER))
    job = ev.ImportJob.objects.create(file_name="acled-march.csv", format=ev.ACLED)
    report = ReportFactory(arrived_via=ev.ARRIVED_IMPORT, import_job=job, import_file="acled-march.csv",
                           import_line=42)
    page = client.get(reverse("admin:evidence_report_change", args=[report.pk])).content.decode()
    assert "Imported from a file" in page and "acled-march.csv" in page and "42" in page
