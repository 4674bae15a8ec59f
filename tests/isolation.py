"""What a test run starts for itself, and the promise that it leaves the machine as it found it.

Loaded as a plugin (`-p tests.isolation` in pyproject.toml) so that it runs before pytest-django
reads the settings: the settings read REDIS_URL, CACHE_URL and MEDIA_ROOT from the environment
once, at import, and every process the tests start inherits the environment.

Each run gets a run id, and with it:
- its own Redis: a `redis-server` on a free port, with its files in the run's folder. The cache,
  the broker, the workers and the benchmarks' smoke tests all use it; tests may flush it or stop
  it. The Redis at REDIS_URL (a developer's, a deployment's) is never used, only checked: a key
  written there before the first test must still be there after the last.
- its own PostgreSQL databases: the test database and every database a test creates carry the
  run id in their name (`database_name()`), so two runs at once never collide.
- its own temporary folder (TMPDIR, MEDIA_ROOT and pytest's tmp_path live under it), removed at
  the end whatever happened.

`nothing_left_behind` in tests/conftest.py is the check at the end of the run.
"""

import atexit
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

RUN_ID = os.environ.get("MONITOR_TEST_RUN_ID") or secrets.token_hex(4)
SENTINEL_KEY = f"monitor-tests:untouched:{RUN_ID}"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_name(base):
    """A PostgreSQL database name of this run's own: `base` with the run id."""
    return f"{base}_{RUN_ID}"


class RedisServer:
    """A `redis-server` this run started, on a free port, keeping nothing on disk.

    Only this one is ever flushed, stopped or restarted by a test; `restart` keeps its port, so
    the URLs handed to processes stay valid.
    """

    def __init__(self, directory):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc = None

    def url(self, db=0):
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self, timeout=20):
        if self.running:
            return self
        self.proc = subprocess.Popen(
            [
                "redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
                "--appendonly", "no", "--dir", str(self.directory),
                "--logfile", str(self.directory / "redis.log"),
            ],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while not self.answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                log = (self.directory / "redis.log")
                raise RuntimeError(
                    f"redis-server on port {self.port} did not start:\n"
                    + (log.read_text(errors="replace") if log.exists() else "(no log)")
                )
            time.sleep(0.05)
        return self

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10):
        """Stop this server (SIGTERM, then SIGKILL) and wait for it to exit."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout)

    def restart(self):
        self.stop()
        return self.start()

    def cli(self, *args, db=0, timeout=5):
        return subprocess.run(
            ["redis-cli", "-p", str(self.port), "-n", str(db), *args], capture_output=True, text=True,
            timeout=timeout,
        )

    def answers(self):
        try:
            return self.cli("ping", timeout=2).stdout.strip() == "PONG"
        except subprocess.TimeoutExpired:
            return False


class SharedRedis:
    """The Redis at the REDIS_URL the run was given: written to once (the sentinel), read once."""

    def __init__(self, url):
        self.url = url

    def _client(self):
        import redis

        return redis.Redis.from_url(self.url, socket_timeout=5, socket_connect_timeout=5)

    def describe(self):
        parts = urlsplit(self.url)
        return f"{parts.hostname}:{parts.port or 6379}{parts.path or '/0'}"

    def write_sentinel(self):
        try:
            with self._client() as client:
                client.set(SENTINEL_KEY, RUN_ID)
            return True
        except Exception:  # noqa: BLE001 - no Redis there: nothing of it to keep untouched
            return False

    def sentinel(self):
        with self._client() as client:
            value = client.get(SENTINEL_KEY)
            client.delete(SENTINEL_KEY)
        return value.decode() if value is not None else None

    def forget_sentinel(self):
        """Delete the sentinel if it is still there (a run that ended before its check)."""
        try:
            with self._client() as client:
                client.delete(SENTINEL_KEY)
        except Exception:  # noqa: BLE001 - that Redis is gone: nothing left in it
            pass


class Run:
    """This run's own folder, Redis and names, set up before Django reads its settings."""

    def __init__(self):
        self.id = RUN_ID
        self.root = Path(tempfile.mkdtemp(prefix=f"monitor-tests-{RUN_ID}-"))
        self.redis = RedisServer(self.root / "redis")
        self.shared_redis = SharedRedis(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
        self.sentinel_written = False

    def start(self):
        self.sentinel_written = self.shared_redis.write_sentinel()
        self.redis.start()
        media = self.root / "media"
        media.mkdir()
        os.environ.update(
            MONITOR_TEST_RUN_ID=self.id,
            REDIS_URL=self.redis.url(0),
            CACHE_URL=self.redis.url(1),
            MEDIA_ROOT=str(media),
            # Files made by this process (tempfile) and by every process it starts land here.
            TMPDIR=str(self.root),
        )
        tempfile.tempdir = str(self.root)
        return self

    def end(self):
        """Stop the run's Redis, remove its folder and the sentinel: safe to call twice."""
        self.redis.stop()
        shutil.rmtree(self.root, ignore_errors=True)
        if self.sentinel_written:
            self.shared_redis.forget_sentinel()


_run = None


def current():
    """This run's Run (its Redis, folder and id)."""
    if _run is None:
        raise RuntimeError("tests.isolation is not loaded: run the suite with bin/test (pyproject adds -p tests.isolation)")
    return _run


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    global _run
    if _run is None:
        _run = Run()
        # A run that fails before pytest is configured (Django's settings refusing to load, say) never
        # reaches pytest_unconfigure: the Redis it started and its folder would outlive it.
        atexit.register(_run.end)
        _run.start()


def pytest_unconfigure(config):
    # After pytest removed its own temporary folders: the run's Redis and folder go, whatever happened.
    if _run is not None:
        _run.end()
