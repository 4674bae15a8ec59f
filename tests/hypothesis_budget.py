"""How many examples a property tries: as written, or scaled by MONITOR_HYPOTHESIS_SCALE.

`bin/mutation` runs the engine's properties against two thousand mutants and scales them down
(docs/testing.md); the suite runs them as written.
"""

import os

SCALE = float(os.environ.get("MONITOR_HYPOTHESIS_SCALE") or 1)


def examples(n):
    return max(5, round(n * SCALE))
