"""The agreement's text, provision by provision: how each is classified, and the thematic categories.

An agreement file may carry the agreement's provisions, numbered as the text numbers them
("Part Two, A.1"), each accounted for: *monitored* (one or more tracked commitments cite it),
*not monitorable* (with the reason), or *not yet modelled*. This module holds the vocabulary and
the rules about it, so that the loader (terms.agreement_file), the models, the pages and the API
speak of classes and categories in the same words (docs/agreement-format.md, "provisions").
"""

import re

from django.db.models import Count, Q
from django.utils.translation import gettext_lazy as _

# How a provision is accounted for.
MONITORED = "monitored"
NOT_MONITORABLE = "not_monitorable"
NOT_YET_MODELLED = "not_yet_modelled"
STATUSES = (
    (MONITORED, _("Monitored")),
    (NOT_MONITORABLE, _("Not monitorable")),
    (NOT_YET_MODELLED, _("Not yet modelled")),
)

# Why a provision cannot be monitored: nothing any report could show was done or not done.
ASPIRATIONAL = "aspirational"
PROCEDURAL = "procedural"
NO_OBSERVABLE_ACT = "no_observable_act"
REASONS = (
    (ASPIRATIONAL, _("Aspirational: a hope or an aim, not an undertaking to act")),
    (PROCEDURAL, _("Procedural: introduces, structures or conditions other provisions")),
    (NO_OBSERVABLE_ACT, _("No observable act: an undertaking no report could show kept or broken")),
)

# Thematic categories, each aligned with the top-level categories of the PA-X Peace Agreements
# Database codebook where one fits, so that what this monitor tracks can be compared with what PA-X
# codes (docs/agreement-format.md gives the correspondence in full).
CATEGORIES = (
    ("general", _("General: parties, structure, definitions")),  # PA-X: Agreement characteristics
    ("security", _("Security")),  # PA-X: Security sector (ceasefire, forces, withdrawal, terrorism)
    ("political", _("Political process and governance")),  # PA-X: Governance; State definition; Power sharing
    ("justice", _("Justice, prisoners and transitional justice")),  # PA-X: Justice sector reform; Transitional justice
    ("human_rights", _("Human rights, equality and groups")),  # PA-X: Human rights and equality; Groups; Gender
    ("humanitarian", _("Humanitarian")),  # PA-X: Socio-economic reconstruction (humanitarian); Groups (refugees)
    ("economic", _("Economic and reconstruction")),  # PA-X: Socio-economic reconstruction; Land, property
    ("international", _("International relations and sanctions")),  # PA-X: none at top level (see the docs)
    ("implementation", _("Implementation and verification")),  # PA-X: Implementation
)
CATEGORY_LABELS = dict(CATEGORIES)
STATUS_LABELS = dict(STATUSES)
REASON_LABELS = dict(REASONS)


def ref_for(number):
    """The stable anchor and citation key of a provision numbered `number`: "Part Two, A.1" -> "part-two-a-1".

    Lower case, every run of anything but letters and digits one hyphen: the same number always gives
    the same ref, so a link to /text/#part-two-a-1 keeps working across reloads.
    """
    return re.sub(r"[^a-z0-9]+", "-", number.lower()).strip("-")


def count_annotations(prefix="provisions__"):
    """Annotations counting an agreement's provisions by class, for a queryset of agreements (one join)."""
    return {
        "provisions_total": Count(f"{prefix}id", distinct=True),
        **{
            f"provisions_{status}": Count(f"{prefix}id", distinct=True, filter=Q(**{f"{prefix}status": status}))
            for status, _label in STATUSES
        },
    }


class Counts:
    """How an agreement's provisions are accounted for: "9 of 14 provisions monitored, 3 not monitorable, …"."""

    def __init__(self, total=0, monitored=0, not_monitorable=0, not_yet_modelled=0):
        self.total = total
        self.monitored = monitored
        self.not_monitorable = not_monitorable
        self.not_yet_modelled = not_yet_modelled

    @classmethod
    def of(cls, agreement):
        """From an agreement annotated by `count_annotations()`, or by one query when it is not."""
        if not hasattr(agreement, "provisions_total"):
            from terms.models import Agreement  # here: terms.models imports this module

            agreement = Agreement.objects.annotate(**count_annotations()).get(pk=agreement.pk)
        return cls(
            agreement.provisions_total,
            agreement.provisions_monitored,
            agreement.provisions_not_monitorable,
            agreement.provisions_not_yet_modelled,
        )

    def as_dict(self):
        return {
            "total": self.total,
            MONITORED: self.monitored,
            NOT_MONITORABLE: self.not_monitorable,
            NOT_YET_MODELLED: self.not_yet_modelled,
        }

    def __bool__(self):
        return bool(self.total)

    def __str__(self):
        return str(
            _("%(monitored)s of %(total)s provisions monitored, %(not_monitorable)s not monitorable, "
              "%(not_yet_modelled)s not yet modelled")
            % self.as_dict()
        )
