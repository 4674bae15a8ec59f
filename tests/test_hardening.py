"""What an attacker's or a careless client's input gets: a clear 400, never a 500 (issue 11, finding 7).

And the headers every answer carries: a Content-Security-Policy that allows no inline script, and
on authenticated API answers, no caching by anyone between the server and the client.
"""

import json
import os
import re
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from monitor.evidence.models import Report
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
SLUG = "us-taliban-2020"


@pytest.fixture
def agreement():
    call_command("load_agreement", "agreements/us-taliban-2020.yaml", stdout=StringIO())
    call_command("load_demo", stdout=StringIO())


@pytest.fixture
def monitor_api():
    user = UserFactory(username="field-monitor", is_staff=False)
    user.user_permissions.add(Permission.objects.get(codename="add_report", content_type__app_label="evidence"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def a_report(**fields):
    return {
        "summary": "Talks open in Doha.", "category": "intra_afghan_talks_started",
        "occurred_at": "2020-09-12T08:00:00Z", "source": "Wire service (demo)",
        "source_ref": "wire-2020-09-12", "credibility": 2, **fields,
    }


# --- NUL bytes and lone surrogates ---------------------------------------------------------------


@pytest.mark.parametrize("bad", ["\x00", "\ud800", "Talks\udfffopen"], ids=["nul", "high-surrogate", "low-surrogate"])
def test_a_posted_report_with_a_nul_byte_or_a_lone_surrogate_is_a_400_naming_the_field(agreement, monitor_api, bad):
    # json.dumps writes \u0000 and \ud800 as escapes: what a client's JSON library sends.
    body = json.dumps(a_report(summary=f"Talks {bad} open"))
    response = monitor_api.generic("POST", reverse("api:report-list"), body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert "summary" in response.json()
    assert not Report.objects.filter(source_ref="wire-2020-09-12").exists()


@pytest.mark.parametrize("bad", ["%00", "%ED%A0%80"], ids=["nul", "surrogate-bytes"])
@pytest.mark.parametrize("url", [
    "/", f"/agreements/{SLUG}/", f"/agreements/{SLUG}/commitments/talks-begin/", f"/agreements/{SLUG}/feed/",
    "/api/agreements/", "/api/reports/",
])
def test_a_nul_byte_in_a_query_parameter_is_a_400_on_pages_and_api(client, agreement, url, bad):
    response = client.get(f"{url}?as_of=2020-06-01{bad}&q=a{bad}b")
    assert response.status_code == 400


@pytest.mark.parametrize("path", ["/agreements/us%00taliban/", "/api/agreements/a%00b/", "/alerts/x%00y/"])
def test_a_nul_byte_in_the_path_is_a_client_error_not_a_500(client, agreement, path):
    assert client.get(path).status_code in (400, 404)


# --- oversized JSON ------------------------------------------------------------------------------


def test_an_oversized_json_body_is_a_json_400_with_a_message(agreement, monitor_api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = json.dumps(a_report(summary="x" * 20_000))
    response = monitor_api.generic("POST", reverse("api:report-list"), body, content_type="application/json")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert "10000 bytes" in response.json()["detail"] or "10,000 bytes" in response.json()["detail"]
    assert not Report.objects.filter(source_ref="wire-2020-09-12").exists()


def test_a_json_body_just_under_the_limit_is_read(agreement, monitor_api, settings):
    body = json.dumps(a_report(summary="Talks open. " * 10))
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = len(body.encode())
    response = monitor_api.generic("POST", reverse("api:report-list"), body, content_type="application/json")
    assert response.status_code == 201, response.content


# --- caching of authenticated API answers ---------------------------------------------------------


def test_authenticated_api_answers_are_private_and_never_stored(agreement, monitor_api):
    response = monitor_api.get(reverse("api:report-list"))
    assert response.status_code == 200
    cache_control = {p.strip() for p in response["Cache-Control"].split(",")}
    assert {"private", "no-store"} <= cache_control
    vary = {v.strip().lower() for v in response["Vary"].split(",")}
    assert {"authorization", "cookie"} <= vary


def test_anonymous_api_answers_still_vary_on_credentials(client, agreement):
    response = client.get(reverse("api:report-list"))
    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")
    assert {"authorization", "cookie"} <= {v.strip().lower() for v in response["Vary"].split(",")}


# --- Content-Security-Policy ---------------------------------------------------------------------

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)


@pytest.mark.parametrize("url", [
    "/", f"/agreements/{SLUG}/", f"/agreements/{SLUG}/commitments/talks-begin/", "/admin/login/",
    "/api/agreements/", f"/alerts/subscribe/{SLUG}/", "/alerts/unsubscribe/not-a-token/",
])
def test_every_page_sends_a_policy_that_forbids_inline_script_and_has_none(client, agreement, url):
    response = client.get(url, HTTP_ACCEPT="text/html")
    assert response.status_code in (200, 404, 405), (url, response.status_code)
    policy = dict(
        (d.strip().split(" ", 1) + [""])[:2] for d in response["Content-Security-Policy"].split(";") if d.strip()
    )
    assert policy["default-src"] == "'self'"
    assert "'unsafe-inline'" not in policy.get("script-src", policy["default-src"])
    assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'"
    html = response.content.decode()
    assert not INLINE_SCRIPT.search(html), INLINE_SCRIPT.search(html)
    assert not INLINE_HANDLER.search(html)


def test_the_admin_pages_a_staff_user_works_in_carry_the_policy_too(admin_client, agreement):
    for url in ["/admin/", "/admin/evidence/report/", "/admin/evidence/report/add/"]:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert "script-src 'self'" in response["Content-Security-Policy"]
        assert not INLINE_SCRIPT.search(response.content.decode()), url


# --- the development secret key -------------------------------------------------------------------


def _secret_key(env):
    done = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.SECRET_KEY)"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_debug_without_a_secret_key_uses_a_key_generated_for_this_checkout_never_a_constant(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env.update(DJANGO_SETTINGS_MODULE="monitor.settings", DEBUG="1", MONITOR_DEV_SECRET_KEY_FILE=str(tmp_path / "key"))
    first = _secret_key(env)
    assert _secret_key(env) == first  # kept: sessions survive a restart of the quick start
    assert len(first) >= 50 and first == (tmp_path / "key").read_text().strip()
    env["MONITOR_DEV_SECRET_KEY_FILE"] = str(tmp_path / "other-checkout")
    assert _secret_key(env) != first
    assert first not in (ROOT / "monitor" / "settings.py").read_text()
    assert (tmp_path / "key").stat().st_mode & 0o077 == 0  # readable by its owner only


# --- the browsable API ----------------------------------------------------------------------------


@pytest.mark.parametrize("url", [
    "/api/", "/api/agreements/", f"/api/agreements/{SLUG}/", f"/api/agreements/{SLUG}/commitments/",
    f"/api/agreements/{SLUG}/commitments/talks-begin/", f"/api/agreements/{SLUG}/commitments/talks-begin/reports/",
    "/api/reports/", "/api/status-changes/",
])
def test_every_api_endpoint_renders_in_the_browsable_api(client, admin_client, agreement, url):
    for who in (client, admin_client):  # staff see the forms too
        response = who.get(url, HTTP_ACCEPT="text/html")
        assert response.status_code == 200, (url, response.status_code)
        assert response["Content-Type"].startswith("text/html")
