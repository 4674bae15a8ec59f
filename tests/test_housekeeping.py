"""Small things a new user meets first: the tab's icon, and manage.py run without the virtual environment."""

import subprocess
import sys
from pathlib import Path

from django.contrib.staticfiles import finders
from django.urls import reverse

ROOT = Path(__file__).resolve().parent.parent


def test_every_page_names_the_sites_own_icon(client, db):
    page = client.get(reverse("pages:home")).content.decode()
    assert '<link rel="icon" href="/static/pages/favicon.svg" type="image/svg+xml">' in page
    icon = Path(finders.find("pages/favicon.svg")).read_text()
    assert icon.startswith("<svg") and "<title>" in icon


def test_manage_py_outside_the_virtual_environment_prints_djangos_hint():
    # -S: no site-packages, as with a Python that has no Django installed (outside .venv).
    result = subprocess.run([sys.executable, "-S", "manage.py", "check"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "Couldn't import Django" in result.stderr
    assert "forget to activate a virtual environment?" in result.stderr
