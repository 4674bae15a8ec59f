"""The kinds of commitment, each judged by the module of its name.

A kind is a module here named after it (`deadline.py`, `target.py`, ...) with two functions:
`judge(ctx, reports) -> Outcome`, the verdict from the counting reports in time order, and
`reads(window) -> (opens, closes)`, when a report must have happened to decide it (None: no
bound), which the evidence index and `affected` use to read only what can matter. A fifth kind
is its module, its rule's validation (terms/rules.py) and its reason sentences
(monitor/verdicts/reasons.py): nothing here lists the kinds.
"""

from functools import cache
from importlib import import_module


@cache
def kind_of(name):
    """The module that judges commitments of kind `name`."""
    return import_module(f"monitor.verdicts.engine.{name}")
