"""From the database to the engine's plain values, in a fixed number of queries.

Everything the engine needs for a set of commitments is read here, once, so the
engine itself stays pure and the number of queries does not grow with the
number of commitments or reports: commitments (1), owing parties (1), their
names and the names of the agreements' non-party actors (1, `names_of`), reports (1),
verification changes (1), sources (1), coverage (1), assessments (1), the categories sources
declare they report (1, `declared_categories`).
"""

from collections import defaultdict
from dataclasses import dataclass, replace

from django.conf import settings
from django.db import connection
from django.db.models import (
    BooleanField, CharField, Exists, ExpressionWrapper, F, Max, Min, OuterRef, Prefetch, Q, Value,
)

from monitor.evidence.models import Coverage, Report, ReportName, Source, VerificationChange
from monitor.verdicts import engine
from monitor.verdicts import recorded as as_recorded
from monitor.verdicts.engine.index import JOINT_SEPARATOR
from monitor.verdicts.models import WITHDRAW, Assessment
from terms import readings as reading_rules
from terms.models import Agreement, Commitment, Milestone, Party, PartyName
from terms.rules import Rule, normalize_name


def commitments_for(agreements, parties=True):
    """The commitments of these agreements, with their agreement; `parties`: their owing parties prefetched."""
    commitments = (
        Commitment.objects.filter(agreement__in=agreements)
        # The milestone a commitment counts from comes in the same query, so milestones cost none.
        .select_related("agreement", "anchor_milestone")
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
    aliases, non_party = names_of(names, {c.agreement_id for c in commitments})
    for party_id, folded in aliases.items():
        names[party_id][1].update(folded)
    refs = {
        pk: engine.PartyRef(id=pk, name=name, names=frozenset(folded), slug=slug)
        for pk, (name, folded, slug) in names.items()
    }
    # Without readings: the sweep, which uses this, alerts on the main reading alone.
    return [
        term_for(
            c,
            owing=tuple(sorted((refs[p] for p in owed[c.id]), key=lambda ref: ref.name)),
            non_party_names=non_party.get(c.agreement_id, frozenset()),
            readings=False,
        )
        for c in commitments
    ]


def names_of(party_ids, agreement_ids):
    """({party id: the names sources use for it}, {agreement id: its non-party actors' names}), in one query.

    Normalized names. A non-party actor's own name is among its names, as a party's is (the
    caller adds a party's own name, which it has read already). One query, a union, so that
    knowing the non-party actors costs no query more than reading the owing parties' names did.
    """

    def tagged(rows, kind, owner, text):
        return rows.annotate(
            np_kind=Value(kind, output_field=CharField()), np_owner=F(owner), np_text=F(text)
        ).order_by().values_list("np_kind", "np_owner", "np_text")  # no ORDER BY: SQLite refuses one in a UNION

    aliases = tagged(PartyName.objects.filter(party_id__in=list(party_ids)), "party", "party_id", "normalized")
    actors = Agreement.non_party_actors.through.objects.filter(agreement_id__in=list(agreement_ids))
    actor_names = tagged(actors, "actor", "agreement_id", "party__name")
    actor_aliases = tagged(
        PartyName.objects.filter(party__agreements_as_non_party__in=list(agreement_ids)),
        "actor",
        "party__agreements_as_non_party",
        "normalized",
    )
    party_names, non_party = defaultdict(set), defaultdict(set)
    for kind, owner, text in aliases.union(actor_names, actor_aliases, all=True):
        if kind == "party":
            party_names[owner].add(text)
        else:
            non_party[owner].add(normalize_name(text))
    return party_names, {pk: frozenset(folded) for pk, folded in non_party.items()}


def readings_for(commitment, window):
    """The engine's Readings of a commitment: its rule and window with each reading's values over them."""
    out = []
    for reading in commitment.readings or ():
        rule, reading_window = reading_rules.merged(commitment.rule, window, reading)
        out.append(
            engine.Reading(
                key=reading["key"],
                label=reading.get("label") or reading["key"],
                rule=Rule.from_dict(commitment.kind, rule),
                window=reading_window,
            )
        )
    return tuple(out)


def term_for(commitment, owing=None, non_party_names=None, readings=True, coverage_share=None):
    """The engine's Term for one commitment; what is not given is read (`owing` from its prefetch).

    `coverage_share`: the agreement's, as recorded at a cited view's cutoff (default: as it is now)."""
    agreement = commitment.agreement
    if non_party_names is None:
        non_party_names = names_of((), [agreement.id])[1].get(agreement.id, frozenset())
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
    window = commitment.window()
    return engine.Term(
        id=commitment.id,
        key=commitment.key,
        title=commitment.title,
        kind=commitment.kind,
        rule=Rule.from_dict(commitment.kind, commitment.rule),
        window=window,
        time_zone=agreement.time_zone,
        signed_on=agreement.signed_on,
        owing=owing,
        tracked=commitment.tracked,
        agreement_id=agreement.id,
        non_party_names=non_party_names,
        anchor_milestone=milestone_for(commitment),
        readings=readings_for(commitment, window) if readings else (),
        share=commitment.share,
        coverage_share=agreement.coverage_share if coverage_share is None else coverage_share,
    )


def milestone_for(commitment):
    """The milestone a commitment counts from, as a plain value (read with the commitment)."""
    if commitment.anchor_milestone_id is None:
        return None
    m = commitment.anchor_milestone
    # Anyone's report shows a milestone: it is owed by no party.
    return engine.Milestone(id=m.id, key=m.key, title=m.title, rule=Rule.from_dict("milestone", {
        **m.rule, "attribution": "any"}))


EVIDENCE_FIELDS = (
    "id", "source_id", "occurred_at", "occurred_until", "precision", "recorded_at", "category", "sub_category",
    "stance", "value", "admin1", "location", "actor1", "credibility", "event_id", "commitment_id",
    "actor2", "interaction",
)


def evidence_for(terms, known_at=None, recorded=False):
    """Reports that could count for these terms, with their verification histories, in time order.

    When every rule names its categories, only reports in those categories (or
    linked by hand) are read; a rule that takes any category means all reports.
    No terms at all read no report (and make no query): nothing could count.
    Rows are read as tuples, not model instances: a sweep reads every report, and
    building a million Report objects would cost more than evaluating them.
    `recorded`: each report's contents and each source's grade as recorded at
    `known_at` (their history, `_recorded_evidence`), not as they are now.
    """
    categories = _categories(terms)
    if not (categories is None or categories):
        return []
    if recorded and known_at is not None:
        return _recorded_evidence(terms, known_at, categories)
    reports = Report.objects.all()
    if known_at is not None:
        reports = reports.filter(recorded_at__lte=known_at)
    if categories is not None:
        chosen = Q(category__in=categories) | Q(sub_category__in=categories)
        narrowed = names_read(terms)
        if narrowed is not None:
            chosen &= narrowed
        reports = reports.filter(chosen | Q(commitment__in=[t.id for t in terms]))
    changes = verification_for(Q(report__in=reports.values("id")), known_at)
    sources = {
        s.id: engine.SourceRef(id=s.id, name=s.name, reliability=s.reliability, kind=s.kind)
        for s in Source.objects.all()
    }
    return _evidence(rows(reports.order_by("occurred_at", "id").values_list(*EVIDENCE_FIELDS)), sources, changes)


def names_read(terms):
    """A Q on reports taking every one some rule of these terms can read, by its actors or places; None: any may count.

    What narrows a sweep of one agreement to its own parties' acts (and its non-party actors', shown
    as context), and to the places of its rules that count anyone's acts, rather than every report of
    every conflict followed in the rules' categories. It takes a superset of what `engine.qualifies`
    and `engine.in_context` take (they still decide), found by folding each distinct spelling once
    (`ReportName`, kept by the database): an actor folding to a name some rule reads, a joint side
    naming one ("Ukraine; DPR"), an unidentified actor when a rule counts them (no actor1 is one; no
    actor2 is not: an event with one side); a province or place some rule counting anyone names (a
    milestone's rule counts anyone). None when such a rule names no place, or on SQLite (no trigger
    keeps the names there): then every report in the categories is read.
    """
    if connection.vendor != "postgresql":
        return None
    rules = [(t.rule, t) for t in terms] + [(r.rule, t) for t in terms for r in t.readings]
    rules += [(t.anchor_milestone.rule, None) for t in terms if t.anchor_milestone]
    anyone = [rule for rule, term in rules if term is None or rule.attribution == "any"]
    if any(not (rule.admin1 or rule.locations) for rule in anyone):
        return None
    names, provinces, places = set(), set(), set()
    for t in terms:
        names |= t.non_party_names
        for party in t.owing:
            names |= party.names
    for rule in anyone:
        provinces |= {normalize_name(p) for p in rule.admin1}
        places |= {normalize_name(p) for p in rule.locations}
    counting_unidentified = [rule for rule, term in rules
                             if term is not None and rule.attribution == "owing_or_unidentified"]
    # ACLED names unidentified groups per country ("Unidentified Armed Group (Yemen)"), so every conflict
    # has them: when each rule counting them names where, only unidentified acts in those places are read.
    unidentified_where = None
    if counting_unidentified and all(rule.admin1 or rule.locations for rule in counting_unidentified):
        unidentified_where = (
            {normalize_name(p) for rule in counting_unidentified for p in rule.admin1},
            {normalize_name(p) for rule in counting_unidentified for p in rule.locations},
        )
    first, second, in_provinces, in_places = [], [], [], []
    unidentified1, unidentified2, unidentified_provinces, unidentified_places = [], [], [], []
    for kind, spelling in ReportName.objects.values_list("kind", "name"):
        folded = normalize_name(spelling)
        if kind == ReportName.PLACE:
            if folded in provinces:
                in_provinces.append(spelling)
            if folded in places:
                in_places.append(spelling)
            if unidentified_where is not None:
                if folded in unidentified_where[0]:
                    unidentified_provinces.append(spelling)
                if folded in unidentified_where[1]:
                    unidentified_places.append(spelling)
            continue
        read = folded in names or (
            JOINT_SEPARATOR in spelling
            and any(normalize_name(piece) in names for piece in spelling.split(JOINT_SEPARATOR))
        )
        if read:
            first.append(spelling)
            second.append(spelling)
        elif counting_unidentified and folded.startswith("unidentified"):
            unidentified1.append(spelling)
            unidentified2.append(spelling)
        elif counting_unidentified and not folded:
            unidentified1.append(spelling)
    unidentified = Q(actor1__in=unidentified1) | Q(actor2__in=unidentified2)
    if unidentified_where is not None:
        unidentified &= Q(admin1__in=unidentified_provinces) | Q(location__in=unidentified_places)
    chosen = Q(actor1__in=first) | Q(actor2__in=second) | Q(admin1__in=in_provinces) | Q(location__in=in_places)
    return chosen | unidentified if counting_unidentified else chosen


def _categories(terms):
    """The categories every report that can count for these terms is in, or None: any category may count.

    No terms, no category: a targeted re-evaluation of reports no commitment counts judges nothing,
    and must not read every report as though some rule took any category.
    """
    if not terms:
        return set()
    rules = [t.rule for t in terms] + [r.rule for t in terms for r in t.readings]  # a reading may read others
    if not all(rule.categories for rule in rules):
        return None
    categories = {c for rule in rules for c in rule.categories}
    # and the reports that show the milestones they count from
    return categories | {c for t in terms if t.anchor_milestone for c in t.anchor_milestone.rule.categories}


def verification_for(which, known_at):
    """{report id: [(changed_at, new_state), ...]} in time order, for the reports `which` (a Q on `report`)."""
    changes = defaultdict(list)
    history = VerificationChange.objects.filter(which).order_by("changed_at", "id")
    if known_at is not None:
        history = history.filter(changed_at__lte=known_at)
    for report_id, changed_at, new_state in rows(history.values_list("report_id", "changed_at", "new_state")):
        changes[report_id].append((changed_at, new_state))
    return changes


def _evidence(report_rows, sources, changes):
    """The engine's Evidence for rows read as tuples, each repeated value held once.

    A million reports carry a few hundred categories, places, actors and instants: the database
    driver makes a new string (or datetime) for each row's each, and kept as read they were most
    of what a sweep's memory grew with. One dictionary of the values seen, dropped with the call.
    """
    out = []
    make, no_changes = engine.Evidence.from_row, ()
    seen = {}
    once = seen.setdefault
    for (pk, source_id, occurred_at, occurred_until, precision, recorded_at, category, sub_category, stance, value,
         admin1, location, actor1, credibility, event_id, commitment_id, actor2, interaction) in report_rows:
        out.append(
            make(
                pk, sources[source_id], once(occurred_at, occurred_at), once(recorded_at, recorded_at),
                once(category, category), once(sub_category, sub_category), once(stance, stance),
                occurred_until if occurred_until is None else once(occurred_until, occurred_until),
                once(precision, precision), value, once(admin1, admin1), once(location, location),
                once(actor1, actor1), once(actor2, actor2), once(interaction, interaction), credibility,
                tuple(changes[pk]) if pk in changes else no_changes, event_id, commitment_id,
            )
        )
    return out


def _recorded_evidence(terms, known_at, categories):
    """`evidence_for` as recorded at `known_at`: each report's and source's version then (`recorded.versions`).

    Four queries whatever the number of reports: the sources' versions, the reports' versions, the
    reports with no history at all (as they are now), their verification changes. A
    report is a candidate when any of its versions, or its row now, is in the categories; whether it
    counts is then decided on the version that stands (an edit may have moved it in or out).
    """
    history = Report.history.model.objects
    linked = {t.id for t in terms}
    if categories is None:
        chosen, current = Q(), Q()
    else:
        # Narrowed as the present view is (`names_read`, by the names in the terms as recorded): a report is
        # a candidate when one of its versions, or its row now, could count. The version that stood at the
        # cutoff, if it can count, is one of them; every spelling a version carried is in `ReportName`
        # (evidence 0017). Which categories some report carried is then asked apart (`with_reported`).
        in_categories = Q(category__in=categories) | Q(sub_category__in=categories)
        narrowed = names_read(terms)
        if narrowed is not None:
            in_categories &= narrowed
        matches = in_categories | Q(commitment_id__in=list(linked))
        chosen = Q(id__in=history.filter(matches).values("id"))
        current = matches
    # A source deleted since still graded its reports then. One with no history (none since evidence
    # 0002 kept it) is read as it is now, one query more.
    sources = {
        row.id: engine.SourceRef(id=row.id, name=row.name, reliability=row.reliability, kind=row.kind)
        for row in as_recorded.versions(Source, known_at)
    }
    candidates = Q(report__in=history.filter(chosen).values("id")) | Q(report__in=Report.objects.filter(
        current, recorded_at__lte=known_at).values("id"))
    changes = verification_for(candidates, known_at)
    versions = as_recorded.versions(Report, known_at).filter(chosen).values_list(
        *EVIDENCE_FIELDS, "history_type", as_recorded.BEFORE)
    # Known by the cutoff, in SQL: of a report with no history only the row now says when it was recorded,
    # and the loop below would drop the later ones anyway, after reading them all.
    without_history = Report.objects.filter(current, ~Exists(history.filter(id=OuterRef("id"))),
                                            recorded_at__lte=known_at)
    kept, wanted = [], (None if categories is None else set(categories))
    for row in [*rows(versions), *(r + ("+", 1) for r in rows(without_history.values_list(*EVIDENCE_FIELDS)))]:
        (_pk, _source, _at, _until, _precision, recorded_at, category, sub_category, *_rest) = row
        n = len(EVIDENCE_FIELDS)  # the report's fields, then the history's type and whether it is known by then
        commitment_id, history_type, before = row[EVIDENCE_FIELDS.index("commitment_id")], row[n], row[n + 1]
        if history_type == "-" and before:
            continue  # deleted by the cutoff
        if recorded_at > known_at:
            continue  # known later: its version's own recording time, as in the present view
        if wanted is not None and not (category in wanted or sub_category in wanted or commitment_id in linked):
            continue
        kept.append(row[:n])
    kept.sort(key=lambda r: (r[2], r[0]))
    if missing := {r[1] for r in kept} - set(sources):
        sources.update({s.id: engine.SourceRef(id=s.id, name=s.name, reliability=s.reliability, kind=s.kind)
                        for s in Source.objects.filter(id__in=missing)})
    return _evidence(kept, sources, changes)


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


CHANGE_FIELDS = ("category", "sub_category", "admin1", "location", "actor1", "commitment_id", "actor2", "interaction")


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
    # Whether the changes only add acts (`engine.Change.adds_acts`): a report changed since it was written (an
    # edit's history row, a verification) or grouped as one event with others may take an act away or move it
    # to another day, so it counts as neither new nor alone.
    history = Report.history.model.objects.filter(id=OuterRef("id"), history_type__in=("~", "-"))
    verified = VerificationChange.objects.filter(report_id=OuterRef("id"))
    flags = {"edited": ExpressionWrapper(Exists(history) | Exists(verified), output_field=BooleanField()),
             "grouped": ExpressionWrapper(Q(event__isnull=False), output_field=BooleanField())}
    out = set()
    for reports in (Report.objects.filter(chosen), Report.history.model.objects.filter(chosen)):
        shapes = (reports.order_by().annotate(**flags).values(*CHANGE_FIELDS, "stance", *flags)
                  .annotate(first=Min("occurred_at"), last=Max("occurred_at")))
        out.update(engine.Change(**shape) for shape in shapes)
    return out


def declared_categories():
    """The normalized categories sources declare they report (`Source.categories`), in one query."""
    out = set()
    for categories in Source.objects.values_list("categories", flat=True):
        out.update(normalize_name(c) for c in categories or () if isinstance(c, str))
    return frozenset(out)


# Which of these category spellings some report known at the cutoff carries: asked only of spellings some
# report ever carried (`ReportName`), each an index probe on category, or a scan of sub-categories that
# stops at the first.
CARRIED = """
SELECT n.name FROM evidence_reportname n
WHERE n.kind = 'category' AND n.name = ANY (%s)
  AND (EXISTS (SELECT 1 FROM evidence_report r
               WHERE r.category = n.name AND (%s::timestamptz IS NULL OR r.recorded_at <= %s))
       OR EXISTS (SELECT 1 FROM evidence_report r
                  WHERE r.sub_category = n.name AND (%s::timestamptz IS NULL OR r.recorded_at <= %s)))
"""


def with_reported(terms, evidence, declared, known_at=None, recorded=False):
    """The terms, each told which categories some source reports (`Term.reported_categories`).

    Those sources declare (`declared_categories`), and those some report known at the cutoff carried:
    `evidence` is `evidence_for`'s, which holds the reports in the categories the terms name that
    their rules can read. Read narrowed to the terms' parties and places (`names_read`), a category
    only other conflicts' reports carried is not among them: those of the terms' categories it does
    not show are asked of the database (one query, and only for a spelling some report ever carried,
    `ReportName`); as recorded at a past cutoff, of each report's version then (`_carried_as_recorded`).
    """
    carried = set()
    for e in evidence:
        carried.add(e.category)
        carried.add(e.sub_category)
    if connection.vendor == "postgresql" and (categories := _categories(terms)):
        missing = sorted(categories - carried)
        if recorded and known_at is not None:
            carried.update(_carried_as_recorded(missing, known_at))
        else:
            with connection.cursor() as cursor:
                cursor.execute(CARRIED, [missing, known_at, known_at, known_at, known_at])
                carried.update(name for (name,) in cursor.fetchall())
    reported = frozenset(declared | {normalize_name(c) for c in carried if c})
    return [replace(t, reported_categories=reported) for t in terms]


# Of some categories, those a report with no history (as it is now) known by the cutoff carries.
CARRIED_WITHOUT_HISTORY = """
SELECT n.name FROM evidence_reportname n
WHERE n.kind = 'category' AND n.name = ANY (%s)
  AND (EXISTS (SELECT 1 FROM evidence_report r WHERE r.category = n.name AND r.recorded_at <= %s
               AND NOT EXISTS (SELECT 1 FROM evidence_historicalreport h WHERE h.id = r.id))
       OR EXISTS (SELECT 1 FROM evidence_report r WHERE r.sub_category = n.name AND r.recorded_at <= %s
                  AND NOT EXISTS (SELECT 1 FROM evidence_historicalreport h WHERE h.id = r.id)))
"""


def _carried_as_recorded(missing, known_at):
    """Of the categories `missing`, those some report carried as recorded at `known_at`: its version then.

    Two queries: the reports with no history, read as they are now (`recorded.versions`), asked in SQL;
    then the versions standing at the cutoff of the reports some version of which carried one, read until
    every category is found (history is kept for reports entered or corrected by hand, not for imports).
    """
    found = set()
    with connection.cursor() as cursor:
        cursor.execute(CARRIED_WITHOUT_HISTORY, [missing, known_at, known_at])
        found.update(name for (name,) in cursor.fetchall())
    wanted = set(missing) - found
    if not wanted:
        return found
    history = Report.history.model.objects
    in_wanted = Q(category__in=sorted(wanted)) | Q(sub_category__in=sorted(wanted))
    standing = as_recorded.versions(Report, known_at).filter(id__in=history.filter(in_wanted).values("id"))
    for category, sub_category, history_type, before, recorded_at in rows(standing.values_list(
            "category", "sub_category", "history_type", as_recorded.BEFORE, "recorded_at")):
        if (history_type == "-" and before) or recorded_at > known_at:
            continue  # deleted by the cutoff, or known only later
        found.update({category, sub_category} & wanted)
        wanted -= found
        if not wanted:
            break
    return found


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
    term: engine.Term | None = None  # what the engine judged: pages sift the evidence with it

    @property
    def assessed(self):
        return self.assessment is not None and self.assessment.covers(self.computed.status)

    @property
    def provisional(self):
        return not self.assessed

    @property
    def status(self):
        return self.assessment.status if self.assessed else self.computed.status


def _recorded_terms(agreements, known_at):
    """(commitments, terms) of these agreements as recorded at `known_at` (`monitor.verdicts.recorded`).

    The commitments are model instances built from their versions then (never saved): the pages show
    the rule, window and owing parties the verdict used. Seven queries whatever their number (eight
    with milestones): the commitments now with their agreements (those with no history stand as they
    are), the agreements', commitments', parties' and milestones' versions, the owing parties and
    non-party actors the versions name (simple-history keeps the many-to-many rows with each
    version), the names' versions.
    """
    ids = [getattr(a, "pk", a) for a in agreements]
    now = {c.id: c for c in commitments_for(ids, parties=False)}
    agreements_then = {row.id: row for row in as_recorded.versions(Agreement, known_at, id__in=ids)}
    chosen, with_history = {}, set()
    for row in as_recorded.versions(Commitment, known_at, agreement_id__in=ids):
        with_history.add(row.id)
        if as_recorded.present(row) and not as_recorded.joined_later(row, agreements_then.get(row.agreement_id)):
            chosen[row.id] = row
    # A commitment with no history at all (written before history was kept) stands as it is now
    # (its owing parties then read one query each: there are none such since terms 0002).
    commitments = {pk: c for pk, c in now.items() if pk not in with_history}
    # The agreement's own fields (its signing date, its time zone) are read as they are now (but for the share
    # of covered days "in compliance" needs, below, a judging threshold read as recorded): a signing
    # recorded after the load is a fact with its own date in the world, not a revision of the terms
    # (amendments, dated in the world, are the room left for it: terms/models.py, Revision).
    agreements_now = {c.agreement_id: c.agreement for c in now.values()}
    missing = {row.agreement_id for row in chosen.values()} - set(agreements_now)
    if missing:  # every commitment it had then is deleted now
        agreements_now.update(Agreement.objects.in_bulk(missing))
    for pk, row in chosen.items():
        c = row.instance
        c.agreement = agreements_now[row.agreement_id]
        if pk in now:
            # Whether an analyst must review it is a warning about the terms, not a term: raised or settled
            # since, it holds for every view, cited ones too (no verdict is shown while it is raised).
            c.needs_review, c.review_note = now[pk].needs_review, now[pk].review_note
        commitments[pk] = c
    owed = _m2m_sets(Commitment, "owed_by", "commitment", chosen)
    actors = _m2m_sets(Agreement, "non_party_actors", "agreement", agreements_then)
    owing_ids = {pk: (owed[pk] if pk in chosen else [p.id for p in now[pk].owed_by.all()]) for pk in commitments}
    party_ids = {p for ps in owing_ids.values() for p in ps} | {p for ps in actors.values() for p in ps}
    parties = {row.id: row for row in as_recorded.versions(Party, known_at, id__in=party_ids)}
    names = defaultdict(set)
    for row in as_recorded.versions(PartyName, known_at, party_id__in=party_ids):
        if as_recorded.present(row) and not as_recorded.joined_later(row, parties.get(row.party_id)):
            names[row.party_id].add(row.normalized)
    milestone_ids = {c.anchor_milestone_id for c in commitments.values() if c.anchor_milestone_id}
    milestones = {
        row.id: row.instance for row in as_recorded.versions(Milestone, known_at, id__in=milestone_ids)
    } if milestone_ids else {}
    refs = {
        pk: engine.PartyRef(
            id=pk, name=row.name, names=frozenset({normalize_name(row.name)} | names[pk]), slug=row.slug
        )
        for pk, row in parties.items()
    }
    party_objects = {pk: row.instance for pk, row in parties.items()}
    ordered = sorted(commitments.values(), key=lambda c: (c.agreement.title, c.position, c.id))
    terms = []
    for c in ordered:
        owing = sorted((refs[p] for p in owing_ids[c.id] if p in refs), key=lambda ref: ref.name)
        if c.anchor_milestone_id in milestones:
            c.anchor_milestone = milestones[c.anchor_milestone_id]
        # The owing parties the version names, in the prefetch cache pages read them from (no query each).
        _prefetched(c, "owed_by", [party_objects[r.id] for r in owing])
        non_party = frozenset(n for p in actors.get(c.agreement_id, ()) if p in refs for n in refs[p].names)
        # The share of covered days "in compliance" needs is the agreement's judging threshold, not a fact in
        # the world: as recorded then (its version is read above anyway), so raising it later flips no cited view.
        then = agreements_then.get(c.agreement_id)
        terms.append(term_for(c, owing=tuple(owing), non_party_names=non_party,
                              coverage_share=then.coverage_share if then is not None else None))
    return ordered, terms


def _m2m_sets(model, field, owner, chosen):
    """{object id: [party ids]}: the many-to-many `field` as each chosen version (`{id: row}`) holds it, in one query.

    simple-history keeps the many-to-many rows with each version. An object is saved before its
    many-to-many rows are set (the loader, the admin, a factory), so its very first version holds
    none: when that first version stands for an object recorded after the cutoff, the first
    version that holds some is read instead, the object as first recorded in full.
    """
    through = model.history.model._meta.apps.get_model(model._meta.app_label, f"Historical{model.__name__}_{field}")
    chosen_ids = [row.history_id for row in chosen.values()]
    first_recorded = [pk for pk, row in chosen.items() if not getattr(row, as_recorded.BEFORE)]
    found = through.objects.filter(Q(history_id__in=chosen_ids) | Q(**{f"{owner}_id__in": first_recorded}))
    by_version, earliest = defaultdict(list), {}
    for history_id, object_id, party_id in found.order_by("history__history_date", "history_id").values_list(
            "history_id", f"{owner}_id", "party_id"):
        by_version[(object_id, history_id)].append(party_id)
        earliest.setdefault(object_id, history_id)  # the earliest version holding some: read in date order
    out = {}
    for pk, row in chosen.items():
        parties = by_version.get((pk, row.history_id))
        if parties is None and not getattr(row, as_recorded.BEFORE) and pk in earliest:
            parties = by_version[(pk, earliest[pk])]
        out[pk] = parties or []
    return out


def _prefetched(instance, name, objects):
    """Fills `instance.<name>.all()` with `objects`, as a prefetch would, so that reading it costs no query."""
    manager = getattr(instance, name)
    queryset = manager.get_queryset()
    queryset._result_cache, queryset._prefetch_done = list(objects), True
    instance._prefetched_objects_cache = {**getattr(instance, "_prefetched_objects_cache", {}),
                                          manager.prefetch_cache_name: queryset}


def standings(agreements, *, as_of, known_at=None, recorded=None, details=True):
    """Every commitment's standing in these agreements, as of `as_of`, as known at `known_at`.

    `recorded`: read the terms, the parties' names, the sources' grades and the reports' contents as
    they were recorded at `known_at` (their history: a view cited "as known at" a past instant keeps
    showing what it showed, docs/architecture.md); False: as they are now, only recording and
    verification times respected (the present view, and what a cited view's banner compares with).
    Default: recorded when `known_at` is given. `details=False`: verdicts without their details (the
    daily series, the account of the evidence), for a caller that reads only the statuses.

    A fixed number of queries, whatever the number of commitments and reports.
    """
    return standings_and_evidence(agreements, as_of=as_of, known_at=known_at, recorded=recorded, details=details)[0]


def standings_and_evidence(agreements, *, as_of, known_at=None, recorded=None, details=True):
    """(`standings`, the `engine.EvidenceIndex` they were judged on: `evidence_for` of all their terms, filed).

    For the commitment page, which lists the reports that speak to the commitment (`EvidenceIndex.speaking`):
    reading them once more, or testing each again, would double the page's work at every size.
    """
    recorded = known_at is not None if recorded is None else recorded
    known_at = as_of if known_at is None else known_at
    if recorded:
        commitments, terms = _recorded_terms(agreements, known_at)
        return _judged(commitments, terms, as_of, known_at, recorded=True, details=details)
    # The owing parties prefetched (their slugs are shown), their names read with the non-party
    # actors' in one query (`names_of`): three queries, as many as a prefetch of parties and names.
    commitments = list(commitments_for(agreements, parties=False).prefetch_related("owed_by"))
    owing = {p.id: p for c in commitments for p in c.owed_by.all()}
    aliases, non_party = names_of(owing, {c.agreement_id for c in commitments})
    refs = {
        pk: engine.PartyRef(
            id=pk, name=p.name, names=frozenset({normalize_name(p.name)} | aliases.get(pk, set())), slug=p.slug,
        )
        for pk, p in owing.items()
    }
    terms = [
        term_for(
            c,
            owing=tuple(refs[p.id] for p in c.owed_by.all()),
            non_party_names=non_party.get(c.agreement_id, frozenset()),
        )
        for c in commitments
    ]
    return _judged(commitments, terms, as_of, known_at, details=details)


def _judged(commitments, terms, as_of, known_at, recorded=False, details=True):
    evidence = evidence_for(terms, known_at, recorded=recorded)
    terms = with_reported(terms, evidence, declared_categories(), known_at, recorded)
    index = engine.EvidenceIndex(evidence, known_at)
    verdicts = engine.evaluate_agreement(
        terms,
        index,
        as_of=as_of,
        known_at=known_at,
        coverage=coverage_for(known_at),
        due_soon_days=settings.MONITOR_DUE_SOON_DAYS,
        details=details,
    )
    assessments = latest_assessments([c.id for c in commitments], known_at)
    return [Standing(c, verdicts[c.id], assessments.get(c.id), t) for c, t in zip(commitments, terms)], index
