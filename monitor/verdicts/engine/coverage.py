"""Which days some source declares it covered: "zero events" against "no data"."""

from bisect import bisect_right
from datetime import date, timedelta

from monitor.verdicts.engine.values import ONE_DAY
from terms.rules import normalize_name


def covered(day, admin1s, periods, known_at):
    """Does some source declare it covered this day, everywhere the rule looks?

    A countrywide period covers any rule. Province periods cover a rule that names provinces
    only when, together, they cover every one of them; they never cover a rule that names
    only places (we cannot tell which province a place is in).
    """
    provinces = set()
    for p in periods:
        if p.in_force(day, known_at):
            if not p.admin1:
                return True
            provinces.add(normalize_name(p.admin1))
    return bool(admin1s) and admin1s <= provinces


class CoverageIndex:
    """The covered days of many rules, as known at one cutoff: `covered` for every day, worked out once.

    A sweep asks, for every ceiling, whether each day of its window is covered: thousands of
    ceilings times thousands of days times every coverage period. Here the periods in force at
    the cutoff are merged once into intervals of days, countrywide and per province, and a rule's
    covered days are worked out once per set of provinces it names. It answers as `covered` does
    (a test holds the two equal).
    """

    def __init__(self, periods, known_at):
        self.countrywide = []
        self.provinces = {}
        for p in periods:
            if p.recorded_at > known_at:
                continue
            span = (p.starts_on, p.ends_on or date.max)
            if p.admin1:
                self.provinces.setdefault(normalize_name(p.admin1), []).append(span)
            else:
                self.countrywide.append(span)
        self.countrywide = _union(self.countrywide)
        self._spans = {}

    def spans(self, admin1s):
        """Sorted, disjoint (first, last) days covered for a rule naming these provinces."""
        if admin1s not in self._spans:
            spans = self.countrywide
            if admin1s:
                everywhere = None
                for name in admin1s:
                    province = _union(self.provinces.get(name, ()))
                    everywhere = province if everywhere is None else _intersection(everywhere, province)
                spans = _union(spans + everywhere)
            self._spans[admin1s] = spans
        return self._spans[admin1s]

    def days(self, admin1s, first, last):
        """The covered days from `first` to `last`, in order."""
        out = []
        for start, end in self.spans(admin1s):
            start, end = max(start, first), min(end, last)
            day = start
            while day <= end:
                out.append(day)
                day += ONE_DAY
        return out

    def count(self, admin1s, first, last):
        """How many days from `first` to `last` are covered."""
        n = 0
        for start, end in self.spans(admin1s):
            start, end = max(start, first), min(end, last)
            if start <= end:
                n += (end - start).days + 1
        return n

    def covers(self, admin1s, day):
        spans = self.spans(admin1s)
        i = bisect_right(spans, (day, date.max)) - 1
        return i >= 0 and spans[i][0] <= day <= spans[i][1]

    def nth_after(self, admin1s, day, n):
        """The n-th covered day (1 is the first) after `day`; None if there is no such day."""
        for start, end in self.spans(admin1s):
            start = max(start, day + ONE_DAY)
            if start > end:
                continue
            length = (end - start).days + 1 if end < date.max else n
            if n <= length:
                return start + timedelta(days=n - 1)
            n -= length
        return None


def _union(spans):
    merged = []
    for start, end in sorted(spans):
        if merged and (merged[-1][1] == date.max or start <= merged[-1][1] + ONE_DAY):
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _intersection(a, b):
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if start <= end:
            out.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out

