"""A commitment several parties owe `each`: judged per party, then rolled up.

`share` says how owing parties divide a commitment (docs/agreement-format.md, "share"):
`each` (every one of them must act), `any` (one act by any of them suffices), `jointly` (one
act naming them together). Under `any` and `jointly` the commitment is judged once, on their
acts together (which acts count is the evidence index's business, engine/index.py). Under
`each`, with two or more owing parties and acts attributed to them (not `attribution: any`,
which cannot tell them apart), each party is judged alone, as a commitment owed by it only,
on the acts attributed to it, and the verdict is their roll-up (docs/architecture.md,
"Several owing parties"):

- the roll-up is the worst party status in `ROLL_UP` (missed before breached before disputed
  ... before met): met only when every party met it, met late when one was late, missed when
  any missed;
- `since`: for met, met late and in compliance the latest party's (it is met when the last
  party met it); otherwise the earliest among the parties with that status (the first miss,
  the first open breach);
- reason `shares.each`, naming every party ("Ukraine: met late on 26 February 2022; DPR:
  missed"); days left, days overdue and details are the deciding party's (the first, in the
  order of `Term.owing`, with the roll-up's status and since); evidence is every party's.
"""

from dataclasses import replace

from monitor.verdicts import statuses as S
from monitor.verdicts.engine.index import _attributed, qualifies
from monitor.verdicts.engine.values import CONTESTED, COUNTS, TIME_ORDER, WEAK, PartyVerdict, Reason, Verdict
from terms.rules import local_day

EACH = "each"
ANY = "any"
JOINTLY = "jointly"
SHARES = (EACH, ANY, JOINTLY)

# Worst first: the roll-up of parties' statuses is the first of theirs in this order.
ROLL_UP = (
    S.MISSED, S.OVERDUE, S.BREACHED, S.DISPUTED, S.UNCONFIRMED, S.NO_DATA, S.DUE_SOON, S.NOT_YET_DUE, S.MET_LATE,
    S.IN_COMPLIANCE, S.MET,
)
# Statuses a party reaches by acting (or keeping within a limit): the roll-up reaches them when the last one does.
_REACHED = frozenset({S.MET, S.MET_LATE, S.IN_COMPLIANCE})


def per_party(term):
    """Is this commitment judged per party?"""
    return term.share == EACH and len(term.owing) > 1 and term.rule.attribution != "any"


def evaluate_each(evaluate, term, evidence, *, as_of, known_at, qualified, claims=None, speaking=None, **kwargs):
    """The rolled-up verdict of `term`, each owing party judged alone by `evaluate`.

    Each party's claims below the counting grade and its account of what was set aside are its own
    reports' (engine/weighing.py), as its counting and disputed reports are.
    """
    if qualified is None:
        counting, contested = _sift(term, evidence, as_of, known_at)
        speaking = [(e, e.standing_at(known_at)) for e in evidence if qualifies(term, e)]
        claims = sorted(
            (e for e, standing in speaking if standing == WEAK and e.occurred_at <= as_of), key=TIME_ORDER
        )
    else:
        counting, contested = qualified
    verdicts = []
    for party in term.owing:
        alone = replace(term, owing=(party,))
        mine = (_of_party(term, alone, counting), _of_party(term, alone, contested))
        my_claims = _of_party(term, alone, claims or [])
        my_speaking = None
        if speaking is not None:
            ids = {e.id for e in _of_party(term, alone, [e for e, _standing in speaking])}
            my_speaking = [(e, standing) for e, standing in speaking if e.id in ids]
        verdicts.append((party, evaluate(
            alone, (), as_of=as_of, known_at=known_at, qualified=mine, claims=my_claims, speaking=my_speaking,
            **kwargs,
        )))
    return roll_up(term, verdicts)


def roll_up(term, verdicts):
    """One verdict from [(PartyRef, Verdict)], in the order of `term.owing`."""
    statuses = {v.status for _, v in verdicts}
    status = next((s for s in ROLL_UP if s in statuses), verdicts[0][1].status)
    if status in _REACHED:
        since = max((v.since for _, v in verdicts if v.since is not None), default=None)
    else:
        since = min((v.since for _, v in verdicts if v.status == status and v.since is not None), default=None)
    deciding = next((v for _, v in verdicts if v.status == status and v.since == since), None) or next(
        v for _, v in verdicts if v.status == status
    )
    parties = tuple(
        PartyVerdict(
            party_id=p.id, name=p.name, slug=p.slug, status=v.status, reason=v.reason, since=v.since,
            evidence=v.evidence,
        )
        for p, v in verdicts
    )
    parts = [
        {
            "party": p.name,
            "status": v.status,
            "date": local_day(v.since, term.tz).isoformat() if v.since is not None else None,
        }
        for p, v in verdicts
    ]
    return replace(
        deciding,
        commitment_id=term.id,
        status=status,
        reason=Reason("shares.each", {"parts": parts}),
        since=since,
        evidence=tuple(dict.fromkeys(e for _, v in verdicts for e in v.evidence)),
        parties=parties,
        # The roll-up and each party's status can change only when one party's can.
        next_check=min((v.next_check for _, v in verdicts if v.next_check is not None), default=None),
    )


def _of_party(term, alone, reports):
    """The reports that count for one party: those attributed to it.

    A report linked by hand to the commitment counts for the parties its acting side names,
    and for every party when it names none of them (it was linked to the commitment as a whole).
    """
    out = []
    for e in reports:
        if e.commitment_id == term.id:
            if _attributed(alone, e) or not any(_attributed(replace(term, owing=(p,)), e) for p in term.owing):
                out.append(e)
        elif qualifies(alone, e):
            out.append(e)
    return out


def _sift(term, evidence, as_of, known_at):
    """(counting, disputed) reports for `term`, in time order, as `evaluate` sifts them."""
    counting, contested = [], []
    for e in evidence:
        if e.occurred_at <= as_of and qualifies(term, e):
            standing = e.standing_at(known_at)
            if standing == COUNTS:
                counting.append(e)
            elif standing == CONTESTED:
                contested.append(e)
    counting.sort(key=TIME_ORDER)
    contested.sort(key=TIME_ORDER)
    return counting, contested


__all__ = ["ANY", "EACH", "JOINTLY", "ROLL_UP", "SHARES", "Verdict", "evaluate_each", "per_party", "roll_up"]
