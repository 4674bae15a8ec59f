"""The real parts the alert tests run against: an SMTP server, Celery workers, Redis, manage.py processes.

Used by tests/test_alerts_real.py. Every process started here is started in its
own session (process group) and stopped by the fixture that started it, also when
a test fails or times out; nothing is found or killed by name.
"""

import asyncio
import email
import email.message
import email.policy
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings
from django.db import connection

from tests.isolation import current as current_run
from tests.isolation import free_port

BASE_DIR = Path(settings.BASE_DIR)
# The worker's broker: a database number of its own on the Redis this test run started
# (tests/isolation.py), flushed before each worker starts. Never the Redis at the REDIS_URL the
# run was given: another run, a developer or a deployment may be using that one.
BROKER_DB = 14


def broker_url():
    return current_run().redis.url(BROKER_DB)


def wait_until(predicate, *, timeout, what, every=0.05, tick=None, tick_every=1.0):
    """Poll `predicate` until it returns something true; call `tick` every `tick_every` seconds meanwhile.

    `tick` stands in for beat: the production schedule sends and sweeps periodically,
    and some guarantees ("the next tick delivers") are only visible through it.
    """
    deadline = time.monotonic() + timeout
    next_tick = time.monotonic()
    while True:
        value = predicate()
        if value:
            return value
        now = time.monotonic()
        if now > deadline:
            raise AssertionError(f"Timed out after {timeout}s waiting for {what}")
        if tick is not None and now >= next_tick:
            tick()
            next_tick = now + tick_every
        time.sleep(every)


# --- SMTP ---------------------------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list
    message: email.message.EmailMessage

    @property
    def subject(self):
        return str(self.message["Subject"])

    @property
    def message_id(self):
        return str(self.message["Message-ID"])

    @property
    def to(self):
        return str(self.message["To"])

    @property
    def text(self):
        return self.message.get_body(("plain",)).get_content()


class _Handler:
    """aiosmtpd's hooks for an SMTPServer: every command is logged, then answered from the server's
    script if a reply is queued for that command, else as usual (the knobs included)."""

    def __init__(self, box):
        self.box = box

    def _log(self, session, command, argument):
        box = self.box
        with box.lock:
            if not any(seen is session for seen in box.sessions):
                box.sessions.append(session)
            box.commands.append((command, argument))

    async def _answer(self, server, command, usual, accept=None):
        """The reply to `command`: the next scripted one, or `usual()`'s.

        `accept()` does what the server does when it says yes (take the sender, the recipient, the
        message); a scripted reply starting with 2 does it too, any other does not.
        """
        scripted = self.box._next_scripted(command)
        if scripted is None:
            return await usual()
        reply, hang_up = scripted
        if reply is SMTPServer.DROP:
            await self._hang_up(server)
        if reply is None:
            reply = await usual()
        elif accept is not None and SMTPServer._positive(reply):
            accept()
        if hang_up:
            for line in reply if isinstance(reply, list) else [reply]:
                await server.push(line)
            await self._hang_up(server)
        return reply

    @staticmethod
    async def _hang_up(server):
        """Close the connection (a FIN once what was pushed is out) and never answer.

        Closing makes aiosmtpd lose the connection, and it then cancels the coroutine waiting here.
        """
        if server.transport is not None:
            server.transport.close()
        await asyncio.get_running_loop().create_future()

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self._log(session, "EHLO", hostname)

        def accept():
            session.host_name = hostname
            return responses

        async def usual():
            return accept()

        reply = await self._answer(server, "EHLO", usual, accept)
        return reply if isinstance(reply, list) else [reply]

    async def handle_HELO(self, server, session, envelope, hostname):
        self._log(session, "HELO", hostname)

        def accept():
            session.host_name = hostname
            return f"250 {server.hostname}"

        async def usual():
            return accept()

        return await self._answer(server, "HELO", usual, accept)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self._log(session, "MAIL", address)

        def accept():
            envelope.mail_from = address
            envelope.mail_options.extend(mail_options)
            return "250 OK"

        async def usual():
            return accept()

        return await self._answer(server, "MAIL", usual, accept)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        box = self.box
        self._log(session, "RCPT", address)

        def accept():
            envelope.rcpt_tos.append(address)
            envelope.rcpt_options.extend(rcpt_options)
            return "250 OK"

        async def usual():
            with box.lock:
                if box.fail_rcpt > 0:
                    box.fail_rcpt -= 1
                    box.refusals.append("RCPT")
                    return "451 4.3.0 Mailbox temporarily unavailable, try again later"
            return accept()

        return await self._answer(server, "RCPT", usual, accept)

    async def handle_DATA(self, server, session, envelope):
        box = self.box
        self._log(session, "DATA", list(envelope.rcpt_tos))

        def accept():
            box._record(envelope)

        async def usual():
            with box.lock:
                if box.fail_data > 0:
                    box.fail_data -= 1
                    box.refusals.append("DATA")
                    return "451 4.3.0 Local problem, try again later"
                delay, accept_first = box.data_delay, box.accept_before_delay
            if accept_first:
                box._record(envelope)
            with box.lock:
                box.data_received += 1  # the whole message is here; the answer is not sent yet
            if delay:
                # If the client vanishes meanwhile, aiosmtpd cancels this coroutine: with
                # accept_before_delay False the message is then never recorded, as with a
                # server that commits a message only when it answers 250.
                await asyncio.sleep(delay)
            if not accept_first:
                box._record(envelope)
            return "250 2.0.0 OK: queued"

        return await self._answer(server, "DATA", usual, accept)

    async def handle_RSET(self, server, session, envelope):
        self._log(session, "RSET", None)

        async def usual():
            return "250 OK"

        return await self._answer(server, "RSET", usual)

    async def handle_NOOP(self, server, session, envelope, arg):
        self._log(session, "NOOP", arg)

        async def usual():
            return "250 OK"

        return await self._answer(server, "NOOP", usual)

    async def handle_QUIT(self, server, session, envelope):
        # aiosmtpd closes the connection once the reply is sent, whatever it is.
        self._log(session, "QUIT", None)

        async def usual():
            return "221 Bye"

        return await self._answer(server, "QUIT", usual)


class SMTPServer:
    """An SMTP server on a free localhost port that records every message it accepts.

    Knobs, settable at any time from the test:
    - fail_rcpt / fail_data: answer `451` to that many of the next RCPT / DATA commands;
    - data_delay: seconds to wait before answering the end of DATA;
    - accept_before_delay: record the message as soon as it is received (a real MTA
      commits it to its queue before answering), or only once the answer is sent.

    Scripted replies, `script(command, *replies, hang_up=False)`: the next `len(replies)` times
    `command` (EHLO, HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) comes, on any connection, it is
    answered with the next of `replies` instead of as usual, before any knob. A reply is
    - a line, str or bytes, sent as is (bytes for a server that sends what is not UTF-8):
      `script("RCPT", "550 5.1.1 No such user")`. One starting with 2 is a yes: the sender, the
      recipient or (DATA) the message is taken, as usual; any other is a refusal;
    - None: the usual answer (knobs included), for when only `hang_up` matters;
    - SMTPServer.DROP: close the connection instead of answering.
    hang_up=True closes the connection right after each of these replies: `script("DATA", None,
    hang_up=True)` takes the message, says so, and is gone before the client's QUIT.
    DATA's reply is the one to the end of the message (after the data), the one that accepts it.

    Seen: `messages` (accepted), `commands` (every command as (name, argument)), `connections`
    (clients that sent a command), `refusals` (the knobs' 451s), `scripted` ((command, reply) for
    each scripted reply given).
    """

    DROP = "<the connection is closed instead of answering>"
    COMMANDS = ("EHLO", "HELO", "MAIL", "RCPT", "DATA", "RSET", "NOOP", "QUIT")

    def __init__(self):
        self.lock = threading.Lock()
        self.received = []
        self.commands = []
        self.sessions = []
        self.refusals = []
        self.scripts = {}
        self.scripted = []
        self.fail_rcpt = 0
        self.fail_data = 0
        self.data_delay = 0.0
        self.accept_before_delay = True
        self.data_received = 0
        self.port = free_port()
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port, ready_timeout=10)

    def start(self):
        try:
            self.controller.start()
        except BaseException:
            self.controller.stop(no_assert=True)  # the thread may be running even if it did not answer
            raise
        return self

    def stop(self):
        self.controller.stop()

    def script(self, command, *replies, hang_up=False):
        command = command.upper()
        if command not in self.COMMANDS:
            raise ValueError(f"Cannot script {command!r}; one of {self.COMMANDS}")
        for reply in replies:
            if not (reply is None or reply is self.DROP or isinstance(reply, (str, bytes))):
                raise TypeError(f"A reply is a str or bytes line, None or SMTPServer.DROP, not {reply!r}")
        with self.lock:
            self.scripts.setdefault(command, []).extend((reply, hang_up) for reply in replies)
        return self

    def _next_scripted(self, command):
        with self.lock:
            queue = self.scripts.get(command)
            if not queue:
                return None
            reply, hang_up = queue.pop(0)
            self.scripted.append((command, reply if not hang_up else (reply, "hung up")))
            return reply, hang_up

    @staticmethod
    def _positive(reply):
        return not isinstance(reply, list) and reply[:1] in ("2", b"2")

    def _record(self, envelope):
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))

    @property
    def messages(self):
        with self.lock:
            return list(self.received)

    @property
    def connections(self):
        with self.lock:
            return len(self.sessions)

    def wait_for(self, count, *, timeout=30, **kwargs):
        return wait_until(
            lambda: len(self.messages) >= count and self.messages, timeout=timeout,
            what=f"{count} messages in the SMTP server (have {len(self.messages)})", **kwargs,
        )

    def describe(self):
        with self.lock:
            unused = {command: [reply for reply, _ in queue] for command, queue in self.scripts.items() if queue}
            lines = [
                f"SMTP server on port {self.port}: {len(self.received)} messages, {len(self.sessions)} connections, "
                f"refusals {self.refusals}, scripted replies given {self.scripted}, not given {unused}"
            ]
            lines += [f"  {m.rcpt_tos} {m.subject!r} {m.message_id}" for m in self.received]
        return "\n".join(lines)


# --- Environment of the processes under test -------------------------------------------------------


def database_url():
    """The database the test runs in (pytest-django's test database), as a URL for other processes."""
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def process_env(smtp_port, **extra):
    broker = extra.get("REDIS_URL") or broker_url()  # the benchmarks, run outside the suite, bring their own
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "PYTEST_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="monitor.settings",
        PYTHONUNBUFFERED="1",
        DATABASE_URL=database_url(),
        REDIS_URL=broker,
        CACHE_URL=broker,
        SECRET_KEY=os.environ.get("SECRET_KEY") or settings.SECRET_KEY,
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(smtp_port),
        EMAIL_USE_TLS="0",
        EMAIL_USE_SSL="0",
        EMAIL_TIMEOUT="20",
        MONITOR_SEND_LEASE_SECONDS="3",
        MONITOR_RETRY_BASE_SECONDS="0.2",
    )
    env.update(extra)
    return env


def _stop_group(proc, timeout):
    """SIGTERM the process group, then SIGKILL it if it has not exited within `timeout`."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(10)


class Worker:
    """`celery -A monitor worker -Q QUEUES`, one process (solo pool), logging to a file.

    The default queue, `celery`, has the sweeps and alerts; imports have a queue of their own, `imports`
    (CELERY_TASK_ROUTES), with a worker of its own in production (docs/operations.md).
    `concurrency`: more than one runs the prefork pool with that many child processes, as
    `celery worker --concurrency N` does in production.
    """

    def __init__(self, env, log_path, name, queues="celery", concurrency=1):
        self.env, self.log_path, self.name, self.queues = env, Path(log_path), name, queues
        self.pool = ["--pool=solo"] if concurrency == 1 else ["--pool=prefork", f"--concurrency={concurrency}"]
        self.proc = None

    def start(self, timeout=60):
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable, "-m", "celery", "-A", "monitor", "worker", *self.pool, "-Q", self.queues,
                    "--loglevel=INFO", "-n", f"{self.name}@%h", "--without-gossip", "--without-mingle",
                    "--without-heartbeat",
                ],
                cwd=BASE_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        wait_until(
            lambda: self.proc.poll() is not None or " ready." in self.log(), timeout=timeout,
            what=f"worker {self.name} to be ready",
        )
        if self.proc.poll() is not None:
            raise RuntimeError(f"Worker {self.name} exited with {self.proc.returncode}:\n{self.log()}")
        return self

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """SIGKILL the worker's whole process group: no warm shutdown, no acknowledgement, nothing."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self):
        if self.proc is not None:
            _stop_group(self.proc, timeout=15)

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


def manage(args, env, log_path):
    """Start `python manage.py ARGS` in its own process group; output goes to `log_path`."""
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )


def stop_processes(procs):
    for proc in procs:
        _stop_group(proc, timeout=5)


# --- Celery in this process ---------------------------------------------------------------------------


@contextmanager
def broker(app, url):
    """Point this process's Celery app at `url`: tasks it sends (and on_commit enqueues) reach the test's worker."""
    old = app.conf.broker_url

    def reset():
        app._pool = None
        if "amqp" in app.__dict__:  # the cached producer pool holds connections to the old URL
            app.__dict__["amqp"]._producer_pool = None

    app.conf.broker_url = url
    reset()
    try:
        yield app
    finally:
        app.conf.broker_url = old
        reset()


# --- Redis ----------------------------------------------------------------------------------------------
# Always this run's own server (tests/isolation.py): stopping, restarting and flushing it touches
# nothing anyone else uses.


def redis_cli(*args, timeout=5):
    return current_run().redis.cli(*args, timeout=timeout)


def redis_up():
    return current_run().redis.answers()


def flush_broker(check=True):
    result = current_run().redis.cli("flushdb", db=BROKER_DB)
    assert result.stdout.strip() == "OK" or not check, result


@contextmanager
def redis_stopped():
    """This run's Redis is down inside the block; it is always started again afterwards, on the same port."""
    redis = current_run().redis
    try:
        redis.stop()
        wait_until(lambda: not redis_up(), timeout=10, what="Redis to stop", every=0.1)
        yield
    finally:
        redis.start()


# --- Fixtures shared by the real-parts test files (imported there by name) --------------------------------


@pytest.fixture
def smtp(caplog):
    """A real SMTP server for the test; what it received is printed if the test fails."""
    import logging

    caplog.set_level(logging.WARNING, logger="mail.log")  # aiosmtpd logs every command at INFO
    server = SMTPServer().start()
    try:
        yield server
    finally:
        server.stop()
        print(server.describe())  # pytest shows it only if the test failed


@pytest.fixture(scope="module", autouse=True)
def _empty_broker_afterwards():
    yield
    flush_broker(check=False)  # tasks queued by the in-process tests, which no worker ran


@pytest.fixture(autouse=True)
def celery_app():
    """This process's Celery app publishes to the workers' broker (on_commit enqueues included)."""
    from monitor.celery import app

    with broker(app, broker_url()) as configured:
        yield configured


@pytest.fixture
def workers(smtp, tmp_path, request):
    """Start workers with `workers(**env)`, over the test module's WORKER_ENV; every one started is
    stopped, and its log printed, at teardown."""
    started = []
    flush_broker()
    module = request.module.__name__.rpartition(".")[2]

    def start(**env):
        env = process_env(smtp.port, **{**getattr(request.module, "WORKER_ENV", {}), **env})
        worker = Worker(env, tmp_path / f"worker-{len(started) + 1}.log", f"{module}-{len(started) + 1}")
        started.append(worker)
        return worker.start()

    try:
        yield start
    finally:
        for worker in started:
            worker.stop()
        for worker in started:
            print(f"----- log of worker {worker.name} -----\n{worker.log()}")
