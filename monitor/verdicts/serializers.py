"""The stable JSON shape of verdicts (docs/compliance-json.md). Add fields; never rename or remove one."""

from monitor.verdicts.models import recorded_since
from terms.readings import main_label

FORMAT_VERSION = 2  # 2: new statuses and per-party verdicts (docs/compliance-json.md, "Format 2")


def _instant(value):
    return value.isoformat() if value is not None else None


# Reports set aside, listed per page: a ceiling over years of event data can set aside thousands.
SET_ASIDE_PAGE_SIZE = 100


def set_aside_to_dict(set_aside, page=1):
    """What a verdict set aside, and why: counts per reason, and one page of the reports (oldest first)."""
    if set_aside is None:
        return None
    listed = set_aside["reports"]
    pages = max(1, -(-len(listed) // SET_ASIDE_PAGE_SIZE))
    page = min(max(1, page), pages)
    start = (page - 1) * SET_ASIDE_PAGE_SIZE
    return {
        "counts": dict(set_aside["counts"]),
        "total": len(listed),
        "page": page,
        "pages": pages,
        "reports": [{"id": i, "reason": r} for i, r in listed[start:start + SET_ASIDE_PAGE_SIZE]],
    }


def verdict_to_dict(verdict, *, set_aside_page=1):
    details = verdict.details or {}
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
        "weighed": details.get("weighed"),
        "set_aside": set_aside_to_dict(details.get("set_aside"), set_aside_page),
        # Reports the rule would count but for their acting side, a non-party actor: never weighed.
        "context": list(verdict.context),
        "readings": [reading_to_dict(r) for r in verdict.readings],
        # Owed by several parties `each`: every party's own verdict; `status` above is their roll-up.
        "parties": [party_verdict_to_dict(p) for p in verdict.parties],
    }


def reading_to_dict(reading):
    """The verdict under one competing reading; only the main verdict decides status and alerts."""
    return {
        "key": reading.key,
        "label": reading.label,
        "status": reading.status,
        "since": _instant(reading.since),
        "sentence": reading.sentence,
        "reason": {"code": reading.reason.code, "params": reading.reason.params},
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


def standing_to_dict(standing, *, set_aside_page=1, latest_change=None):
    """`latest_change`: the commitment's own latest recorded status change by the cutoffs, or None."""
    c = standing.commitment
    return {
        "key": c.key,
        "title": c.title,
        "kind": c.kind,
        "owed_by": sorted(p.slug for p in c.owed_by.all()),
        "tracked": c.tracked,
        "needs_review": c.needs_review,
        "main_reading": main_label(c),
        "status": standing.status,
        # When `status` began, as the status history recorded it: the instant the pages, feeds, alerts and
        # API give. `computed.since` is the engine's own, which a report learned later can move.
        "since": _instant(recorded_since(standing.status, standing.computed.since, latest_change)),
        "provisional": standing.provisional,
        "computed": verdict_to_dict(standing.computed, set_aside_page=set_aside_page),
        "assessment": assessment_to_dict(standing.assessment, standing.computed.status),
    }


def agreement_to_dict(agreement, standings, *, as_of, known_at, set_aside_page=1, terms_revision=None,
                      latest_changes=None):
    """`latest_changes`: {(commitment id, None): latest recorded change} (models.latest_of_each), or None."""
    latest_changes = latest_changes or {}
    return {
        "slug": agreement.slug,
        "title": agreement.title,
        "state": agreement.state,
        "signed_on": agreement.signed_on.isoformat() if agreement.signed_on else None,
        "time_zone": agreement.time_zone,
        "as_of": _instant(as_of),
        "known_at": _instant(known_at),
        # The revision of the terms the verdicts used ("r3", terms.revisions); the method version is the document's.
        "terms_revision": terms_revision,
        "commitments": [
            standing_to_dict(
                s, set_aside_page=set_aside_page, latest_change=latest_changes.get((s.commitment.id, None))
            )
            for s in standings
        ],
    }
