"""Atom feeds of status changes and corrections, per agreement and per commitment.

Each entry links to the commitment page as of the change's effective date and as
known when it was detected, so a feed entry is a stable citation of what the
monitor said then. Which changes and what of their reasons the public sees is
decided by `monitor.evidence.publication.Audience`.

The feed names the method version it is judged by (its subtitle), and each entry the revision
of the agreement's terms in force when the change was detected (docs/public-pages.md): the
revisions are read once per feed, never per entry.
"""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.feedgenerator import Atom1Feed
from django.utils.translation import gettext as _

from monitor.evidence import publication
from monitor.verdicts import method
from monitor.verdicts.method import METHOD_VERSION
from monitor.verdicts.models import CORRECTION, StatusChange
from monitor.verdicts.statuses import LABELS
from terms.models import Agreement, Commitment, Revision

FEED_ITEMS = 50


def _public(request, path):
    """A feed leaves the site (feed readers keep and share its links): its links name the site's public
    address, SITE_ROOT, rather than whatever host this request reached (a proxy's upstream); without
    SITE_ROOT, the address the reader asked for."""
    return (settings.SITE_ROOT or request.build_absolute_uri("/").rstrip("/")) + path


def _label(status):
    return str(LABELS.get(status, status)) if status else "—"


class _ChangesFeed(Feed):
    feed_type = Atom1Feed

    def __call__(self, request, *args, **kwargs):
        self.audience = publication.Audience(request.user)
        response = super().__call__(request, *args, **kwargs)
        if self.audience.staff:
            patch_cache_control(response, private=True, no_store=True)
        else:
            patch_cache_control(response, max_age=300)
        patch_vary_headers(response, ("Cookie",))
        return response

    def changes(self, obj):
        raise NotImplementedError

    def items(self, obj):
        changes = self.audience.status_changes(self.changes(obj))
        items = list(changes.select_related("commitment__agreement").order_by("-detected_at", "-id")[:FEED_ITEMS])
        # Reasons may name reports: check them all in one query before any entry is written.
        self.ledger = publication.Ledger.load({i for c in items for i in publication.ids_in_params(c.reason_params)})
        return items

    def get_feed(self, obj, request):
        # The agreement's revisions, oldest first, read once: the subtitle names the current one, each entry
        # the one it was detected under.
        self.revisions = list(
            Revision.objects.filter(agreement=self.agreement_of(obj))
            .order_by("number")
            .values_list("number", "made_at")
        )
        return super().get_feed(obj, request)

    def feed_url(self, obj):
        return self.feed_address

    def agreement_of(self, obj):
        raise NotImplementedError

    def revision_at(self, instant):
        """'r2': the last revision made by `instant`; r1 for a change detected before the terms were first recorded."""
        numbers = [number for number, made_at in self.revisions if made_at <= instant]
        return f"r{numbers[-1] if numbers else 1}"

    def versions(self, obj):
        current = f"r{self.revisions[-1][0]}" if self.revisions else None
        text = _("Judged by method version %(method)s.") % {"method": METHOD_VERSION}
        if current:
            text += " " + _("Terms now: revision %(revision)s.") % {"revision": current}
        return text

    def item_title(self, item):
        title = _("%(commitment)s: %(old)s → %(new)s") % {
            "commitment": item.commitment.title,
            "old": _label(item.old_status),
            "new": _label(item.new_status),
        }
        return _("Correction: %(title)s") % {"title": title} if item.kind == CORRECTION else title

    def item_description(self, item):
        parts = [str(item.get_kind_display()) + "."]
        _params, sentence, _withheld = self.audience.reason(
            item.reason_code, item.reason_params, item.new_status, self.ledger
        )
        if sentence:
            parts.append(sentence)
        parts.append(
            _("Effective %(effective)s; recorded %(detected)s.")
            % {"effective": item.effective_at.isoformat(), "detected": item.detected_at.isoformat()}
        )
        parts.append(
            _("Terms: revision %(revision)s; method version %(method)s.")
            % {"revision": self.revision_at(item.detected_at), "method": method.label(item.method_version)}
        )
        return " ".join(parts)

    def item_link(self, item):
        url = reverse(
            "pages:commitment", kwargs={"agreement": item.commitment.agreement.slug, "key": item.commitment.key}
        )
        return self.root + (
            url + "?" + urlencode({"as_of": item.effective_at.isoformat(), "known_at": item.detected_at.isoformat()})
        )

    def item_guid(self, item):
        return f"{self.link_base}#status-change-{item.pk}"

    item_guid_is_permalink = False

    def item_pubdate(self, item):
        return item.detected_at

    def item_updateddate(self, item):
        return item.detected_at


class AgreementChangesFeed(_ChangesFeed):
    def get_object(self, request, agreement):
        obj = get_object_or_404(Agreement, slug=agreement)
        self.root, self.feed_address = _public(request, ""), _public(request, request.path)
        self.link_base = self.root + (reverse("pages:agreement", kwargs={"agreement": obj.slug}))
        return obj

    def title(self, obj):
        return _("Status changes: %(title)s") % {"title": obj.title}

    def subtitle(self, obj):
        every = _("Every published change of a commitment's status, and every correction.")
        return f"{every} {self.versions(obj)}"

    def agreement_of(self, obj):
        return obj

    def link(self, obj):
        return self.root + (reverse("pages:agreement", kwargs={"agreement": obj.slug}))

    def changes(self, obj):
        return StatusChange.objects.filter(commitment__agreement=obj, party__isnull=True)


class CommitmentChangesFeed(_ChangesFeed):
    def get_object(self, request, agreement, key):
        obj = get_object_or_404(Commitment.objects.select_related("agreement"), agreement__slug=agreement, key=key)
        self.root, self.feed_address = _public(request, ""), _public(request, request.path)
        self.link_base = self.root + (reverse("pages:commitment", kwargs={"agreement": agreement, "key": key}))
        return obj

    def title(self, obj):
        return _("Status changes: %(title)s") % {"title": obj.title}

    def subtitle(self, obj):
        return " ".join([obj.agreement.title + ".", self.versions(obj)])

    def agreement_of(self, obj):
        return obj.agreement_id

    def link(self, obj):
        return self.root + (reverse("pages:commitment", kwargs={"agreement": obj.agreement.slug, "key": obj.key}))

    def changes(self, obj):
        return StatusChange.objects.filter(commitment=obj, party__isnull=True)
