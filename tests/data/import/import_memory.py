"""Peak memory of importing an ACLED export of N rows, then one of 10 N rows, after a warm-up import.

    DATABASE_URL=postgres://…/a_migrated_database python tests/data/import/import_memory.py N

Prints {"small": bytes, "large": bytes}: the peak of Python's allocations (tracemalloc) during each
import, up to the hand-over of the written ids to re-evaluation. Run in a process of its own so that
nothing another test left behind (caches, garbage, a warm connection) counts in one measurement and
not in the other; the warm-up import pays the one-time costs (imports, caches, prepared statements)
before either is measured. Everything happens in one transaction that is rolled back: the database
is left as it was.
"""

import gc
import io
import json
import os
import sys
import tempfile
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "monitor.settings")

import django  # noqa: E402

django.setup()

import make_acled  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402

from monitor.alerts import triggers  # noqa: E402
from monitor.evidence import models as ev  # noqa: E402

# What the importer keeps is measured, not what the alerts app does with the ids it is handed once the
# import is done (its own business, and tested there): the stand-in keeps nothing.
triggers.reports_changed = lambda ids: None


def peak_of_import(path, source):
    gc.collect()
    tracemalloc.start()
    call_command("import_reports", str(path), "--format", "acled", "--source", source, "--time-zone", "Asia/Kabul",
                 stdout=io.StringIO(), stderr=io.StringIO())
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def main(n):
    peaks = {}
    with tempfile.TemporaryDirectory() as tmp, transaction.atomic():
        for name, rows in (("warm-up", n // 2), ("small", n), ("large", 10 * n)):
            path = Path(tmp) / f"{name}.csv"
            with open(path, "w", encoding="utf-8", newline="") as f:
                make_acled.write(f, rows, seed=rows)
            # A source of its own for each file, so that every import creates all its rows.
            ev.Source.objects.create(name=f"Memory probe ({name})", kind=ev.EVENT_DATASET)
            peaks[name] = peak_of_import(path, f"Memory probe ({name})")
        transaction.set_rollback(True)
    print(json.dumps({"small": peaks["small"], "large": peaks["large"]}))


if __name__ == "__main__":
    main(int(sys.argv[1]))
