import json
from datetime import UTC, date, datetime, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from monitor.verdicts import inputs, serializers
from monitor.verdicts.method import METHOD_VERSION
from monitor.verdicts.models import StatusChange, latest_of_each
from monitor.verdicts.statuses import LABELS
from terms import revisions
from terms.models import Agreement
from terms.rules import day_start, validate_time_zone


def parse_instant(value, tz, option):
    """A bare date means the end of that day in the agreement's zone; a datetime without zone is UTC."""
    try:
        if len(value) == 10:
            return day_start(date.fromisoformat(value) + timedelta(days=1), tz) - timedelta(microseconds=1)
        instant = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{option} {value!r}: expected a date (2020-03-01) or an ISO date-time") from None
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = "Print every commitment's verdict: computed, and assessed where an analyst has assessed it."

    def add_arguments(self, parser):
        parser.add_argument("--agreement", metavar="SLUG", help="Only this agreement.")
        parser.add_argument(
            "--as-of", metavar="DATE", help="The status on this date (end of the day, agreement's zone); default now."
        )
        parser.add_argument(
            "--known-at", metavar="DATE", help="Using only what was known at this date; default: the --as-of date."
        )
        parser.add_argument("--json", action="store_true", help="Stable JSON (docs/compliance-json.md).")
        parser.add_argument(
            "--set-aside-page", metavar="N", type=int, default=1,
            help="Which page of each verdict's set-aside reports to list (100 a page); default 1.",
        )

    def handle(self, *args, **options):
        agreements = revisions.with_revision(Agreement.objects.all()).order_by("title")
        if options["agreement"]:
            agreements = agreements.filter(slug=options["agreement"])
            if not agreements.exists():
                raise CommandError(f"No agreement with slug {options['agreement']!r}.")
        now = timezone.now()
        out = []
        for agreement in agreements:
            tz = validate_time_zone(agreement.time_zone)
            as_of = parse_instant(options["as_of"], tz, "--as-of") if options["as_of"] else now
            known_at = parse_instant(options["known_at"], tz, "--known-at") if options["known_at"] else as_of
            # A named cutoff reads what was recorded then (docs/architecture.md, "As known at").
            recorded = bool(options["as_of"] or options["known_at"])
            standings = inputs.standings([agreement], as_of=as_of, known_at=known_at, recorded=recorded)
            # The history as staff see it (all of it) by the cutoffs: each status began when it recorded.
            latest = latest_of_each(StatusChange.objects.filter(
                commitment__agreement=agreement, detected_at__lte=known_at, effective_at__lte=as_of
            ))
            out.append(serializers.agreement_to_dict(
                agreement, standings, as_of=as_of, known_at=known_at, set_aside_page=options["set_aside_page"],
                terms_revision=revisions.label_at(agreement, known_at), latest_changes=latest,
            ))
        if options["json"]:
            self.stdout.write(json.dumps(
                {"format": serializers.FORMAT_VERSION, "method_version": METHOD_VERSION, "agreements": out}, indent=2
            ))
            return
        for a in out:
            self.print_agreement(a)

    def print_agreement(self, a):
        signed = a["signed_on"] or "not signed"
        self.stdout.write(self.style.MIGRATE_HEADING(f"{a['title']} ({a['slug']}), {signed}, {a['time_zone']}"))
        revision = a["terms_revision"] or "(no revision)"
        self.stdout.write(f"  as of {a['as_of']}, as known at {a['known_at']}; terms {revision}, method {METHOD_VERSION}")
        for c in a["commitments"]:
            label = str(LABELS.get(c["status"], c["status"]))
            marks = ["provisional" if c["provisional"] else "assessed"]
            if c["needs_review"]:
                marks.append("needs review")
            computed = c["computed"]
            self.stdout.write(f"  {c['key']:<28} {label:<20} [{', '.join(marks)}]  {c['title']}")
            if c["assessment"] and not c["provisional"] and c["status"] != computed["status"]:
                self.stdout.write(f"  {'':<28} computed: {LABELS.get(computed['status'], computed['status'])}")
            self.stdout.write(f"  {'':<28} {computed['sentence']}")
