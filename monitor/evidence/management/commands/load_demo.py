"""Demo reports for the first agreement, so a fresh quick start has something to show.

Everything here is synthetic and labelled so: the event rows are shaped like
ACLED's but invented (ACLED's own rows may not be republished), and the
narrative reports paraphrase the public record of 2020 without quoting anyone.
The demo assumes the deal was signed on 29 February 2020, as the real one was;
the agreement file itself stays unsigned, as the seed article has it.

It also records a demo analyst's assessments ("demo-analyst", each reason
starting "Demo assessment:") of most commitments, so that the agreement page as
of 1 June 2020 (`DEMO_VIEW`) shows verdicts even though the agreement publishes
only assessed ones. Two are left for an analyst: the violence ceiling (its
dataset stops on 30 April, so the verdict waits for May's release) and the
troop reduction (its garbled target is under review, and no careful analyst
would sign a verdict against it).

Idempotent: every report has a stable source reference and every assessment a
stable author and instant, so running it again changes nothing.
"""

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from django.contrib.auth import get_user_model

from monitor.evidence import models as ev
from monitor.verdicts import inputs
from monitor.verdicts.models import CONFIRM, Assessment
from terms.models import IN_FORCE, Agreement

AGREEMENT = "us-taliban-2020"
DEMO_SIGNING = date(2020, 2, 29)
# The day the demo's story is told as of (and as known at): the quick start prints a link to it.
DEMO_VIEW = date(2020, 6, 1)
DEMO_ANALYST = "demo-analyst"
KABUL = ZoneInfo("Asia/Kabul")
MAJOR_CITIES = (
    ("Kabul", "Kabul"),
    ("Kandahar", "Kandahar"),
    ("Herat", "Herat"),
    ("Balkh", "Mazar-i-Sharif"),
    ("Nangarhar", "Jalalabad"),
    ("Kunduz", "Kunduz"),
)
ATTACK_TYPES = (
    ("Battles", "Armed clash"),
    ("Explosions/Remote violence", "Remote explosive/landmine/IED"),
    ("Violence against civilians", "Attack"),
)

SOURCES = {
    "dataset": dict(
        name="Demo event dataset (synthetic, ACLED-shaped)",
        kind=ev.EVENT_DATASET,
        reliability="B",
        declared_coverage="Every day, every province of Afghanistan, February to April 2020 (synthetic).",
        licence="Synthetic demo data shaped like ACLED's export; ACLED's own rows may not be republished.",
        may_republish=False,
    ),
    "mission": dict(name="UN monitoring mission (demo)", kind=ev.MONITORING_MISSION, reliability="A"),
    "wire": dict(name="Wire service (demo)", kind=ev.WIRE_SERVICE, reliability="B"),
    "taliban": dict(name="Taliban spokesman (demo)", kind=ev.PARTY_STATEMENT, reliability="D"),
}


def at(day, hour=12):
    return datetime.combine(day, time(hour), tzinfo=KABUL).astimezone(UTC)


def midnight(day):
    return datetime.combine(day, time.min, tzinfo=KABUL).astimezone(UTC)


# (source, ref, category, day, summary, extra fields, verification)
NARRATIVE = (
    ("taliban", "talks-claim", "intra_afghan_talks_started", date(2020, 3, 9),
     "Taliban spokesman says contacts with Kabul on a negotiating team have begun.",
     {"actor1": "Taliban", "credibility": 4}, ev.CLAIMED),
    ("wire", "talks-stalled", "intra_afghan_talks_started", date(2020, 3, 10),
     "Intra-Afghan talks did not open on 10 March as planned; a dispute over prisoner releases stalls them.",
     {"stance": ev.DENIES, "credibility": 2}, ev.VERIFIED),
    ("wire", "talks-open", "intra_afghan_talks_started", date(2020, 9, 12),
     "Intra-Afghan negotiations open in Doha between the Taliban and the Afghan government's team.",
     {"actor1": "Taliban", "credibility": 1}, ev.VERIFIED),
    ("wire", "withdrawal-begins", "troop_withdrawal_started", date(2020, 3, 10),
     "US forces begin withdrawing troops from Afghanistan under the agreement.",
     {"actor1": "Military Forces of the United States", "credibility": 2}, ev.VERIFIED),
    ("wire", "troops-feb", "us_troop_level", date(2020, 2, 29),
     "About 13,000 US troops are in Afghanistan at the signing.",
     {"value": 13000, "actor1": "Military Forces of the United States", "credibility": 2}, ev.CLAIMED),
    ("mission", "troops-jul", "us_troop_level", date(2020, 7, 14),
     "US troop level reported at 8,600.",
     {"value": 8600, "actor1": "Military Forces of the United States", "credibility": 1}, ev.VERIFIED),
    ("mission", "aq-ties", "al_qaeda_ties", date(2020, 5, 27),
     "A UN monitoring report finds the Taliban consulted al-Qaeda regularly during the negotiations.",
     {"actor1": "Taliban", "credibility": 2}, ev.CLAIMED),
    ("taliban", "aq-denial", "al_qaeda_ties", date(2020, 6, 2),
     "Taliban spokesman denies any ties with al-Qaeda.",
     {"actor1": "Taliban", "stance": ev.DENIES, "credibility": 5}, ev.CLAIMED),
)



def demo_path(agreement=AGREEMENT, day=DEMO_VIEW):
    """The agreement page as of and as known at the demo's day: the address bin/start prints."""
    return f"/agreements/{agreement}/?as_of={day.isoformat()}&known_at={day.isoformat()}"


# What a careful analyst would have recorded, and when: (commitment, local day, status confirmed, confidence,
# PAM grade, reason). Each is recorded only if the engine computes that status as known at that instant, so
# that the demo never has an analyst confirm a verdict the evidence does not give.
ASSESSMENTS = (
    ("talks-begin", date(2020, 3, 14), "missed", "high", 0,
     "Demo assessment: the talks did not open by 10 March. A verified wire report says the dispute over "
     "prisoner releases stalled them; the Taliban spokesman's claim of contacts on 9 March is unverified and "
     "describes contacts about a team, not talks."),
    ("withdrawal-begins", date(2020, 3, 14), "met", "medium", 3,
     "Demo assessment: a verified wire report shows US forces began withdrawing on 10 March, day 10: met under "
     "the reading in force. Under the day-7 reading in the review note it would be three days late, so "
     "confidence is medium until the signed text settles the day."),
    ("fight-isis", date(2020, 4, 1), "no_data", "medium", None,
     "Demo assessment: the reading is right: reports can show cooperation with ISIS, not whether the Taliban "
     "fight it, and no source reports on cooperation, so there is no verdict to give. That no Taliban "
     "operation against ISIS has been reported is noted as a concern outside the verdict."),
    ("cut-ties-al-qaeda", date(2020, 5, 31), "breached", "medium", 0,
     "Demo assessment: the UN monitoring team's report (A2) of regular consultations with al-Qaeda during the "
     "negotiations is specific and from a reliable source. Confirmed, with medium confidence until a second "
     "source corroborates it."),
    ("talks-begin", date(2020, 9, 15), "met_late", "high", 2,
     "Demo assessment: negotiations opened in Doha on 12 September, six months after the deadline, as "
     "verified wire reports show."),
)


class Command(BaseCommand):
    help = "Load synthetic demo reports for the first agreement and sign it on 29 February 2020 (demo only)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--without-assessments", action="store_true",
            help="Only the reports: every verdict left provisional, for an analyst to assess (or to test that state).",
        )

    @transaction.atomic
    def handle(self, *args, **options):
        try:
            agreement = Agreement.objects.get(slug=AGREEMENT)
        except Agreement.DoesNotExist:
            raise CommandError(f"Load the agreement first: manage.py load_agreement agreements/{AGREEMENT}.yaml")
        if agreement.signed_on is None:
            agreement.signed_on, agreement.state = DEMO_SIGNING, IN_FORCE
            agreement.save(update_fields=["signed_on", "state", "updated"])

        sources = {}
        for key, fields in SOURCES.items():
            sources[key], _ = ev.Source.objects.get_or_create(name=fields["name"], defaults=fields)
        ev.Coverage.objects.get_or_create(
            source=sources["dataset"],
            starts_on=date(2020, 2, 1),
            defaults=dict(ends_on=date(2020, 4, 30), country="Afghanistan", recorded_at=midnight(date(2020, 5, 5))),
        )

        existing = set(ev.Report.objects.filter(source__in=sources.values()).values_list("source_id", "source_ref"))
        new_reports, verdicts = [], {}
        for source_key, ref, category, day, summary, extra, state in NARRATIVE:
            source = sources[source_key]
            if (source.id, ref) in existing:
                continue
            report = ev.Report(
                source=source, source_ref=ref, category=category, summary=summary, occurred_at=midnight(day),
                recorded_at=at(day + timedelta(days=1)), country="Afghanistan", **extra,
            )
            new_reports.append(report)
            verdicts[ref] = state
        new_reports += [r for r in self.events(sources["dataset"]) if (r.source_id, r.source_ref) not in existing]
        ev.Report.objects.bulk_create(new_reports, batch_size=500)

        changes = []
        for report in new_reports:
            state = verdicts.get(report.source_ref)
            if state and state != ev.CLAIMED:
                changes.append(ev.VerificationChange(
                    report=report, old_state=ev.CLAIMED, new_state=state,
                    changed_at=report.recorded_at + timedelta(days=2), reason="Demo: checked against a second source.",
                    method=ev.TWO_SOURCES if state == ev.VERIFIED else "",
                ))
                report.verification = state
        ev.VerificationChange.objects.bulk_create(changes)
        ev.Report.objects.bulk_update([r for r in new_reports if r.source_ref in verdicts], ["verification"])
        self.stdout.write(f"Demo: {len(new_reports)} reports added ({len(existing)} already there).")
        if options["without_assessments"]:
            return
        added, skipped = self.assess(agreement)
        self.stdout.write(f"Demo: {added} analyst's assessments added.")
        for key, day, status, computed in skipped:
            self.stdout.write(f"Demo: no assessment of {key} on {day}: the engine computes {computed}, not {status}.")

    def assess(self, agreement):
        """The demo analyst's assessments (ASSESSMENTS), each of the status the engine computed then."""
        analyst, created = get_user_model().objects.get_or_create(
            username=DEMO_ANALYST, defaults=dict(first_name="Demo", last_name="analyst (synthetic)")
        )
        if created:
            analyst.set_unusable_password()  # an author of demo records: no one logs in as it
            analyst.save(update_fields=["password"])
        commitments = {c.key: c for c in agreement.commitments.all()}
        existing = set(Assessment.objects.filter(author=analyst).values_list("commitment_id", "assessed_at"))
        added, skipped = [], []
        for key, day, status, confidence, pam_grade, reason in ASSESSMENTS:
            commitment = commitments.get(key)
            when = at(day, hour=16)
            if commitment is None or (commitment.id, when) in existing:
                continue
            standing = next(
                s for s in inputs.standings([agreement], as_of=when, known_at=when, recorded=False)
                if s.commitment.id == commitment.id
            )
            if standing.computed.status != status:
                skipped.append((key, day, status, standing.computed.status))
                continue
            added.append(Assessment(
                commitment=commitment, action=CONFIRM, computed_status=status, status=status,
                confidence=confidence, pam_grade=pam_grade, reason=reason, author=analyst, assessed_at=when,
            ))
        for assessment in added:
            assessment.save()  # one by one: each keeps its history, as an analyst's would
        return len(added), skipped

    def events(self, source):
        """ACLED-shaped attacks in the major cities, March to April 2020, with one bad week in mid-March."""
        rng = random.Random(2020)
        day = date(2020, 3, 1)
        while day <= date(2020, 4, 30):
            count = rng.randint(2, 8) + (7 if date(2020, 3, 16) <= day <= date(2020, 3, 18) else 0)
            for n in range(count):
                admin1, city = rng.choice(MAJOR_CITIES)
                event_type, sub_event = rng.choice(ATTACK_TYPES)
                yield ev.Report(
                    source=source, source_ref=f"AFG{day:%Y%m%d}{n:02d}", category=event_type, sub_category=sub_event,
                    summary=f"Synthetic {sub_event.lower()} in {city}.", occurred_at=midnight(day),
                    recorded_at=at(day + timedelta(days=7)), country="Afghanistan", admin1=admin1, location=city,
                    actor1="Taliban" if rng.random() < 0.8 else "Unidentified Armed Group (Afghanistan)",
                    fatalities=rng.randint(0, 6), credibility=2, credibility_graded=False,  # as an import leaves it
                )
            day += timedelta(days=1)
