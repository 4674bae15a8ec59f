"""A large, realistic case for the benchmarks: agreements, commitments and ACLED-shaped reports.

    .venv/bin/python -m bench.generate --scale small|medium|full   # into the bench_sweep database

What it makes (deterministic for a seed; `SCALES` gives the sizes):

- six conflicts (Afghanistan, Yemen, Sudan, Ukraine, Colombia, Lebanon), 32 provinces in all, each in
  its own time zone (Lebanon's clocks change at midnight, Ukraine's at 03:00);
- the parties to them, with the names ACLED uses for them as aliases (accents and all), and the
  unidentified groups, civilians, protesters and rioters no commitment is owed by;
- sources graded on the Admiralty scale (ACLED, a UN mission, wire services, local media, the
  parties' own statements) and the days and provinces they declare they cover, with a gap;
- agreements in force, signed on dates from 2018 to 2024 (a few not yet signed), with commitments
  of all four kinds whose rules name ACLED event types and sub-event types, provinces, places and
  attribution, with grace periods, month offsets, and some counted from another being met;
- reports shaped like ACLED events over six and a half years: event type and sub-event type, the
  province and a place in it, the acting and other side, fatalities, a time precision of a day, a
  week or a month, dated at local midnight as the importer does, recorded days later; plus the
  same events told by wire services (some grouped with ACLED's as one event), acts and denials
  in the parties' words, measurements for targets, a few reports linked to a commitment by hand,
  and the verification history (verified, disputed, rejected, changed after the cutoff).

Reports go in through PostgreSQL COPY (psycopg 3's `cursor.copy`), with ids assigned here so that
verification changes and event groups can point at them; everything else is `bulk_create`.
"""

import argparse
import math
import random
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, time as dtime, timedelta
from zoneinfo import ZoneInfo

DB_NAME = "bench_sweep"
SCALES = {
    # commitments, reports
    "small": (100, 10_000),
    "medium": (1_000, 100_000),
    "full": (10_000, 1_000_000),
}
COMMITMENTS_PER_AGREEMENT = 100
NOW = datetime(2024, 7, 1, 12, tzinfo=UTC)  # the instant the benchmarks sweep at
FIRST_DAY, LAST_DAY = date(2018, 1, 1), date(2024, 6, 30)

# country: (time zone, share of events, provinces, parties {name: ACLED names}, other actors)
CONFLICTS = {
    "Afghanistan": (
        "Asia/Kabul", 30,
        ["Kabul", "Kandahar", "Helmand", "Herat", "Balkh", "Nangarhar", "Kunduz", "Ghazni", "Paktia", "Faryab",
         "Uruzgan", "Badakhshan"],
        {
            "Taliban": ["Islamic Emirate of Afghanistan (2021-)"],
            "Government of Afghanistan": ["Military Forces of Afghanistan (2014-2021)",
                                          "Police Forces of Afghanistan (2014-2021)"],
            "United States": ["Military Forces of the United States (2017-2021)"],
            "Islamic State Khorasan Province": ["Islamic State (Afghanistan)"],
        },
    ),
    "Yemen": (
        "Asia/Aden", 25, ["Taizz", "Marib", "Al Hudaydah", "Sanaa", "Aden", "Al Jawf"],
        {
            "Houthi Movement": ["Ansar Allah", "Military Forces of Yemen (2017-) Houthi"],
            "Government of Yemen": ["Military Forces of Yemen (2016-) Hadi",
                                    "Military Forces of Yemen (2022-) Presidential Leadership Council"],
            "Southern Transitional Council": ["Security Belt Forces"],
            "Saudi-led Coalition": ["Operation Restoring Hope"],
        },
    ),
    "Sudan": (
        "Africa/Khartoum", 15, ["Khartoum", "North Darfur", "West Darfur", "South Kordofan"],
        {
            "Sudanese Armed Forces": ["Military Forces of Sudan (2019-)"],
            "Rapid Support Forces": ["RSF: Rapid Support Forces"],
            "SPLM-N (al-Hilu)": ["SPLM-N: Sudan People's Liberation Movement-North (Al Hilu Faction)"],
        },
    ),
    "Ukraine": (
        "Europe/Kyiv", 15, ["Donetsk", "Luhansk", "Kharkiv", "Zaporizhia"],
        {
            "Russian Federation": ["Military Forces of Russia (2000-)"],
            "Ukraine": ["Military Forces of Ukraine (2019-)"],
        },
    ),
    "Colombia": (
        "America/Bogota", 10, ["Cauca", "Antioquia", "Norte de Santander"],
        {
            "Government of Colombia": ["Military Forces of Colombia (2018-2022)",
                                       "Military Forces of Colombia (2022-)"],
            "ELN": ["Ejército de Liberación Nacional", "ELN: National Liberation Army"],
            "EMC FARC-EP": ["FARC-EP Dissidents", "EMC: Estado Mayor Central"],
        },
    ),
    "Lebanon": (
        "Asia/Beirut", 5, ["South Lebanon", "Nabatieh", "Beirut"],
        {
            "Hezbollah": ["Hizbullah"],
            "Israel": ["Military Forces of Israel (2022-)"],
            "Lebanese Armed Forces": ["Military Forces of Lebanon (2021-)"],
        },
    ),
}

# ACLED event types, their share of events, and their sub-event types with weights.
EVENT_TYPES = {
    "Battles": (30, {"Armed clash": 85, "Government regains territory": 8, "Non-state actor overtakes territory": 7}),
    "Explosions/Remote violence": (25, {
        "Shelling/artillery/missile attack": 40, "Air/drone strike": 30, "Remote explosive/landmine/IED": 20,
        "Suicide bomb": 4, "Grenade": 5, "Chemical weapon": 1,
    }),
    "Violence against civilians": (15, {"Attack": 75, "Abduction/forced disappearance": 20, "Sexual violence": 5}),
    "Protests": (15, {
        "Peaceful protest": 85, "Protest with intervention": 12, "Excessive force against protesters": 3,
    }),
    "Riots": (5, {"Violent demonstration": 60, "Mob violence": 40}),
    "Strategic developments": (10, {
        "Agreement": 10, "Arrests": 25, "Change to group/activity": 25, "Disrupted weapons use": 15,
        "Headquarters or base established": 8, "Looting/property destruction": 12,
        "Non-violent transfer of territory": 5,
    }),
}
# Acts the parties promise, told by the UN mission, wire services and the parties themselves.
ACTS = ["talks_began", "prisoner_release", "ceasefire_declared", "checkpoints_removed", "hostages_released"]
# Quantities targets are about: (category, direction, low, high, target).
MEASURES = [
    ("troop_level", "at_most", 2_000, 14_000, 8_600),
    ("prisoners_released", "at_least", 0, 6_000, 5_000),
    ("displaced_returned", "at_least", 0, 200_000, 100_000),
]

CEILING_CATEGORIES = [
    ["Armed clash"], ["Air/drone strike"], ["Shelling/artillery/missile attack"], ["Remote explosive/landmine/IED"],
    ["Attack"], ["Battles"], ["Explosions/Remote violence"], ["Armed clash", "Shelling/artillery/missile attack"],
]
PROHIBITION_CATEGORIES = [
    ["Violence against civilians"], ["Attack"], ["Abduction/forced disappearance"], ["Sexual violence"],
    ["Suicide bomb"], ["Air/drone strike"], ["Looting/property destruction"], ["Chemical weapon"],
    ["Non-state actor overtakes territory"],
]
DEADLINE_ACLED_CATEGORIES = [
    ["Non-violent transfer of territory"], ["Agreement"], ["Headquarters or base established"],
    ["Change to group/activity"], ["Disrupted weapons use"],
]

# name, kind, reliability, share of reports
SOURCES = [
    ("ACLED", "event_dataset", "B"),
    ("UN monitoring mission", "monitoring_mission", "A"),
    ("Reuters", "wire_service", "A"),
    ("Local media network", "media", "C"),
    ("Party statements", "party_statement", "D"),
]


@dataclass
class Generated:
    agreements: list  # ids, in order: the first k hold the first k * 100 commitments
    commitments: int
    reports: int
    seconds: float


def _weighted(table):
    names = list(table)
    weights = [table[n] if not isinstance(table[n], tuple) else table[n][0] for n in names]
    return names, weights


class _Places:
    def __init__(self):
        self.locations = {}
        for country, (_tz, _share, provinces, _parties) in CONFLICTS.items():
            for province in provinces:
                # ACLED's `location` is a town or district; three per province, the first the capital.
                self.locations[province] = [province if province not in ("South Lebanon",) else "Saida",
                                            f"{province} district 2", f"{province} district 3"]


def local_midnight(day, tz):
    return datetime.combine(day, dtime.min, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def generate(commitments, reports, *, seed=6, log=print):
    """Empty the database and fill it; returns what was made."""
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("flush", "--noinput", verbosity=0)
    rng = random.Random(seed)
    world = _world(rng)
    agreement_ids = _agreements(rng, world, commitments)
    log(f"  {len(agreement_ids)} agreements, {commitments} commitments")
    _reports(rng, world, reports)
    log(f"  {reports} reports")
    _subscriptions(agreement_ids)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return Generated(agreement_ids, commitments, reports, time.perf_counter() - started)


def in_force(agreement_ids):
    """Only these agreements are in force (the sweep evaluates only those); the others are drafts."""
    from terms.models import DRAFT, IN_FORCE, Agreement

    Agreement.objects.filter(id__in=agreement_ids).update(state=IN_FORCE)
    Agreement.objects.exclude(id__in=agreement_ids).update(state=DRAFT)


# --- the world ------------------------------------------------------------------------------


@dataclass
class _World:
    parties: dict  # country -> [(Party, [actor names])]
    others: dict  # country -> {"unidentified": name, "civilians": ..., "protesters": ..., "rioters": ...}
    sources: dict  # name -> Source
    places: _Places


def _world(rng):
    from monitor.evidence.models import Coverage, Source
    from terms.models import Party, PartyName

    parties, others = {}, {}
    names = []
    for country, (_tz, _share, _provinces, owned) in CONFLICTS.items():
        parties[country] = []
        for name, aliases in owned.items():
            party = Party.objects.create(name=name, slug=_slug(name))
            names += [PartyName(party=party, name=alias, normalized=_normalize(alias)) for alias in aliases]
            parties[country].append((party, [name, *aliases]))
        others[country] = {
            "unidentified": f"Unidentified Armed Group ({country})",
            "civilians": f"Civilians ({country})",
            "protesters": f"Protesters ({country})",
            "rioters": f"Rioters ({country})",
        }
    PartyName.objects.bulk_create(names)
    sources = {
        name: Source.objects.create(name=name, kind=kind, reliability=reliability, may_republish=(name != "ACLED"))
        for name, kind, reliability in SOURCES
    }
    day = date
    stamp = lambda d: datetime.combine(d, dtime(6), tzinfo=UTC)  # noqa: E731
    # ACLED declares every country covered from 2019, with a pause in August-September 2021; before
    # 2019 only the UN mission's provinces have data, and a local network covering two Yemeni
    # provinces declared it only months after it started.
    un_provinces = ["Kabul", "Kandahar", "Helmand", "Herat", "Balkh", "Nangarhar", "Taizz", "Marib", "Khartoum"]
    Coverage.objects.bulk_create(
        [
            Coverage(source=sources["ACLED"], starts_on=day(2019, 1, 1), ends_on=day(2021, 8, 14),
                     recorded_at=stamp(day(2019, 1, 1))),
            Coverage(source=sources["ACLED"], starts_on=day(2021, 10, 1), recorded_at=stamp(day(2021, 10, 5))),
            *[
                Coverage(source=sources["UN monitoring mission"], starts_on=day(2018, 1, 1),
                         ends_on=day(2021, 12, 31), admin1=p, recorded_at=stamp(day(2018, 1, 1)))
                for p in un_provinces
            ],
            *[
                Coverage(source=sources["Local media network"], starts_on=day(2021, 3, 1), admin1=p,
                         recorded_at=stamp(day(2021, 9, 15)))
                for p in ("Taizz", "Marib")
            ],
        ]
    )
    return _World(parties, others, sources, _Places())


def _slug(name):
    return "-".join("".join(c if c.isalnum() else " " for c in name.lower()).split())[:100]


def _normalize(name):
    from terms.rules import normalize_name

    return normalize_name(name)


# --- agreements and commitments ------------------------------------------------------------


def _agreements(rng, world, n_commitments):
    from terms.models import IN_FORCE, Agreement, Commitment

    n_agreements = max(6, math.ceil(n_commitments / COMMITMENTS_PER_AGREEMENT))
    countries = list(CONFLICTS)
    agreements = []
    for i in range(n_agreements):
        country = countries[i % len(countries)]  # every conflict from the first six on
        tz = CONFLICTS[country][0]
        sides = rng.sample(world.parties[country], k=min(len(world.parties[country]), rng.choice((2, 2, 3))))
        signing_days = (date(2024, 3, 31) - FIRST_DAY).days
        signed = None if rng.random() < 0.02 else FIRST_DAY + timedelta(days=rng.randrange(signing_days))
        agreements.append(
            (
                Agreement(
                    title=f"{country}: " + " – ".join(p.name for p, _n in sides) + f" agreement {i + 1}",
                    slug=f"agreement-{i + 1}", time_zone=tz, signed_on=signed, state=IN_FORCE,
                    summary="Generated for the benchmarks.",
                ),
                country,
                sides,
            )
        )
    Agreement.objects.bulk_create([a for a, _c, _s in agreements])
    through = Agreement.parties.through
    through.objects.bulk_create(
        [through(agreement_id=a.id, party_id=p.id) for a, _c, sides in agreements for p, _n in sides]
    )

    # Commitments are spread evenly, so the first k agreements hold the first k * 100 of them.
    per = [n_commitments // n_agreements + (1 if i < n_commitments % n_agreements else 0) for i in range(n_agreements)]
    rows, owed, anchors = [], [], []
    for (agreement, country, sides), count in zip(agreements, per):
        deadlines = []
        for position in range(count):
            c, owing, anchor_on = _commitment(rng, agreement, country, sides, position, deadlines)
            rows.append(c)
            owed.append(owing)
            anchors.append(anchor_on)
            if c.kind == "deadline" and anchor_on is None:
                deadlines.append(len(rows) - 1)
    # Anchors point at rows created in the same batch: save the anchored ones once the others have ids.
    Commitment.objects.bulk_create([c for c, a in zip(rows, anchors) if a is None], batch_size=2000)
    for c, a in zip(rows, anchors):
        if a is not None:
            c.anchor_commitment_id = rows[a].id
    Commitment.objects.bulk_create([c for c, a in zip(rows, anchors) if a is not None], batch_size=2000)
    through = Commitment.owed_by.through
    through.objects.bulk_create(
        [through(commitment_id=c.id, party_id=p.id) for c, parties in zip(rows, owed) for p in parties],
        batch_size=5000,
    )
    return [a.id for a, _c, _s in agreements]


def _commitment(rng, agreement, country, sides, position, deadlines):
    """One commitment of a random kind; returns (unsaved Commitment, owing parties, index of its anchor)."""
    from terms.models import Commitment

    provinces = CONFLICTS[country][2]
    owing = [p for p, _n in rng.sample(sides, k=1 if rng.random() < 0.8 else min(2, len(sides)))]
    kind = rng.choices(("deadline", "target", "ceiling", "prohibition"), (35, 15, 20, 30))[0]
    if not deadlines and kind == "deadline":
        anchor_on = None
    else:
        anchor_on = rng.choice(deadlines) if deadlines and rng.random() < 0.12 else None
    unit = "months" if rng.random() < 0.15 else "days"
    fields = dict(starts_offset=0, due_offset=None, ends_offset=None, grace_days=0, offset_unit=unit)
    rule = {}

    def places():
        if rng.random() < 0.06:
            province = rng.choice(provinces)
            return {"locations": [rng.choice(_PLACES.locations[province])]}
        return {"admin1": rng.sample(provinces, k=min(len(provinces), rng.choice((1, 1, 2, 3))))}

    def attribution(placed):
        # A rule that counts others' acts names where: ACLED's unidentified groups are per country,
        # but the rule has no country of its own.
        if not placed:
            return {}
        pick = rng.choices(("owing", "owing_or_unidentified", "any"), (50, 30, 20))[0]
        return {} if pick == "owing" else {"attribution": pick}

    if kind == "deadline":
        if rng.random() < 0.5:
            rule["categories"] = rng.choice(DEADLINE_ACLED_CATEGORIES)
            if rng.random() < 0.4:
                rule.update(places())
        else:
            rule["categories"] = [rng.choice(ACTS)]
        days = (7, 10, 14, 30, 45, 60, 90, 135, 180)
        fields["due_offset"] = rng.randint(1, 6) if unit == "months" else rng.choice(days)
        fields["starts_offset"] = rng.choice((0, 0, 0, -7)) if unit == "days" else 0
        fields["grace_days"] = rng.choice((0, 0, 0, 3, 7, 14))
    elif kind == "target":
        category, direction, low, high, target = rng.choice(MEASURES)
        rule.update(categories=[category], target=target, direction=direction, unit="people")
        if rng.random() < 0.5:
            rule["baseline"] = high if direction == "at_most" else low
        fields["due_offset"] = rng.randint(2, 14) if unit == "months" else rng.choice((60, 90, 135, 180, 365))
        fields["grace_days"] = rng.choice((0, 0, 7, 30))
    elif kind == "ceiling":
        rule["categories"] = rng.choice(CEILING_CATEGORIES)
        placed = rng.random() < 0.7
        if placed:
            rule.update(places())
        rule.update(attribution(placed))
        if rng.random() < 0.15:
            rule.update(period="window", limit=rng.randint(5, 60))
        else:
            rule["limit"] = rng.choice((0, 1, 1, 2, 3, 5))
        if rng.random() < 0.3:
            rule["recovery_days"] = rng.choice((1, 2, 5, 7))
        elif rng.random() < 0.03:
            rule["recovery_days"] = None
        if rng.random() < 0.7:
            fields["ends_offset"] = rng.randint(1, 12) if unit == "months" else rng.choice((7, 14, 30, 90, 180, 365))
    else:
        rule["categories"] = rng.choice(PROHIBITION_CATEGORIES)
        placed = rng.random() < 0.5
        if placed:
            rule.update(places())
        rule.update(attribution(placed))
        if rng.random() < 0.5:
            rule["recovery_days"] = rng.choice((7, 14, 30, 60))
        if rng.random() < 0.3:
            fields["ends_offset"] = rng.randint(3, 24) if unit == "months" else rng.choice((30, 90, 180, 365, 730))
    c = Commitment(
        agreement=agreement, key=f"c{position + 1}", position=position, title=_title(kind, rule, owing),
        kind=kind, rule=rule, tracked=rng.random() > 0.02,
        # Several owing parties' acts judged together: the hand-written SQL (bench/verdict_sql.py) has no
        # per-party roll-up, and the benchmark measures the sweep against it.
        share="any",
        anchor="commitment" if anchor_on is not None else "signing", **fields,
    )
    return c, owing, anchor_on


def _title(kind, rule, owing):
    who = " and ".join(p.name for p in owing)
    what = ", ".join(rule.get("categories", ())).lower()
    where = ", ".join(rule.get("admin1", ()) or rule.get("locations", ()))
    where = f" in {where}" if where else ""
    return {
        "deadline": f"{who}: {what}{where} by the due date",
        "target": f"{who}: {what} to {rule.get('target')}",
        "ceiling": f"{who}: at most {rule.get('limit')} {what} a {rule.get('period', 'day')}{where}",
        "prohibition": f"{who}: no {what}{where}",
    }[kind][:300]


_PLACES = _Places()


# --- reports ---------------------------------------------------------------------------------

REPORT_COLUMNS = (
    "id", "summary", "category", "sub_category", "stance", "occurred_at", "occurred_until", "precision",
    "recorded_at", "value", "country", "admin1", "location", "actor1", "actor2", "fatalities", "source_id",
    "source_ref", "url", "credibility", "verification", "visibility", "commitment_id", "event_id", "arrived_via",
    "import_file",
)


def _reports(rng, world, n):
    from django.db import connection

    from monitor.evidence.models import EventGroup, Report, VerificationChange
    from terms.models import Commitment

    commitment_ids = list(Commitment.objects.values_list("id", flat=True))
    days = (LAST_DAY - FIRST_DAY).days + 1
    countries = list(CONFLICTS)
    country_weights = [CONFLICTS[c][1] for c in countries]
    types, type_weights = _weighted(EVENT_TYPES)
    sub_types = {t: (list(EVENT_TYPES[t][1]), list(EVENT_TYPES[t][1].values())) for t in types}
    acled, un, reuters, media, statements = (world.sources[name].id for name, _k, _r in SOURCES)
    events, changes = [], []
    recent = []  # ACLED rows the wire services and media may retell
    refs = {}

    def row(**values):
        values.setdefault("summary", "")
        return values

    def ref(prefix):
        refs[prefix] = refs.get(prefix, 0) + 1
        return f"{prefix}{refs[prefix]}"

    table = Report._meta.db_table
    connection.ensure_connection()
    raw = connection.connection
    with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(REPORT_COLUMNS)}) FROM STDIN") as copy:
        for report_id in range(1, n + 1):
            country = rng.choices(countries, country_weights)[0]
            tz, _share, provinces, _owned = CONFLICTS[country]
            parties = world.parties[country]
            others = world.others[country]
            day = FIRST_DAY + timedelta(days=rng.randrange(days))
            province = provinces[min(int(rng.expovariate(0.35)), len(provinces) - 1)]
            location = rng.choice(_PLACES.locations[province])
            kind = rng.random()
            verification = rng.choices(("claimed", "verified", "disputed", "rejected", "both"), (84, 10, 3, 2, 1))[0]
            if kind < 0.94 or not recent:
                values = _acled_event(rng, country, tz, parties, others, day, province, location, types,
                                      type_weights, sub_types, acled, ref)
                if len(recent) < 2000:
                    recent.append(values)
                else:
                    recent[rng.randrange(2000)] = values
            elif kind < 0.97:
                values = _retold(rng, recent, reuters, media, ref)
                original = values.pop("_of")
                if rng.random() < 0.5:
                    events.append((report_id, original))
            elif kind < 0.99:
                values = _act(rng, country, tz, parties, day, province, location, un, reuters, statements, ref)
            else:
                values = _measurement(rng, country, tz, parties, day, province, un, reuters, ref)
            if rng.random() < 0.0005 and commitment_ids:
                values["commitment_id"] = rng.choice(commitment_ids)
            values["id"] = report_id
            values["verification"] = "claimed"
            if verification != "claimed":
                first = values["recorded_at"] + timedelta(days=rng.randint(1, 20), hours=rng.randint(0, 23))
                if verification == "both":
                    changes.append((report_id, "claimed", "verified", first))
                    changes.append((report_id, "verified", "disputed", first + timedelta(days=rng.randint(1, 60))))
                    values["verification"] = "disputed"
                else:
                    changes.append((report_id, "claimed", verification, first))
                    values["verification"] = verification
            copy.write_row([_value(values, c) for c in REPORT_COLUMNS])

    # Event groups: a retelling grouped with the ACLED row it retells is one event.
    groups = {}
    for report_id, original in events:
        groups.setdefault(original, []).append(report_id)
    group_rows = [EventGroup(id=i + 1, label="") for i in range(len(groups))]
    EventGroup.objects.bulk_create(group_rows, batch_size=5000)
    members = [(gid + 1, original, retold) for gid, (original, retold) in enumerate(groups.items())]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} r SET event_id = m.event_id FROM unnest(%s::bigint[], %s::bigint[]) AS m(event_id, id) "
            "WHERE r.id = m.id",
            [[g for g, o, rs in members for _ in (o, *rs)], [i for g, o, rs in members for i in (o, *rs)]],
        )
        for model in (Report, EventGroup):
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'id'), (SELECT COALESCE(MAX(id), 1) FROM "
                f"{model._meta.db_table}))",
                [model._meta.db_table],
            )
    VerificationChange.objects.bulk_create(
        [
            VerificationChange(report_id=r, old_state=old, new_state=new, changed_at=at, reason="")
            for r, old, new, at in changes
        ],
        batch_size=10000,
    )


def _value(values, column):
    return values.get(column, _DEFAULTS.get(column))


_DEFAULTS = {
    "summary": "", "sub_category": "", "stance": "affirms", "occurred_until": None, "precision": "day",
    "value": None, "country": "", "admin1": "", "location": "", "actor1": "", "actor2": "", "fatalities": None,
    "source_ref": "", "url": "", "credibility": 6, "visibility": "public", "commitment_id": None,
    "event_id": None, "arrived_via": "import", "import_file": "",
}


def _acled_event(rng, country, tz, parties, others, day, province, location, types, type_weights, sub_types,
                 source_id, ref):
    event_type = rng.choices(types, type_weights)[0]
    names, weights = sub_types[event_type]
    sub_type = rng.choices(names, weights)[0]
    party_actor = lambda: rng.choice(rng.choice(parties)[1])  # noqa: E731
    if event_type == "Protests":
        actor1 = others["protesters"]
    elif event_type == "Riots":
        actor1 = others["rioters"] if rng.random() < 0.7 else party_actor()
    elif event_type == "Violence against civilians":
        actor1 = others["unidentified"] if rng.random() < 0.3 else party_actor()
    else:
        actor1 = others["unidentified"] if rng.random() < 0.15 else party_actor()
    if actor1.startswith("Ejército") and rng.random() < 0.3:
        actor1 = rng.choice(("EJERCITO DE LIBERACION NACIONAL", " Ejercito de Liberación  Nacional"))
    actor2 = others["civilians"] if event_type == "Violence against civilians" else party_actor()
    precision = rng.choices(("day", "week", "month"), (85, 10, 5))[0]
    occurred = local_midnight(day, tz)
    recorded = occurred + timedelta(days=rng.randint(2, 14), hours=rng.randint(0, 23))
    fatalities = 0 if event_type in ("Protests", "Strategic developments") else min(int(rng.expovariate(0.4)), 80)
    return {
        "summary": f"{sub_type} in {location}, {province}.",
        "category": event_type, "sub_category": sub_type, "occurred_at": occurred, "precision": precision,
        "recorded_at": recorded, "country": country, "admin1": province, "location": location,
        "actor1": actor1, "actor2": actor2, "fatalities": fatalities, "source_id": source_id,
        "source_ref": ref(country[:3].upper()), "credibility": rng.choices((2, 3), (80, 20))[0],
    }


def _retold(rng, recent, reuters, media, ref):
    """The same event told by a wire service or local media, hours later and to the minute."""
    original = rng.choice(recent)
    wire = rng.random() < 0.5
    occurred = original["occurred_at"] + timedelta(hours=rng.randint(3, 20))
    values = {key: value for key, value in original.items() if key not in ("id", "commitment_id", "verification")}
    values.update(
        summary="Retold: " + original["summary"], occurred_at=occurred, precision="minute",
        recorded_at=occurred + timedelta(hours=rng.randint(1, 48)), source_id=reuters if wire else media,
        source_ref=ref("W" if wire else "M"),
        credibility=rng.choice((1, 2, 3)) if wire else rng.choice((2, 3, 4)), _of=original["id"],
    )
    return values


def _act(rng, country, tz, parties, day, province, location, un, reuters, statements, ref):
    party, names = rng.choice(parties)
    category = rng.choice(ACTS)
    source = rng.choices((un, reuters, statements), (40, 40, 20))[0]
    minute = rng.random() < 0.5
    occurred = local_midnight(day, tz) + (timedelta(minutes=rng.randrange(24 * 60)) if minute else timedelta(0))
    until = occurred + timedelta(days=rng.randint(1, 10)) if not minute and rng.random() < 0.1 else None
    return {
        "summary": f"{party.name}: {category.replace('_', ' ')}.",
        "category": category, "stance": "denies" if rng.random() < 0.05 else "affirms",
        "occurred_at": occurred, "occurred_until": until, "precision": "minute" if minute else "day",
        "recorded_at": occurred + timedelta(hours=rng.randint(1, 24 * 10)),
        "country": country, "admin1": province if rng.random() < 0.7 else "", "location": location,
        "actor1": rng.choice(names), "source_id": source, "source_ref": ref("A"),
        "credibility": rng.choices((1, 2, 3, 4), (20, 50, 20, 10))[0],
    }


def _measurement(rng, country, tz, parties, day, province, un, reuters, ref):
    party, names = rng.choice(parties)
    category, direction, low, high, _target = rng.choice(MEASURES)
    # Troop levels fall and releases rise over the years, with noise: every target is met by someone.
    progress = (day - FIRST_DAY).days / (LAST_DAY - FIRST_DAY).days
    if direction == "at_most":
        value = high - (high - low) * progress + rng.gauss(0, (high - low) / 8)
    else:
        value = low + (high - low) * progress + rng.gauss(0, (high - low) / 8)
    occurred = local_midnight(day, tz)
    return {
        "summary": f"{party.name}: {category.replace('_', ' ')} {round(value)}.",
        "category": category, "occurred_at": occurred, "precision": "day",
        "recorded_at": occurred + timedelta(days=rng.randint(1, 7)), "value": float(round(max(value, 0))),
        "country": country, "actor1": rng.choice(names), "source_id": rng.choice((un, reuters)),
        "source_ref": ref("Q"), "credibility": rng.choices((1, 2, 3), (30, 60, 10))[0],
    }


def _subscriptions(agreement_ids):
    """A few staff watch a few agreements, so the sweep's alert path runs too."""
    from django.contrib.auth import get_user_model

    from monitor.alerts.models import Subscription

    User = get_user_model()
    for i, agreement_id in enumerate(agreement_ids[:3]):
        user = User.objects.create(username=f"watcher{i}", email=f"watcher{i}@example.org", is_staff=True)
        Subscription.objects.create(user=user, agreement_id=agreement_id, confirmed_at=datetime(2018, 1, 1, tzinfo=UTC))


# --- reports arriving ------------------------------------------------------------------------


def unread_report(now=NOW):
    """One new report in a category no rule names (a press conference): its id. Nothing can count it."""
    from monitor.evidence.models import Report, Source

    report = Report.objects.create(
        summary="A press conference", category="Press conference", occurred_at=now - timedelta(hours=3),
        recorded_at=now - timedelta(hours=1), source=Source.objects.order_by("id").first(), credibility=2,
    )
    return report.id


def arriving_reports(n, *, seed=60, now=NOW):
    """`n` new ACLED events of the last three days, written the way an import writes them; their ids."""
    from django.db import transaction

    from monitor.evidence.importing.bulk import insert_rows
    from monitor.evidence.models import Report, Source

    rng = random.Random(seed)
    world = _World(
        parties={}, others={}, sources={s.name: s for s in Source.objects.all()}, places=_PLACES,
    )
    from terms.models import Party

    by_name = {p.name: p for p in Party.objects.all()}
    countries = list(CONFLICTS)
    weights = [CONFLICTS[c][1] for c in countries]
    types, type_weights = _weighted(EVENT_TYPES)
    sub_types = {t: (list(EVENT_TYPES[t][1]), list(EVENT_TYPES[t][1].values())) for t in types}
    rows = []
    for i in range(n):
        country = rng.choices(countries, weights)[0]
        tz, _share, provinces, owned = CONFLICTS[country]
        parties = [(by_name[name], [name, *aliases]) for name, aliases in owned.items()]
        others = {k: f"{label} ({country})" for k, label in (
            ("unidentified", "Unidentified Armed Group"), ("civilians", "Civilians"), ("protesters", "Protesters"),
            ("rioters", "Rioters"))}
        day = (now - timedelta(days=rng.randint(1, 3))).date()
        province = provinces[min(int(rng.expovariate(0.35)), len(provinces) - 1)]
        values = _acled_event(
            rng, country, tz, parties, others, day, province, rng.choice(_PLACES.locations[province]), types,
            type_weights, sub_types, world.sources["ACLED"].id, lambda prefix: f"NEW-{prefix}{i + 1}",
        )
        values["recorded_at"] = now - timedelta(minutes=rng.randint(1, 600))
        values["arrived_via"] = "import"
        rows.append(values)
    with transaction.atomic():
        # As an import writes them now: the rows, no history row (their import job is their audit).
        ids = insert_rows(Report, rows)
    return ids


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=SCALES, default="small")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--database", default=DB_NAME, help="the PostgreSQL database to fill (emptied first)")
    args = parser.parse_args()
    from bench.common import setup_django

    setup_django(args.database)
    commitments, reports = SCALES[args.scale]
    made = generate(commitments, reports, seed=args.seed)
    print(f"{made.commitments} commitments, {made.reports} reports in {made.seconds:.1f} s")


if __name__ == "__main__":
    main()
