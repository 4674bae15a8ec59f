"""The several-workers benchmark at a tiny size (bench/shards.py): real workers, Redis and PostgreSQL.

The figures are in docs/performance.md; this checks that the benchmark runs end to end and that what
it measures holds: one worker process and two both judge every commitment of every agreement once,
one task per agreement, and record nothing new. How fast is the benchmark's to say.
"""

import pytest

from bench import shards
from tests import isolation

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(240, method="signal"),  # signal: the workers are stopped even on a timeout
    pytest.mark.django_db(transaction=True),  # the workers are other processes: committed rows only
]


def test_one_worker_and_two_each_judge_every_agreement_once(tmp_path, monkeypatch):
    monkeypatch.setattr(shards, "BROKER_URL", isolation.current().redis.url(11))
    monkeypatch.setitem(shards.SIZES, "small", (100, 2_000, 10))
    result = shards.measure("small", tmp_path, log=lambda *args: None)
    text = shards.section(result, "tests/test_bench_shards.py")
    print(text)

    assert result.agreements == 10
    assert result.judged == {1: 100, 2: 100} and result.transitions == {1: 0, 2: 0}
    assert "| **throughput, two / one** |" in text and result.seconds[1] > 0 and result.seconds[2] > 0
