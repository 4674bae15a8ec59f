"""Write a synthetic ACLED export (the current 31 columns) of any length, for tests and measurements.

    python tests/data/import/make_acled.py 100000 /tmp/acled-100k.csv

Synthetic: shaped like ACLED's rows, invented (ACLED's own rows may not be republished).
Notes carry commas, quotes and line breaks, and half the dates are written "29 February 2020".
"""

import csv
import random
import sys
from datetime import date, timedelta

COLUMNS = (
    "event_id_cnty", "event_date", "year", "time_precision", "disorder_type", "event_type", "sub_event_type",
    "actor1", "assoc_actor_1", "inter1", "actor2", "assoc_actor_2", "inter2", "interaction", "civilian_targeting",
    "iso", "region", "country", "admin1", "admin2", "admin3", "location", "latitude", "longitude", "geo_precision",
    "source", "source_scale", "notes", "fatalities", "tags", "timestamp",
)
PLACES = (("Kabul", "Kabul"), ("Kandahar", "Kandahar"), ("Herat", "Herat"), ("Balkh", "Mazar-e Sharif"),
          ("Nangarhar", "Jalalabad"), ("Kunduz", "Kunduz"), ("Helmand", "Lashkar Gah"))
TYPES = (("Battles", "Armed clash"), ("Explosions/Remote violence", "Remote explosive/landmine/IED"),
         ("Violence against civilians", "Attack"), ("Strategic developments", "Agreement"))
ACTORS = ("Taliban", "Military Forces of Afghanistan (2014-2021)", "Unidentified Armed Group (Afghanistan)",
          "Islamic State (Afghanistan)", "Military Forces of the United States (2017-2021)")


def rows(n, seed=2020):
    rng = random.Random(seed)
    start = date(2020, 3, 1)
    for i in range(n):
        day = start + timedelta(days=i % 400)
        admin1, location = rng.choice(PLACES)
        event_type, sub = rng.choice(TYPES)
        written = day.isoformat() if i % 2 else f"{day.day} {day:%B %Y}"
        notes = (
            f'On {written}, an "incident" in {location}, {admin1}: {sub.lower()}, reported by local sources.'
            + ("\nA second paragraph, with a comma, follows." if i % 5 == 0 else "")
        )
        yield {
            "event_id_cnty": f"AFG{i + 1:07d}", "event_date": written, "year": day.year,
            "time_precision": rng.choice("1112"), "disorder_type": "Political violence", "event_type": event_type,
            "sub_event_type": sub, "actor1": rng.choice(ACTORS), "assoc_actor_1": "", "inter1": "2",
            "actor2": rng.choice(ACTORS + ("",)), "assoc_actor_2": "", "inter2": "1", "interaction": "12",
            "civilian_targeting": "", "iso": "4", "region": "Caucasus and Central Asia", "country": "Afghanistan",
            "admin1": admin1, "admin2": "", "admin3": "", "location": location, "latitude": "34.5",
            "longitude": "69.2", "geo_precision": "1", "source": "Pajhwok Afghan News; TOLOnews",
            "source_scale": "National", "notes": notes, "fatalities": rng.randint(0, 9), "tags": "",
            "timestamp": "1583020800",
        }


def write(out, n, seed=2020):
    writer = csv.DictWriter(out, COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows(n, seed):
        writer.writerow(row)


if __name__ == "__main__":
    count, path = int(sys.argv[1]), sys.argv[2]
    with open(path, "w", encoding="utf-8", newline="") as f:
        write(f, count)


def csv_text(n=3, *, change=None, drop=(), seed=2020):
    """An export of n rows as text, with `change` {row index: {column: value}} applied and columns dropped."""
    import io

    out = io.StringIO()
    columns = [c for c in COLUMNS if c not in drop]
    writer = csv.DictWriter(out, columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for i, row in enumerate(rows(n, seed)):
        row.update((change or {}).get(i, {}))
        writer.writerow(row)
    return out.getvalue()
