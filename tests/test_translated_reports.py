"""A report keeps the source's original-language text beside its summary, and the summary says when it is a
translation, and whose (issue 14): "Machine-translated from Pashto" on the page, the fields in the admin, the
API and the report format."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from monitor.accounts.roles import MONITOR, grant_role
from monitor.evidence import models as ev
from tests.factories import ReportFactory, SourceFactory, UserFactory
from tests.test_api import token_client
from tests.test_import_native import run, write
from tests.test_pages import text
from tests.test_report_attachments import talks  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db

PASHTO = "د دوحې خبرې پیل شوې."


def evidence(client):
    with time_machine.travel(timezone.now() + timedelta(minutes=1)):
        markup = client.get(reverse("pages:commitment", kwargs={"agreement": "accord", "key": "talks"})).content.decode()
    return markup[markup.index('id="evidence"'):]


def test_a_machine_translated_summary_is_marked_on_the_page_with_the_original_beside_it(client, talks):  # noqa: F811
    ReportFactory(summary="Talks in Doha have begun.", original_text=PASHTO, original_language="ps",
                  translation=ev.MACHINE_TRANSLATION, source=SourceFactory(name="Pajhwok", reliability="B"))
    markup = evidence(client)
    shown = text(markup)
    assert "Talks in Doha have begun. Machine-translated from Pashto. The original (Pashto) " + PASHTO in shown
    assert f'<p lang="ps" dir="auto">{PASHTO}</p>' in markup


def test_a_translation_by_a_person_says_so_and_a_region_subtag_is_named_by_its_language(client, talks):  # noqa: F811
    ReportFactory(summary="Talks in Doha have begun.", original_text="مذاکرات آغاز شد.", original_language="fa-AF",
                  translation=ev.HUMAN_TRANSLATION, source=SourceFactory(name="Tolo", reliability="B"))
    shown = text(evidence(client))
    assert "Translated from Persian." in shown and "Machine-translated" not in shown


def test_a_summary_in_the_sources_own_words_says_nothing_of_translation(client, talks):  # noqa: F811
    ReportFactory(summary="Talks in Doha have begun.", source=SourceFactory(name="Wire", reliability="B"))
    assert "ranslated" not in text(evidence(client))


def admin_add(client, **fields):
    source = SourceFactory(name="Wire")
    return client.post(reverse("admin:evidence_report_add"), {
        "summary": "Talks open in Doha.", "category": "talks_started", "stance": "affirms",
        "occurred_at_0": "2020-03-05", "occurred_at_1": "08:00:00", "precision": "day",
        "source": source.pk, "credibility": "2", "visibility": "public",
        "verification_changes-TOTAL_FORMS": "0", "verification_changes-INITIAL_FORMS": "0", **fields,
    })


def test_the_admin_takes_the_original_and_refuses_a_translation_without_its_language(client):
    client.force_login(grant_role(UserFactory(), MONITOR))
    refused = admin_add(client, translation=ev.MACHINE_TRANSLATION, original_text=PASHTO)
    assert refused.status_code == 200
    assert list(refused.context["adminform"].form.errors) == ["original_language"]
    refused = admin_add(client, translation=ev.MACHINE_TRANSLATION, original_language="Pashto!")
    assert "is not a BCP 47 language tag" in refused.context["adminform"].form.errors["original_language"][0]
    assert not ev.Report.objects.exists()
    saved = admin_add(client, translation=ev.MACHINE_TRANSLATION, original_text=PASHTO, original_language="ps")
    assert saved.status_code == 302
    report = ev.Report.objects.get()
    assert (report.original_text, report.original_language, report.translation) == (PASHTO, "ps", "machine")


def test_the_api_shows_and_takes_the_original_language(talks):  # noqa: F811
    SourceFactory(name="Wire service (demo)")
    monitor = UserFactory(username="field-monitor", is_staff=False)
    grant_role(monitor, MONITOR)
    api = token_client(monitor)
    posted = api.post(reverse("api:report-list"), {
        "summary": "Talks open in Doha.", "category": "talks_started", "occurred_at": "2020-03-05T08:00:00Z",
        "source": "Wire service (demo)", "source_ref": "w-1", "original_text": PASHTO, "original_language": "ps",
        "translation": "machine",
    }, format="json")
    assert posted.status_code == 201, posted.json()
    read = APIClient().get(reverse("api:report-detail", kwargs={"pk": posted.json()["id"]})).json()
    assert (read["original_text"], read["original_language"], read["translation"]) == (PASHTO, "ps", "machine")
    refused = api.post(reverse("api:report-list"), {
        "summary": "Talks open.", "category": "talks_started", "occurred_at": "2020-03-05T08:00:00Z",
        "source": "Wire service (demo)", "source_ref": "w-2", "translation": "machine",
    }, format="json")
    assert refused.status_code == 400 and "original_language" in refused.json()


def test_the_report_format_carries_the_original_and_names_a_bad_language_tag_by_line_and_column(tmp_path):
    SourceFactory(name="Wire service")
    good = write(tmp_path, (
        "source,source_ref,category,summary,occurred_at,original_text,original_language,translation\n"
        f"Wire service,w1,talks,Talks began.,2020-03-05,{PASHTO},ps,machine\n"
    ))
    run(good)
    report = ev.Report.objects.get()
    assert (report.original_text, report.original_language, report.translation) == (PASHTO, "ps", "machine")
    bad = write(tmp_path, (
        "source,source_ref,category,summary,occurred_at,original_language,translation\n"
        "Wire service,w2,talks,Talks began.,2020-03-05,pashto language,machine\n"
        "Wire service,w3,talks,Talks began.,2020-03-05,,human\n"
    ), name="bad.csv")
    _out, err = run(bad)
    assert "bad.csv: Line 2, column original_language: “pashto language” is not a BCP 47 language tag" in err
    assert "bad.csv: Line 3, column original_language: is required with translation or original_text" in err
    assert ev.Report.objects.count() == 1
