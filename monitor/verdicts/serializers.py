"""The stable JSON shape of verdicts (docs/compliance-json.md). Add fields; never rename or remove one."""

FORMAT_VERSION = 2  # 2: new statuses and per-party verdicts (docs/compliance-json.md, "Format 2")


def _instant(value):
    return value.isoformat() if value is not None else None


def verdict_to_dict(verdict):
    return {
        "status": verdict.status,
        "since": _instant(verdict.since),
        "reason": {"code": verdict.reason.code, "params": verdict.reason.params},
        "sentence": verdict.sentence,
        "opens_at": _instant(verdict.opens_at),
        "due_at": _instant(verdict.due_at),
        "closes_at": _instant(verdict.closes_at),
        "days_left": verdict.days_left,
        "days_overdue": verdict.days_overdue,
        "evidence": list(verdict.evidence),
        "as_of": _instant(verdict.as_of),
        "known_at": _instant(verdict.known_at),
        # Owed by several parties `each`: every party's own verdict; `status` above is their roll-up.
        "parties": [party_verdict_to_dict(p) for p in verdict.parties],
    }


def party_verdict_to_dict(party):
    return {
        "party": party.slug,
        "name": party.name,
        "status": party.status,
        "since": _instant(party.since),
        "sentence": party.sentence,
        "reason": {"code": party.reason.code, "params": party.reason.params},
    }


def assessment_to_dict(assessment, computed_status):
    if assessment is None:
        return None
    return {
        "action": assessment.action,
        "status": assessment.status,
        "computed_status": assessment.computed_status,
        "covers_computed": assessment.covers(computed_status),
        "pam_grade": assessment.pam_grade,
        "confidence": assessment.confidence,
        "reason": assessment.reason,
        "author": assessment.author.get_username(),
        "assessed_at": _instant(assessment.assessed_at),
    }


def standing_to_dict(standing):
    c = standing.commitment
    return {
        "key": c.key,
        "title": c.title,
        "kind": c.kind,
        "owed_by": sorted(p.slug for p in c.owed_by.all()),
        "tracked": c.tracked,
        "needs_review": c.needs_review,
        "status": standing.status,
        "provisional": standing.provisional,
        "computed": verdict_to_dict(standing.computed),
        "assessment": assessment_to_dict(standing.assessment, standing.computed.status),
    }


def agreement_to_dict(agreement, standings, *, as_of, known_at):
    return {
        "slug": agreement.slug,
        "title": agreement.title,
        "state": agreement.state,
        "signed_on": agreement.signed_on.isoformat() if agreement.signed_on else None,
        "time_zone": agreement.time_zone,
        "as_of": _instant(as_of),
        "known_at": _instant(known_at),
        "commitments": [standing_to_dict(s) for s in standings],
    }
