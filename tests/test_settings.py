import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def manage(*args, **env):
    base = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "DJANGO_SETTINGS_MODULE"}}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=120
    )


def test_production_settings_pass_the_deploy_check():
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING",
        SECRET_KEY="k" * 30 + "-Zq8vX2pL0mN4bR7tY1wE5uI9oA3sD6f", SITE_ROOT="https://monitor.example.org",
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_the_deploy_check_asks_for_the_sites_public_address():
    base = {k: v for k, v in os.environ.items() if k != "SITE_ROOT"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], cwd=ROOT,
        env={**{k: v for k, v in base.items() if k not in {"DEBUG", "DJANGO_SETTINGS_MODULE"}},
             "SECRET_KEY": "k" * 30 + "-Zq8vX2pL0mN4bR7tY1wE5uI9oA3sD6f"},
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode != 0
    assert "monitor.W001" in result.stderr and "SITE_ROOT is not set" in result.stderr


def test_refuses_to_start_without_a_secret_key_in_production():
    result = manage("check")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr
