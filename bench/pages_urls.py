"""The product's URLs plus a bare `HttpResponse` view: the yardstick the page benchmark divides by."""

from django.http import HttpResponse
from django.urls import path

from monitor.urls import urlpatterns as product


def bare(request):
    # The least a Django view can do: the same server, middleware and database connection setup as a
    # page, none of a page's work.
    return HttpResponse("ok", content_type="text/plain")


# Last, so that finding it walks the product's patterns as finding a page does: what the ratio
# measures is the page's own work, not where it sits in the URLconf.
urlpatterns = [*product, path("bench/bare/", bare)]
