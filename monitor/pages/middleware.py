"""Every public URL refuses an "as of" or "as known at" it cannot accept, before its view does any work.

The agreement and commitment pages and the API's verdicts read the cutoffs themselves, against their
agreement's own range (they are marked `reads_cutoffs`). Every other public URL (the front page, the
method, feeds, the calendar, badges, the rest of the API, its schema) shows the present whatever the
cutoffs say, but a value it could not accept is still a 400 there, saying why: a link that names an
impossible date is wrong wherever it points, and no public URL answers one with a 500
(docs/public-pages.md, docs/api.md).
"""

from datetime import UTC

from django.http import HttpResponseBadRequest, JsonResponse

from monitor.pages import instants

PUBLIC_NAMESPACES = frozenset({"pages", "api"})


def _reads_cutoffs(view_func):
    return getattr(view_func, "reads_cutoffs", False) or getattr(
        getattr(view_func, "view_class", None), "reads_cutoffs", False
    )


class CutoffsInRange:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if match is None or not PUBLIC_NAMESPACES & set(match.namespaces) or _reads_cutoffs(view_func):
            return None
        if not instants.given(request.GET):
            return None
        try:
            instants.cutoffs(request.GET, UTC)
        except instants.BadInstant as e:
            if "api" in match.namespaces:
                return JsonResponse({e.field: [e.message]}, status=400)
            return HttpResponseBadRequest(f"{e.field}: {e.message}", content_type="text/plain; charset=utf-8")
        return None
