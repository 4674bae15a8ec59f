"""factory_boy factories for the database models (the engine's own tests use tests/engine_factories.py)."""

from datetime import UTC, date, datetime

import factory
from django.contrib.auth import get_user_model

from monitor.evidence import models as ev
from monitor.verdicts.models import Assessment
from terms import models as tm


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"analyst{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    is_staff = True


class PartyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = tm.Party
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Party {n}")
    slug = factory.Sequence(lambda n: f"party-{n}")


class AgreementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = tm.Agreement

    title = factory.Sequence(lambda n: f"Agreement {n}")
    slug = factory.Sequence(lambda n: f"agreement-{n}")
    signed_on = date(2020, 2, 29)
    time_zone = "Asia/Kabul"
    state = tm.IN_FORCE


class CommitmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = tm.Commitment
        skip_postgeneration_save = True

    agreement = factory.SubFactory(AgreementFactory)
    key = factory.Sequence(lambda n: f"commitment-{n}")
    title = factory.Sequence(lambda n: f"Commitment {n}")
    kind = tm.DEADLINE
    rule = factory.LazyFunction(lambda: {"categories": ["talks_started"], "attribution": "any"})
    due_offset = 10

    @factory.post_generation
    def owed_by(self, create, parties, **kwargs):
        if create and parties:
            self.owed_by.set(parties)


class SourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ev.Source
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Source {n}")
    kind = ev.WIRE_SERVICE
    reliability = "B"


class CoverageFactory(factory.django.DjangoModelFactory):
    """A source's declared coverage, countrywide and open-ended, recorded long before anything happens."""

    class Meta:
        model = ev.Coverage

    source = factory.SubFactory(SourceFactory)
    starts_on = date(2020, 1, 1)
    ends_on = None
    recorded_at = datetime(2020, 1, 1, tzinfo=UTC)


class ReportFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ev.Report

    summary = factory.Sequence(lambda n: f"Report {n}")
    category = "talks_started"
    occurred_at = datetime(2020, 3, 5, 8, tzinfo=UTC)
    recorded_at = datetime(2020, 3, 6, 8, tzinfo=UTC)
    source = factory.SubFactory(SourceFactory)
    credibility = 2


class AssessmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Assessment

    commitment = factory.SubFactory(CommitmentFactory)
    action = "confirm"
    computed_status = "met"
    status = factory.LazyAttribute(lambda a: a.computed_status)
    reason = "Checked against the mission's report."
    author = factory.SubFactory(UserFactory)
    assessed_at = datetime(2020, 3, 20, tzinfo=UTC)
