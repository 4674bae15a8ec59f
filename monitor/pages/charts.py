"""Charts for a commitment, drawn on the server as SVG, each with the same data as a table.

Why by hand and not a library: no page may load anything from a CDN (the
machines that serve and test this reach no internet), so JavaScript charting
libraries would have to be vendored and kept up to date, and pages must read
without JavaScript anyway; a Python plotting library such as matplotlib would
be a heavy dependency for three simple shapes (bars against a line, a line
against a target, dots on a timeline). Here a chart is a list of shapes
computed in Python and written out by one template (pages/includes/chart.html),
so Django's auto-escaping covers every label.

Every chart tells the same story three ways, so that status is never carried by
colour alone: colour, a fill pattern or shape, and the table beside it.

A chart never raises on what it is given, whatever the database holds (a report
dated 0001-01-01 or 9999-12-31, a measurement of NaN or infinity, stored past any
validation): dates are moved only within the calendar Python can hold, and what no
axis can hold is left out of the drawing but kept in the table. And it draws a
bounded number of shapes, whatever the span: at most `MAX_BARS` bars.
"""

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.utils.formats import date_format, number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 20, 44
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
# Beyond this many days a ceiling chart shows weeks (each bar the worst day of its week): daily bars
# narrower than a couple of pixels tell nobody anything.
MAX_DAILY_BARS = 92
# At most this many bars (and table rows) in any ceiling chart: beyond about three years of weeks, each
# bar is the worst day of several weeks. Bars stay four pixels wide or more, and the work and the page
# stay the same size however long the window has run.
MAX_BARS = 160
# A run of more than this many days without data at the end of a ceiling's window is not drawn (the note
# says so): the axis spans the data and the window, not the years since the last source stopped.
TRAILING_GAP_DAYS = 31
# The "last 90 days" view of a ceiling chart (the page's `span=90` link).
RECENT_DAYS = 90
# The largest value an axis is drawn to; anything larger is drawn at the top of the chart.
MAX_AXIS = 1e300


@dataclass
class Chart:
    kind: str
    title: str
    description: str
    caption: str
    headers: list
    rows: list
    width: int = WIDTH
    height: int = HEIGHT
    rects: list = field(default_factory=list)
    lines: list = field(default_factory=list)
    texts: list = field(default_factory=list)
    circles: list = field(default_factory=list)
    paths: list = field(default_factory=list)
    legend: list = field(default_factory=list)  # (css class, shape, text)
    note: str = ""
    ticks: list = field(default_factory=list)  # [(day, label)] under the time axis
    # A ceiling's days: those drawn, and the whole period they are taken from (the "last 90 days" switch).
    span: tuple = ()
    whole: tuple = ()
    recent: bool = False


def _fmt(x):
    """A coordinate for the SVG: short, no grouping."""
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _finite(x):
    """Whether a value can be drawn: a number an axis can hold (not NaN, not infinite, not None)."""
    try:
        return not isinstance(x, bool) and math.isfinite(x)
    except (TypeError, OverflowError):
        return False


def _shift(day, n):
    """`day` moved by `n` days, but never past the first or last day Python can hold."""
    try:
        return day + timedelta(days=n)
    except OverflowError:
        return date.max if n > 0 else date.min


def _local_day(text, tz):
    """The local day of an ISO instant; one with no local day Python can hold is the first or last day."""
    instant = datetime.fromisoformat(text)
    instant = instant if instant.tzinfo else instant.replace(tzinfo=UTC)
    try:
        return instant.astimezone(tz).date()
    except OverflowError:
        return date.min if instant.year < 5000 else date.max


def _top(values):
    """The largest drawable value among `values`, with a tenth of headroom (0 when there is none)."""
    drawable = [float(v) for v in values if _finite(v) and abs(v) <= MAX_AXIS]
    return min(max(drawable, default=0) * 1.1, MAX_AXIS)


def _clamp_y(y):
    """A y coordinate held within the plot: a value beyond the axis is drawn at its edge."""
    return min(max(y, TOP), TOP + PLOT_H)


def _num(x):
    """A value for a reader: grouped thousands, no needless decimals."""
    if isinstance(x, float) and x.is_integer():
        x = int(x)
    return number_format(x, force_grouping=True)


def _day_label(day):
    return date_format(day, "j M Y")


def _short(day):
    return date_format(day, "j M")


def _nice_max(value):
    """A round upper bound for an axis, and its tick step."""
    value = min(max(value, 1), MAX_AXIS) if _finite(value) else 1
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000, 50000):
        if value / step <= 5:
            top = step * -(-value // step)
            return top, step
    magnitude = 10 ** (len(str(int(value))) - 1)
    top = magnitude * -(-value // magnitude)
    return top, magnitude


def _y_axis(chart, top, step, fmt=_fmt):
    v = 0
    while v <= top + 1e-9:
        y = TOP + PLOT_H - PLOT_H * v / top
        chart.lines.append(dict(x1=LEFT, y1=_fmt(y), x2=LEFT + PLOT_W, y2=_fmt(y), cls="grid"))
        chart.texts.append(dict(x=LEFT - 6, y=_fmt(y + 4), text=fmt(v), cls="tick", anchor="end"))
        v += step


# At most this many date ticks on an axis: a label such as "Mar 2020" needs about 60 of the plot's 656 pixels.
MAX_TICKS = 7


def _days_ticks(first, last, step):
    if step == 7:  # weeks start on Mondays
        day = _shift(first, (7 - first.weekday()) % 7)
    else:
        day = first
    out = []
    while first <= day <= last and len(out) <= MAX_TICKS:
        out.append(day)
        nxt = _shift(day, step)
        if nxt == day:
            break
        day = nxt
    return out


def _half_month_ticks(first, last):
    out, year, month = [], first.year, first.month
    while len(out) <= MAX_TICKS:
        for d in (1, 15):
            day = date(year, month, d)
            if first <= day <= last:
                out.append(day)
        if (year, month) >= (last.year, last.month):
            break
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def _month_ticks(first, last, step):
    out, year, month = [], first.year, first.month
    while (year, month) <= (last.year, last.month) and len(out) <= MAX_TICKS:
        day = date(year, month, 1)
        if (month - 1) % step == 0 and first <= day <= last:
            out.append(day)
        if year == 9999 and month == 12:
            break
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def _year_ticks(first, last, step):
    start = max(step, -(-first.year // step) * step)
    return [date(y, 1, 1) for y in range(start, last.year + 1, step) if first <= date(y, 1, 1) <= last]


def date_ticks(first, last):
    """Calendar ticks for an axis from `first` to `last`: [(day, label)], at most MAX_TICKS.

    The finest of days, Mondays, the 1st and 15th, month starts (every 1, 2, 3 or 6 months) and years
    (every 1, 2, 5, 10 … years) that keeps to MAX_TICKS, so labels never crowd and fall on days a reader
    recognises ("Apr", "1 Mar 2020", "2021"). A label names the year at the first tick and wherever the
    year changes, so none repeats it needlessly.
    """
    span = (last - first).days
    choices = [("day", lambda s=s: _days_ticks(first, last, s), span / s) for s in (1, 2, 3, 7)]
    choices.append(("day", lambda: _half_month_ticks(first, last), span / 15))
    choices += [("month", lambda s=s: _month_ticks(first, last, s), span / 30.4 / s) for s in (1, 2, 3, 6)]
    choices += [
        ("year", lambda s=s: _year_ticks(first, last, s), span / 365.25 / s)
        for s in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
    ]
    unit, days = "year", []
    for unit, make, estimate in choices:
        if estimate > MAX_TICKS + 1:
            continue  # too many, without building them (a window can run for centuries)
        days = make()
        if len(days) <= MAX_TICKS:
            break
    ticks, previous_year = [], None
    for day in days:
        new_year = day.year != previous_year
        if unit == "year":
            label = str(day.year)
        elif unit == "month":
            label = date_format(day, "M Y") if new_year or day.month == 1 else date_format(day, "M")
        else:
            label = _day_label(day) if new_year else _short(day)
        ticks.append((day, label))
        previous_year = day.year
    return ticks


def _x_ticks(chart, first, last, x_of):
    chart.ticks = date_ticks(first, last)
    for day, label in chart.ticks:
        x = x_of(day)
        chart.lines.append(dict(x1=_fmt(x), y1=TOP + PLOT_H, x2=_fmt(x), y2=TOP + PLOT_H + 4, cls="axis"))
        # A label near the chart's edge leans inwards, so that it is not cut off.
        anchor = "start" if x - LEFT < 30 else "end" if LEFT + PLOT_W - x < 30 else "middle"
        chart.texts.append(dict(x=_fmt(x), y=TOP + PLOT_H + 18, text=label, cls="tick", anchor=anchor))


def _frame(chart):
    chart.lines.append(dict(x1=LEFT, y1=TOP + PLOT_H, x2=LEFT + PLOT_W, y2=TOP + PLOT_H, cls="axis"))
    chart.lines.append(dict(x1=LEFT, y1=TOP, x2=LEFT, y2=TOP + PLOT_H, cls="axis"))


# --- ceiling -----------------------------------------------------------------


@dataclass
class _Bin:
    first: date
    last: date
    value: int | None  # events on the worst day with data; None: no day had data
    over: int  # days over the limit
    with_data: int
    days: int


def ceiling(details, recent=False):
    """Qualifying events per day against the limit; days over it marked; days without data shown as such.

    The axis spans the window from its opening to the last day judged (the "as of" day, or the window's
    close), except a run of more than `TRAILING_GAP_DAYS` days without data at its end: those are left
    out and the note says so, so that a 2020 ceiling looked at years later is not crushed into the first
    few pixels by the years no source covered. `recent`: only the last `RECENT_DAYS` days drawn.
    """
    daily = [(date.fromisoformat(d), n) for d, n in details.get("daily") or ()]
    limit = details.get("limit") or 0
    # Under "fewer than N" (`rule.comparison` "<") a day at the limit is already over it.
    allowed = details.get("allowed", limit)
    per_window = details.get("period") == "window"
    if not daily:
        return None
    notes = []
    last_with_data = next((i for i in range(len(daily) - 1, -1, -1) if daily[i][1] is not None), None)
    if last_with_data is not None and len(daily) - 1 - last_with_data > TRAILING_GAP_DAYS:
        gap_first, gap_last = daily[last_with_data + 1][0], daily[-1][0]
        notes.append(_("No source covered any day from %(first)s to %(last)s (%(days)s): not drawn.") % {
            "first": _day_label(gap_first), "last": _day_label(gap_last),
            "days": ngettext("%(n)s day", "%(n)s days", len(daily) - 1 - last_with_data)
            % {"n": len(daily) - 1 - last_with_data},
        })
        daily = daily[: last_with_data + 1]
    if per_window:
        # A limit for the whole window: what matters each day is the running total.
        total, running = 0, []
        for day, n in daily:
            total += n or 0
            running.append((day, total if n is not None or total else None))
        daily = running
    whole = (daily[0][0], daily[-1][0])
    recent = bool(recent) and len(daily) > RECENT_DAYS
    if recent:
        # The running total keeps counting from the window's opening: only the drawing is cut.
        daily = daily[-RECENT_DAYS:]
        notes.insert(0, _("The last %(n)s days are shown; the whole period runs from %(first)s to %(last)s.") % {
            "n": RECENT_DAYS, "first": _day_label(whole[0]), "last": _day_label(whole[1]),
        })

    weekly = len(daily) > MAX_DAILY_BARS
    # Days per bar: one, a week, or as many whole weeks as keep the bars to MAX_BARS.
    week_count = -(-len(daily) // 7)  # rounded up, as are the weeks per bar
    weeks = -(-week_count // MAX_BARS) if weekly else 0
    step = 7 * weeks if weekly else 1
    bins = []
    for i in range(0, len(daily), step):
        chunk = daily[i : i + step]
        values = [n for _, n in chunk if n is not None]
        bins.append(
            _Bin(
                first=chunk[0][0],
                last=chunk[-1][0],
                value=max(values) if values else None,
                over=sum(1 for n in values if n > allowed),
                with_data=len(values),
                days=len(chunk),
            )
        )

    first, last = daily[0][0], daily[-1][0]
    over_days = sum(1 for _, n in daily if n is not None and n > allowed) if not per_window else 0
    no_data_days = sum(1 for _, n in daily if n is None)
    if per_window:
        title = _("Running total of qualifying events against the window's limit of %(limit)s") % {"limit": limit}
    elif weeks > 1:
        title = _(
            "Qualifying events on the worst day of each %(weeks)s weeks, against the limit of %(limit)s a day"
        ) % {"weeks": weeks, "limit": limit}
    elif weekly:
        title = _("Qualifying events on the worst day of each week, against the limit of %(limit)s a day") % {
            "limit": limit
        }
    else:
        title = _("Qualifying events per day against the limit of %(limit)s a day") % {"limit": limit}
    description = _(
        "%(days)s from %(first)s to %(last)s: %(over)s over the limit, %(no_data)s without data."
    ) % {
        "days": ngettext("%(n)s day", "%(n)s days", len(daily)) % {"n": len(daily)},
        "first": _day_label(first),
        "last": _day_label(last),
        "over": ngettext("%(n)s day", "%(n)s days", over_days) % {"n": over_days},
        "no_data": ngettext("%(n)s day", "%(n)s days", no_data_days) % {"n": no_data_days},
    }
    if weekly:
        first_header = _("%(weeks)s weeks from") % {"weeks": weeks} if weeks > 1 else _("Week from")
        headers = [first_header, _("Worst day (events)"), _("Days over the limit"), _("Days with data")]
        rows = [
            [
                _day_label(b.first),
                _("no data") if b.value is None else b.value,
                b.over,
                f"{b.with_data} / {b.days}",
            ]
            for b in bins
        ]
        caption = (
            _("Each %(weeks)s weeks: events on their worst day, days over the limit, and days with data.")
            % {"weeks": weeks}
            if weeks > 1
            else _("Each week: events on its worst day, days over the limit, and days with data.")
        )
    else:
        headers = [_("Day"), _("Running total") if per_window else _("Events"), _("Over the limit")]
        rows = [
            [
                _day_label(b.first),
                _("no data") if b.value is None else b.value,
                _("yes") if b.value is not None and b.value > allowed else "",
            ]
            for b in bins
        ]
        caption = _("Qualifying events by day; “no data” means no source covered that day.")
    chart = Chart(kind="ceiling", title=title, description=description, caption=caption, headers=headers, rows=rows)

    top, ystep = _nice_max(_top([limit] + [b.value for b in bins if b.value is not None]))
    _y_axis(chart, top, ystep)
    slot = PLOT_W / len(bins)
    gap = min(2, slot * 0.2)
    for i, b in enumerate(bins):
        x = LEFT + i * slot
        when = _day_label(b.first) if b.first == b.last else f"{_day_label(b.first)} – {_day_label(b.last)}"
        if b.value is None:
            chart.rects.append(
                dict(x=_fmt(x), y=TOP, w=_fmt(slot), h=PLOT_H, cls="nodata", title=f"{when}: {_('no data')}")
            )
            continue
        # A day with data and no event gets a sliver at the baseline, so zero never looks like "no data".
        h = min(max(PLOT_H * b.value / top, 1.5), PLOT_H) if _finite(b.value) else PLOT_H
        over = b.value > allowed
        label = f"{when}: {b.value}" + (f" ({_('over the limit')})" if over else "")
        chart.rects.append(
            dict(
                x=_fmt(x + gap / 2),
                y=_fmt(TOP + PLOT_H - h),
                w=_fmt(max(slot - gap, 0.5)),
                h=_fmt(h),
                cls="bar over" if over else "bar",
                title=label,
            )
        )
        if over and slot >= 6:
            # A mark above the bar: over-limit days stand out in print and for colour-blind readers too.
            chart.texts.append(
                dict(x=_fmt(x + slot / 2), y=_fmt(TOP + PLOT_H - h - 3), text="▲", cls="over-mark", anchor="middle")
            )
    y_limit = _clamp_y(TOP + PLOT_H - PLOT_H * limit / top) if _finite(limit) else TOP
    chart.lines.append(dict(x1=LEFT, y1=_fmt(y_limit), x2=LEFT + PLOT_W, y2=_fmt(y_limit), cls="limit"))
    chart.texts.append(
        dict(
            x=LEFT + PLOT_W - 4,
            y=_fmt(y_limit - 5),
            text=_("limit %(limit)s") % {"limit": limit},
            cls="limit-label",
            anchor="end",
        )
    )
    _frame(chart)

    def x_of(day):
        return LEFT + ((day - first).days + 0.5) * PLOT_W / ((last - first).days + 1)

    _x_ticks(chart, first, last, x_of)
    chart.legend = [
        ("bar", "rect", _("at or under the limit")),
        ("bar over", "rect", _("over the limit (▲)")),
        ("nodata", "rect", _("no data: no source covered the day")),
        ("limit", "line", _("the limit")),
    ]
    if details.get("imprecise"):
        notes.append(ngettext(
            "%(n)s report dated only to a week or month is not counted per day.",
            "%(n)s reports dated only to a week or month are not counted per day.",
            details["imprecise"],
        ) % {"n": details["imprecise"]})
    chart.note = " ".join(notes)
    chart.span, chart.whole, chart.recent = (first, last), whole, recent
    return chart


# --- target ------------------------------------------------------------------


def target(details, due_day, tz):
    """The measured value over time against the target line, the due date marked."""
    points = [(_local_day(at, tz), value) for at, value, *_rest in details.get("series", ())]
    goal = details.get("target")
    unit = details.get("unit") or ""
    unit_text = f" {unit}" if unit else ""
    days = [d for d, _v in points] + ([due_day] if due_day else [])
    if not days:
        return None
    first, last = min(days), max(days)
    if first == last:
        first, last = _shift(first, -1), _shift(last, 1)
    pad = max(1, (last - first).days // 20)
    first, last = _shift(first, -pad), _shift(last, pad)
    title = _("Measured value over time against the target of %(target)s%(unit)s") % {
        "target": _num(goal),
        "unit": unit_text,
    }
    if points:
        description = _("%(n)s measurements from %(first)s to %(last)s; latest %(value)s%(unit)s.") % {
            "n": len(points),
            "first": _day_label(points[0][0]),
            "last": _day_label(points[-1][0]),
            "value": _num(points[-1][1]),
            "unit": unit_text,
        }
    else:
        description = _("No measurement has been reported.")
    if due_day:
        description += " " + _("Due %(due)s.") % {"due": _day_label(due_day)}
    chart = Chart(
        kind="target",
        title=title,
        description=description,
        caption=_("Measurements that count, by the day they describe."),
        headers=[_("Day"), _("Measured") + (f" ({unit})" if unit else "")],
        rows=[[_day_label(d), _num(v)] for d, v in points],
    )
    if details.get("withheld_points"):
        chart.note = ngettext(
            "%(n)s measurement from a report that is not public is left out.",
            "%(n)s measurements from reports that are not public are left out.",
            details["withheld_points"],
        ) % {"n": details["withheld_points"]}
    top, ystep = _nice_max(_top([goal] + [v for _d, v in points] + [details.get("baseline")]))
    _y_axis(chart, top, ystep, fmt=_num)
    span = max((last - first).days, 1)

    def x_of(day):
        return LEFT + PLOT_W * (day - first).days / span

    def y_of(value):
        return _clamp_y(TOP + PLOT_H - PLOT_H * max(min(value, MAX_AXIS), -MAX_AXIS) / top)

    if _finite(goal):
        y_goal = y_of(goal)
        chart.lines.append(dict(x1=LEFT, y1=_fmt(y_goal), x2=LEFT + PLOT_W, y2=_fmt(y_goal), cls="limit"))
        chart.texts.append(
            dict(
                x=LEFT + PLOT_W - 4,
                y=_fmt(y_goal - 5),
                text=_("target %(target)s%(unit)s") % {"target": _num(goal), "unit": unit_text},
                cls="limit-label",
                anchor="end",
            )
        )
    if due_day:
        x_due = x_of(due_day)
        due_text = _("due %(due)s") % {"due": (_short if first.year == last.year else _day_label)(due_day)}
        chart.lines.append(dict(x1=_fmt(x_due), y1=TOP, x2=_fmt(x_due), y2=TOP + PLOT_H, cls="due"))
        chart.texts.append(dict(x=_fmt(x_due + 4), y=TOP + 12, text=due_text, cls="due-label", anchor="start"))
    # A value no axis can hold (NaN, infinite) stays in the table but is not drawn.
    drawn = [(d, v) for d, v in points if _finite(v)]
    if drawn:
        coords = [(x_of(d), y_of(v)) for d, v in drawn]
        chart.paths.append(dict(d="M" + " L".join(f"{_fmt(x)},{_fmt(y)}" for x, y in coords), cls="series"))
        for (d, v), (x, y) in zip(drawn, coords, strict=True):
            chart.circles.append(dict(cx=_fmt(x), cy=_fmt(y), r=4, cls="point", title=f"{_day_label(d)}: {_num(v)}"))
    _frame(chart)
    _x_ticks(chart, first, last, x_of)
    chart.legend = [
        ("series", "line", _("measured value")),
        ("limit", "line", _("the target")),
        ("due", "line", _("the due date")),
    ]
    return chart


# --- deadline and prohibition: a timeline --------------------------------------


def timeline(*, kind, opens_day, due_day, last_day, as_of_day, markers):
    """The window's start, the due date and the evidence on one line.

    `markers` is [(day, affirming, denying)], counts of reports the audience may count.
    """
    anchors = [d for d in (opens_day, due_day, last_day) if d]
    if not anchors and not markers:
        return None
    days = anchors + [d for d, _a, _n in markers]
    first, last = min(days), max(days)
    beyond = as_of_day > last
    if as_of_day < first:
        first = as_of_day
    elif not beyond:
        last = max(last, as_of_day)
    if (last - first).days < 10:
        last = _shift(first, 10)
        first = _shift(last, -10)  # at the calendar's end, the ten days run back from it
    pad = max(1, (last - first).days // 25)
    first, last = _shift(first, -pad), _shift(last, pad)
    span = max((last - first).days, 1)
    day_text = _short if first.year == last.year else _day_label

    def x_of(day):
        return LEFT + PLOT_W * (day - first).days / span

    title = (
        _("Timeline: the deadline and the reports of the act")
        if kind == "deadline"
        else _("Timeline: when the prohibition applies and the reports of violations")
    )
    affirm_total = sum(a for _d, a, _n in markers)
    deny_total = sum(n for _d, _a, n in markers)
    description = _("Opens %(opens)s.") % {"opens": _day_label(opens_day)} if opens_day else ""
    if due_day:
        description += " " + _("Due %(due)s.") % {"due": _day_label(due_day)}
    description += " " + _("%(affirm)s reports that it happened and %(deny)s that it did not, on %(days)s.") % {
        "affirm": affirm_total,
        "deny": deny_total,
        "days": ngettext("%(n)s day", "%(n)s days", len(markers)) % {"n": len(markers)},
    }
    rows = []
    for label, day in ((_("Window opens"), opens_day), (_("Due date"), due_day), (_("Window closes"), last_day)):
        if day:
            rows.append((day, 0, [_day_label(day), label, "", ""]))
    for day, affirming, denying in markers:
        rows.append((day, 1, [_day_label(day), _("Reports"), affirming or "", denying or ""]))
    rows.sort(key=lambda r: (r[0], r[1]))
    chart = Chart(
        kind="timeline",
        title=title,
        description=description.strip(),
        caption=_("The window and the reports, by day."),
        headers=[_("Day"), _("What"), _("Reports that it happened"), _("Reports that it did not")],
        rows=[r[2] for r in rows],
        height=170,
    )
    # Rows, top to bottom: "as of", reports that it did not happen (crosses), reports that it did
    # (dots), the axis with the window as a band, then the "opens" and "due" labels on rows of their own.
    axis_y = 104
    chart.lines.append(dict(x1=LEFT, y1=axis_y, x2=LEFT + PLOT_W, y2=axis_y, cls="axis"))
    if opens_day:
        x = x_of(opens_day)
        band_end = last_day or (due_day if kind == "deadline" else None)
        end_x = x_of(_shift(band_end, 1)) if band_end else LEFT + PLOT_W
        chart.rects.append(dict(x=_fmt(x), y=axis_y - 5, w=_fmt(max(end_x - x, 2)), h=10, cls="window",
                                title=_("the window")))
        chart.lines.append(dict(x1=_fmt(x), y1=axis_y - 10, x2=_fmt(x), y2=axis_y + 12, cls="opens"))
        chart.texts.append(dict(x=_fmt(x), y=axis_y + 26, text=_("opens %(day)s") % {"day": day_text(opens_day)},
                                cls="tick", anchor="start"))
    if due_day:
        x = x_of(_shift(due_day, 1))  # a deadline ends at the end of its day
        chart.lines.append(dict(x1=_fmt(x), y1=axis_y - 52, x2=_fmt(x), y2=axis_y + 8, cls="due"))
        chart.texts.append(dict(x=_fmt(x), y=axis_y + 42, text=_("due %(day)s") % {"day": day_text(due_day)},
                                cls="due-label", anchor="start"))
    x_asof = LEFT + PLOT_W if beyond else x_of(as_of_day)
    chart.lines.append(dict(x1=_fmt(x_asof), y1=axis_y - 66, x2=_fmt(x_asof), y2=axis_y + 8, cls="asof"))
    chart.texts.append(dict(
        x=_fmt(x_asof - 3 if beyond else x_asof), y=axis_y - 70,
        text=(_("as of %(day)s →") if beyond else _("as of %(day)s")) % {"day": _day_label(as_of_day)},
        cls="tick", anchor="end" if beyond or x_asof > LEFT + PLOT_W * 0.8 else "middle",
    ))
    for day, affirming, denying in markers:
        x = x_of(day) + PLOT_W / span / 2  # the middle of its day
        if affirming:
            chart.circles.append(dict(cx=_fmt(x), cy=axis_y - 18, r=5, cls="point",
                                      title=f"{_day_label(day)}: {affirming} {_('that it happened')}"))
        if denying:
            # A cross, not a dot: the stance is readable without colour.
            chart.paths.append(dict(
                d=f"M{_fmt(x - 5)},{axis_y - 45} L{_fmt(x + 5)},{axis_y - 35} M{_fmt(x + 5)},{axis_y - 45} "
                  f"L{_fmt(x - 5)},{axis_y - 35}",
                cls="deny", title=f"{_day_label(day)}: {denying} {_('that it did not happen')}",
            ))
    chart.legend = [
        ("window", "rect", _("when it applies")),
        ("point", "circle", _("a report that it happened")),
        ("deny", "cross", _("a report that it did not")),
    ]
    if due_day:
        chart.legend.append(("due", "line", _("the due date")))
    return chart
