"""What the public pages show, read in a fixed number of queries whatever the amount of evidence.

Verdicts come from `monitor.verdicts.inputs.standings`, the same function the
sweep and `manage.py compliance` use, so a page never disagrees with them. The
commitment page's evidence list is what speaks to the commitment in the index its
verdict was judged on (`inputs.standings_and_evidence`, `EvidenceIndex.speaking`);
the agreement page's latest reports are read once more with `inputs.evidence_for`
and matched to each commitment by the engine's own test of what qualifies.

Everything a reader sees of a report or a verdict passes through
`monitor.evidence.publication`.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from django.core.paginator import Paginator
from django.db.models import BigIntegerField, Count, Exists, Max, OuterRef, Prefetch, Q, Subquery
from django.db.models.functions import Abs, Cast, Coalesce, Greatest
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _

from monitor.evidence import publication
from monitor.evidence import models as ev
from monitor.evidence.languages import language_name
from monitor.evidence.models import Report
from monitor.verdicts import engine, inputs
from monitor.verdicts import statuses as S
from monitor.verdicts.models import Assessment, StatusChange, latest_of_each, recorded_since
from terms import models as tm
from terms import provisions as provision_rules
from terms import readings as reading_rules
from terms import revisions
from terms.models import Agreement
from terms.rules import normalize_name

# The engine's own test of whether a report speaks to a commitment. Using it, rather than a second
# copy of the rule matching, keeps the evidence list and the verdict from ever disagreeing about which
# reports count.
qualifies = engine.qualifies

EVIDENCE_PER_PAGE = 25
# Reports linked from each row of the status history (the rest are counted: "and 212 more").
HISTORY_EVIDENCE = 10

# The headline groups, in the order a reader scans them. The first five are always shown.
HEADLINE = (
    ("met", _("Met"), {S.MET, S.MET_LATE}),
    ("missed", _("Missed"), {S.MISSED}),
    ("breached", _("Breached"), {S.BREACHED}),
    ("disputed", _("Disputed"), {S.DISPUTED}),
    ("unconfirmed", _("Unconfirmed"), {S.UNCONFIRMED}),
    ("pending", _("Pending"), {S.NOT_YET_DUE, S.DUE_SOON, S.AWAITING_SIGNATURE, S.AWAITING_ANCHOR}),
    ("in_compliance", _("In compliance"), {S.IN_COMPLIANCE}),
    ("no_data", _("No data"), {S.NO_DATA}),
)
ALWAYS_SHOWN = {"met", "missed", "breached", "disputed", "pending"}
AWAITING = "awaiting"

STANDING_LABELS = {
    engine.COUNTS: _("Counts"),
    engine.CONTESTED: _("Disputed: decides nothing on its own"),
    engine.WEAK: _("Weaker than B2 and unverified: shown, decides nothing"),
    engine.EXCLUDED: _("Rejected: never counts"),
}


def local_day(instant, tz):
    """The local day of an instant; one at the very ends of time (stored as such, past any validation)
    that has no local day Python can hold is the first or last day there is, never an error."""
    if not instant:
        return None
    try:
        return instant.astimezone(tz).date()
    except OverflowError:
        return date.min if instant.year < 5000 else date.max


# --- the first day a reader may ask about ---------------------------------------------------------


def _offset(name):
    # In bigint: a window of two billion months, stored, must not overflow the query that reads it.
    return Abs(Coalesce(Cast(f"commitments__{name}", BigIntegerField()), 0))


def agreement_or_404(slug):
    """The agreement, with the extent of its longest window (`longest_days`, `longest_months`) and its current
    revision in the same query, so that the cutoffs can be checked before any work without a query more."""
    extent = Greatest(_offset("starts_offset"), _offset("due_offset") + _offset("grace_days"), _offset("ends_offset"))
    agreements = Agreement.objects.annotate(
        longest_days=Max(extent, filter=~Q(commitments__offset_unit=tm.MONTHS)),
        longest_months=Max(extent, filter=Q(commitments__offset_unit=tm.MONTHS)),
    )
    # And its current revision (terms.revisions.label_at), which every page and answer names.
    return get_object_or_404(revisions.with_revision(agreements), slug=slug)


def earliest_day(agreement):
    """The first day "as of" and "as known at" may name: the signing, less the agreement's longest window.

    A window can open before the signing (a negative offset) and a commitment can be counted from
    another; the longest window, counted back from the signing, covers every day its verdicts can
    turn on. None before the agreement is signed (`instants.FLOOR` then applies). `agreement` comes
    from `agreement_or_404`.
    """
    if agreement.signed_on is None:
        return None
    # A calendar month is at most 31 days.
    days = max(getattr(agreement, "longest_days", 0) or 0, 31 * (getattr(agreement, "longest_months", 0) or 0))
    try:
        return agreement.signed_on - timedelta(days=days)
    except OverflowError:
        return date.min


def last_day(end_instant, tz):
    """The local day an exclusive end instant (a due or closing instant) belongs to."""
    return local_day(end_instant - timedelta(microseconds=1), tz) if end_instant else None


@dataclass
class Row:
    """One commitment as the agreement page lists it."""

    verdict: publication.PublishedVerdict
    due_day: object
    days_to_due: int | None
    latest: Report | None
    owed_by: list
    licensed: int = 0  # reports that count here but whose source's licence forbids listing them
    readings: object = None  # Readings, or None when the commitment has none or its verdict is withheld
    provisions: list = field(default_factory=list)  # Citation: the provisions of the text it cites
    # The last local day of its window, once that is over (closed_day), when the whole agreement is over
    # (`closure`): its countdown then says "closed on" that day rather than counting on for years.
    closed_on: object = None
    # When the status began, and each owing party's (by party id), as the commitment page gives it
    # (`status_since`): filled by `with_status_since` for those that show it (the API), else None.
    since: object = None
    party_since: dict = field(default_factory=dict)

    @property
    def commitment(self):
        return self.verdict.commitment


@dataclass
class ReadingRow:
    """The verdict under one competing reading, as one audience may see it."""

    key: str
    label: str
    status: str
    since: object
    sentence: str | None

    @property
    def status_label(self):
        return S.LABELS.get(self.status, self.status)


@dataclass
class Readings:
    """A commitment's main reading and its competing ones, with their verdicts."""

    main_label: str
    main_status: str
    rows: list  # ReadingRow

    @property
    def disagree(self):
        return any(r.status != self.main_status for r in self.rows)

    @property
    def summary(self):
        """'Missed under the official text; met under the reading “within seven days”', or None when all agree."""
        if not self.disagree:
            return None
        parts = [_("%(status)s under %(main)s") % {"status": S.LABELS.get(self.main_status, self.main_status),
                                                    "main": self.main_label}]
        parts += [
            _("%(status)s under the reading “%(label)s”") % {"status": str(r.status_label).lower(), "label": r.label}
            for r in self.rows
        ]
        return "; ".join(str(p) for p in parts) + "."


def readings_of(standing, verdict, audience, ledger):
    """The verdicts under a commitment's readings, or None: withheld with the main verdict, as its outcome is.

    Compared with the computed verdict, since that is what the readings are computed beside.
    """
    computed = standing.computed
    if not computed.readings or not verdict.shown:
        return None
    rows = []
    for r in computed.readings:
        _params, sentence, _withheld = audience.reason(r.reason.code, r.reason.params, r.status, ledger)
        rows.append(ReadingRow(r.key, r.label, r.status, r.since, sentence))
    return Readings(reading_rules.main_label(standing.commitment), computed.status, rows)


@dataclass
class Headline:
    key: str
    label: str
    count: int


def _qualifying(terms, evidence, as_of):
    """Per commitment id, the reports that speak to it and had happened by `as_of`, newest first.

    Every report is shown, weak and rejected ones too (the engine's own index keeps only those
    that can decide). Reports are filed by category once, so each commitment tests only those in
    its categories, plus those linked to it by hand: for a rule that names categories, nothing
    else can qualify.
    """
    ordered = sorted((e for e in evidence if e.occurred_at <= as_of), key=lambda e: (e.occurred_at, e.id), reverse=True)
    by_category, linked = {}, {}
    for e in ordered:
        for name in {normalize_name(e.category), normalize_name(e.sub_category)}:
            by_category.setdefault(name, []).append(e)
        if e.commitment_id is not None:
            linked.setdefault(e.commitment_id, []).append(e)
    out = {}
    for term in terms:
        if not term.tracked:
            out[term.id] = []  # recorded, not judged: no evidence is weighed for it
            continue
        if term.rule.categories:
            names = {normalize_name(c) for c in term.rule.categories}
            ids = {e.id for name in names for e in by_category.get(name, ())}
            ids |= {e.id for e in linked.get(term.id, ())}
            candidates = [e for e in ordered if e.id in ids]
        else:
            candidates = ordered
        out[term.id] = [e for e in candidates if qualifies(term, e)]
    return out


def _speaking(term, index, as_of):
    """The reports that speak to `term` and had happened by `as_of`, newest first, found by the index its verdict
    was judged on (`EvidenceIndex.speaking`: every report `qualifies` takes, whatever its standing)."""
    if not term.tracked:
        return []  # recorded, not judged: no evidence is weighed for it
    found = [e for e, _standing in index.speaking(term) if e.occurred_at <= as_of]
    found.sort(key=engine.TIME_ORDER, reverse=True)
    return found


def headline(verdicts):
    """The counts at the top of a page: of published verdicts only, the others counted as awaiting an analyst.

    A zero is shown only when every verdict is published: "Missed 0" beside verdicts the reader may not
    see would claim what no one has published (docs/public-pages.md, "The headline").
    """
    counts = Counter()
    for v in verdicts:
        if v.status == S.NOT_TRACKED:
            continue
        if not v.shown:
            counts[AWAITING] += 1
            continue
        for key, _label, members in HEADLINE:
            if v.status in members:
                counts[key] += 1
    zeros = ALWAYS_SHOWN if not counts[AWAITING] else set()
    items = [Headline(key, label, counts[key]) for key, label, _m in HEADLINE if key in zeros or counts[key]]
    if counts[AWAITING]:
        items.append(Headline(AWAITING, _("Awaiting an analyst"), counts[AWAITING]))
    return items


@dataclass(frozen=True)
class Citation:
    """A provision of the text a commitment cites: "Part One, A.1", anchored at #part-one-a-1 on the text page."""

    ref: str
    number: str

    @property
    def label(self):
        return self.number


@dataclass
class TextIndex:
    counts: provision_rules.Counts
    citations: dict  # commitment id -> [Citation], in the text's order


def text_index(agreement):
    """How the agreement's provisions are accounted for, and what each commitment cites: one query."""
    rows = (
        tm.Provision.objects.filter(agreement=agreement)
        .order_by("position", "id")
        .values_list("id", "ref", "number", "status", "commitments")
    )
    statuses, citations = {}, {}
    for pk, ref, number, status, commitment_id in rows:
        statuses[pk] = status
        if commitment_id is not None:
            citations.setdefault(commitment_id, []).append(Citation(ref, number))
    by_status = Counter(statuses.values())
    counts = provision_rules.Counts(
        len(statuses),
        by_status[provision_rules.MONITORED],
        by_status[provision_rules.NOT_MONITORABLE],
        by_status[provision_rules.NOT_YET_MODELLED],
    )
    return TextIndex(counts, citations)


def agreement_overview(agreement, cut, audience, index=None):
    """The agreement page: every commitment's published verdict and latest visible evidence.

    `index`: the agreement's `text_index`, when the caller has it already (it is read otherwise).
    """
    tz = ZoneInfo(agreement.time_zone)
    # A cited view (the address names its cutoffs) reads what was recorded then; the present one, the tables.
    standings = inputs.standings([agreement], as_of=cut.as_of, known_at=cut.known_at, recorded=cut.given)
    terms = [s.term for s in standings]
    qualifying = _qualifying(terms, inputs.evidence_for(terms, cut.known_at, recorded=cut.given), cut.as_of)
    ledger = publication.Ledger.load(
        audience.report_ids_in(standings) | {e.id for reports in qualifying.values() for e in reports}
    )
    verdicts = {s.commitment.id: audience.verdict(s, ledger) for s in standings}
    latest_ids, licensed = {}, {}
    for commitment_id, reports in qualifying.items():
        latest = latest_evidence(reports, verdicts.get(commitment_id), audience, ledger, cut.known_at)
        if latest:
            latest_ids[commitment_id] = latest.id
        licensed[commitment_id] = sum(
            1 for e in reports if audience.counts(e.id, ledger) and not audience.shows_row(e.id, ledger)
        )
    latest_rows = Report.objects.select_related("source").in_bulk(latest_ids.values()) if latest_ids else {}
    rows = []
    for standing in standings:
        verdict = verdicts[standing.commitment.id]
        rows.append(
            Row(
                verdict=verdict,
                due_day=last_day(verdict.due_at, tz),
                days_to_due=publication.days_to_due(verdict, cut.as_of, tz),
                latest=latest_rows.get(latest_ids.get(standing.commitment.id)),
                owed_by=list(standing.commitment.owed_by.all()),
                licensed=licensed.get(standing.commitment.id, 0),
                readings=readings_of(standing, verdict, audience, ledger),
                closed_on=closed_day(standing, cut.as_of, tz),
            )
        )
    if closure(agreement, rows) is None:
        # Only an agreement that is over stops its counts: while it runs, "2 days overdue" is news.
        for row in rows:
            row.closed_on = None
    citations = (index or text_index(agreement)).citations
    for row in rows:
        row.provisions = citations.get(row.commitment.id, [])
    return rows


def latest_evidence(reports, verdict, audience, ledger, known_at):
    """The report a commitment's row shows as its latest evidence: the one its verdict rests on.

    `reports`: those that speak to it, newest first. The newest of the reports the published verdict
    relies on (`verdict.evidence`: only those whose rows this audience may see); when it names none (a
    missed deadline rests on the absence of a report, an unpublished verdict names none), the newest
    that counts; only when none counts, the newest this audience may see at all. So a weak claim or a
    party's denial made after the deciding report never stands for the evidence of the verdict beside it.
    """
    shown = [e for e in reports if audience.shows_row(e.id, ledger)]
    rests_on = set(verdict.evidence) if verdict is not None else set()
    return (
        next((e for e in shown if e.id in rests_on), None)
        or next((e for e in shown if e.standing_at(known_at) == engine.COUNTS), None)
        or next(iter(shown), None)
    )


@dataclass
class ProvisionRow:
    """A provision as the text page shows it, with the commitments that monitor it (their Rows)."""

    provision: tm.Provision
    rows: list

    @property
    def status_label(self):
        return provision_rules.STATUS_LABELS.get(self.provision.status, self.provision.status)

    @property
    def reason_label(self):
        return provision_rules.REASON_LABELS.get(self.provision.reason, "")

    @property
    def category_label(self):
        return provision_rules.CATEGORY_LABELS.get(self.provision.category, "")


def text_overview(agreement, cut, audience, index=None):
    """The text page: every provision in order, each monitored one with its commitments' published verdicts.

    The verdicts are the agreement page's rows (`agreement_overview`), so the two pages never disagree
    and what is withheld there is withheld here; the provisions add one query.
    """
    rows = agreement_overview(agreement, cut, audience, index)
    by_ref = {}
    for row in rows:
        for citation in row.provisions:
            by_ref.setdefault(citation.ref, []).append(row)
    provisions = tm.Provision.objects.filter(agreement=agreement).order_by("position", "id")
    return [ProvisionRow(p, by_ref.get(p.ref, [])) for p in provisions]


def window_end(standing):
    """The instant a commitment's window is over, or None while it has no end (or is not yet placed).

    A ceiling's or prohibition's window closes; a deadline's or target's is over when its due date
    and grace period have passed; a duty without a date, or an ongoing ban, never closes. Neutral:
    a fact of the calendar, shown even when the verdict is not.
    """
    computed, commitment = standing.computed, standing.commitment
    if computed.closes_at is not None:
        return computed.closes_at
    if computed.due_at is not None and commitment.kind in (tm.DEADLINE, tm.TARGET):
        return computed.due_at + timedelta(days=commitment.grace_days or 0)
    return None


def closed_day(standing, as_of, tz):
    """The last local day of a commitment's window once it is over as of `as_of`, else None."""
    end = window_end(standing)
    return last_day(end, tz) if end is not None and end <= as_of else None


@dataclass
class Closure:
    """Why an agreement binds no one any more, for the top of its page."""

    state: str  # "terminated", "superseded" or "closed" (every commitment's window is over)
    on: object  # the date, or None when the agreement does not record it


def closure(agreement, rows):
    """The agreement's closed state as of the rows' cutoff, or None while it is still running.

    Terminated or superseded (Agreement.state, with `ended_on`), or closed when every tracked
    commitment's window is over: on the latest of their last days. A commitment without an end
    (an ongoing ban, a duty without a date) or not yet placed (awaiting its signing or anchor) keeps
    the agreement open.
    """
    if agreement.state in tm.ENDED_STATES:
        return Closure(agreement.state, agreement.ended_on)
    tracked = [r for r in rows if r.commitment.tracked]
    if not tracked or any(r.closed_on is None for r in tracked):
        return None
    return Closure("closed", max(r.closed_on for r in tracked))


def parties_and_actors(agreement):
    """{"parties": the signatories, "non_party_actors": the others active}, in one query (the page's count holds)."""
    signed = tm.Agreement.parties.through.objects.filter(agreement=agreement, party=OuterRef("pk"))
    everyone = (
        tm.Party.objects.filter(Q(agreements=agreement) | Q(agreements_as_non_party=agreement))
        .annotate(is_party=Exists(signed))
        .distinct()
        .order_by("name")
    )
    out = {"parties": [], "non_party_actors": []}
    for party in everyone:
        out["parties" if party.is_party else "non_party_actors"].append(party)
    return out


def agreements_overview(agreements, now, audience):
    """The front page: each agreement with its headline as of now. One `standings` call for all of them."""
    standings = inputs.standings(agreements, as_of=now, known_at=now, recorded=False)
    # No evidence rows are shown here, so only the ids verdicts name need checking.
    ledger = publication.Ledger.load(audience.report_ids_in(standings))
    by_agreement = {}
    for standing in standings:
        by_agreement.setdefault(standing.commitment.agreement_id, []).append(audience.verdict(standing, ledger))
    return {a.id: headline(by_agreement.get(a.id, [])) for a in agreements}


@dataclass
class EvidenceRow:
    evidence: engine.Evidence
    report: Report
    state: str
    standing: str
    visibility: str

    @property
    def standing_label(self):
        return STANDING_LABELS.get(self.standing, self.standing)

    @property
    def grade(self):
        return f"{self.report.source.reliability}{self.report.credibility}"

    @property
    def verified_how(self):
        """How the verification in force was made ("two independent sources", "other: …"), or "" if not said."""
        method, note = getattr(self.report, "verified_method", ""), getattr(self.report, "verified_method_note", "")
        if not method:
            return ""
        label = dict(ev.VERIFICATION_METHODS).get(method, method)
        return f"{_('other')}: {note}" if method == ev.OTHER_METHOD else str(label)

    @property
    def original_language_name(self):
        return language_name(self.report.original_language)


def with_evidence_kept(reports, known_at):
    """`reports` with what a page says of how their evidence is kept, as known at `known_at` (issue 14).

    The verification change in force then (its method and instant: "Verified (site visit) on 3 March") is
    read as annotations of the reports' own query; their attachments stored by then, in one more query,
    whatever the number of reports. An attachment stored after `known_at` was not known then.
    """
    latest = ev.VerificationChange.objects.filter(report=OuterRef("pk"), changed_at__lte=known_at).order_by(
        "-changed_at", "-id")
    return reports.annotate(
        verified_method=Subquery(latest.values("method")[:1]),
        verified_method_note=Subquery(latest.values("method_note")[:1]),
        verified_on=Subquery(latest.values("changed_at")[:1]),
    ).prefetch_related(Prefetch(
        "attachments", queryset=ev.Attachment.objects.filter(stored_at__lte=known_at).order_by("stored_at", "id")
    ))


@dataclass
class ChangeRow:
    change: StatusChange
    sentence: str | None
    evidence: list  # the first HISTORY_EVIDENCE reports it rests on that this audience may see
    more: int = 0  # how many more of those it rests on


@dataclass
class CommitmentDetail:
    verdict: publication.PublishedVerdict
    term: engine.Term
    standing: inputs.Standing
    commitments: list  # every commitment of the agreement, for the anchor's title and navigation
    evidence_page: object  # a Paginator page of EvidenceRow
    hidden_licensed: int  # reports that count here but whose source's licence forbids showing them
    hidden_internal: int  # staff only: how many internal or restricted reports the public does not see
    markers: list  # [(day, affirming, denying)] for the timeline chart
    assessments: list
    changes: list
    due_day: object
    last_day: object
    opens_day: object
    days_to_due: int | None
    anchor: object  # the commitment this one is counted from, if any
    # Reports of non-party actors' acts the rule would otherwise count (Verdict.context), newest
    # first, those this audience may see: shown apart from the evidence, never weighed.
    context: list = field(default_factory=list)
    readings: object = None  # Readings (see Row.readings)
    closed_on: object = None  # see Row.closed_on
    since: object = None  # when the status shown began: `status_since`
    # The engine's own instant when it differs from `since` (reports learned later date the start otherwise).
    redated: object = None


def status_since(verdict, latest):
    """The instant the verdict box says the status shown began: the one its status history, feeds and alerts give.

    `latest`: the latest change in the history as this page shows it (recorded by "as known at", in effect
    by "as of", published to this audience; `latest_changes`), or None. Its effective instant, when that
    change is into the status shown; the alert and the feed entry for it carry the same instant. Only a
    status no sweep has recorded (a view as of an instant before the monitor watched, an analyst's
    override) takes the engine's own instant. The engine's instant can move after a change is recorded (a
    report learned later dates the start otherwise) without the status changing; the history, being
    append-only, keeps the instant it recorded, and so do the verdict box and the API (docs/public-pages.md,
    "When a status began").
    """
    if not verdict.shown:
        return None
    return recorded_since(verdict.status, verdict.since, latest)


def party_since(party, latest):
    """`status_since` for one owing party's verdict: its own latest recorded change (`latest`), else the engine's."""
    return recorded_since(party.status, party.since, latest)


def latest_changes(commitment_ids, cut, audience):
    """Per (commitment id, party id or None), the latest status change of its history as this audience sees it.

    The history the commitment page lists, narrowed the same way (recorded by `cut.known_at`, in effect by
    `cut.as_of`, published to `audience`), with each owing party's own history beside it: one query for
    any number of commitments, for `status_since` and `party_since` on a list.
    """
    changes = StatusChange.objects.filter(
        commitment_id__in=list(commitment_ids), detected_at__lte=cut.known_at, effective_at__lte=cut.as_of
    )
    return latest_of_each(audience.status_changes(changes, known_at=cut.known_at))


def with_status_since(rows, cut, audience):
    """`rows` (agreement_overview's) with `since` and `party_since` filled as the commitment page gives them.

    One query, whatever the number of rows; the agreement page, which shows no instant, does not pay for it.
    """
    latest = latest_changes([r.commitment.id for r in rows], cut, audience) if rows else {}
    for row in rows:
        row.since = status_since(row.verdict, latest.get((row.commitment.id, None)))
        row.party_since = {
            p.party_id: party_since(p, latest.get((row.commitment.id, p.party_id))) for p in row.verdict.parties
        }
    return rows


def commitment_detail(agreement, key, cut, audience, page_number=1, per_page=EVIDENCE_PER_PAGE):
    """The commitment page, or None if the agreement has no commitment with this key."""
    tz = ZoneInfo(agreement.time_zone)
    # The reports the verdicts were judged on, as the engine filed them, are the ones the evidence list shows:
    # read once, and found by the index rather than by testing each again.
    standings, index = inputs.standings_and_evidence(
        [agreement], as_of=cut.as_of, known_at=cut.known_at, recorded=cut.given
    )
    standing = next((s for s in standings if s.commitment.key == key), None)
    if standing is None:
        return None
    commitment = standing.commitment
    term = standing.term
    qualifying = _speaking(term, index, cut.as_of)

    # In the order detected: each change follows the one before it, though a correction may take effect
    # before the change it replaces (the history shows both instants; docs/public-pages.md).
    # The commitment's own changes: a party's own (several owing it `each`) are the sweep's, for alerts.
    changes = StatusChange.objects.filter(
        commitment=commitment, party__isnull=True, detected_at__lte=cut.known_at, effective_at__lte=cut.as_of
    ).order_by("detected_at", "id")
    # A change links the first few reports it rests on, those this audience may see; a breach of a ceiling
    # can rest on thousands, and the page must not grow with them (the evidence list holds them all).
    evidence_rows = audience.reports(Report.objects.select_related("source")).order_by("occurred_at", "id")
    linked = StatusChange.evidence.through.objects.filter(
        statuschange_id=OuterRef("pk"), report__in=audience.reports().values("id")
    ).order_by().values("statuschange_id").annotate(n=Count("id")).values("n")
    changes = list(
        audience.status_changes(changes, known_at=cut.known_at)
        .annotate(evidence_count=Coalesce(Subquery(linked), 0))
        .prefetch_related(Prefetch("evidence", queryset=evidence_rows[:HISTORY_EVIDENCE], to_attr="linked"))
    )
    change_ids = {r.id for c in changes for r in c.linked}
    change_ids |= {i for c in changes for i in publication.ids_in_params(c.reason_params)}
    context_ids = set(standing.computed.context)
    ledger = publication.Ledger.load(
        audience.report_ids_in([standing]) | {e.id for e in qualifying} | change_ids | context_ids
    )
    verdict = audience.verdict(standing, ledger)
    shown_context = [pk for pk in context_ids if audience.shows_row(pk, ledger)]

    visible = [e for e in qualifying if audience.shows_row(e.id, ledger)]
    hidden_licensed = sum(
        1 for e in qualifying if audience.counts(e.id, ledger) and not audience.shows_row(e.id, ledger)
    )
    # Staff are told how much of what they see the public does not.
    hidden_internal = sum(1 for e in visible if not ledger.countable(e.id)) if audience.staff else 0
    page = Paginator(visible, per_page).get_page(page_number)
    # The context's rows are read with the page's, in one query.
    rows_by_id = with_evidence_kept(Report.objects.select_related("source"), cut.known_at).in_bulk(
        [e.id for e in page.object_list] + shown_context
    )
    context = sorted(
        (rows_by_id[pk] for pk in shown_context if pk in rows_by_id), key=lambda r: (r.occurred_at, r.id), reverse=True
    )
    page.object_list = [
        EvidenceRow(
            evidence=e,
            report=rows_by_id[e.id],
            state=e.state_at(cut.known_at),
            standing=e.standing_at(cut.known_at),
            visibility=ledger.visibility(e.id),
        )
        for e in page.object_list
        if e.id in rows_by_id
    ]

    markers = Counter()
    # Only the timeline chart marks the days with reports: a ceiling's and a target's charts read the verdict.
    for e in qualifying if commitment.kind not in (tm.CEILING, tm.TARGET) else ():
        if audience.counts(e.id, ledger):
            markers[(local_day(e.occurred_at, tz), e.stance)] += 1
    marker_days = sorted({day for day, _stance in markers})
    marker_rows = [(day, markers[(day, "affirms")], markers[(day, "denies")]) for day in marker_days]

    assessments = list(
        Assessment.objects.filter(commitment=commitment, assessed_at__lte=cut.known_at)
        .select_related("author")
        .order_by("-assessed_at", "-id")
    )
    change_rows = []
    for c in changes:
        _params, sentence, _withheld = audience.reason(c.reason_code, c.reason_params, c.new_status, ledger)
        shown = [r for r in c.linked if audience.shows_row(r.id, ledger)]
        change_rows.append(ChangeRow(change=c, sentence=sentence, evidence=shown,
                                     more=max(0, c.evidence_count - len(shown))))
    return CommitmentDetail(
        verdict=verdict,
        term=term,
        standing=standing,
        commitments=[s.commitment for s in standings],
        evidence_page=page,
        hidden_licensed=hidden_licensed,
        hidden_internal=hidden_internal,
        markers=marker_rows,
        assessments=assessments,
        changes=change_rows,
        due_day=last_day(verdict.due_at, tz),
        last_day=last_day(verdict.closes_at, tz),
        opens_day=local_day(verdict.opens_at, tz),
        days_to_due=publication.days_to_due(verdict, cut.as_of, tz),
        closed_on=_closed_on(agreement, standing, standings, cut.as_of, tz),
        anchor=_anchor(commitment, standings),
        context=context,
        readings=readings_of(standing, verdict, audience, ledger),
        since=(since := status_since(verdict, changes[-1] if changes else None)),
        redated=verdict.since if verdict.shown and verdict.since and since != verdict.since else None,
    )


def _closed_on(agreement, standing, standings, as_of, tz):
    """The commitment's last day when its agreement is over (`closure`), else None: the countdown runs on."""
    rows = [_Closing(s.commitment, closed_day(s, as_of, tz)) for s in standings]
    return closed_day(standing, as_of, tz) if closure(agreement, rows) else None


@dataclass
class _Closing:
    commitment: object
    closed_on: object


def _anchor(commitment, standings):
    if commitment.anchor != tm.ANCHOR_COMMITMENT:
        return None
    return next((s.commitment for s in standings if s.commitment.id == commitment.anchor_commitment_id), None)
