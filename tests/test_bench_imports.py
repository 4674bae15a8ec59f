"""The import benchmark at its small scale (bench/imports.py): COPY and the importer load the same file.

The full-size figures are in docs/performance.md; this checks that the benchmark still runs end to
end and that both ways of loading the file land every row, so that its ratio compares like with like.
It works in a database of its own (bench_import_smoke_<run id>, dropped afterwards), through psycopg and
child processes, which use the test run's own Redis.
"""

import pytest

from bench import imports
from tests import isolation

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def test_copy_and_the_importer_load_every_row_of_the_same_file(own_database, monkeypatch):
    monkeypatch.setattr(imports, "REDIS_URL", isolation.current().redis.url(13))
    results = imports.measure("small", db=own_database("bench_import_smoke"))
    section = imports.render(results)
    print(section)  # shown if an assertion fails

    (size,) = results["sizes"]
    assert size["copy"]["rows"] == size["fresh"]["reports"] == size["rows"] == 10_000
    assert (size["fresh"]["created"], size["fresh"]["invalid"]) == (10_000, 0)
    assert (size["same"]["created"], size["same"]["updated"], size["same"]["unchanged"]) == (0, 0, 10_000)
    assert (size["revised"]["created"], size["revised"]["updated"] > 0) == (200, True)
    assert section.startswith("## Importing ACLED exports")
    assert "| 10,000 | 4 MB |" in section and "**Memory: " in section
