"""Requests the monitor refuses before any view sees them, and headers every answer carries.

Text that no field can hold: PostgreSQL refuses a NUL byte in any text column, and a string with
a lone surrogate cannot be encoded as UTF-8 at all. Django's form fields already refuse NUL, but
query parameters, paths and JSON bodies reach queries and the importer's rules unchecked, where
they ended in a 500. They are a 400 here (for JSON bodies, in monitor.api.parsers, which can
name the field).
"""

from urllib.parse import unquote_to_bytes

from django.http import HttpResponseBadRequest, JsonResponse
from django.utils.cache import patch_cache_control, patch_vary_headers


def unholdable(text):
    """Why `text` cannot be stored (a NUL byte, a lone surrogate), or None."""
    if "\x00" in text:
        return "contains a NUL byte"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate (not valid Unicode text)"
    return None


def _raw_problem(raw):
    """The same question for a percent-encoded path or query string, as the client sent it."""
    data = unquote_to_bytes(raw.replace("+", " "))
    if b"\x00" in data:
        return "contains a NUL byte"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "is not valid UTF-8 text"
    return None


class RefuseUnholdableText:
    """A 400 naming the part of the address that no field could hold, before any view runs.

    Bodies are not read here: a multipart upload's handlers are chosen by its view (the import
    upload reads through a size-limiting handler), and reading request.POST first would fix them.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # PATH_INFO is already unquoted (bytes as Latin-1, PEP 3333); bytes that are not UTF-8 are
        # percent-encoded again by Django and end in a 404 at worst. The query string is raw.
        problems = [
            ("address", "contains a NUL byte" if "\x00" in request.META.get("PATH_INFO", "") else None),
            ("query", _raw_problem(request.META.get("QUERY_STRING", ""))),
        ]
        for part, problem in problems:
            if problem:
                message = f"The {part} of this request {problem}."
                if request.path_info.startswith("/api/"):
                    return JsonResponse({"detail": message}, status=400)
                return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
        return self.get_response(request)


class PrivateApiAnswers:
    """API answers depend on who asks: say so to every cache, and keep authenticated ones out of all.

    A shared cache (a proxy, a CDN) that stored a token holder's answer could hand restricted
    reports to the next anonymous reader; `Vary` makes each credential its own entry, and
    `private, no-store` keeps answers to an authenticated client out of every cache but its own
    memory. DRF authenticates inside the view and sets `request.user` on this request as well.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path_info.startswith("/api/"):
            patch_vary_headers(response, ("Authorization", "Cookie"))
            user = getattr(request, "user", None)
            if request.META.get("HTTP_AUTHORIZATION") or (user is not None and user.is_authenticated):
                patch_cache_control(response, private=True, no_store=True)
        return response
