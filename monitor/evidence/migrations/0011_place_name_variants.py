"""Spellings of the first agreement's cities (issue 15), so imports store one spelling for each.

The monitor's spelling is the first the agreement's rules list (agreements/us-taliban-2020.yaml); each
variant maps to it. Idempotent: a spelling already present (any case, accents or punctuation) is left as
its administrator set it. Reversing removes nothing: the rows are editable in the admin from then on.
"""

from django.db import migrations

from terms.rules import normalize_name

VARIANTS = {
    "Kabul": ["Kabol", "Kābul"],
    "Kandahar": ["Qandahar", "Kandahār", "Qandahār"],
    "Herat": ["Hirat", "Harat"],
    "Mazar-i-Sharif": ["Mazar-e Sharif", "Mazar-e-Sharif", "Mazari Sharif", "Mazar Sharif"],
    "Jalalabad": ["Jalal Abad", "Jelalabad", "Dzhalalabad"],
    "Kunduz": ["Kondoz", "Qunduz", "Konduz"],
    "Ghazni": ["Ghazny", "Ghuzni"],
    "Lashkar Gah": ["Lashkargah", "Lashkar Gāh", "Lashkar-e Gah"],
}
NOTE = "Shipped with the monitor (issue 15)."


def add_variants(apps, schema_editor):
    PlaceName = apps.get_model("evidence", "PlaceName")
    present = set(PlaceName.objects.values_list("normalized", flat=True))
    rows = []
    for place, spellings in VARIANTS.items():
        for name in spellings:
            # The historical model has no save() of the real one: `normalized` is set here as it would set it.
            key = normalize_name(name)
            if key in present or key == normalize_name(place):
                continue
            present.add(key)
            rows.append(PlaceName(name=name, normalized=key, place=place, note=NOTE))
    PlaceName.objects.bulk_create(rows)


class Migration(migrations.Migration):

    dependencies = [
        ("evidence", "0010_acled_fields"),
    ]

    operations = [
        migrations.RunPython(add_variants, migrations.RunPython.noop),
    ]
