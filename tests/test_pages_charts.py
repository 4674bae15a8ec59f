"""The server-drawn charts: what each shape and table row tells a reader. No database needed."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from monitor.pages import charts

KABUL = ZoneInfo("Asia/Kabul")


def daily(*counts, start=date(2020, 3, 1)):
    return [((start + timedelta(days=i)).isoformat(), n) for i, n in enumerate(counts)]


def test_ceiling_chart_marks_days_over_the_limit_and_never_draws_a_day_without_data_as_zero():
    chart = charts.ceiling({"limit": 10, "period": "day", "daily": daily(2, None, 12, 0)})
    assert [r["cls"] for r in chart.rects] == ["bar", "nodata", "bar over", "bar"]
    zero = chart.rects[3]
    assert float(zero["h"]) > 0  # a sliver: a day with data and no event is not a gap
    assert chart.rows == [
        ["1 Mar 2020", 2, ""],
        ["2 Mar 2020", "no data", ""],
        ["3 Mar 2020", 12, "yes"],
        ["4 Mar 2020", 0, ""],
    ]
    assert [t["text"] for t in chart.texts if t["cls"] == "over-mark"] == ["▲"]
    assert chart.description == "4 days from 1 Mar 2020 to 4 Mar 2020: 1 day over the limit, 1 day without data."


def test_a_long_ceiling_shows_the_worst_day_of_each_week():
    counts = [3] * 100
    counts[8] = 14  # the second week has one day over the limit
    counts[70:77] = [None] * 7  # the eleventh week, no source covered
    chart = charts.ceiling({"limit": 10, "period": "day", "daily": daily(*counts)})
    assert chart.headers[0] == "Week from"
    assert len(chart.rows) == 15 == len(chart.rects)
    assert chart.rows[1] == ["8 Mar 2020", 14, 1, "7 / 7"]
    assert chart.rows[10] == ["10 May 2020", "no data", 0, "0 / 7"]
    assert chart.rows[-1] == ["7 Jun 2020", 3, 0, "2 / 2"]  # a last, short week
    assert "worst day of each week" in chart.title


def test_a_limit_for_the_whole_window_is_drawn_as_a_running_total():
    chart = charts.ceiling({"limit": 5, "period": "window", "daily": daily(2, 0, 3, 1)})
    assert [row[1] for row in chart.rows] == [2, 2, 5, 6]
    assert [row[2] for row in chart.rows] == ["", "", "", "yes"]
    assert "Running total" in chart.title


def test_target_chart_plots_the_measurements_and_says_what_was_left_out():
    details = {
        "target": 6, "direction": "at_most", "unit": "troops", "baseline": None,
        "series": [(datetime(2020, 2, 28, 19, 30, tzinfo=UTC).isoformat(), 13000.0, 5),
                   (datetime(2020, 7, 13, 19, 30, tzinfo=UTC).isoformat(), 8600.0, None)],
        "withheld_points": 1,
    }
    chart = charts.target(details, date(2020, 3, 7), KABUL)
    assert chart.rows == [["29 Feb 2020", "13,000"], ["14 Jul 2020", "8,600"]]
    assert len(chart.circles) == 2 and chart.paths[0]["cls"] == "series"
    assert chart.note == "1 measurement from a report that is not public is left out."
    assert "target 6 troops" in [t["text"] for t in chart.texts]


def test_timeline_shows_the_window_the_due_date_and_reports_each_way():
    chart = charts.timeline(
        kind="deadline", opens_day=date(2020, 2, 29), due_day=date(2020, 3, 10), last_day=None,
        as_of_day=date(2020, 10, 1), markers=[(date(2020, 3, 9), 1, 0), (date(2020, 3, 10), 0, 1)],
    )
    assert chart.rows == [
        ["29 Feb 2020", "Window opens", "", ""],
        ["9 Mar 2020", "Reports", 1, ""],
        ["10 Mar 2020", "Due date", "", ""],
        ["10 Mar 2020", "Reports", "", 1],
    ]
    assert len(chart.circles) == 1 and [p["cls"] for p in chart.paths] == ["deny"]
    assert "1 reports that it happened and 1 that it did not, on 2 days." in chart.description
