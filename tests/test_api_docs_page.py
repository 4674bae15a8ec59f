"""The API documentation page (/api/docs/): Swagger UI from the site's own static files, linked from the API root."""

import json
import re

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_the_api_root_links_to_its_documentation_page():
    answer = APIClient().get(reverse("api:root"), HTTP_ACCEPT="application/json")
    assert answer.status_code == 200
    assert answer.json()["documentation"] == "http://testserver/api/docs/"


def test_the_browsable_api_root_shows_the_documentation_link(client):
    page = client.get(reverse("api:root"), HTTP_ACCEPT="text/html").content.decode()
    assert 'href="http://testserver/api/docs/"' in page


def test_the_site_footer_links_to_the_api_documentation(client):
    page = client.get(reverse("pages:home")).content.decode()
    assert 'href="/api/docs/"' in page


def test_the_documentation_page_loads_swagger_ui_from_this_site_and_no_inline_script(client):
    response = client.get(reverse("api:docs"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>API documentation</h1>" in html
    for name in ("swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css"):
        assert f"/static/drf_spectacular_sidecar/swagger-ui-dist/{name}" in html
        assert finders.find(f"drf_spectacular_sidecar/swagger-ui-dist/{name}"), name  # shipped, not fetched
    assert "cdn." not in html and "https://" not in html.split("<main", 1)[1]
    assert "<script>" not in html  # every script has a src: the page keeps the CSP's script-src 'self'
    assert '<script src="/api/docs/?script="></script>' in html
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_the_documentation_page_start_up_script_reads_this_sites_schema_and_asks_no_validator():
    response = APIClient().get(reverse("api:docs") + "?script")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    script = response.content.decode()
    assert 'url: "/api/schema/"' in script
    settings = json.loads(script.split("const swaggerSettings = ", 1)[1].split(";\n", 1)[0])
    # Swagger UI's default validator badge is an image from validator.swagger.io: turned off.
    assert settings["validatorUrl"] is None


def test_swagger_ui_is_served_by_the_app_itself_once_collected_with_hashed_names(client, settings, tmp_path):
    settings.STATIC_ROOT = tmp_path
    # As in production, less the compression (tests/test_pages.py does the same for the site's stylesheet).
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
    }
    call_command("collectstatic", "--noinput", verbosity=0)
    html = client.get(reverse("api:docs")).content.decode()
    hashed = r'src="(/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle\.[0-9a-f]{12}\.js)"'
    bundle = re.search(hashed, html)
    assert bundle, html
    # A new client builds a new middleware stack, so whitenoise indexes the files just collected.
    response = Client().get(bundle.group(1))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert b"SwaggerUIBundle" in b"".join(response.streaming_content)
