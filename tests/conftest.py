import contextlib
import os
import signal
import subprocess
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from pytest_django.fixtures import _set_suffix_to_test_databases

from tests import isolation

ROOT = Path(__file__).resolve().parent.parent

# Hypothesis keeps no example database in the work tree (.hypothesis/): a failing example is
# printed with the failure, and the suite writes nothing it does not remove.
hypothesis_settings.register_profile("suite", database=None)
hypothesis_settings.load_profile("suite")


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    # test_<name>_<run id>: two runs at once on one PostgreSQL never share a test database.
    _set_suffix_to_test_databases(suffix=isolation.RUN_ID)


def _repo_ignored_files():
    """Ignored paths in the work tree (var/, artifacts/, .hypothesis/ …), as git lists them."""
    out = subprocess.run(
        ["git", "status", "--porcelain", "--ignored", "--untracked-files=normal"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    ).stdout
    return {
        line[3:] for line in out.splitlines()
        if line.startswith("!! ") and not line.rstrip("/").endswith(("__pycache__", ".pytest_cache"))
    }


def _children():
    """Live processes whose parent is this one (zombies are already gone in all but name)."""
    me, found = os.getpid(), []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name, rest = stat[stat.index("(") + 1: stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
        state, ppid = rest[0], int(rest[1])
        if ppid == me and state != "Z":
            found.append((int(entry.name), name))
    return found


def _server_connection():
    """An autocommit connection to the PostgreSQL server the tests use, outside any test database."""
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    return psycopg.connect(
        host=db["HOST"] or None, port=db["PORT"] or None, user=db["USER"] or None,
        password=db["PASSWORD"] or None, dbname="postgres", autocommit=True,
    )


def _databases_of_this_run():
    with _server_connection() as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE strpos(datname, %s) > 0", [isolation.RUN_ID]
        ).fetchall()
    return [name for (name,) in rows]


@pytest.fixture
def own_database():
    """`own_database("bench_pages")` names a database of the test's own; it is dropped at teardown.

    For what makes databases outside pytest-django's (the benchmarks' smoke tests): the name carries
    the run id, so two runs at once never share one, and `nothing_left_behind` finds any left over.
    """
    made = []

    def name(base):
        made.append(isolation.database_name(base))
        return made[-1]

    yield name
    with _server_connection() as conn:
        for database in made:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.fixture(scope="session", autouse=True)
def nothing_left_behind(request):
    """Fails the run if it left anything behind: the check at the end of every test run.

    Autouse and session-scoped, so it is set up before, and torn down after, every other session
    fixture (pytest-django's test database included). What it checks: the Redis at REDIS_URL still
    holds the key written before the first test; no PostgreSQL database named for this run remains;
    no process this run started is still running; nothing new among the work tree's ignored files.
    Databases and processes it finds are removed as well, so that a failing run still leaves the
    machine clean; files in the work tree are only named (they might be someone's).
    """
    run = isolation.current()
    files_before = _repo_ignored_files()
    yield
    run.redis.stop()  # ours: it goes before the check of running processes
    problems = []
    if run.sentinel_written:
        value = run.shared_redis.sentinel()
        if value != run.id:
            problems.append(
                f"the Redis at {run.shared_redis.describe()} lost the key {isolation.SENTINEL_KEY} written "
                "before the first test: something in the run flushed or restarted a Redis it did not start"
            )
    if not request.config.getvalue("reuse_db"):
        left = _databases_of_this_run()
        problems += [f"database {name} was not dropped (dropped now)" for name in left]
        with _server_connection() as conn:
            for name in left:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    left = _children()
    problems += [f"process {pid} ({name}) was still running (killed now)" for pid, name in left]
    for pid, _ in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    problems += [f"{path} was written in the work tree" for path in sorted(_repo_ignored_files() - files_before)]
    assert not problems, "The test run left things behind:\n- " + "\n- ".join(problems)


@pytest.fixture(autouse=True)
def _test_http(settings):
    # Production defaults redirect to HTTPS; the test client speaks plain HTTP.
    settings.SECURE_SSL_REDIRECT = False
    # The manifest storage needs `collectstatic`; pages in tests link static files without it.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
