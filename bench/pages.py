"""Status pages under load: a commitment page with 1,000 reports and with 100,000, served by gunicorn to 32 connections.

    .venv/bin/python -m bench.pages [--scale small|full] [--seconds N] [--loader wrk|python]

It builds an agreement in the bench_pages database (its data is replaced), starts gunicorn on a free
local port with bench/pages_settings.py (the product's settings and URLs plus a bare `HttpResponse`
view, bench/pages_urls.py), and loads it with wrk for a fixed time, one scenario after another:

- the bare view: the most this server, with the product's middleware and URLconf, can answer;
- the commitment page as a reader sees it "now", served from the page cache (monitor/pages/cache.py)
  after the first request of each minute;
- the same page with a different "as of" instant in every request, as a crawler walking the history
  would ask: every request misses the cache and renders the page;
- then, on a second server over the same commitment with 100,000 reports in its window (the data
  replaced), the bare view again and the crawler again.

Each figure is given as a ratio to the bare view in the same run (the crawler at 100,000 reports to the
bare view served beside it), with p50 and p99 latency, and the crawler's CPU per page: the gunicorn
processes' CPU time (from /proc) over a dozen uncached pages asked for one at a time.

wrk comes from Debian (`apt-get install -y wrk`). Without it, a small asyncio load generator in this
file does the same (a new connection per request); it is slower than wrk and shares the CPU with the
server, so its figures are lower and less even: the smoke test
(tests/test_bench_pages.py) uses it when wrk is missing, and the report says which one ran.
"""

import argparse
import asyncio
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, timedelta

from bench.common import ROOT, setup_django

# The smoke test (tests/test_bench_pages.py) names a database of its own.
DB_NAME = os.environ.get("BENCH_PAGES_DB", "bench_pages")
CONNECTIONS = 32
# 2 cores: three gunicorn processes (rendering is CPU-bound Python, so about one per core, and one
# more for the moments a process waits on PostgreSQL or Redis), each with four threads (gthread) so
# that a process overlaps its round trips and keeps connections alive. Sync workers were tried first:
# they close the connection after every response, and at thousands of new connections a second the
# bare view's figures were TCP's (TIME_WAIT pile-up, one-second SYN retransmits at p99), not Django's.
WORKERS = 3
THREADS = 4
SCALES = {
    # reports on the measured commitment, rounds, seconds per scenario in each round; then the crawler's
    # second size: reports, rounds, seconds per scenario (a page there takes seconds: longer rounds)
    "small": (100, 2, 2, 1000, 1, 3),
    "full": (1000, 6, 5, 100_000, 3, 30),
}
AGREEMENT, COMMITMENT = "bench-accord", "attacks"
# "As of" instants walk a year, 37 minutes apart (37 is prime to the minutes in a year, so none repeats).
YEAR_MINUTES = 365 * 24 * 60
STEP_MINUTES = 37

# The status history's links per change (monitor.pages.data.HISTORY_EVIDENCE), named in the report.
HISTORY_LINKS = 10
# Uncached pages asked for one after another, with the server otherwise idle, for its CPU per page.
CPU_PAGES = 12

LUA = """
-- A different "as of" minute in every request: no page cache can help.
local counter = 0
local threads = 0
function setup(thread)
  thread:set("offset", threads)
  threads = threads + 1
end
function request()
  counter = counter + 1
  local n = counter * 64 + offset
  local stamp = os.date("!%Y-%m-%dT%H:%MZ", BASE + ((n * STEP) % YEAR) * 60)
  return wrk.format("GET", PATH .. "?as_of=" .. stamp .. "&known_at=" .. stamp)
end
"""


@dataclass
class Result:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    bad: int  # responses other than 200, and socket errors

    @property
    def rps(self):
        return self.requests / self.seconds if self.seconds else 0.0


# --- the data ------------------------------------------------------------------------------------


def populate(n_reports, now):
    """An agreement in force for a year whose ceiling commitment has `n_reports` public reports."""
    import random

    from django.core.management import call_command

    from monitor.alerts.sweep import run_sweep
    from monitor.evidence.models import VERIFIED, Coverage, Report, Source, VerificationChange
    from monitor.verdicts.models import Assessment
    from terms.models import Agreement, Commitment, Party

    rng = random.Random(6)
    call_command("flush", "--noinput", verbosity=0)
    signed = now - timedelta(days=400)
    taliban = Party.objects.create(name="Taliban", slug="taliban")
    us = Party.objects.create(name="United States", slug="united-states")
    agreement = Agreement.objects.create(
        title="Benchmark accord", slug=AGREEMENT, time_zone="Asia/Kabul", state="in_force",
        signed_on=signed.date(), publish_computed_verdicts=True,
    )
    agreement.parties.set([taliban, us])
    commitments = {
        COMMITMENT: dict(kind="ceiling", rule={"categories": ["attack"], "limit": 3}, due_offset=None,
                         title="No more than three attacks a day", owed_by=[taliban]),
        "talks": dict(kind="deadline", rule={"categories": ["talks_started"], "attribution": "any"},
                      due_offset=10, title="Talks begin", owed_by=[taliban, us]),
        "troops": dict(kind="target", rule={"categories": ["troop_level"], "attribution": "any", "target": 8600},
                       due_offset=135, title="Troops down to 8,600", owed_by=[us]),
        "ties": dict(kind="prohibition", rule={"categories": ["ties"]}, due_offset=None,
                     title="No ties to al-Qaeda", owed_by=[taliban]),
    }
    for position, (key, fields) in enumerate(commitments.items()):
        owed_by = fields.pop("owed_by")
        c = Commitment.objects.create(agreement=agreement, key=key, position=position, **fields)
        c.owed_by.set(owed_by)
    wire = Source.objects.create(name="Wire service", kind="wire_service", reliability="B")
    Coverage.objects.create(source=wire, starts_on=signed.date(), recorded_at=signed)
    reports = []
    # At 100,000 reports a breach day holds hundreds of them: the status history links the first few.
    for i in range(n_reports):
        when = (now - timedelta(days=365) + timedelta(minutes=rng.randrange(365 * 24 * 60 - 2 * 24 * 60)))
        reports.append(Report(
            summary=f"Attack on a checkpoint in {rng.choice(['Kunduz', 'Ghazni', 'Helmand', 'Balkh'])} ({i})",
            category="attack", actor1="Taliban", occurred_at=when, recorded_at=when + timedelta(hours=20),
            source=wire, source_ref=f"w-{i}", credibility=rng.choice([1, 2, 2, 3]), admin1="Kunduz",
            url=f"https://example.org/wire/{i}",
        ))
    Report.objects.bulk_create(reports)
    VerificationChange.objects.bulk_create(
        VerificationChange(report=r, old_state="claimed", new_state=VERIFIED, changed_at=r.recorded_at)
        for r in reports[::3]
    )
    # The status history the sweep records, and an analyst's assessment, as on a live monitor.
    run_sweep(now=now - timedelta(days=1))
    from django.contrib.auth import get_user_model

    analyst = get_user_model().objects.create(username="analyst", is_staff=True)
    commitment = Commitment.objects.get(agreement=agreement, key=COMMITMENT)
    Assessment.objects.create(
        commitment=commitment, action="confirm", computed_status="breached", status="breached",
        reason="Checked against the wire reports.", author=analyst, assessed_at=now - timedelta(hours=12),
    )
    return f"/agreements/{AGREEMENT}/commitments/{COMMITMENT}/"


# --- the server ------------------------------------------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def gunicorn(workers=WORKERS, threads=THREADS):
    """gunicorn serving the product plus the bare view; yields its base URL."""
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.pages_settings",
        # Each worker keeps its database connection, as in production.
        "CONN_MAX_AGE": "600",
    }
    command = [
        sys.executable, "-m", "gunicorn", "monitor.wsgi:application", "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers), "--threads", str(threads), "--worker-class", "gthread" if threads > 1 else "sync",
        "--backlog", "2048", "--timeout", "120",
        "--log-level", "warning",
    ]
    server = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/bench/bare/", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.2)
        yield Server(base, server.pid)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


@dataclass
class Server:
    base: str
    pid: int  # gunicorn's master; its workers are in its session

    def cpu_seconds(self):
        """User and system CPU time of every process of the server's session so far (Linux /proc)."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            # After the command: state, ppid, pgrp, session (field 6), ... utime (14), stime (15).
            if int(fields[3]) == self.pid:
                total += int(fields[11]) + int(fields[12])
        return total / tick


def settle(server, deadline_s=900):
    """Wait until the server is idle (under 20 ms of CPU in half a second): it has drained what it had queued.

    Answering the bare view is not enough: one thread answers it while the others still render."""
    until = time.monotonic() + deadline_s
    before = server.cpu_seconds()
    while time.monotonic() < until:
        time.sleep(0.5)
        now = server.cpu_seconds()
        if now - before < 0.02:
            return
        before = now


def fetch(url):
    with urllib.request.urlopen(url, timeout=120) as response:
        return response.status, response.read()


# --- the load --------------------------------------------------------------------------------------


def as_of_stamp(n, base):
    return (base + timedelta(minutes=(n * STEP_MINUTES) % YEAR_MINUTES)).strftime("%Y-%m-%dT%H:%MZ")


def _ms(value, unit):
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk(url, seconds, *, crawl_base=None):
    """Load `url` with wrk; with `crawl_base`, every request asks for a different "as of" minute."""
    command = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "60s", "--latency"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        if crawl_base is not None:
            path = url.split("://", 1)[1].split("/", 1)[1]
            script.write(f'BASE = {int(crawl_base.timestamp())}\nSTEP = {STEP_MINUTES}\nYEAR = {YEAR_MINUTES}\n'
                         f'PATH = "/{path}"\n' + LUA)
            script.flush()
            command += ["-s", script.name]
        out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    requests, took = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m),", out).group(1, 2)
    unit = re.search(r"\d+ requests in [\d.]+(us|ms|s|m),", out).group(1)
    latency = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, flags=re.M))
    p50, p99 = (_ms(*re.fullmatch(r"([\d.]+)(\w+)", latency[k]).groups()) for k in ("50", "99"))
    bad = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    bad += int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    return Result(requests=int(requests), seconds=_ms(took, unit) / 1000, p50_ms=p50, p99_ms=p99, bad=bad)


def python_load(url, seconds, *, crawl_base=None):
    """The same load from asyncio, for machines without wrk: CONNECTIONS clients, a connection per request.

    Written here rather than taken from a library: the load generators on PyPI (locust and the like)
    bring a web UI and their own event loop for a 30-line job.
    """
    host, rest = url.split("://", 1)[1].split("/", 1)
    hostname, port = host.split(":")
    path = "/" + rest
    counter = iter(range(10**9))
    latencies, bad = [], 0

    async def one():
        nonlocal bad
        target = path
        if crawl_base is not None:
            stamp = as_of_stamp(next(counter), crawl_base)
            target = f"{path}?as_of={stamp}&known_at={stamp}"
        started = time.perf_counter()
        try:
            reader, writer = await asyncio.open_connection(hostname, int(port))
            writer.write(f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            await writer.drain()
            status = await reader.readline()
            await reader.read()
            writer.close()
        except OSError:
            bad += 1
            return
        latencies.append(time.perf_counter() - started)
        if status.split()[1:2] != [b"200"]:
            bad += 1

    async def client(until):
        while time.perf_counter() < until:
            await one()

    async def main():
        started = time.perf_counter()
        await asyncio.gather(*(client(started + seconds) for _ in range(CONNECTIONS)))
        return time.perf_counter() - started

    took = asyncio.run(main())
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [latencies[0] if latencies else 0] * 99
    return Result(requests=len(latencies), seconds=took, p50_ms=cuts[49] * 1000, p99_ms=cuts[98] * 1000, bad=bad)


LOADERS = {"wrk": wrk, "python": python_load}


def default_loader():
    return "wrk" if shutil.which("wrk") else "python"


# --- the benchmark ---------------------------------------------------------------------------------


@dataclass
class Measured:
    scale: str
    reports: int
    rounds: int
    seconds: int
    large_reports: int
    large_rounds: int
    large_seconds: int
    loader: str
    workers: int
    threads: int
    page_bytes: int
    results: dict  # scenario: [Result of each round]
    cpu: dict  # scenario: the server's CPU ms per uncached page, asked for one at a time

    def cpu_ms(self, key):
        return self.cpu[key]

    def total(self, key):
        return sum(r.requests for r in self.results[key]), sum(r.bad for r in self.results[key])

    def rps(self, key):
        return sum(r.requests for r in self.results[key]) / sum(r.seconds for r in self.results[key])

    def ratio(self, key):
        """The median over rounds of the scenario's requests per second over the bare view's in that round."""
        bares = self.results[BARE[key]]
        return statistics.median(r.rps / bare.rps if bare.rps else float("nan")
                                 for r, bare in zip(self.results[key], bares))

    def latency(self, key):
        """(p50, p99) of the median round."""
        return (
            statistics.median(r.p50_ms for r in self.results[key]),
            statistics.median(r.p99_ms for r in self.results[key]),
        )


SCENARIOS = (
    ("bare", "Bare `HttpResponse` view"),
    ("cached", "Commitment page, now (page cache)"),
    ("crawl", "Commitment page, a different “as of” per request (no cache can help)"),
    ("bare_large", "Bare `HttpResponse` view, beside the 100,000 reports"),
    ("crawl_large", "Commitment page with 100,000 reports, a different “as of” per request"),
)
# Each scenario's bare view, for its ratio: the one served in the same round by the same server.
BARE = {"cached": "bare", "crawl": "bare", "bare": "bare", "bare_large": "bare_large", "crawl_large": "bare_large"}


def measure(scale="full", *, seconds=None, rounds=None, loader=None, workers=WORKERS, threads=THREADS):
    """Load each scenario for `seconds`, `rounds` times over, in turn.

    In turn, because the machine is shared: whatever else runs slows the scenarios of a round alike,
    and each round's ratio to the bare view holds; the median round is reported.
    """
    n_reports, default_rounds, default_seconds, n_large, large_rounds, large_seconds = SCALES[scale]
    seconds = seconds or default_seconds
    rounds = rounds or default_rounds
    large_rounds = min(rounds, large_rounds)
    loader = loader or default_loader()
    setup_django(DB_NAME)
    from django.utils import timezone

    now = timezone.now()
    page = populate(n_reports, now)
    crawl_base = (now - timedelta(days=365)).replace(second=0, microsecond=0, tzinfo=UTC)
    load = LOADERS[loader]
    results = {}
    def timed_load(server, key, url, duration, **kwargs):
        results.setdefault(key, []).append(load(url, duration, **kwargs))
        # The load generator stops; the server still renders the requests it had queued (at 100,000
        # reports, seconds each): the next scenario starts once it answers the bare view at once again.
        settle(server)

    def cpu_per_page(server, pages, offset):
        """The server's CPU milliseconds per page, over `pages` uncached pages asked for one after another."""
        before = server.cpu_seconds()
        for n in range(pages):
            stamp = as_of_stamp(offset + 7 * n, crawl_base)
            status, _body = fetch(f"{server.base}{page}?as_of={stamp}&known_at={stamp}")
            assert status == 200
        return 1000 * (server.cpu_seconds() - before) / pages

    def warm(server):
        # Each worker opens its database connection and imports what it lazily imports before the clock runs.
        for _ in range(3 * workers):
            fetch(server.base + "/bench/bare/")
        status, body = fetch(server.base + page)
        assert status == 200 and b"Page 1 of" in body, "the page did not render its evidence"
        for _ in range(3 * workers):
            fetch(server.base + page)
            stamp = as_of_stamp(10**6 + _, crawl_base)
            fetch(f"{server.base}{page}?as_of={stamp}&known_at={stamp}")
        return body

    with gunicorn(workers, threads) as server:
        body = warm(server)
        for _ in range(rounds):
            timed_load(server, "bare", server.base + "/bench/bare/", seconds)
            timed_load(server, "cached", server.base + page, seconds)
            timed_load(server, "crawl", server.base + page, seconds, crawl_base=crawl_base)
        cpu = cpu_per_page(server, CPU_PAGES, 2 * 10**6)
    # The same commitment with a hundred times the reports: what grows with them shows here.
    populate(n_large, now)
    with gunicorn(workers, threads) as server:
        warm(server)
        for _ in range(large_rounds):
            timed_load(server, "bare_large", server.base + "/bench/bare/", seconds)
            timed_load(server, "crawl_large", server.base + page, large_seconds, crawl_base=crawl_base)
        cpu_large = cpu_per_page(server, CPU_PAGES, 2 * 10**6)
    return Measured(scale, n_reports, rounds, seconds, n_large, large_rounds, large_seconds, loader, workers,
                    threads, len(body), results, {"crawl": cpu, "crawl_large": cpu_large})


def report(m):
    lines = []
    for key, label in SCENARIOS:
        label = label.replace("100,000", f"{m.large_reports:,}")
        requests, bad = m.total(key)
        p50, p99 = m.latency(key)
        lines.append(
            f"| {label} | {m.rps(key):,.1f} | {m.ratio(key):.3f} | {p50:.1f} | {p99:.1f} | {requests:,} | {bad} |"
        )
    rows = "\n".join(lines)
    cached, crawl, crawl_large = m.ratio("cached"), m.ratio("crawl"), m.ratio("crawl_large")
    cpu, cpu_large = m.cpu_ms("crawl"), m.cpu_ms("crawl_large")
    loader = (
        f"wrk (2 threads, {CONNECTIONS} connections)"
        if m.loader == "wrk"
        else f"the asyncio load generator in bench/pages.py ({CONNECTIONS} clients; wrk was not installed)"
    )
    return f"""## Status pages under load

The commitment page of a ceiling ("no more than three attacks a day", counted from a signing 400 days
ago) with {m.reports:,} public reports over the last year (25 listed per page, a daily-count chart of
the year, the status history and an assessment), in an agreement of four commitments, served by
gunicorn ({m.workers} processes of {m.threads} threads (gthread) on 2 cores, `bench/pages_settings.py`:
the product's settings and middleware) and loaded by {loader}: {m.rounds} rounds of {m.seconds} s per
scenario, the scenarios in turn within each round. The page is {m.page_bytes / 1024:.0f} KB. Then the
same commitment with {m.large_reports:,} reports in its window (the data replaced, a second server):
{m.large_rounds} rounds of the bare view for {m.seconds} s and the crawler for {m.large_seconds} s.

Requests per second are over all rounds; the ratio to a bare `HttpResponse` view served by the same
server is the median of the rounds' ratios, so that load from elsewhere on the machine, which slows a
round's scenarios alike, cancels out; p50 and p99 latency are the median round's. "Bad" counts
responses other than 200 and socket errors.

| scenario | requests/s | ratio to bare | p50 (ms) | p99 (ms) | requests | bad |
| --- | ---: | ---: | ---: | ---: | ---: | ---: |
{rows}

The crawler's CPU per page (every gunicorn process's user and system time, from /proc, over {CPU_PAGES}
uncached pages of different "as of" asked for one after another once the load is over; PostgreSQL's own
work is not in it): **{cpu:,.0f} ms at {m.reports:,} reports,
{cpu_large:,.0f} ms at {m.large_reports:,}** ({cpu_large / cpu:.1f} ×).

Targets: the cached page at least 0.5 of the bare view: **{"met" if cached >= 0.5 else "missed"}**
({cached:.2f}). The crawler at least 0.1 of the bare view: **{"met" if crawl >= 0.1 else "missed"}** at
{m.reports:,} reports ({crawl:.3f}), **{"met" if crawl_large >= 0.1 else "missed"}** at
{m.large_reports:,} ({crawl_large:.4f}). The same CPU per page at both sizes: **{"met" if cpu_large <= 1.5 * cpu
else "missed"}**.

How the cache stays correct: a page is kept under the data version a PostgreSQL trigger moves on every
committed write to a table the pages read, the minute for a page shown "now", the address and the
language, for anonymous readers only (monitor/pages/cache.py, docs/public-pages.md). A page given its
own "as of" and "as known at" is kept the same way, without the minute; the commitment page is kept
under the parameters it reads alone, normalised (others, their order, a page number that is no
number, make no new key).

What bounds the cached page: a hit passes the same middleware as the bare view, then makes two round
trips to PostgreSQL (Django's connection health check, `CONN_HEALTH_CHECKS`, then the data version),
which the bare view does not, and sends a {m.page_bytes / 1024:.0f} KB body instead of two bytes.

What bounds the crawler's figure: rendering. What grew with the reports and no longer does: the status
history linked every report a breach rested on (now the first {HISTORY_LINKS}, and a count), the
evidence list read the reports a second time (now the ones the verdict was judged on), the banner's
second judgement built the details it never shows, and the publication ledger of every report was
read through the ORM (now one array parameter and plain tuples), and the evidence list tested every
report again with the engine's `qualifies` (now it lists what the index its verdict was judged on
files under the commitment, `EvidenceIndex.speaking`). What still grows: the verdict itself. Judging
a ceiling as of an instant nobody asked before reads every report of its window (`inputs.evidence_for`),
files them (`EvidenceIndex`) and counts events per day in Python; and a cited view judges twice (as
recorded then, and as known now for the banner of later corrections) whenever anything it reads from
history was recorded after its cutoff (`later.corrected_since`), as here, where the agreement was
loaded after the instants the crawler asks for. Counts per day, kept as reports are written, would
let the engine judge a ceiling from them (issue 16, point 2); the page would then read its evidence
list by index (a keyset page of 25 and a count) instead.
"""


def run(scale):
    return report(measure(scale))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=SCALES, default="full")
    parser.add_argument("--seconds", type=int, help="per scenario and round")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--loader", choices=LOADERS)
    parser.add_argument("--workers", type=int, default=WORKERS)
    parser.add_argument("--threads", type=int, default=THREADS)
    args = parser.parse_args()
    measured = measure(args.scale, seconds=args.seconds, rounds=args.rounds, loader=args.loader, workers=args.workers,
                       threads=args.threads)
    print(report(measured))


if __name__ == "__main__":
    main()
