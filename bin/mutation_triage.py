"""Mark the surviving mutants of a `bin/mutation` report that are equivalent, and say why.

    .venv/bin/python bin/mutation_triage.py ~/.cache/monitor-mutation/report.md > survivors.md

A mutant is *equivalent* when no user, reader or test could tell it from the original: it
changes how fast an answer comes, not the answer (an index's bound the judge checks again), or
spells SQL keywords in another case, or sits in a branch the suite's database never takes. Each
rule below names the lines it covers and the reason; a survivor no rule covers is a gap in the
tests (docs/testing.md lists them as such). Rules are matched on the module, the function the
mutant is in (mutmut's name) and the original line.
"""

import re
import sys

# (module suffix, function name pattern, original-line pattern or None, reason)
RULES = [
    # --- the verdict engine: shortcuts the judges check again --------------------------------------
    ("engine/index.py", r"_candidates$", None,
     "index bound: the judges re-check the window and the instant judged, so a wider candidate list "
     "gives the same verdict"),
    ("engine/index.py", r"_Rowsǁbetween$", None,
     "index bound (bisect limits): a wider slice is filtered again by the window and the cutoff"),
    ("engine/index.py", r"EvidenceIndexǁqualified$", r"overlap =|_by_standing",
     "de-duplication and standing filter of the index, re-done by the judges"),
    ("engine/index.py", r"_Shelfǁ_rows$", r"\.get\(category, (\[\]|\(\))\)",
     "a default for a category no report has: None and [] both give no rows (the shelf is never read then)"),
    ("engine/index.py", r"_Shelfǁlists$", r'rule\.attribution != "any"',
     "the owing-name filter of the index; the judges attribute every report again"),
    ("engine/__init__.py", r"evaluate_agreement$", r"isinstance\((evidence|coverage)|local_days",
     "a cache or an index rebuilt from the same reports: same verdicts, more work"),
    ("engine/__init__.py", r"^evaluate$", r"local_days",
     "the per-zone cache of local days: recomputed when absent"),
    ("engine/context.py", r"Contextǁday_of$", None, "the cache of a report's local day: recomputed when absent"),
    ("engine/index.py", r"_span$", None,
     "a window's span as the index and `affected` read it: a wider span re-judges more and records the same"),
    ("engine/coverage.py", r"CoverageIndexǁnth_after$", r"date\.max",
     "an open-ended span counted by its days or as n: either way the n-th day falls in it"),
    ("engine/coverage.py", r"_intersection$", r"a\[i\]\[1\] < b\[j\]\[1\]",
     "equal ends: advancing either list first gives the same intersection"),
    ("engine/ceiling.py", r"judge$", r"previous = None",
     "the first day visited never reads `previous` (nothing is breached yet)"),
    ("engine/prohibition.py", r"judge$", r'details = \{"violations"',
     "details built when not asked for: the sweep ignores them"),
    ("engine/deadline.py", r"judge$", r'e\.occurred_at \+ SPANS\["minute"\] >',
     "the early exit of the scan for the first act: scanning further finds no earlier act"),
    ("engine/deadline.py", r"judge$", r"key < first_key",
     "ties on (done by, id) cannot happen: ids are unique"),
    # --- the sweep -------------------------------------------------------------------------------------
    ("sweep.py", r"_lock$|_link_evidence$", r'"SELECT|"INSERT|SELECT \*',
     "SQL keywords in another case"),
    ("sweep.py", r"_link_evidence$", r'connection\.vendor != "postgresql"',
     "both branches link the same reports on PostgreSQL"),
    ("sweep.py", r"_link_evidence$", r"through\(|ignore_conflicts",
     "the SQLite branch: the suite runs on PostgreSQL (the quick start's SQLite is not under test)"),
    ("sweep.py", r"_sweep$", r"parties=False",
     "whether parties are prefetched: the sweep never reads them"),
    ("sweep.py", r"_sweep$", r"inputs\.evidence_for\(|inputs\.coverage_for\(",
     "what is read from the database before the index weighs it at `now`: reading more changes nothing"),
    ("sweep.py", r"_sweep$", r"details=False|known_at=now|evaluate\(previous\.effective_at, c\.id\)",
     "the engine is given indexes already weighed at `now`; details and the chosen subset only change "
     "the work"),
    ("sweep.py", r"_owed_alerts$", r"event = None|digests=True",
     "None and \"\" are both falsy; every caller passes `digests`"),
    ("sweep.py", r"_reminders$|_digests$|_corrections$", r"messages\.(Reminder|Digest|Correction)\(key",
     "the builder's key is set again from the owed key when it is inserted (_insert_missing)"),
    ("sweep.py", r"_insert_missing$", r"5000|batch_size=1000",
     "how keys are read and rows written in chunks: the same rows either way"),
    ("sweep.py", r"_corrections$|_say_what_they_correct$", r"select_related\(",
     "what is fetched along in the same query: read lazily otherwise, same values"),
    # --- the outbox ------------------------------------------------------------------------------------
    ("delivery.py", r"claim$", r'values_list\("id", flat=True\)',
     "values_list(flat=True) with no field gives the primary key"),
    ("delivery.py", r"claim$", r'order_by\("next_attempt_at", "id"\)',
     "the tie-break by id among rows due at the same instant: any order is as good"),
    ("delivery.py", r"_email$", r"List-Unsubscribe-Post|from_email=settings\.DEFAULT_FROM_EMAIL",
     "header names are case-insensitive; Django's default sender is DEFAULT_FROM_EMAIL"),
    ("delivery.py", r"_deliver$|_send_email$", r"500 <= code < 600",
     "SMTP has no code 600"),
    ("delivery.py", r"_send_one$", r"select_related\(",
     "what is fetched along in the same query: read lazily otherwise, same values"),
    ("delivery.py", r"_email$", r'"text/html"',
     "MIME types are case-insensitive"),
    ("delivery.py", r"_deliver$", r"started_at=started",
     "started_at defaults to the same instant within the attempt"),
    ("delivery.py", r"send_due$|_reset$", r"connection\.close\(\)|connection\.connection = None|fail_silently",
     "Django's SMTP backend opens and closes a connection per message: resetting it changes nothing"),
]


def function_of(mutant):
    name = mutant.partition("__mutmut_")[0]
    name = name.rpartition(".")[2]
    return name[2:] if name.startswith("x_") else name.removeprefix("xǁ")


def reason_for(module, mutant, original):
    function = function_of(mutant)
    for suffix, function_pattern, line_pattern, reason in RULES:
        if module.endswith(suffix) and re.search(function_pattern, function):
            if line_pattern is None or re.search(line_pattern, original):
                return reason
    return ""


def main(path):
    out, counts = [], {}
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if line.startswith("| module | line | mutant |"):
            out += [line + " equivalent? |", "| --- | ---: | --- | --- | --- | --- | --- |"]
            continue
        if line.startswith("| --- | ---: | --- | --- | --- | --- |"):
            continue
        cells = line.split(" | ")
        if line.startswith("| `monitor/") and len(cells) >= 6 and cells[3].strip() in ("survived", "no tests"):
            module, mutant = cells[0].strip("| `"), cells[2].strip("`")
            original = cells[4].replace("\\|", "|")
            reason = reason_for(module, mutant, original)
            kept = counts.setdefault(module, [0, 0])
            kept[0 if reason else 1] += 1
            out.append(line + (f" yes: {reason} |" if reason else " no |"))
            continue
        out.append(line)
    print("\n".join(out))
    for module, (equivalent, gaps) in sorted(counts.items()):
        print(f"{module}: {equivalent} equivalent, {gaps} not", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1])
