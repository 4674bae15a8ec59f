from django.urls import path

from monitor.pages import cache, feeds, views

app_name = "pages"


def _per_request(feed_class):
    # A Feed is usually one instance shared by every thread; ours keep the request's audience
    # (public or staff) on the instance, so each request gets its own and no staff view can leak.
    # A feed does not depend on the clock: only on the data, which the cache's key follows.
    def view(request, *args, **kwargs):
        return cache.serve(request, lambda now: feed_class()(request, *args, **kwargs), follows_clock=False)

    return view


urlpatterns = [
    path("", views.home, name="home"),
    path("method/", views.method, name="method"),
    path("agreements/<slug:agreement>/", views.agreement, name="agreement"),
    path("agreements/<slug:agreement>/text/", views.text, name="text"),
    path("agreements/<slug:agreement>/changes.atom", _per_request(feeds.AgreementChangesFeed), name="agreement-feed"),
    path("agreements/<slug:agreement>/deadlines.ics", views.deadlines_ics, name="deadlines"),
    path("agreements/<slug:agreement>/commitments/<slug:key>/", views.commitment, name="commitment"),
    path(
        "agreements/<slug:agreement>/commitments/<slug:key>/changes.atom",
        _per_request(feeds.CommitmentChangesFeed),
        name="commitment-feed",
    ),
    path("agreements/<slug:agreement>/commitments/<slug:key>/badge.svg", views.badge, name="badge"),
    # Files kept with a report (issue 14): not through the page cache, since who may have one depends on the reader.
    path("reports/<int:report>/attachments/<int:attachment>/<str:name>", views.attachment, name="attachment"),
]
