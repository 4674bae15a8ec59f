"""Run every benchmark and write their figures to docs/performance.md.

    .venv/bin/python -m bench                 # full scale: about half an hour on 2 cores
    .venv/bin/python -m bench --scale small   # the smoke sizes, a minute or two
    .venv/bin/python -m bench --only sweep pages

Each benchmark measures its figure as a ratio to the fastest thing that does the
same work, in the same run, so the figures mean something on a shared machine.
Each uses a PostgreSQL database of its own (bench_<name>) whose data it replaces.
The page benchmark wants `wrk` (`apt-get install -y wrk`).
"""

import argparse
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime

from bench.common import ROOT, machine

BENCHMARKS = ("sweep", "memory", "shards", "pages", "imports", "alerts")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=("small", "full"), default="full")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, default=BENCHMARKS)
    parser.add_argument("--output", default=str(ROOT / "docs" / "performance.md"))
    args = parser.parse_args(argv)

    sections = []
    for name in args.only:
        print(f"— {name} ({args.scale})", file=sys.stderr, flush=True)
        started = time.perf_counter()
        # Each in a process of its own: each sets Django up against its own database.
        with tempfile.NamedTemporaryFile("r", suffix=".md") as section:
            code = f"import sys, bench.{name} as b; open(sys.argv[1], 'w').write(b.run(sys.argv[2]))"
            subprocess.run([sys.executable, "-c", code, section.name, args.scale], cwd=ROOT, check=True)
            sections.append(section.read().strip())
        print(f"  done in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)

    command = "python -m bench" + ("" if args.scale == "full" else f" --scale {args.scale}")
    if tuple(args.only) != BENCHMARKS:
        command += " --only " + " ".join(args.only)
    header = f"""# Performance

Figures from `{command}` (see `bench/__main__.py`), run on
{datetime.now(UTC):%Y-%m-%d} on {machine()}.

Every figure that matters is a ratio to the fastest thing that does the same work (hand-written SQL,
PostgreSQL `COPY`, a bare `HttpResponse`), measured in the same run, because absolute times on a
shared 2-core machine say little. None of this is part of the test suite; a small smoke version of
each benchmark is (`tests/test_bench_*.py`).
"""
    with open(args.output, "w") as out:
        out.write(header + "\n" + "\n\n".join(sections) + "\n")
    print(f"wrote {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
