"""The kinds of commitment, each judged by the module of its name.

A kind is a module here named after it (`deadline.py`, `target.py`, ...) with two functions:
`judge(ctx, reports) -> Outcome`, the verdict from the counting reports in time order, and
`reads(window) -> (opens, closes)`, when a report must have happened to decide it (None: no
bound), which the evidence index and `affected` use to read only what can matter. Its judge
sets `Outcome.next_check`, the earliest instant after as_of at which that status can change
with no other report (docs/architecture.md, "When to judge again"); one that leaves it unset
is judged again at every day edge (context.EVERY_DAY), which is safe, only costlier. A kind whose
statuses new acts cannot move says so with `stands(rule, status)`: new acts then re-judge none of its
commitments with such a status before their next check (`stands`, below; `index.affected`). A fifth kind
is its module, its rule's validation (terms/rules.py) and its reason sentences
(monitor/verdicts/reasons.py): nothing here lists the kinds.
"""

from functools import cache
from importlib import import_module


@cache
def kind_of(name):
    """The module that judges commitments of kind `name`."""
    return import_module(f"monitor.verdicts.engine.{name}")


def stands(term, status):
    """Whether new acts cannot move this commitment from `status` before its next check (its kind's `stands`)."""
    says = getattr(kind_of(term.kind), "stands", None)
    return says is not None and says(term.rule, status)
