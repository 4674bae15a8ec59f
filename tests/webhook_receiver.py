"""A real HTTP receiver for webhook tests: a server on 127.0.0.1 that records requests and answers as scripted.

Used by tests/test_webhooks.py (in process) and tests/test_webhooks_real.py (from a worker process).
It runs in a thread of the test process (http.server.ThreadingHTTPServer, a free port), and the
fixture that starts it stops it, also when a test fails.
"""

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Request:
    path: str
    headers: dict
    body: bytes
    at: float = field(default_factory=time.monotonic)

    @property
    def json(self):
        return json.loads(self.body)

    @property
    def key(self):
        return self.headers.get("idempotency-key")

    def signed_by(self, secret):
        """What a receiver does (docs/operations.md): HMAC-SHA256 of "<timestamp>.<body>", compared in constant time."""
        timestamp = self.headers["x-monitor-timestamp"]
        expected = hmac.new(secret.encode(), timestamp.encode() + b"." + self.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(self.headers["x-monitor-signature"], f"sha256={expected}")


@dataclass
class Hang:
    """Take the request, wait `seconds` (longer than the sender's timeout), then answer `status`."""

    seconds: float
    status: int = 200


class Receiver:
    """Knobs, settable from the test at any time:

    - answers: what to answer the next requests, in order (a status, or a Hang); then `default`;
    - location: the Location header of a 3xx answer.

    Like a careful receiver, it processes each Idempotency-Key once (`processed`) and drops repeats.
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = []
        self.processed = []
        self.answers = []
        self.default = 200
        self.location = ""
        self.stopping = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                request = Request(self.path, {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length))
                with receiver.lock:
                    receiver.requests.append(request)
                    if request.key not in receiver.processed:
                        receiver.processed.append(request.key)
                    answer = receiver.answers.pop(0) if receiver.answers else receiver.default
                status = answer
                if isinstance(answer, Hang):
                    receiver.stopping.wait(answer.seconds)
                    status = answer.status
                payload = b"ok"
                try:
                    self.send_response(status)
                    if 300 <= status < 400 and receiver.location:
                        self.send_header("Location", receiver.location)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:  # the sender gave up waiting and closed the connection
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path="/hook", host="127.0.0.1"):
        return f"http://{host}:{self.port}{path}"

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    @property
    def received(self):
        with self.lock:
            return list(self.requests)

    def wait_for(self, count, *, timeout=15, tick=None, tick_every=0.5):
        from tests.realparts import wait_until

        return wait_until(
            lambda: len(self.received) >= count and self.received, timeout=timeout,
            what=f"{count} requests at the webhook receiver (have {len(self.received)})", tick=tick,
            tick_every=tick_every,
        )

    def describe(self):
        lines = [f"Webhook receiver on port {self.port}: {len(self.received)} requests"]
        lines += [f"  {r.path} {r.key} {r.body[:120]!r}" for r in self.received]
        return "\n".join(lines)


@pytest.fixture
def receiver():
    """A receiver on a free 127.0.0.1 port for the test (import the fixture by name)."""
    server = Receiver().start()
    try:
        yield server
    finally:
        server.stop()
        print(server.describe())  # shown only when the test failed
