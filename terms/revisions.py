"""Revisions of an agreement's terms: which changes make one, which need a stated reason, and recording them.

A verdict someone cited must never change without notice. So the terms as the monitor judges them are
versioned (`terms.models.Revision`): r1 is the agreement's first recording, and every later change to a
*judged field* is a new revision with its author, reason, instant and the changes (old and new value of
each field), written in the same transaction as the change itself. Pages, the API, feeds and exports
name the revision they used (docs/agreement-format.md, "Revisions").

A change to a judged field of a commitment that has *published verdicts* is refused unless it is made
as an explicit revision with a reason (`load_agreement FILE --revise "reason"`, or the reason field in
the admin). Other judged changes (a commitment nobody has a verdict on yet, a new commitment, the first
signing date) still make a revision, with a reason written for them, so that one revision number always
names one set of judged terms. Changes to wording (titles, the agreement's words, notes, the basis) make
no revision: they change no verdict, and the audit trail (django-simple-history) keeps them.
"""

from django.db import transaction
from django.db.models import Max, OuterRef, Q, Subquery
from django.db.models.signals import post_save

# The fields of a commitment whose change can change its verdict: its kind and rule, its window (the
# anchor, the offsets and their unit, the grace, the reasonable time), how several owing parties share it,
# who owes it, its competing readings, and whether it is judged at all. The one list: the loader, the
# admin and docs/agreement-format.md ("Revisions") all follow it.
JUDGED_FIELDS = (
    "kind",
    "rule",
    "anchor",
    "anchor_commitment",
    "anchor_moment",
    "anchor_milestone",
    "offset_unit",
    "starts_offset",
    "due_offset",
    "ends_offset",
    "grace_days",
    "reasonable_days",
    "share",
    "owed_by",
    "readings",
    "tracked",
)
# The agreement's own fields every deadline is counted with: the signing day and the zone of its midnights.
# `coverage_share`: the share of covered days "in compliance" needs (a lower share can make it so).
JUDGED_AGREEMENT_FIELDS = ("signed_on", "time_zone", "coverage_share")
# A milestone's field that moves the commitments counted from it: its rule says which report reaches it, and
# its day is their day 0. A change to it is recorded as {"commitment": None, "milestone": key, "field": "rule"}.
JUDGED_MILESTONE_FIELDS = ("rule",)

# How the agreement file names each judged field, for messages an analyst reads beside the file.
FILE_NAMES = {
    "anchor": "window.from",
    "anchor_commitment": "window.from",
    "anchor_milestone": "window.from",
    "anchor_moment": "window.moment",
    "offset_unit": "window.unit",
    "starts_offset": "window.starts",
    "due_offset": "window.due",
    "ends_offset": "window.ends",
    "grace_days": "window.grace_days",
    "reasonable_days": "window.reasonable_days",
    "readings": "competing_accounts (readings)",
}

ADDED = "added"  # the `field` of a change that adds a commitment
FIRST_LOAD = "first load"
DEFAULT_AUTHOR = "system"  # r1 of an agreement made outside the loader and the admin (a script, a test)


def file_name(field):
    return FILE_NAMES.get(field, field)


def _plain(value):
    """A value as JSON keeps it (dates as ISO text)."""
    return value.isoformat() if hasattr(value, "isoformat") else value


def judged_values(commitment):
    """The commitment's judged fields as plain values; the anchor by its key, the owing parties by slug."""
    out = {}
    for name in JUDGED_FIELDS:
        if name == "owed_by":
            out[name] = sorted(p.slug for p in commitment.owed_by.all())
        elif name in ("anchor_commitment", "anchor_milestone"):
            related = getattr(commitment, name) if getattr(commitment, f"{name}_id") else None
            out[name] = related.key if related else None
        else:
            out[name] = _plain(getattr(commitment, name))
    return out


class Snapshot:
    """An agreement's judged terms at one moment: its own judged fields and each commitment's, by key."""

    def __init__(self, agreement):
        self.agreement = {name: _plain(getattr(agreement, name)) for name in JUDGED_AGREEMENT_FIELDS}
        commitments = agreement.commitments.select_related("anchor_commitment", "anchor_milestone").prefetch_related(
            "owed_by"
        )
        self.commitments = {c.key: judged_values(c) for c in commitments}
        self.ids = {c.key: c.pk for c in commitments}
        self.milestones = {
            m.key: {name: _plain(getattr(m, name)) for name in JUDGED_MILESTONE_FIELDS}
            for m in agreement.milestones.all()
        }

    def counted_from(self, milestone):
        """The keys of the commitments counted from the milestone, directly or through a commitment that is."""
        found, frontier = set(), {milestone}
        while frontier:
            step = {
                key for key, values in self.commitments.items() if key not in found
                and (values["anchor_milestone"] in frontier or values["anchor_commitment"] in frontier)
            }
            found |= step
            frontier = step
        return found


def snapshot(agreement):
    return None if agreement is None or agreement.pk is None else Snapshot(agreement)


def changes_between(before, after):
    """[{"commitment": key or None, "field", "old", "new"}, ...]: the judged changes from one snapshot to the next.

    A commitment that appears is one change (`field` "added", `new` its judged values); a commitment that
    disappears cannot (loads never delete one; the admin keeps records).
    """
    changes = []
    for name in JUDGED_AGREEMENT_FIELDS:
        if before.agreement[name] != after.agreement[name]:
            changes.append({"commitment": None, "field": name, "old": before.agreement[name],
                            "new": after.agreement[name]})
    for key, values in after.commitments.items():
        old = before.commitments.get(key)
        if old is None:
            changes.append({"commitment": key, "field": ADDED, "old": None, "new": values})
            continue
        changes += [
            {"commitment": key, "field": name, "old": old[name], "new": values[name]}
            for name in JUDGED_FIELDS
            if old[name] != values[name]
        ]
    # A milestone's rule moves every commitment counted from it. A milestone added or left out of a file is no
    # change of its own: a commitment starts or stops counting from it only by its own (judged) window.
    for key, values in after.milestones.items():
        old = before.milestones.get(key)
        if old is not None:
            changes += [
                {"commitment": None, "milestone": key, "field": name, "old": old[name], "new": values[name]}
                for name in JUDGED_MILESTONE_FIELDS
                if old[name] != values[name]
            ]
    return changes


def with_published_verdicts(commitment_ids):
    """Of these commitments, the ids of those with published verdicts.

    "Published" is read broadly, because a verdict may have been cited as soon as anyone could see it:
    the sweep has recorded a status change for it (the commitment's own or an owing party's; these feed
    the pages' histories, the feeds and the alerts), or an analyst has recorded an assessment of it
    (an analyst's word is public even when the agreement does not publish computed verdicts).
    """
    from terms.models import Commitment

    if not commitment_ids:
        return set()
    return set(
        Commitment.objects.filter(pk__in=commitment_ids)
        .filter(Q(status_changes__isnull=False) | Q(assessments__isnull=False))
        .values_list("pk", flat=True)
        .distinct()
    )


def needing_reason(changes, before):
    """{commitment key, ("milestone", key) or None: [fields]}: the changes that only an explicit revision may make.

    Those of a commitment with published verdicts; a milestone's rule, when a commitment counted from it
    (directly or through another) has published verdicts; and the agreement's zone or an already known
    signing day, when any of its commitments has published verdicts (every deadline moves with them).
    Giving the signing day for the first time is the world catching up, not a revision of a judged term:
    recorded in a revision, but no reason is asked for.
    """
    touched = {c["commitment"] for c in changes if c["commitment"] and c["field"] != ADDED}
    counted = {c["milestone"]: before.counted_from(c["milestone"]) for c in changes if c.get("milestone")}
    touched |= {k for keys in counted.values() for k in keys}
    published = with_published_verdicts([before.ids[k] for k in touched if k in before.ids])
    published_keys = {k for k in touched if before.ids.get(k) in published}
    out = {}
    for c in changes:
        if c.get("milestone"):
            if counted[c["milestone"]] & published_keys:
                out.setdefault(("milestone", c["milestone"]), []).append(c["field"])
        elif c["commitment"] is None:
            first_signing = c["field"] == "signed_on" and c["old"] is None
            if not first_signing and with_published_verdicts(list(before.ids.values())):
                out.setdefault(None, []).append(c["field"])
        elif c["commitment"] in published_keys:
            out.setdefault(c["commitment"], []).append(c["field"])
    return out


def lock(agreement):
    """The agreement's row, locked: two revisions of one agreement take turns for their numbers."""
    from terms.models import Agreement

    return Agreement.objects.select_for_update().get(pk=agreement.pk)


def record(agreement, *, made_by, reason, changes=(), made_at=None):
    """Record the next revision of the agreement's terms (call inside the transaction that makes the change)."""
    from terms.models import Revision

    # Its own transaction (a savepoint inside the caller's), for a caller in autocommit: the lock needs one.
    with transaction.atomic():
        lock(agreement)
        number = (agreement.revisions.aggregate(n=Max("number"))["n"] or 0) + 1
        fields = {"made_at": made_at} if made_at else {}
        return Revision.objects.create(
            agreement=agreement, number=number, made_by=made_by[:150], reason=reason, changes=list(changes), **fields
        )


def first_revision(sender, instance, created, raw=False, **kwargs):
    """Every agreement has a current revision from the moment it exists: r1, with whoever made it if known.

    The loader and the admin set `_revision_by` (and the loader its reason) on the instance before saving it.
    """
    if created and not raw:
        record(
            instance,
            made_by=getattr(instance, "_revision_by", None) or DEFAULT_AUTHOR,
            reason=getattr(instance, "_revision_reason", None) or FIRST_LOAD,
            made_at=instance.created,
        )


def connect():
    from terms.models import Agreement

    post_save.connect(first_revision, sender=Agreement, dispatch_uid="terms.revisions.first_revision")


# --- naming the revision used, without a query per item --------------------------------------------------


def with_revision(agreements):
    """Agreements annotated with their current revision's number and instant, in the same query."""
    from terms.models import Revision

    latest = Revision.objects.filter(agreement=OuterRef("pk")).order_by("-number")
    return agreements.annotate(
        terms_revision=Subquery(latest.values("number")[:1]),
        terms_revision_at=Subquery(latest.values("made_at")[:1]),
    )


def label_at(agreement, known_at=None):
    """The label ("r3") of the revision of the agreement's terms in force at `known_at` (default: the current one).

    Free when the agreement comes from `with_revision` and `known_at` is after its latest revision (every
    present view); a view as known before the latest revision reads one row more. Before r1 was made
    (a view as known before the agreement was recorded), r1: the earliest terms there are.
    """
    from terms.models import Revision

    number = getattr(agreement, "terms_revision", None)
    made_at = getattr(agreement, "terms_revision_at", None)
    if number is None or made_at is None:
        latest = agreement.revisions.order_by("-number").values_list("number", "made_at").first()
        if latest is None:
            return None
        number, made_at = latest
    if known_at is None or made_at <= known_at:
        return f"r{number}"
    earlier = (
        Revision.objects.filter(agreement=agreement, made_at__lte=known_at)
        .order_by("-number")
        .values_list("number", flat=True)
        .first()
    )
    return f"r{earlier or 1}"


class Revisions:
    """The revisions of several agreements, read in one query, to name the one in force at any instant.

    For a list whose items belong to different agreements or were made at different instants (the API's
    status changes, each named with the revision it was detected under; its reports, each with the current
    revision of the terms its commitment belongs to): `label(agreement_id, instant)` asks nothing more.
    """

    def __init__(self, agreement_ids):
        from terms.models import Revision

        self._made = {}
        ids = {i for i in agreement_ids if i is not None}
        rows = (
            Revision.objects.filter(agreement_id__in=ids).order_by("agreement_id", "number")
            .values_list("agreement_id", "number", "made_at") if ids else ()
        )
        for agreement_id, number, made_at in rows:
            self._made.setdefault(agreement_id, []).append((number, made_at))

    def label(self, agreement_id, instant=None):
        """As `label_at`: the last revision made by `instant` (default: the current one); r1 before any; None
        for no agreement (a report linked to no commitment)."""
        made = self._made.get(agreement_id)
        if not made:
            return None
        if instant is None:
            return f"r{made[-1][0]}"
        numbers = [number for number, made_at in made if made_at <= instant]
        return f"r{numbers[-1] if numbers else 1}"
