"""Everything a row is matched against, read once per file in a fixed number of queries.

Sources, commitments, the names sources use for parties and the spellings of
places are small tables; reading them whole up front keeps the per-row work in
memory and the query count independent of the file's length.
"""

from collections import Counter
from functools import lru_cache

from monitor.evidence.models import PlaceName, Source
from terms.models import Commitment, Party, PartyName
from terms.rules import normalize_name

# Unattributed actor names are counted for the preview; past this many distinct names the rest are lumped together.
MAX_DISTINCT_ACTORS = 5000


@lru_cache(maxsize=1 << 16)
def folded(name):
    return normalize_name(name)


class Lookups:
    def __init__(self, sources, commitments, parties, places):
        self.sources = sources  # folded name → id
        self.commitments = commitments  # "agreement-slug/key" → id
        self.parties = parties  # folded name → party slug
        self.places = places  # folded spelling → the monitor's spelling

    @classmethod
    def load(cls):
        parties = {folded(name): slug for slug, name in Party.objects.values_list("slug", "name")}
        parties.update(PartyName.objects.values_list("normalized", "party__slug"))
        return cls(
            sources={folded(name): pk for pk, name in Source.objects.values_list("pk", "name")},
            commitments={
                f"{slug}/{key}": pk for pk, slug, key in Commitment.objects.values_list("pk", "agreement__slug", "key")
            },
            parties=parties,
            places=dict(PlaceName.objects.values_list("normalized", "place")),
        )

    def place(self, name):
        """(the monitor's spelling of a place, whether it differs from the one given)."""
        if not name:
            return name, False
        canonical = self.places.get(folded(name))
        if canonical is None or canonical == name:
            return name, False
        return canonical, True


class Attribution:
    """Counts, for the preview, which party each row's acting side is, through the parties' known names."""

    def __init__(self, lookups):
        self.lookups = lookups
        self.by_party = Counter()
        self.unattributed = Counter()
        self.respelled = 0
        # A file names the same few hundred places over and over: each is looked up once.
        self.respelling = lru_cache(maxsize=1 << 14)(lookups.place)

    def actor(self, name, other=""):
        """Counts a row once for each party it names as actor 1 or actor 2.

        Rules read both actors unless they say `actors: actor1` (ACLED's two actors say nothing of who
        acted: docs/importing.md), so the preview does too. A row naming no party is listed under its actor 1.
        """
        parties = {p for n in (name, other) if n and (p := self.lookups.parties.get(folded(n)))}
        for party in parties:
            self.by_party[party] += 1
        if parties:
            return
        if name in self.unattributed or len(self.unattributed) < MAX_DISTINCT_ACTORS:
            self.unattributed[name or ""] += 1
        else:
            self.unattributed["…"] += 1

    def place(self, name):
        canonical, changed = self.respelling(name)
        self.respelled += changed
        return canonical

    def summary(self, top=10):
        return {
            "parties": dict(self.by_party.most_common()),
            "unattributed": self.unattributed.total(),
            "unattributed_actors": [[name, n] for name, n in self.unattributed.most_common(top)],
            "places_respelled": self.respelled,
        }
