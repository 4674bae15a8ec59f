"""The one place that decides what the public may see.

Every public output (pages, feeds, badges, the API, exports meant for
publication) goes through this module, so a rule changes in one place:

- internal and restricted reports are never public: not their rows, not their
  ids, not the source or figures of a verdict that rests on one (the verdict's
  status is public; what it rests on is withheld);
- a report from a source whose licence forbids republishing its raw rows (such
  as ACLED) is never shown as a row: it still counts, and the numbers it feeds
  (daily counts, totals, a measured value) may be shown, but not its text,
  place, actors or id;
- a computed verdict is public only when its agreement publishes computed
  verdicts (and the commitment is not marked for review) or an analyst's
  assessment covers it; otherwise the public is told it
  is provisional and awaiting an analyst, and not what the engine computed
  ("not tracked" and "awaiting signature" are facts about the agreement, not
  judgements of evidence, and are always public);
- nothing about people is public: not subscribers, not who entered a report or
  signed an assessment (the public sees "an analyst");
- staff users who are logged in see everything, clearly marked; restricted
  reports only if their role lets them (analysts).

The policy is described for readers in docs/public-pages.md.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Coalesce
from django.utils.translation import gettext

from monitor.evidence.models import INTERNAL, PUBLIC, RESTRICTED, Report, Source
from monitor.verdicts import statuses as S
from monitor.verdicts.engine import Reason
from monitor.verdicts.models import ASSESSED, WITHDRAW, Assessment
from monitor.verdicts.reasons import SENTENCES
from monitor.verdicts.statuses import LABELS

VIEW_RESTRICTED = "evidence.view_restricted_report"

# Reason parameters that name a report by id, and those that describe its content. A reason's dates
# (when the act happened, when the breach began) are the verdict's own conclusion, and stay.
REPORT_ID_PARAMS = ("report", "act", "denial")
REPORT_CONTENT_PARAMS = ("source", "grade", "value", "measured")
# Lists of report ids in a reason (the reports on each side of a dispute, the claims awaiting confirmation):
# each audience sees the ids of the rows it may see, and the verdict's standing never hangs on them alone.
REPORT_ID_LIST_PARAMS = ("with_reports", "without_reports", "claim_reports")
# Statuses that state a fact about the agreement, not a judgement of evidence: public without an analyst.
FACTUAL_STATUSES = frozenset({S.NOT_TRACKED, S.AWAITING_SIGNATURE})
# Parts of a verdict's details that are its judgement rather than evidence: withheld with an unpublished verdict.
JUDGEMENT_DETAILS = ("breached_days", "violations")


def public_reports(reports=None):
    """Reports whose rows the public may see."""
    reports = Report.objects.all() if reports is None else reports
    return reports.filter(visibility=PUBLIC, source__may_republish=True)


def countable_reports(reports=None):
    """Reports the public may see counted (not shown): public ones, whatever their source's licence."""
    reports = Report.objects.all() if reports is None else reports
    return reports.filter(visibility=PUBLIC)


def is_public_row(report):
    return report.visibility == PUBLIC and report.source.may_republish


def public_evidence_ids(report_ids, reports_by_id):
    """Of the ids a verdict relied on, those whose rows may be shown to the public."""
    return [i for i in report_ids if i in reports_by_id and is_public_row(reports_by_id[i])]


def sees_everything(user):
    """Staff users who are logged in see internal material (restricted reports: see Audience); nobody else does."""
    return bool(user is not None and user.is_authenticated and user.is_active and user.is_staff)


class Ledger:
    """What the publication rules need to know of a set of reports: visibility and licence, in one query.

    A report the ledger does not know is treated as not public: a rule that
    fails closed cannot leak what it forgot to load.
    """

    def __init__(self, rows=()):
        self._rows = {rid: (visibility, may_republish) for rid, visibility, may_republish in rows}

    @classmethod
    def load(cls, report_ids):
        report_ids = {int(i) for i in report_ids if i is not None}
        if not report_ids:
            return cls()
        if connection.vendor == "postgresql":
            # The commitment page loads every report that speaks to it (100,000 on a busy ceiling): one array
            # parameter rather than an IN list of as many literals, and tuples without the ORM's per-row work.
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT r.id, r.visibility, s.may_republish FROM {Report._meta.db_table} r "
                    f"JOIN {Source._meta.db_table} s ON s.id = r.source_id WHERE r.id = ANY(%s)",
                    [list(report_ids)],
                )
                return cls(cursor.fetchall())
        return cls(Report.objects.filter(id__in=report_ids).values_list("id", "visibility", "source__may_republish"))

    def row_public(self, report_id):
        """Whether the public may see this report's row (Audience.shows_row decides for any audience)."""
        return self.visibility(report_id) == PUBLIC and self.may_republish(report_id)

    def countable(self, report_id):
        return self.visibility(report_id) == PUBLIC

    def known(self, report_id):
        return report_id in self._rows

    def visibility(self, report_id):
        return self._rows.get(report_id, (None, False))[0]

    def may_republish(self, report_id):
        return self._rows.get(report_id, (None, False))[1]


@dataclass(frozen=True)
class PublishedVerdict:
    """A commitment's verdict as one audience may see it.

    `shown` is False when the verdict is provisional and its agreement does not
    publish computed verdicts: `status`, `computed_status`, the reason, the
    engine's own countdown and the reports it relied on are then withheld, and
    only neutral facts remain (the dates, how far the due date is, counts and
    measurements, the evidence the audience may see, listed by the page).
    """

    commitment: object
    shown: bool
    status: str | None
    computed_status: str | None
    provisional: bool
    assessed: bool
    assessment: object | None  # the latest assessment made by the cutoff, covering or not
    reason_code: str | None
    reason_params: dict | None
    sentence: str | None
    withheld: bool  # the verdict rests on a report the audience may not see
    since: object
    opens_at: object
    due_at: object
    closes_at: object
    days_left: int | None
    days_overdue: int | None
    evidence: tuple  # ids of reports relied on whose rows this audience may see
    details: dict = field(default_factory=dict)
    parties: tuple = ()  # PublishedParty: each owing party's verdict, for a commitment shared `each`

    @property
    def label(self):
        return LABELS.get(self.status, self.status) if self.status else None

    @property
    def under_review(self):
        """Marked for an analyst's review and not assessed: the computed verdict is withheld (under_review())."""
        return bool(self.commitment.needs_review) and not self.assessed

    @property
    def computed_label(self):
        return LABELS.get(self.computed_status, self.computed_status) if self.computed_status else None


@dataclass(frozen=True)
class PublishedParty:
    """One owing party's verdict on a commitment shared `each`, as one audience may see it."""

    party_id: int
    name: str
    slug: str
    status: str
    since: object
    reason_code: str
    reason_params: dict
    sentence: str | None
    withheld: bool

    @property
    def label(self):
        return LABELS.get(self.status, self.status)


class Audience:
    """Who is looking: the public, or a logged-in staff user.

    Staff see internal reports, rows of sources whose licence forbids
    republishing, unpublished verdicts and analysts' names. Restricted reports
    ("analysts only") are seen only by staff who also hold the
    `evidence.view_restricted_report` permission (monitor.accounts.roles).
    """

    def __init__(self, user=None):
        self.staff = sees_everything(user)
        visibilities = {PUBLIC}
        if self.staff:
            visibilities.add(INTERNAL)
            if user.has_perm(VIEW_RESTRICTED):
                visibilities.add(RESTRICTED)
        self.visibilities = frozenset(visibilities)

    def __repr__(self):
        return f"<Audience {'staff' if self.staff else 'public'} {sorted(self.visibilities)}>"

    # --- reports ------------------------------------------------------------

    def reports(self, reports=None):
        """The report rows this audience may see."""
        reports = Report.objects.all() if reports is None else reports
        return reports.filter(visibility__in=self.visibilities) if self.staff else public_reports(reports)

    def counts(self, report_id, ledger):
        """May this audience see the report counted (in a total, a daily count, a measured value)?"""
        return ledger.known(report_id) and ledger.visibility(report_id) in self.visibilities

    def shows_row(self, report_id, ledger):
        """May this audience see the report itself: its text, place, actors, id?"""
        return self.counts(report_id, ledger) and (self.staff or ledger.may_republish(report_id))

    def shows_people(self):
        """Usernames of analysts and of whoever entered a report; never subscribers' addresses."""
        return self.staff

    # --- verdicts -----------------------------------------------------------

    def shows_verdict(self, standing):
        if self.staff or standing.assessed or standing.computed.status in FACTUAL_STATUSES:
            return True
        if standing.commitment.needs_review:
            return False  # under review: what the engine computed is not shown until an analyst settles it
        return standing.commitment.agreement.publish_computed_verdicts

    def status_changes(self, changes, known_at=None):
        """A status-change queryset narrowed, in SQL, to what this audience may see, annotated `assessed`.

        A change is public when its agreement publishes computed verdicts, or when an analyst's
        assessment (made by `known_at`) covered it: an assessment of the same computed status,
        made while that change was the latest (from its detection until the next change's).
        This is the rule the sweep applies to outside subscribers, made reproducible for any past
        cutoff. Changes recorded as an assessment are an analyst's own act, always public.
        """
        changes = changes.annotate(assessed=_assessed(known_at))
        if self.staff:
            return changes
        return changes.filter(
            Q(kind=ASSESSED)
            | Q(commitment__agreement__publish_computed_verdicts=True, commitment__needs_review=False)
            | Q(assessed=True)
        )

    def report_ids_in(self, standings):
        """Every report id a set of standings names, to load a Ledger for them in one query."""
        ids = set()
        for s in standings:
            ids.update(s.computed.evidence)
            ids.update(ids_in_params(s.computed.reason.params))
            for name in REPORT_ID_LIST_PARAMS:
                ids.update((s.computed.reason.params or {}).get(name, ()))
            for party in s.computed.parties:
                ids.update(ids_in_params(party.reason.params))
            details = s.computed.details or {}
            ids.update(details.get("violations", ()))
            ids.update(i for i, _why in (details.get("set_aside") or {}).get("reports", ()))
            ids.update(point[2] for point in details.get("series", ()) if len(point) > 2)
        return ids

    def reason(self, code, params, status, ledger):
        """(params, sentence, withheld) of a reason as this audience may see it.

        The sentence is None for a code with no sentence (one recorded by other parts of the monitor).
        """
        params = dict(params or {})
        sentence = Reason(code, params).sentence() if code in SENTENCES else None
        referenced = ids_in_params(params)
        if any(not self.counts(i, ledger) for i in referenced):
            # The verdict rests on an internal or restricted report: say so, and withhold what it says.
            for name in REPORT_ID_PARAMS + REPORT_CONTENT_PARAMS:
                params.pop(name, None)
            label = LABELS.get(status, status)
            sentence = gettext(
                "%(status)s: this verdict rests on a report that is not public, so its source and details are "
                "withheld."
            ) % {"status": label}
            return params, sentence, True
        for name in REPORT_ID_PARAMS:
            if name in params and not self.shows_row(params[name], ledger):
                params.pop(name)
        for name in REPORT_ID_LIST_PARAMS:
            if name in params:
                params[name] = [i for i in params[name] if self.shows_row(i, ledger)]
        return params, sentence, False

    def details(self, details, ledger, rule_baseline=None):
        """Chart data: counts stay; measurements from non-public reports and ids of hidden rows go."""
        details = dict(details or {})
        if "set_aside" in details:
            # The counts per reason are numbers, like a ceiling's daily counts; the rows listed are the audience's.
            aside = details["set_aside"]
            details["set_aside"] = {
                "counts": aside["counts"],
                "reports": [(i, why) for i, why in aside["reports"] if self.shows_row(i, ledger)],
            }
        if "violations" in details:
            details["violations"] = [i for i in details["violations"] if self.shows_row(i, ledger)]
        if "series" in details:
            series = details["series"]
            kept = [
                (at, value, rid if self.shows_row(rid, ledger) else None)
                for at, value, rid in series
                if self.counts(rid, ledger)
            ]
            details["withheld_points"] = len(series) - len(kept)
            if len(kept) != len(series):
                if series and not self.counts(series[0][2], ledger) and rule_baseline is None:
                    details["baseline"] = None
                if series and not self.counts(series[-1][2], ledger):
                    details["latest"] = kept[-1][1] if kept else None
                    details.pop("progress", None)
            details["series"] = kept
        return details

    def verdict(self, standing, ledger):
        """The PublishedVerdict of one inputs.Standing for this audience."""
        computed = standing.computed
        shown = self.shows_verdict(standing)
        evidence = tuple(i for i in computed.evidence if self.shows_row(i, ledger))
        details = self.details(computed.details, ledger, (standing.commitment.rule or {}).get("baseline"))
        base = dict(
            commitment=standing.commitment,
            provisional=standing.provisional,
            assessed=standing.assessed,
            assessment=standing.assessment,
            opens_at=computed.opens_at,
            due_at=computed.due_at,
            closes_at=computed.closes_at,
            evidence=evidence,
            details=details,
        )
        if not shown:
            # What the verdict rests on would tell its outcome (the act that met it, the violations that
            # breached it): withheld with the verdict. Counts and measurements stay, as evidence.
            base["evidence"] = ()
            base["details"] = {k: v for k, v in details.items() if k not in JUDGEMENT_DETAILS}
            return PublishedVerdict(
                shown=False,
                status=None,
                computed_status=None,
                reason_code=None,
                reason_params=None,
                sentence=None,
                withheld=False,
                since=None,
                days_left=None,
                days_overdue=None,
                **base,
            )
        params, sentence, withheld = self.reason(
            computed.reason.code, computed.reason.params, computed.status, ledger
        )
        return PublishedVerdict(
            shown=True,
            status=standing.status,
            computed_status=computed.status,
            reason_code=computed.reason.code,
            reason_params=params,
            sentence=sentence,
            withheld=withheld,
            since=computed.since,
            days_left=computed.days_left,
            days_overdue=computed.days_overdue,
            parties=tuple(self.party(p, ledger) for p in computed.parties),
            **base,
        )

    def party(self, party, ledger):
        """A PublishedParty: one party's verdict, its reason withheld as `reason` withholds any."""
        params, sentence, withheld = self.reason(party.reason.code, party.reason.params, party.status, ledger)
        return PublishedParty(
            party_id=party.party_id, name=party.name, slug=party.slug, status=party.status, since=party.since,
            reason_code=party.reason.code, reason_params=params, sentence=sentence, withheld=withheld,
        )


def under_review(standing):
    """A commitment marked for review whose verdict no analyst's assessment covers.

    Its computed verdict is shown to no one outside the staff and raises no alert, whatever the
    agreement's `publish_computed_verdicts`, until an analyst settles it: by clearing the mark (the
    question answered) or by an assessment covering the computed status (the analyst's own verdict,
    which is public, as any assessment is). The page says why, with the review note.
    """
    return bool(standing.commitment.needs_review) and not standing.assessed


def days_to_due(verdict, as_of, tz):
    """Whole local days from `as_of` to the due day: positive ahead, negative past. None without a due date.

    Neutral: it says where the calendar stands, not whether the commitment was kept, so it may be
    shown even when the verdict itself is not published.
    """
    if verdict.due_at is None:
        return None
    due_day = (verdict.due_at - timedelta(microseconds=1)).astimezone(tz).date()
    return (due_day - as_of.astimezone(tz).date()).days


def _assessed(known_at):
    """Exists(): an assessment covered this status change while it was the commitment's latest."""
    # The end of the change's episode: the next change's detection, or never.
    end = Coalesce(OuterRef("following__detected_at"), datetime.max.replace(tzinfo=UTC))
    assessments = Assessment.objects.filter(
        commitment=OuterRef("commitment"),
        computed_status=OuterRef("new_status"),
        assessed_at__gte=OuterRef("detected_at"),
        assessed_at__lt=end,
    ).exclude(action=WITHDRAW)  # a withdrawal says no assessment stands: it never vouches for a change
    if known_at is not None:
        assessments = assessments.filter(assessed_at__lte=known_at)
    return Exists(assessments)


def ids_in_params(params):
    out = []
    for name in REPORT_ID_PARAMS:
        value = (params or {}).get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            out.append(value)
    return out
