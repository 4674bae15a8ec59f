"""The emails alerts send: each builder renders one outbox row (plain text and HTML).

Builders are cheap to create and render only when `build()` is called, so a
sweep renders just the alerts that do not exist yet.
"""

import hashlib
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from django.conf import settings
from django.core import signing
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from monitor.alerts import models as am
from monitor.verdicts.engine.values import Reason
from monitor.verdicts.statuses import LABELS

UNSUBSCRIBE_SALT = "alerts.unsubscribe"
CONFIRM_SALT = "alerts.confirm"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# An email has no request to take an address from: without SITE_ROOT (a development checkout; bin/start
# sets it from PORT, and `manage.py check --deploy` asks for it), links name the development server's.
DEVELOPMENT_SITE_ROOT = "http://localhost:8000"


def absolute(path):
    return (settings.SITE_ROOT or DEVELOPMENT_SITE_ROOT) + path


def commitment_admin_url(commitment):
    """Where an analyst confirms or overrides the commitment's verdict."""
    try:
        return absolute(reverse("admin:terms_commitment_change", args=[commitment.pk]))
    except NoReverseMatch:
        return commitment_url(commitment)


def commitment_url(commitment):
    try:
        return absolute(
            reverse("pages:commitment", kwargs={"agreement": commitment.agreement.slug, "key": commitment.key})
        )
    except NoReverseMatch:  # the public pages are optional to this module
        return absolute("/")


def unsubscribe_url(subscription):
    return absolute(reverse("alerts:unsubscribe", args=[signing.dumps(subscription.pk, salt=UNSUBSCRIBE_SALT)]))


def confirmation_state(subscription):
    """What a confirmation link is made for: the subscription as it stood when the link was sent.

    Confirming or unsubscribing changes it, so every link sent before is void from then on: a link
    opened again after the subscription was confirmed, or after a one-click unsubscribe, confirms nothing.
    """
    def micros(instant):
        return "-" if instant is None else str((instant - _EPOCH) // timedelta(microseconds=1))

    state = f"{micros(subscription.confirmed_at)}|{micros(subscription.unsubscribed_at)}"
    return hashlib.sha256(state.encode()).hexdigest()[:16]


def confirm_token(subscription):
    return signing.dumps([subscription.pk, confirmation_state(subscription)], salt=CONFIRM_SALT)


def read_confirm_token(token, max_age):
    """(subscription id, the state the link was made for); raises signing.BadSignature (or SignatureExpired).

    Links sent before links carried a state name the subscription alone; they were sent for a sign-up
    never confirmed nor unsubscribed since, and hold only while it still is.
    """
    value = signing.loads(token, salt=CONFIRM_SALT, max_age=max_age)
    if isinstance(value, int):
        return value, _FRESH
    try:
        pk, state = value
    except (TypeError, ValueError):
        raise signing.BadSignature("not a confirmation token") from None
    if not isinstance(pk, int) or not isinstance(state, str):
        raise signing.BadSignature("not a confirmation token")
    return pk, state


_FRESH = confirmation_state(SimpleNamespace(confirmed_at=None, unsubscribed_at=None))


def confirm_url(subscription):
    return absolute(reverse("alerts:confirm", args=[confirm_token(subscription)]))


def _label(status):
    return str(LABELS.get(status, status))


def _day(instant, commitment):
    from zoneinfo import ZoneInfo

    return date_format(instant.astimezone(ZoneInfo(commitment.agreement.time_zone)).date(), "j F Y")


def with_agreement(subject, agreement):
    """The subject naming its commitment's agreement too: "Missed: Talks begin (US–Taliban agreement)".

    Commitment titles repeat across agreements ("Talks begin", "Prisoner release"), and an inbox shows only the
    subject, so it says where as well as what. One rule for every subject: the title in parentheses, unless the
    title has parentheses of its own ("US–Taliban agreement (Doha, 2020)"), then after a dash, since nested
    parentheses read as a mistake. Callers pass the agreement they already hold (the sweep loads commitments
    with their agreement), so naming it costs no query per message.
    """
    title = agreement.title
    if "(" in title:
        return f"{subject} — {title}"
    return f"{subject} ({title})"


class _Builder:
    event = None
    historical = False
    held = False  # for a subscriber who chose a daily digest instead: listed there, never sent alone
    # What the email's one link does, said on the link itself (not "click here"); each builder says its own.
    link_label = gettext_lazy("See this commitment's status, its evidence and history")

    def __init__(self, key, subscription, to_email=None):
        self.key = key
        self.subscription = subscription
        self.to_email = to_email or subscription.address

    def content(self):
        raise NotImplementedError

    def extra(self):
        return {}

    def build(self):
        subject, heading, paragraphs, link = self.content()
        context = {
            "heading": heading,
            "paragraphs": paragraphs,
            "link": link,
            "link_label": self.link_label,
            "unsubscribe_url": unsubscribe_url(self.subscription) if self.subscription else "",
        }
        return am.Alert(
            key=self.key,
            event=self.event,
            subscription=self.subscription,
            to_email=self.to_email,
            subject=f"[{settings.MONITOR_EMAIL_SUBJECT_PREFIX}] {subject}"[:300],
            body_text=render_to_string("emails/alert.txt", context),
            body_html=render_to_string("emails/alert.html", context),
            state=am.HELD if self.held else am.FOLDED if self.historical else am.PENDING,
            **self.extra(),
        )


def _verdict_paragraphs(commitment, standing, status):
    verdict = standing.computed
    paragraphs = [
        _("Agreement: %(agreement)s") % {"agreement": commitment.agreement.title},
        _("Commitment: %(title)s") % {"title": commitment.title},
    ]
    if commitment.text:
        paragraphs.append(_("What was agreed: “%(text)s”") % {"text": commitment.text})
    if verdict.due_at:
        paragraphs.append(_("Due by the end of %(day)s.") % {"day": _day(verdict.due_at - _tick(), commitment)})
    elif commitment.kind == "deadline" and commitment.due_offset is None:
        paragraphs.append(_("No date was set: it is open until done."))  # a duty without a date
    paragraphs.append(_("What the evidence shows: %(sentence)s") % {"sentence": verdict.sentence})
    if standing.assessed:
        paragraphs.append(
            _("Assessed by an analyst: %(status)s.") % {"status": _label(standing.status)}
        )
    else:
        paragraphs.append(
            _("Provisional: computed from the evidence, not yet assessed by an analyst (%(status)s).")
            % {"status": _label(status)}
        )
    return paragraphs


def _tick():
    from datetime import timedelta

    return timedelta(microseconds=1)


class TransitionAlert(_Builder):
    """A status change, to one recipient; a correction of what they were last told when it contradicts it.

    `corrects` (set by the sweep): the alert this one takes back, when the change is dated at or before
    the one that alert reported (missed again after "not missed"; missed after "met late").
    """

    corrects = None

    def __init__(self, key, event, subscription, commitment, change, standing, historical, party=None):
        super().__init__(key, subscription)
        self.event, self.commitment, self.change = event, commitment, change
        self.standing, self.historical = standing, historical
        self.party = party  # the owing party's name, for one party's change (several owe it `each`)

    def extra(self):
        return {"commitment": self.commitment, "status_change": self.change, "corrects": self.corrects}

    def content(self):
        c = self.commitment
        status = _label(self.change.new_status)
        day = _day(self.change.effective_at, c)
        paragraphs = _verdict_paragraphs(c, self.standing, self.change.new_status)
        if self.party is not None:
            return self._party_content(c, status, day, paragraphs)
        if self.corrects is None:
            subject = with_agreement(
                _("%(status)s: %(commitment)s") % {"status": status, "commitment": c.title}, c.agreement
            )
            heading = _("%(status)s on %(day)s") % {"status": status, "day": day}
            return subject, heading, paragraphs, commitment_url(c)
        subject = with_agreement(
            _("Correction: %(commitment)s is %(status)s") % {"commitment": c.title, "status": status.lower()},
            c.agreement,
        )
        heading = _("Correction: %(status)s on %(day)s") % {"status": status, "day": day}
        paragraphs.insert(0, _(
            "An earlier alert said “%(subject)s”. That no longer holds: the evidence behind it was rejected or "
            "changed, and the commitment is %(status)s from %(day)s."
        ) % {"subject": self.corrects.subject, "status": status.lower(), "day": day})
        return subject, heading, paragraphs, commitment_url(c)

    def _party_content(self, c, status, day, paragraphs):
        """One owing party's change: "DPR missed: Talks begin", with the party's own reason first."""
        values = {"party": self.party, "status": str(status).lower(), "commitment": c.title, "day": day}
        reason = Reason(self.change.reason_code, self.change.reason_params).sentence()
        # After what the evidence shows for the commitment, before whether an analyst assessed it.
        paragraphs.insert(len(paragraphs) - 1, _("%(party)s: %(sentence)s") % {"party": self.party, "sentence": reason})
        if self.corrects is None:
            subject = with_agreement(_("%(party)s %(status)s: %(commitment)s") % values, c.agreement)
            heading = _("%(party)s: %(status)s on %(day)s") % values
            return subject, heading, paragraphs, commitment_url(c)
        subject = with_agreement(_("Correction: %(party)s %(status)s: %(commitment)s") % values, c.agreement)
        heading = _("Correction: %(party)s %(status)s on %(day)s") % values
        paragraphs.insert(0, _(
            "An earlier alert said “%(subject)s”. That no longer holds: the evidence behind it was rejected or "
            "changed, and %(party)s is %(status)s from %(day)s."
        ) % {"subject": self.corrects.subject, **values})
        return subject, heading, paragraphs, commitment_url(c)

    def summary_line(self):
        if self.party is not None:
            return _("%(party)s %(status)s on %(day)s: %(commitment)s (%(agreement)s)") % {
                "party": self.party,
                "status": str(_label(self.change.new_status)).lower(),
                "day": _day(self.change.effective_at, self.commitment),
                "commitment": self.commitment.title,
                "agreement": self.commitment.agreement.title,
            }
        return _("%(status)s on %(day)s: %(commitment)s (%(agreement)s)") % {
            "status": _label(self.change.new_status),
            "day": _day(self.change.effective_at, self.commitment),
            "commitment": self.commitment.title,
            "agreement": self.commitment.agreement.title,
        }


class Summary(_Builder):
    event = am.SUMMARY
    link_label = gettext_lazy("See every agreement and its commitments on the monitor")

    def __init__(self, key, subscription, folded):
        super().__init__(key, subscription)
        self.folded = folded

    def content(self):
        n = len(self.folded)
        subject = _("%(n)s past status changes recorded") % {"n": n}
        heading = _("Past status changes, recorded at once")
        paragraphs = [
            _(
                "These took effect well before the monitor learned of them (an agreement signed earlier, or old "
                "reports imported). They are recorded in each commitment's history; this is the only email about them."
            )
        ] + [builder.summary_line() for builder in self.folded]
        return subject, heading, paragraphs, absolute("/")


class Reminder(_Builder):
    event = am.REMINDER

    def __init__(self, key, subscription, commitment, standing, days):
        super().__init__(key, subscription)
        self.commitment, self.standing, self.days = commitment, standing, days

    def extra(self):
        return {"commitment": self.commitment}

    def content(self):
        c = self.commitment
        due = _day(self.standing.computed.due_at - _tick(), c)
        subject = with_agreement(
            _("Due %(day)s: %(commitment)s") % {"day": due, "commitment": c.title}, c.agreement
        )
        heading = _("Due in %(days)s days or less") % {"days": self.days}
        return subject, heading, _verdict_paragraphs(c, self.standing, self.standing.computed.status), commitment_url(c)


class Digest(_Builder):
    """The day's digest: the changes held for it (for a subscriber who chose it instead of each alert),
    then the breaches going on and the deadlines of the coming week."""

    event = am.DIGEST
    link_label = gettext_lazy("See every agreement and its commitments on the monitor")

    def __init__(self, key, subscription, standings, changes=()):
        super().__init__(key, subscription)
        # `changes`, not `held`: that names whether this message itself is held (_Builder.held).
        self.standings, self.changes = standings, list(changes)

    def content(self):
        paragraphs = []
        if self.changes:
            paragraphs.append(_("Changes of status since the last digest:"))
            paragraphs += [held_line(alert) for alert in self.changes]
            if self.standings:
                paragraphs.append(_("Open breaches and deadlines in the coming week:"))
        for s in self.standings:
            c = s.commitment
            line = f"{_label(s.status)}: {c.title} ({c.agreement.title}). {s.computed.sentence}"
            if s.provisional:
                line += " " + _("(provisional)")
            paragraphs.append(line)
        if not self.changes:
            subject = _("Daily digest: %(n)s open breaches and coming deadlines") % {"n": len(self.standings)}
            return subject, _("Open breaches and deadlines in the coming week"), paragraphs, absolute("/")
        subject = _("Daily digest: %(changes)s changes of status, %(n)s open breaches and coming deadlines") % {
            "changes": len(self.changes), "n": len(self.standings)}
        return subject, _("Changes of status, open breaches and coming deadlines"), paragraphs, absolute("/")


def held_line(alert):
    """A change held for the digest, as its line there: "Missed on 10 March 2020: Talks begin (The deal)"."""
    change, c = alert.status_change, alert.commitment
    values = {"status": _label(change.new_status), "day": _day(change.effective_at, c), "commitment": c.title,
              "agreement": c.agreement.title}
    if change.party_id is not None:
        values["status"] = _("%(party)s %(status)s") % {"party": change.party.name, "status": values["status"].lower()}
    line = _("%(status)s on %(day)s: %(commitment)s (%(agreement)s)") % values
    if alert.corrects_id is not None:
        # It takes back what an earlier alert or digest said (missed again after "met late").
        line = _("Correction: %(line)s") % {"line": line}
    return line


class Correction(_Builder):
    event = am.CORRECTION

    def __init__(self, key, original, standing):
        # The correction goes where the original went, even if the subscription has changed since.
        super().__init__(key, original.subscription, to_email=original.to_email)
        self.original, self.standing = original, standing

    def extra(self):
        return {"commitment": self.original.commitment, "status_change": self.original.status_change,
                "corrects": self.original}

    def content(self):
        c = self.original.commitment
        withdrawn = _label(self.original.status_change.new_status)
        party = self.original.status_change.party if self.original.status_change.party_id else None
        if party is not None:  # one owing party's verdict withdrawn (several owe it `each`)
            subject = _("Correction: %(party)s not %(status)s: %(commitment)s") % {
                "party": party.name, "commitment": c.title, "status": withdrawn.lower(),
            }
        else:
            subject = _("Correction: %(commitment)s is not %(status)s") % {
                "commitment": c.title, "status": withdrawn.lower(),
            }
        subject = with_agreement(subject, c.agreement)
        paragraphs = [
            _("An earlier alert said “%(subject)s”. That verdict has been withdrawn: the evidence behind it was "
              "rejected, or an analyst's assessment overrides it.") % {"subject": self.original.subject},
        ]
        if self.standing is not None:
            paragraphs.append(
                _("Current status: %(status)s. %(sentence)s")
                % {"status": _label(self.standing.status), "sentence": self.standing.computed.sentence}
            )
        return subject, _("Correction"), paragraphs, commitment_url(c)


class Escalation(_Builder):
    """To one Analyst: an adverse verdict has waited too long for an assessment (monitor.alerts.escalation)."""

    event = am.ESCALATION
    link_label = gettext_lazy("Confirm or override the verdict in the admin")

    def __init__(self, key, to_email, commitment, change, standing, historical):
        super().__init__(key, None, to_email=to_email)
        self.commitment, self.change, self.standing, self.historical = commitment, change, standing, historical

    def extra(self):
        return {"commitment": self.commitment, "status_change": self.change}

    def content(self):
        c = self.commitment
        status = _label(self.change.new_status)
        hours = c.agreement.escalate_after_hours
        subject = _("Not assessed after %(hours)s hours: %(commitment)s is %(status)s") % {
            "hours": hours, "commitment": c.title, "status": status.lower()}
        subject = with_agreement(subject, c.agreement)
        paragraphs = [
            _("The monitor found %(commitment)s %(status)s on %(day)s, and no analyst has assessed it since. "
              "Outside subscribers hear of it only once it is assessed (unless the agreement publishes computed "
              "verdicts). Confirm or override it in the admin; any assessment acknowledges this message.")
            % {"commitment": c.title, "status": status.lower(), "day": _day(self.change.detected_at, c)},
            *_verdict_paragraphs(c, self.standing, self.change.new_status),
        ]
        return subject, _("Waiting for an assessment"), paragraphs, commitment_admin_url(c)

    def summary_line(self):
        return _("Not assessed: %(status)s on %(day)s: %(commitment)s (%(agreement)s)") % {
            "status": _label(self.change.new_status),
            "day": _day(self.change.effective_at, self.commitment),
            "commitment": self.commitment.title,
            "agreement": self.commitment.agreement.title,
        }


class Confirmation(_Builder):
    event = am.CONFIRM_SUBSCRIPTION
    link_label = gettext_lazy("Confirm your subscription")

    def content(self):
        sub = self.subscription
        what = sub.commitment.title if sub.commitment_id else sub.agreement.title
        subject = _("Confirm your alerts for %(what)s") % {"what": what}
        if sub.commitment_id:
            subject = with_agreement(subject, sub.commitment.agreement)
        link = confirm_url(sub)
        paragraphs = [
            _("Someone, hopefully you, asked for email alerts about %(what)s. Open the link below and press "
              "“Confirm” on the page it opens; if it was not you, ignore this email and nothing more will be "
              "sent.") % {"what": what},
        ]
        return subject, _("Confirm your subscription"), paragraphs, link
