"""Mutation testing of the verdict engine and the alerts' sweep and outbox (run by bin/mutation).

Not part of the test suite, nor of CI: a full run takes a long time (docs/testing.md says how
long). Each group of modules is mutated by mutmut in a copy of the work tree of its own, under
--workdir (outside the repository, so nothing lands in the work tree), against the fast tests
that exercise it, and the report lists every module's score and every surviving mutant.

The modules and tests are globs, read when the command starts: when the engine is split into
modules (monitor/verdicts/engine_*.py, or a package monitor/verdicts/engine/), or someone adds
tests/test_alert_*.py, the next run covers them.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# name: (modules to mutate, the fast tests that exercise them, environment)
GROUPS = {
    "alerts": {
        "mutate": ["monitor/alerts/sweep.py", "monitor/alerts/delivery.py"],
        "tests": [
            "tests/test_sweep.py",
            "tests/test_sweep_*.py",
            "tests/test_subscriptions.py",
            "tests/test_alert_*.py",
            "tests/test_delivery.py",
            "tests/test_escalation.py",
            "tests/test_webhooks.py",
        ],
        # Database tests: one mutant at a time, on one test database kept between mutants.
        "database": True,
    },
    "engine": {
        "mutate": ["monitor/verdicts/engine.py", "monitor/verdicts/engine_*.py", "monitor/verdicts/engine/*.py"],
        "tests": ["tests/test_verdict_*.py", "tests/test_engine_*.py"],
        "database": False,
        # The properties try a fifth of their examples (tests/hypothesis_budget.py): two thousand
        # mutants, each run against every property that covers it; a score is then a lower bound.
        "hypothesis_scale": "0.2",
    },
}
ORDER = ("alerts", "engine")  # the smaller first
DB_SUFFIX = "mutation"

# Imported once by the server mutants are forked from: what every test run imports and that reads
# no settings at import (a quarter of a mutant's time otherwise; faker alone takes half a second).
PRELOAD = [
    "faker", "factory", "hypothesis", "time_machine", "pytest_django", "django", "django.db.models",
    "django.test", "django.contrib.admin", "celery", "psycopg", "yaml", "dateutil", "redis", "rest_framework",
    "icalendar",
]

# Loaded into every pytest run (-p mutation_plugin).
# - Hypothesis: the profile `mutation` (--hypothesis-profile): no deadline and no health check about
#   speed, since mutmut's trampolines and a busy machine slow every call and a test that fails for
#   being slow would count the mutant as killed; examples derived from each test's name, so that
#   two runs over the same code kill the same mutants; no example database.
# - Database groups: the test database is test_<name>_mutation, so that --reuse-db keeps one
#   between mutants and no other run shares it. (If tests/conftest.py names test databases itself,
#   its fixture wins, and MONITOR_TEST_RUN_ID, set below, gives it the same fixed name.)
PLUGIN = '''
import os

import pytest
from hypothesis import HealthCheck, Phase, settings
from pytest_django.fixtures import _set_suffix_to_test_databases

# No shrinking: a mutant is killed by the first failing example; making it minimal costs seconds.
settings.register_profile(
    "mutation", deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    if os.environ.get("MUTATION_DB_SUFFIX"):
        _set_suffix_to_test_databases(suffix=os.environ["MUTATION_DB_SUFFIX"])
'''


def matches(patterns):
    found = set()
    for pattern in patterns:
        found.update(p.relative_to(ROOT).as_posix() for p in ROOT.glob(pattern) if p.is_file())
    return sorted(found)


def work_tree_files():
    """Tracked and untracked files of the work tree, less what .gitignore ignores."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode()
    return sorted({f for f in out.split("\0") if f and (ROOT / f).is_file()})


def toml_list(values):
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def prepare(group, spec, workdir, modules, tests):
    """A fresh copy of the work tree in workdir, with mutmut's settings in its pyproject.toml."""
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    for name in work_tree_files():
        target = workdir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    pyproject = (workdir / "pyproject.toml").read_text()
    if "[tool.mutmut]" in pyproject:
        sys.exit("pyproject.toml has a [tool.mutmut] table; bin/mutation writes its own: remove it.")
    top = sorted({n.split("/")[0] for n in work_tree_files()} - {"monitor", "tests", "pyproject.toml"})
    (workdir / "mutation_plugin.py").write_text(PLUGIN)
    top.append("mutation_plugin.py")
    args = ["-m", "not slow", "-p", "no:cacheprovider", "-p", "mutation_plugin", "--hypothesis-profile=mutation"]
    if spec["database"]:
        args.append("--reuse-db")
    pyproject += f"""

[tool.mutmut]
source_paths = ["monitor"]
only_mutate = {toml_list(modules)}
also_copy = {toml_list(top)}
pytest_add_cli_args = {toml_list(args)}
pytest_add_cli_args_test_selection = {toml_list(tests)}
# Each mutant's tests run in a process forked from a server that imported pytest and the
# libraries in mutation_preload.txt, nothing of the project: Django's settings, the apps and the
# test plugins start afresh for every mutant.
process_isolation = "forkserver"
forkserver_warmup = "import"
preload_modules_file = {json.dumps(str(workdir / "mutation_preload.txt"))}
use_setproctitle = false
"""
    (workdir / "mutation_preload.txt").write_text("\n".join(PRELOAD) + "\n")
    (workdir / "pyproject.toml").write_text(pyproject)


def group_env(spec, workdir):
    env = dict(os.environ)
    env.pop("PYTEST_XDIST_WORKER", None)
    env.pop("MONITOR_HYPOTHESIS_SCALE", None)
    # Each mutant's test run starts its own Redis (tests/isolation.py) and would write its sentinel in
    # the Redis at REDIS_URL; a run killed on a timeout cannot delete it. Nothing answers on port 1,
    # so no sentinel is written: mutants are run in a copy, against no service anyone else uses.
    env["REDIS_URL"] = "redis://127.0.0.1:1/0"
    if spec.get("hypothesis_scale"):
        env["MONITOR_HYPOTHESIS_SCALE"] = spec["hypothesis_scale"]
    # Every temporary file of the run, and every folder a test run makes for itself, lands here:
    # what a mutant killed on a timeout leaves behind is found (stop_leftovers) and removed.
    env["TMPDIR"] = str(workdir / "tmp")
    if spec["database"]:
        env["MUTATION_DB_SUFFIX"] = DB_SUFFIX
        env["MONITOR_TEST_RUN_ID"] = DB_SUFFIX
    else:
        env.pop("MONITOR_TEST_RUN_ID", None)  # each mutant's run picks its own
        env.pop("MUTATION_DB_SUFFIX", None)
    return env


def stop_leftovers(workdir):
    """Stop the processes a mutant's test run started and left running when it was killed on a timeout.

    Those a test run starts for itself (tests/isolation.py: its own redis-server) run in a session of
    their own with their working folder in the run's temporary folder, which is under workdir/tmp.
    """
    tmp = str(workdir / "tmp") + "/"
    stopped = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if cwd.startswith(tmp):
            try:
                os.kill(int(proc.name), 15)
                stopped += 1
            except ProcessLookupError:
                pass
    return stopped


def module_name(path):
    """monitor/alerts/sweep.py → monitor.alerts.sweep. (how its mutants' names begin)"""
    return path.removesuffix(".py").removesuffix("/__init__").replace("/", ".") + "."


def refresh_tests(workdir):
    """The work tree's tests/ as it is now, in the copy (mutmut copies it on into mutants/)."""
    for name in work_tree_files():
        if name.startswith("tests/"):
            target = workdir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target)


def drop_test_database():
    import dj_database_url
    import psycopg

    db = dj_database_url.parse(os.environ["DATABASE_URL"])
    name = f"test_{db['NAME']}_{DB_SUFFIX}"
    with psycopg.connect(
        host=db["HOST"] or None, port=db["PORT"] or None, user=db["USER"] or None,
        password=db["PASSWORD"] or None, dbname=db["NAME"], autocommit=True,
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- reading mutmut's results (run inside the group's workdir) ---------------------------------

def collect():
    """Every mutant's status, and for survivors the line and the change, as JSON on stdout."""
    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.mutation.diff_apply import get_diff_for_mutant
    from mutmut.stats import status_by_exit_code
    from mutmut.utils.file_utils import walk_mutatable_files

    out = []
    for path in walk_mutatable_files():
        data = SourceFileMutationData(path=path)
        data.load()
        source = Path(path).read_text().split("\n")
        for name, code in sorted(data.exit_code_by_key.items(), key=lambda kv: mutant_sort_key(kv[0])):
            status = status_by_exit_code[code]
            row = {"module": str(path), "mutant": name, "status": status}
            if status not in ("killed", "timeout", "caught by type check"):
                diff = get_diff_for_mutant(name, path=path)
                row.update(locate(diff, source, name))
            out.append(row)
    json.dump(out, sys.stdout)


def mutant_sort_key(name):
    stem, _, number = name.rpartition("__mutmut_")
    return stem, int(number) if number.isdigit() else 0


def locate(diff, source, name):
    """The line of the module a mutant changes, the original text and the mutated one."""
    lines = diff.split("\n")
    function_first = None
    removed, added, old_no = [], [], None
    for line in lines:
        m = re.match(r"@@ -(\d+)", line)
        if m and old_no is None:
            old_no = int(m.group(1))
            counter = old_no
            continue
        if old_no is None:
            continue
        if line.startswith("-"):
            removed.append((counter, line[1:]))
            counter += 1
        elif line.startswith("+"):
            added.append(line[1:])
        else:
            counter += 1
    # The function's first line, as mutmut prints it, found in the module near its definition.
    function = name.partition("__mutmut_")[0].rpartition(".")[2]
    function = function.split("ǁ")[-1] if "ǁ" in function else function[2:]
    candidates = [i + 1 for i, text in enumerate(source) if re.match(rf"\s*(async\s+)?def {re.escape(function)}\b", text)]
    line_no = None
    if removed and candidates:
        first_changed, text = removed[0]
        for start in candidates:
            guess = start + first_changed - 1
            # decorators or comments above the def shift the function's first line
            for delta in range(0, 8):
                for g in (guess - delta, guess + delta):
                    if 0 < g <= len(source) and source[g - 1].strip() == text.strip():
                        line_no = g
                        break
                if line_no:
                    break
            if line_no:
                break
    return {
        "line": line_no,
        "original": "\n".join(t.strip() for _, t in removed),
        "mutated": "\n".join(t.strip() for t in added),
        "diff": diff,
    }


# --- the report --------------------------------------------------------------------------------

def summarise(rows):
    by_module = {}
    for row in rows:
        counts = by_module.setdefault(row["module"], {"killed": 0, "timeout": 0, "survived": 0, "no tests": 0,
                                                     "other": 0, "total": 0})
        status = row["status"]
        key = status if status in counts else "other"
        if status == "caught by type check":
            key = "killed"
        counts[key] += 1
        counts["total"] += 1
    return by_module


def report(results, started, timings, max_children):
    lines = [
        "# Mutation testing",
        "",
        f"`bin/mutation` (mutmut {mutmut_version()}), run on {started:%Y-%m-%d} on {machine()}.",
        "",
        "| module | killed | timed out | survived | no tests | other | total | score | run time |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for group, (rows, spec) in results.items():
        for module, c in sorted(summarise(rows).items()):
            score = (c["killed"] + c["timeout"]) / c["total"] if c["total"] else 0
            lines.append(
                f"| `{module}` | {c['killed']} | {c['timeout']} | {c['survived']} | {c['no tests']} | {c['other']} "
                f"| {c['total']} | {score:.1%} | {group}: {timings[group]:.0f} s |"
            )
    lines += ["", "Score: killed and timed-out mutants over all mutants. Run time: the group's mutmut run "
              f"(with --max-children {max_children} for groups without a database, 1 for the others).", ""]
    for group, (rows, spec) in results.items():
        lines += [f"## {group}: survivors", "", "Tests: " + ", ".join(f"`{t}`" for t in spec["tests_found"]), ""]
        survivors = [r for r in rows if r["status"] not in ("killed", "timeout", "caught by type check")]
        if not survivors:
            lines += ["None.", ""]
            continue
        lines += ["| module | line | mutant | status | original | mutated |", "| --- | ---: | --- | --- | --- | --- |"]
        for r in sorted(survivors, key=lambda r: (r["module"], r.get("line") or 0, mutant_sort_key(r["mutant"]))):
            lines.append(
                f"| `{r['module']}` | {r.get('line') or '?'} | `{r['mutant'].rpartition('.')[2]}` | {r['status']} "
                f"| {cell(r.get('original', ''))} | {cell(r.get('mutated', ''))} |"
            )
        lines.append("")
    return "\n".join(lines)


def cell(text):
    return "`" + text.replace("|", "\\|").replace("\n", "` / `") + "`" if text else "(line removed)"


def mutmut_version():
    from importlib.metadata import version

    return version("mutmut")


def machine():
    cores = os.cpu_count()
    return f"{cores} cores, CPython {sys.version.split()[0]}"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="bin/mutation", description=__doc__.split("\n\n")[0])
    parser.add_argument("groups", nargs="*", metavar="GROUP",
                        help=f"which groups to run: {', '.join(ORDER)} (default: all, the smaller first)")
    parser.add_argument("--max-children", type=int, default=2,
                        help="mutants tested at once in groups without a database (default 2)")
    parser.add_argument("--workdir", type=Path,
                        default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "monitor-mutation")
    parser.add_argument("--output", type=Path, help="where to write the report (default: WORKDIR/report.md)")
    parser.add_argument("--report-only", action="store_true", help="read the last run's results again")
    parser.add_argument("--resume", action="store_true",
                        help="go on with an interrupted run: its copy of the code, the tests as they are now; "
                             "mutants already tested keep their results")
    parser.add_argument("--mutants", nargs="+", metavar="NAME",
                        help="only these mutants (mutmut's names or globs, e.g. 'monitor.alerts.delivery.*'); "
                             "with --resume, tested again even if they were: after adding tests for survivors")
    parser.add_argument("--collect", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if unknown := set(args.groups) - set(ORDER):
        parser.error(f"unknown groups: {', '.join(sorted(unknown))} (choose from {', '.join(ORDER)})")
    if args.collect:
        return collect()

    started = datetime.now(UTC)
    output = args.output or args.workdir / "report.md"
    timings_file = args.workdir / "timings.json"
    timings = {}  # of the groups this command runs
    results = {}
    for group in [g for g in ORDER if g in (args.groups or ORDER)]:
        spec = dict(GROUPS[group])
        modules, tests = matches(spec["mutate"]), matches(spec["tests"])
        spec["tests_found"] = tests
        if not modules:
            print(f"— {group}: no module matches {spec['mutate']}", file=sys.stderr)
            continue
        workdir = args.workdir / group
        env = group_env(spec, workdir)
        names = []
        if args.mutants:
            names = [m for m in args.mutants if any(m.startswith(module_name(mod)) for mod in modules)]
            if not names:
                continue
        if not args.report_only:
            print(f"— {group}: mutating {', '.join(modules)} against {len(tests)} test files", file=sys.stderr)
            if args.resume and (workdir / "mutants").is_dir():
                refresh_tests(workdir)
            else:
                prepare(group, spec, workdir, modules, tests)
            (workdir / "tmp").mkdir(exist_ok=True)
            children = 1 if spec["database"] else args.max_children
            t0 = time.monotonic()
            with open(args.workdir / f"{group}.log", "a" if args.resume else "w") as log:
                run = subprocess.run(
                    [sys.executable, "-m", "mutmut", "run", "--max-children", str(children), *names],
                    cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT,
                )
            timings[group] = time.monotonic() - t0
            if args.resume and timings_file.exists():  # the interrupted part counts too
                timings[group] += json.loads(timings_file.read_text()).get(group, 0)
            if stopped := stop_leftovers(workdir):
                print(f"  stopped {stopped} processes left by mutants' test runs", file=sys.stderr)
            if spec["database"]:
                drop_test_database()
            print(f"  done in {timings[group]:.0f} s (exit {run.returncode}; log: {args.workdir / f'{group}.log'})",
                  file=sys.stderr)
            if run.returncode != 0:
                sys.exit(f"mutmut failed for {group}: see {args.workdir / f'{group}.log'}")
        collected = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--collect"],
            cwd=workdir, env=env, capture_output=True, text=True, check=True,
        )
        results[group] = (json.loads(collected.stdout), spec)
    args.workdir.mkdir(parents=True, exist_ok=True)
    # Read again: another group may have finished meanwhile (groups can run at once, in two commands).
    timings = {**(json.loads(timings_file.read_text()) if timings_file.exists() else {}), **timings}
    timings_file.write_text(json.dumps(timings))
    timings = {group: timings.get(group, float("nan")) for group in results}
    text = report(results, started, timings, args.max_children)
    output.write_text(text + "\n")
    print(text)
    print(f"wrote {output}", file=sys.stderr)


if __name__ == "__main__":
    main()
