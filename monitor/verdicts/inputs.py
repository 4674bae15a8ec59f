"""From the database to the engine's plain values, in a fixed number of queries.

Everything the engine needs for a set of commitments is read here, once, so the
engine itself stays pure and the number of queries does not grow with the
number of commitments or reports: commitments (1), owing parties (1), their
names (1), reports (1), verification changes (1), sources (1), coverage (1), assessments (1).
"""

from collections import defaultdict
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.db.models import Max, Min, Prefetch, Q

from monitor.evidence.models import Coverage, Report, Source, VerificationChange
from monitor.verdicts import engine
from monitor.verdicts.models import WITHDRAW, Assessment
from terms.models import Commitment, Party, PartyName
from terms.rules import Rule, normalize_name


def commitments_for(agreements, parties=True):
    """The commitments of these agreements, with their agreement; `parties`: their owing parties prefetched."""
    commitments = (
        Commitment.objects.filter(agreement__in=agreements)
        .select_related("agreement")
        .order_by("agreement__title", "position", "id")
    )
    if parties:
        parties = Party.objects.prefetch_related("names")
        commitments = commitments.prefetch_related(Prefetch("owed_by", queryset=parties))
    return commitments


def terms_for(commitments):
    """The engine's Terms for many commitments, their owing parties read in two queries.

    A prefetch builds a related manager, a queryset and a model instance per commitment and
    party: for a sweep's 10,000 commitments that took longer than reading them.
    """
    owed, names = defaultdict(list), {}
    through = Commitment.owed_by.through.objects.filter(commitment_id__in=[c.id for c in commitments])
    for commitment_id, party_id, name, slug in through.values_list(
        "commitment_id", "party_id", "party__name", "party__slug"
    ):
        owed[commitment_id].append(party_id)
        names[party_id] = (name, {normalize_name(name)}, slug)
    for party_id, normalized in PartyName.objects.filter(party_id__in=names).values_list("party_id", "normalized"):
        names[party_id][1].add(normalized)
    refs = {
        pk: engine.PartyRef(id=pk, name=name, names=frozenset(folded), slug=slug)
        for pk, (name, folded, slug) in names.items()
    }
    return [
        term_for(c, owing=tuple(sorted((refs[p] for p in owed[c.id]), key=lambda ref: ref.name))) for c in commitments
    ]


def term_for(commitment, owing=None):
    agreement = commitment.agreement
    if owing is None:
        owing = tuple(
            engine.PartyRef(
                id=party.id,
                name=party.name,
                names=frozenset({normalize_name(party.name)} | {n.normalized for n in party.names.all()}),
                slug=party.slug,
            )
            for party in commitment.owed_by.all()
        )
    return engine.Term(
        id=commitment.id,
        key=commitment.key,
        title=commitment.title,
        kind=commitment.kind,
        rule=Rule.from_dict(commitment.kind, commitment.rule),
        window=commitment.window(),
        time_zone=agreement.time_zone,
        signed_on=agreement.signed_on,
        owing=owing,
        tracked=commitment.tracked,
        agreement_id=agreement.id,
        share=commitment.share,
    )


EVIDENCE_FIELDS = (
    "id", "source_id", "occurred_at", "occurred_until", "precision", "recorded_at", "category", "sub_category",
    "stance", "value", "admin1", "location", "actor1", "credibility", "event_id", "commitment_id",
)


def evidence_for(terms, known_at=None):
    """Reports that could count for these terms, with their verification histories, in time order.

    When every rule names its categories, only reports in those categories (or
    linked by hand) are read; a rule that takes any category means all reports.
    Rows are read as tuples, not model instances: a sweep reads every report, and
    building a million Report objects would cost more than evaluating them.
    """
    reports = Report.objects.all()
    if known_at is not None:
        reports = reports.filter(recorded_at__lte=known_at)
    if terms and all(t.rule.categories for t in terms):
        categories = {c for t in terms for c in t.rule.categories}
        reports = reports.filter(
            Q(category__in=categories) | Q(sub_category__in=categories) | Q(commitment__in=[t.id for t in terms])
        )
    changes = defaultdict(list)
    history = VerificationChange.objects.filter(report__in=reports.values("id")).order_by("changed_at", "id")
    if known_at is not None:
        history = history.filter(changed_at__lte=known_at)
    for report_id, changed_at, new_state in rows(history.values_list("report_id", "changed_at", "new_state")):
        changes[report_id].append((changed_at, new_state))
    sources = {
        s.id: engine.SourceRef(id=s.id, name=s.name, reliability=s.reliability, kind=s.kind)
        for s in Source.objects.all()
    }
    out = []
    make, no_changes = engine.Evidence, ()
    for (pk, source_id, occurred_at, occurred_until, precision, recorded_at, category, sub_category, stance, value,
         admin1, location, actor1, credibility, event_id, commitment_id) in rows(
            reports.order_by("occurred_at", "id").values_list(*EVIDENCE_FIELDS)):
        out.append(
            make(
                id=pk, source=sources[source_id], occurred_at=occurred_at, occurred_until=occurred_until,
                precision=precision, recorded_at=recorded_at, category=category, sub_category=sub_category,
                stance=stance, value=value, admin1=admin1, location=location, actor1=actor1,
                credibility=credibility, event_id=event_id, commitment_id=commitment_id,
                verification=tuple(changes[pk]) if pk in changes else no_changes,
            )
        )
    return out


def rows(values_list, chunk_size=10000):
    """The rows of a `values_list` queryset, streamed from a server-side cursor.

    On PostgreSQL timestamps are read by psycopg's own (C) loader. Django registers a
    Python subclass of it, to set the time zone, and that bypasses the C code: reading a
    million reports with three timestamps each spent more time parsing dates than the
    engine spends judging. The connection's zone is UTC (Django sets it), so the values
    are the same aware UTC datetimes Django would return.
    """
    if connection.vendor != "postgresql":
        yield from values_list.iterator(chunk_size=chunk_size)
        return
    from psycopg.types.datetime import TimestamptzLoader

    sql, params = values_list.query.sql_with_params()
    with connection.chunked_cursor() as cursor:
        cursor.cursor.adapters.register_loader("timestamptz", TimestamptzLoader)
        cursor.execute(sql, params)
        while chunk := cursor.fetchmany(chunk_size):
            yield from chunk


CHANGE_FIELDS = ("category", "sub_category", "admin1", "location", "actor1", "commitment_id")


def changes_for(description):
    """What re-evaluation needs to know of some changed reports, in two queries whatever their number.

    `description` names the reports as `monitor.alerts.triggers.describe` does: {"ids": [...]}
    or {"ranges": [[first, last], ...]} (a bare list of ids is read as ids). Read are the
    reports as they are now and as they were before (their history: an edit may have moved
    a report out of a category, a province, a commitment's window or an event group), grouped
    by the fields a rule selects on, with the earliest and latest instants they say they
    happened: a million imported rows come back as a few thousand shapes.

    Other reports of the same event need not be read: an event is counted for a commitment
    only through its reports that qualify for it, so a change to one report can only move the
    commitments that report qualifies for, before or after the change.
    """
    if not isinstance(description, dict):
        description = {"ids": list(description)}
    if description.get("ranges"):
        chosen = Q()
        for first, last in description["ranges"]:
            chosen |= Q(id__range=(first, last))
    else:
        chosen = Q(id__in=description.get("ids", ()))
    out = set()
    for reports in (Report.objects.filter(chosen), Report.history.model.objects.filter(chosen)):
        shapes = reports.order_by().values(*CHANGE_FIELDS).annotate(first=Min("occurred_at"), last=Max("occurred_at"))
        out.update(engine.Change(**shape) for shape in shapes)
    return out


def coverage_for(known_at=None):
    periods = Coverage.objects.all()
    if known_at is not None:
        periods = periods.filter(recorded_at__lte=known_at)
    return [
        engine.CoveragePeriod(
            source_id=p.source_id, starts_on=p.starts_on, ends_on=p.ends_on, recorded_at=p.recorded_at, admin1=p.admin1
        )
        for p in periods
    ]


def latest_assessments(commitment_ids, known_at=None):
    """The assessment standing for each commitment as known at `known_at`: its most recent one made by then.

    A commitment whose most recent assessment is a withdrawal has none standing, and is left out: its
    verdict is provisional again. The withdrawal is a record like any other (the assessment lists show
    it), and as known at any instant before it was made, the assessment it withdrew still stands.
    """
    assessments = Assessment.objects.filter(commitment__in=commitment_ids).select_related("author")
    if known_at is not None:
        assessments = assessments.filter(assessed_at__lte=known_at)
    latest = {}
    for a in assessments.order_by("commitment_id", "-assessed_at", "-id"):
        latest.setdefault(a.commitment_id, a)
    return {pk: a for pk, a in latest.items() if a.action != WITHDRAW}


@dataclass(frozen=True)
class Standing:
    """A commitment's verdict as published: the computed one, and the assessment if it still covers it.

    `assessment` is the one standing (latest_assessments: never a withdrawal), covering or not.
    """

    commitment: Commitment
    computed: engine.Verdict
    assessment: Assessment | None

    @property
    def assessed(self):
        return self.assessment is not None and self.assessment.covers(self.computed.status)

    @property
    def provisional(self):
        return not self.assessed

    @property
    def status(self):
        return self.assessment.status if self.assessed else self.computed.status


def standings(agreements, *, as_of, known_at=None):
    """Every commitment's standing in these agreements, as of `as_of`, as known at `known_at`.

    A fixed number of queries, whatever the number of commitments and reports.
    """
    known_at = as_of if known_at is None else known_at
    commitments = list(commitments_for(agreements))
    terms = [term_for(c) for c in commitments]
    verdicts = engine.evaluate_agreement(
        terms,
        evidence_for(terms, known_at),
        as_of=as_of,
        known_at=known_at,
        coverage=coverage_for(known_at),
        due_soon_days=settings.MONITOR_DUE_SOON_DAYS,
    )
    assessments = latest_assessments([c.id for c in commitments], known_at)
    return [Standing(c, verdicts[c.id], assessments.get(c.id)) for c in commitments]
