"""Public status pages: the list of agreements, an agreement, a commitment, the method; the calendar and badges.

Server-rendered and readable without JavaScript. What a reader may see is
decided in `monitor.evidence.publication` (via its `Audience`), never here.
Dates are shown in the agreement's own time zone, the one its deadlines are
counted in.
"""

import base64
from datetime import timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import icalendar
from django.conf import settings
from django.http import FileResponse, Http404, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.html import format_html
from django.utils.translation import gettext as _

from monitor.evidence.attachments import INLINE, PDF
from monitor.evidence.models import CREDIBILITY, RELIABILITY, VERIFICATION_METHODS, VERIFICATION_STATES, Attachment
from monitor.evidence.publication import Audience, Ledger
from monitor.pages import cache, charts, data, instants, later, plain
from monitor.pages.templatetags.pages_tags import TONES
from monitor.verdicts.method import METHOD_VERSION
from terms import models as tm
from terms import revisions
from terms.models import Agreement

# Feeds, calendars and badges are fetched by machines over and over; a few minutes' staleness is fine.
FEED_MAX_AGE = 300


def _site_root(request):
    """The site's public address (SITE_ROOT), for what leaves the site: calendars, badges' embed code,
    citations. Not the host this request reached, which behind a proxy may be its upstream."""
    return getattr(settings, "SITE_ROOT", "") or request.build_absolute_uri("/").rstrip("/")


def _finish(request, response, audience):
    if audience.staff:
        # A staff view holds internal material: no shared cache may keep it.
        patch_cache_control(response, private=True, no_store=True)
    patch_vary_headers(response, ("Cookie",))
    return response


def _cutoffs(request, agreement, now):
    """(cutoffs, error message); a bad value falls back to now and says what was wrong.

    A value outside the accepted range (monitor.pages.instants) is refused here, before any verdict
    is worked out: the page then shows now, the work of any page.
    """
    tz = ZoneInfo(agreement.time_zone)
    try:
        return instants.cutoffs(request.GET, tz, now, earliest=data.earliest_day(agreement)), None
    except instants.BadInstant as e:
        return instants.cutoffs({}, tz, now), e.message


def reads_cutoffs(view):
    """Marks a view that checks "as of" and "as known at" against its agreement's own range itself;
    every other public view has them checked by `monitor.pages.middleware.CutoffsInRange`."""
    view.reads_cutoffs = True
    return view


def _incomplete(request, cut, view, **kwargs):
    """A view given one cutoff but not the other: redirect so that the address names both, and can be cited."""
    given = [request.GET.get(name, "").strip() for name in (instants.AS_OF, instants.KNOWN_AT)]
    if not cut.given or all(given):
        return None
    params = {k: v for k, v in request.GET.items() if k not in (instants.AS_OF, instants.KNOWN_AT)}
    params.update(cut.query())
    return redirect(reverse(view, kwargs=kwargs) + "?" + urlencode(params))


def _cut_context(request, agreement, cut, error, view, url_kwargs):
    tz = ZoneInfo(agreement.time_zone)
    citation = _site_root(request) + reverse(view, kwargs=url_kwargs) + "?" + urlencode(cut.query())
    accepted = instants.accepted(tz, earliest=data.earliest_day(agreement))
    return {
        # The form's date fields start on the first day the page accepts. (Not the last: a page given its
        # cutoffs is kept for a day, and the last day moves with the clock.)
        "first_day": accepted.first_day.isoformat(),
        "cut": cut,
        "cut_error": error,
        "as_of_value": cut.as_of.astimezone(tz).date().isoformat(),
        "known_at_value": cut.known_at.astimezone(tz).date().isoformat(),
        "is_now": not cut.given,
        "citation": citation,
        # The present view's own address is canonical; a past view's is the one that cites it.
        "canonical": _site_root(request) + reverse(view, kwargs=url_kwargs) if not cut.given else citation,
        "time_zone": agreement.time_zone,
        # Links to other pages keep the reader's cutoffs; the API link always names them.
        "keep_qs": "?" + urlencode(cut.query()) if cut.given else "",
        "cut_qs": urlencode(cut.query()),
        # The revision of the agreement's terms in force as known at the cutoff ("r3"), named in the footer.
        "terms_revision": revisions.label_at(agreement, cut.known_at),
    }


# Each public view is served through `cache.serve`, which passes the render the minute it is shown
# as of and keeps the page for anonymous readers until the data or that minute changes.


def home(request):
    return cache.serve(request, lambda now: _home(request, now), follows_clock=True)


def _home(request, now):
    audience = Audience(request.user)
    agreements = list(revisions.with_revision(Agreement.objects.prefetch_related("parties")).order_by("title"))
    headlines = data.agreements_overview(agreements, now, audience) if agreements else {}
    items = [(a, headlines.get(a.id, [])) for a in agreements]
    response = render(request, "pages/home.html", {"items": items, "audience": audience})
    return _finish(request, response, audience)


@reads_cutoffs
def agreement(request, agreement):
    return cache.serve(
        request, lambda now: _agreement(request, agreement, now), follows_clock=not instants.given(request.GET)
    )


def _agreement(request, agreement, now):
    agreement = data.agreement_or_404(agreement)
    cut, error = _cutoffs(request, agreement, now)
    if not error and (response := _incomplete(request, cut, "pages:agreement", agreement=agreement.slug)):
        return response
    audience = Audience(request.user)
    index = data.text_index(agreement)
    rows = data.agreement_overview(agreement, cut, audience, index)
    context = {
        "agreement": agreement,
        **data.parties_and_actors(agreement),
        "rows": rows,
        "provision_counts": index.counts,
        "headline": data.headline([r.verdict for r in rows]),
        "closure": data.closure(agreement, rows),
        "audience": audience,
        **_cut_context(request, agreement, cut, error, "pages:agreement", {"agreement": agreement.slug}),
        # A cited view that today's terms and contents would judge otherwise says so (issue 14).
        "later": later.change(request, agreement, cut, [r.verdict for r in rows], "pages:agreement",
                              {"agreement": agreement.slug}),
    }
    with timezone.override(ZoneInfo(agreement.time_zone)):
        response = render(request, "pages/agreement.html", context, status=400 if error else 200)
    return _finish(request, response, audience)


@reads_cutoffs
def text(request, agreement):
    return cache.serve(
        request, lambda now: _text(request, agreement, now), follows_clock=not instants.given(request.GET)
    )


def _text(request, agreement, now):
    """The agreement's text, provision by provision: its class, and the status of the commitments monitoring it."""
    agreement = data.agreement_or_404(agreement)
    cut, error = _cutoffs(request, agreement, now)
    if not error and (response := _incomplete(request, cut, "pages:text", agreement=agreement.slug)):
        return response
    audience = Audience(request.user)
    index = data.text_index(agreement)
    context = {
        "agreement": agreement,
        "provisions": data.text_overview(agreement, cut, audience, index),
        "provision_counts": index.counts,
        "audience": audience,
        **_cut_context(request, agreement, cut, error, "pages:text", {"agreement": agreement.slug}),
    }
    with timezone.override(ZoneInfo(agreement.time_zone)):
        response = render(request, "pages/text.html", context, status=400 if error else 200)
    return _finish(request, response, audience)


def _text_value(value):
    # As the cutoffs are read (monitor.pages.instants): stripped, and empty is not given.
    return (value or "").strip() or None


def _page_number(value):
    # As Django's Paginator.get_page reads it: anything but a whole number is the first page.
    value = (value or "").strip()
    return str(int(value)) if value.isdigit() and len(value) <= 9 else None


# What the commitment page reads of its address, each value as the page reads it: the page is kept
# under these alone (monitor/pages/cache.py, `address_for`), and shows no other parameter in its links.
COMMITMENT_PARAMS = {
    instants.AS_OF: _text_value,
    instants.KNOWN_AT: _text_value,
    "page": _page_number,
    "span": lambda value: RECENT if value == RECENT else None,
}


@reads_cutoffs
def commitment(request, agreement, key):
    return cache.serve(
        request, lambda now: _commitment(request, agreement, key, now), follows_clock=not instants.given(request.GET),
        params=COMMITMENT_PARAMS,
    )


def _kept_params(request):
    """The commitment page's own parameters, normalised, for the links it makes to itself (`COMMITMENT_PARAMS`)."""
    out = QueryDict(mutable=True)
    for name, normalise in COMMITMENT_PARAMS.items():
        if (value := normalise(request.GET.get(name))) is not None:
            out[name] = value
    return out


def _commitment(request, agreement, key, now):
    agreement = data.agreement_or_404(agreement)
    cut, error = _cutoffs(request, agreement, now)
    kwargs = {"agreement": agreement.slug, "key": key}
    if not error and (response := _incomplete(request, cut, "pages:commitment", **kwargs)):
        return response
    audience = Audience(request.user)
    detail = data.commitment_detail(agreement, key, cut, audience, _page_number(request.GET.get("page")) or 1)
    if detail is None:
        raise Http404(_("This agreement has no such commitment."))
    tz = ZoneInfo(agreement.time_zone)
    commitment = detail.standing.commitment
    context = {
        "agreement": agreement,
        "commitment": commitment,
        "detail": detail,
        "verdict": detail.verdict,
        "chart": (chart := _chart(commitment, detail, tz, cut, recent=request.GET.get(SPAN) == RECENT)),
        "chart_switch": _chart_switch(request, chart),
        # The pager's links keep the page's own parameters only: the page is cached under those alone.
        "page_params": _kept_params(request),
        "rule_sentences": plain.rule_sentences(
            detail.term, list(commitment.owed_by.all()), agreement.signed_on, detail.anchor
        ),
        "competing_accounts": [a for a in commitment.competing_accounts or [] if isinstance(a, dict)],
        # The provisions of the text it cites, linked to their anchors on the text page.
        "citations": list(commitment.provisions.order_by("position", "id")),
        "audience": audience,
        "badge_code": format_html(
            '<img src="{}" alt="{}">',
            _site_root(request) + reverse("pages:badge", kwargs=kwargs),
            commitment.title,
        ),
        **_cut_context(request, agreement, cut, error, "pages:commitment", kwargs),
        "later": later.change(request, agreement, cut, [detail.verdict], "pages:commitment", kwargs),
    }
    with timezone.override(tz):
        response = render(request, "pages/commitment.html", context, status=400 if error else 200)
    return _finish(request, response, audience)


# The ceiling chart's "last 90 days" view: `?span=90`. Any other value is the whole period, so a link can
# never ask for unbounded work; each value is its own address, cached as such (monitor/pages/cache.py).
SPAN = "span"
RECENT = str(charts.RECENT_DAYS)


def _chart_switch(request, chart):
    """Links to the whole period and to the last 90 days, keeping every other parameter (the cutoffs),
    or None when the chart has no more than 90 days to show."""
    if chart is None or not chart.whole or (chart.whole[1] - chart.whole[0]).days < charts.RECENT_DAYS:
        return None
    params = {k: v for k, v in _kept_params(request).items() if k != SPAN}
    anchor = "#chart-section-title"
    whole = ("?" + urlencode(params) if params else "?") + anchor
    recent = "?" + urlencode({**params, SPAN: RECENT}) + anchor
    return {"recent": chart.recent, "whole_url": whole, "recent_url": recent}


def _chart(commitment, detail, tz, cut, recent=False):
    verdict = detail.verdict
    if commitment.kind == tm.CEILING:
        return charts.ceiling(verdict.details, recent=recent)
    if commitment.kind == tm.TARGET:
        if not verdict.details:
            return None
        return charts.target(verdict.details, detail.due_day, tz)
    if verdict.opens_at is None and not detail.markers:
        return None
    return charts.timeline(
        kind=commitment.kind,
        opens_day=detail.opens_day,
        due_day=detail.due_day,
        last_day=detail.last_day,
        as_of_day=cut.as_of.astimezone(tz).date(),
        markers=detail.markers,
    )


def attachment(request, report, attachment, name):
    """A file kept with a report, to whoever may see the report's row (issue 14).

    The public may download it when the report is public and its source may be republished (the rule for
    the report's row: monitor.evidence.publication); staff when their role lets them see the report.
    Anyone else gets a 404, as for a report that does not exist. The file goes out as stored, with its
    SHA-256 in a `Repr-Digest` header (RFC 9530) beside the one on the page. Only images, PDFs and plain
    text are shown in the browser; a captured web page is always a download, and every file but a PDF is
    sandboxed (no script of someone else's page runs in the monitor's origin).
    """
    kept = get_object_or_404(Attachment.objects.only("report_id", "file", "original_name", "content_type",
                                                     "sha256"), pk=attachment, report_id=report)
    audience = Audience(request.user)
    if not audience.shows_row(kept.report_id, Ledger.load([kept.report_id])) or name != kept.original_name:
        raise Http404
    try:
        stream = kept.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    response = FileResponse(stream, as_attachment=kept.content_type not in INLINE, filename=kept.original_name,
                            content_type=kept.content_type)
    if kept.content_type != PDF:
        # Not for PDFs: browsers' PDF viewers refuse to open in a sandbox, and a PDF's scripts run in the viewer's.
        response["Content-Security-Policy"] = "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"
    response["X-Content-Type-Options"] = "nosniff"
    response["Repr-Digest"] = "sha-256=:" + base64.b64encode(bytes.fromhex(kept.sha256)).decode() + ":"
    if audience.staff:
        patch_cache_control(response, private=True, no_store=True)
    else:
        # Public now, but the report's visibility may change: kept briefly, and only by the reader's browser.
        patch_cache_control(response, private=True, max_age=300)
    patch_vary_headers(response, ("Cookie",))
    return response


def method(request):
    context = {
        "reliability": RELIABILITY,
        "credibility": CREDIBILITY,
        "verification_states": VERIFICATION_STATES,
        "verification_methods": VERIFICATION_METHODS,
        "due_soon_days": getattr(settings, "MONITOR_DUE_SOON_DAYS", 7),
    }
    return render(request, "pages/method.html", context)


def deadlines_ics(request, agreement):
    """Every due date (and the day each ceiling or prohibition starts to apply) as an iCalendar feed."""
    return cache.serve(request, lambda now: _deadlines_ics(request, agreement, now), follows_clock=True)


def _deadlines_ics(request, agreement, now):
    agreement = get_object_or_404(revisions.with_revision(Agreement.objects.all()), slug=agreement)
    # What the statuses were judged with besides the evidence, said on the calendar and in every event.
    versions = _("Terms: revision %(revision)s; method version %(method)s.") % {
        "revision": revisions.label_at(agreement, now), "method": METHOD_VERSION,
    }
    audience = Audience(request.user)
    tz = ZoneInfo(agreement.time_zone)
    cut = instants.Cutoffs(as_of=now, known_at=now)
    rows = data.agreement_overview(agreement, cut, audience)
    root = _site_root(request)
    host = root.split("://", 1)[-1].split("/", 1)[0] or "monitor"
    cal = icalendar.Calendar()
    cal.add("prodid", "-//Agreement compliance monitor//deadlines//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", _("Deadlines: %(title)s") % {"title": agreement.title})
    cal.add("x-wr-timezone", agreement.time_zone)
    cal.add("x-wr-caldesc", versions)
    for row in rows:
        verdict, commitment = row.verdict, row.commitment
        if commitment.kind in (tm.DEADLINE, tm.TARGET):
            day, kind, summary = row.due_day, "due", _("Due: %(title)s")
        else:
            day, kind, summary = data.local_day(verdict.opens_at, tz), "applies", _("Starts to apply: %(title)s")
        if day is None or not commitment.tracked:
            continue
        url = root + reverse("pages:commitment", kwargs={"agreement": agreement.slug, "key": commitment.key})
        owing = ", ".join(p.name for p in row.owed_by)
        status = (
            _("Status: %(status)s.") % {"status": verdict.label}
            if verdict.shown
            else _("Status: provisional, awaiting an analyst's assessment.")
        )
        event = icalendar.Event()
        event.add("uid", f"{kind}.{commitment.key}.{agreement.slug}@{host}")
        event.add("dtstamp", now)
        event.add("dtstart", day)
        event.add("dtend", day + timedelta(days=1))
        event.add("summary", summary % {"title": commitment.title})
        event.add("description", f"{_('Owed by')}: {owing}. {status} {versions}\n{url}")
        event.add("url", url)
        event.add("transp", "TRANSPARENT")
        cal.add_component(event)
    response = HttpResponse(cal.to_ical(), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{agreement.slug}-deadlines.ics"'
    patch_cache_control(response, max_age=FEED_MAX_AGE)
    return _finish(request, response, audience)


BADGE_COLOURS = {
    # (background, text): every pair passes WCAG AA contrast; the word carries the meaning, not the colour.
    "good": ("#1a7f37", "#ffffff"),
    "bad": ("#b42318", "#ffffff"),
    "disputed": ("#8a4b00", "#ffffff"),
    "pending": ("#4b5563", "#ffffff"),
}


def badge(request, agreement, key):
    """An SVG badge of a commitment's published status, now, for other sites to embed."""
    return cache.serve(request, lambda now: _badge(request, agreement, key, now), follows_clock=True)


def _badge(request, agreement, key, now):
    agreement = get_object_or_404(Agreement, slug=agreement)
    audience = Audience(request.user)
    rows = data.agreement_overview(agreement, instants.Cutoffs(as_of=now, known_at=now), audience)
    row = next((r for r in rows if r.commitment.key == key), None)
    if row is None:
        raise Http404(_("This agreement has no such commitment."))
    verdict = row.verdict
    if verdict.shown:
        text = str(verdict.label)
        if verdict.provisional:
            text = _("%(status)s (provisional)") % {"status": text}
        tone = TONES.get(verdict.status, "pending")  # the pages' own tones; the rest grey
    elif verdict.under_review:
        text, tone = _("under review"), "pending"
    else:
        text, tone = _("provisional: awaiting an analyst"), "pending"
    label = _("compliance")
    # Widths from an average glyph width of Verdana 11px: good enough for a badge, and no font metrics needed.
    label_w, text_w = 10 + 7 * len(label), 10 + 7 * len(text)
    background, foreground = BADGE_COLOURS[tone]
    context = {
        "label": label,
        "text": text,
        "title": f"{row.commitment.title}: {text}",
        "label_w": label_w,
        "text_w": text_w,
        "width": label_w + text_w,
        "label_x": label_w / 2,
        "text_x": label_w + text_w / 2,
        "background": background,
        "foreground": foreground,
    }
    response = render(request, "pages/badge.svg", context, content_type="image/svg+xml; charset=utf-8")
    patch_cache_control(response, max_age=FEED_MAX_AGE)
    return _finish(request, response, audience)
