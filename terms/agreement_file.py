"""Agreement files: one agreement, its parties and its commitments as a YAML file.

The file is the reviewed, versioned record of what an agreement says; the
database is loaded from it with `manage.py load_agreement`. The format is
documented in docs/agreement-format.md.

Why the YAML node API rather than `yaml.safe_load`: loaded dictionaries have
forgotten where each value came from, and they silently keep the last of two
identical keys. Walking the composed nodes lets every problem name the file,
the line and the field (`agreements/x.yaml, line 42, commitments[3].window.due:
must be a whole number`), so an analyst can fix a file without reading Python.

Loading happens in two steps:

1. `read_agreement_file` checks the file on its own, without the database:
   types, required and unknown fields, duplicates, references between parts of
   the file, and each commitment's kind, rule and window (terms.rules). It
   collects every problem rather than stopping at the first.
2. `load_agreement_file` checks the file against the database (names that
   already belong to other parties) and writes it in one transaction: a file
   with any problem writes nothing.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime

import yaml
from django.core.validators import slug_re
from django.db import IntegrityError, transaction

from terms import provisions as provision_rules
from terms import readings as reading_rules
from terms import revisions, rules
from terms.models import (
    AGREEMENT_STATES,
    DEFAULT_COVERAGE_SHARE,
    ANCHOR_COMMITMENT,
    ANCHOR_MILESTONE,
    ANCHOR_SIGNING,
    BASES,
    EACH,
    INFERRED,
    REPORTED,
    SHARES,
    Agreement,
    Commitment,
    Milestone,
    Party,
    PartyName,
    Provision,
)

FORMAT_VERSION = 1

# `window.from` names either the signing or another commitment's key, so no
# commitment may be called "signing".
SIGNING = ANCHOR_SIGNING

_RULE_LIST_FIELDS = ("categories", "admin1", "locations", "interactions")
# Commitments counted from another start when that one is met; only these kinds can be met.
_ANCHOR_KINDS = ("deadline", "target")

_ROOT_FIELDS = ("format", "agreement", "parties", "non_party_actors", "milestones", "provisions", "commitments")
_MILESTONE_FIELDS = ("key", "title", "text", "rule")
# A milestone is owed by no party: its rule says which reports show it, by category and place only.
_MILESTONE_RULE_FIELDS = ("categories", "admin1", "locations")
_AGREEMENT_FIELDS = (
    "slug",
    "title",
    "summary",
    "signed_on",
    "time_zone",
    "state",
    "source",
    "publish_computed_verdicts",
    "coverage_share",
    "ended_on",
)
_PARTY_FIELDS = ("slug", "name", "description", "names")
_PARTY_NAME_FIELDS = ("name", "note")
_COMMITMENT_FIELDS = (
    "key",
    "title",
    "owed_by",
    "share",
    "text",
    "basis",
    "competing_accounts",
    "main_reading_label",
    "kind",
    "rule",
    "window",
    "tracked",
    "needs_review",
    "review_note",
    "provisions",
)
# The agreement's text, provision by provision (terms.provisions; docs/agreement-format.md, "provisions").
_PROVISION_FIELDS = ("number", "ref", "status", "reason", "category", "wording", "summary", "quote", "source", "note")
_BASIS_FIELDS = ("kind", "by", "note")
_ACCOUNT_FIELDS = ("account", "source", "note", "key", "label", "rule", "window")
# With a key, a competing account is a reading: judged too, by the rule and window it overrides.
_READING_VALUE_FIELDS = ("label", "rule", "window")
_WINDOW_FIELDS = ("from", "moment", "unit", "starts", "due", "ends", "grace_days", "reasonable_days")


# --- results and errors -----------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an agreement file, located as precisely as we can."""

    path: str  # the file, as the user named it
    line: int | None  # 1-based; None when the problem is not at a line (unreadable file)
    field: str | None  # e.g. "commitments[3].window.due"
    message: str

    def __str__(self):
        where = [self.path] + ([f"line {self.line}"] if self.line else [])
        what = f"{self.field}: {self.message}" if self.field else self.message
        return ", ".join(where + [what])


class AgreementFileError(Exception):
    """Every problem found in a file; nothing from the file was written."""

    def __init__(self, errors):
        self.errors = sorted(errors, key=lambda p: (p.path, p.line or 0))
        super().__init__("\n".join(str(p) for p in self.errors))


@dataclass
class LoadResult:
    path: str
    agreement: Agreement | None = None
    # Counts by what was written: "agreement", "party", "non-party actor", "party name", "commitment".
    created: Counter = field(default_factory=Counter)
    updated: Counter = field(default_factory=Counter)
    changes: list = field(default_factory=list)  # one readable line per object created or updated
    warnings: list = field(default_factory=list)
    revision: object = None  # the terms.models.Revision this load recorded, if it recorded one

    @property
    def changed(self):
        return bool(self.created or self.updated)

    def record(self, action, what, label, fields=()):
        getattr(self, action).update([what])
        detail = f" ({', '.join(fields)})" if fields else ""
        self.changes.append(f"{action} {what} {label}{detail}")


# --- the file, read and checked, before it meets the database ---------------


@dataclass
class NameSpec:
    name: str
    note: str
    normalized: str
    node: yaml.Node
    path: str


@dataclass
class PartySpec:
    slug: str
    name: str
    description: str
    names: list
    node: yaml.Node
    path: str
    # Listed under non_party_actors: active where the agreement applies, signed nothing, owes nothing.
    non_party: bool = False

    @property
    def role(self):
        return "non-party actor" if self.non_party else "party"


@dataclass
class CommitmentSpec:
    key: str
    owed_by: list  # (party slug, node, field path), as written
    anchor_key: str | None  # None: counted from the signing; else a commitment's or a milestone's key
    values: dict  # Commitment field -> value, for the fields stored as they are
    node: yaml.Node
    path: str
    moment: str | None = None  # window.moment as written; None: the default for its anchor
    citations: list = field(default_factory=list)  # (provision ref or number, node, field path), as written


@dataclass
class MilestoneSpec:
    key: str
    values: dict  # Milestone field -> value
    node: yaml.Node
    path: str


@dataclass
class ProvisionSpec:
    ref: str
    number: str
    values: dict  # Provision field -> value
    node: yaml.Node
    path: str


@dataclass
class AgreementSpec:
    path: str
    values: dict  # Agreement field -> value
    parties: list
    commitments: list
    actors: list = field(default_factory=list)  # PartySpec of the non-party actors
    milestones: list = field(default_factory=list)
    provisions: list = field(default_factory=list)  # ProvisionSpec, in the text's order
    has_text: bool = False  # the file has a `provisions` section: every provision must then be classified


def read_agreement_file(path):
    """Parse and check an agreement file; raise AgreementFileError listing every problem."""
    path = str(path)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise AgreementFileError([Problem(path, None, None, f"cannot be read: {e}")]) from None
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as e:
        raise AgreementFileError([_syntax_problem(path, e)]) from None
    finally:
        loader.dispose()
    if root is None:
        raise AgreementFileError([Problem(path, 1, None, "the file is empty")])
    reader = _Reader(path, loader)
    spec = reader.read(root)
    if reader.problems:
        raise AgreementFileError(reader.problems)
    return spec


def _syntax_problem(path, e):
    mark = e.problem_mark or e.context_mark
    message = f"not valid YAML: {e.problem or e.context}"
    if e.context and e.problem and e.context_mark and e.context_mark.line != mark.line:
        message += f" ({e.context} at line {e.context_mark.line + 1})"
    return Problem(path, mark.line + 1 if mark else None, None, message)


_INVALID = object()  # a value that could not be read; its problem is already recorded


def _line(node):
    return node.start_mark.line + 1


def _join(prefix, name):
    return f"{prefix}.{name}" if prefix else name


def _shape(node):
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return "a single value"


def _kind_of(value):
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, (date, datetime)):
        return "a date"
    if isinstance(value, str):
        return "text"
    return type(value).__name__


def _find(node, dotted):
    """The node a dotted field path ("rule.limit") names, or the deepest one that exists."""
    for part in dotted.split("."):
        if not isinstance(node, yaml.MappingNode):
            break
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == part:
                node = value_node
                break
        else:
            break
    return node


class _Reader:
    def __init__(self, path, loader):
        self.path = path
        self.loader = loader
        self.problems = []

    def problem(self, node, field, message):
        self.problems.append(Problem(self.path, _line(node), field, message))

    def value(self, node, field):
        """The Python value of a scalar node, or _INVALID after recording why not."""
        if not isinstance(node, yaml.ScalarNode):
            self.problem(node, field, f"must be a single value, not {_shape(node)}")
            return _INVALID
        try:
            return self.loader.construct_object(node)
        except (yaml.YAMLError, ValueError) as e:
            # 2020-02-30 looks like a date to YAML and fails to become one.
            what = "a date" if node.tag == "tag:yaml.org,2002:timestamp" else "a value"
            self.problem(node, field, f"cannot be read as {what}: {getattr(e, 'problem', None) or e}")
            return _INVALID

    def fields(self, node, path, known):
        """The fields of a mapping node, after reporting duplicate and unknown keys."""
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, path, f"must be a mapping of fields, not {_shape(node)}")
            return _Fields(self, node, path, {})
        entries = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str) or key_node.tag != "tag:yaml.org,2002:str":
                # e.g. `yes:` or `1:`, which YAML reads as true or a number
                self.problem(key_node, path, f"{key_node.value!r} is not a field name")
                continue
            where = _join(path, key)
            if key in entries:
                self.problem(key_node, where, f"appears twice (first at line {_line(entries[key][0])})")
            elif known is not None and key not in known:
                self.problem(key_node, where, "unknown field (known: " + ", ".join(known) + ")")
            else:
                entries[key] = (key_node, value_node)
        return _Fields(self, node, path, entries)

    def items(self, node, path):
        """(node, path) for each item of a list node."""
        if not isinstance(node, yaml.SequenceNode):
            self.problem(node, path, f"must be a list, not {_shape(node)}")
            return []
        return [(item, f"{path}[{i}]") for i, item in enumerate(node.value)]

    def plain(self, node, path):
        """A node as plain JSON-able values (for a rule), or _INVALID."""
        # Problems inside are recorded as they are met; what is returned then is
        # never used, since a commitment with problems is not validated further.
        if isinstance(node, yaml.MappingNode):
            fields = self.fields(node, path, known=None)
            return {name: self.plain(value, _join(path, name)) for name, (_, value) in fields.entries.items()}
        if isinstance(node, yaml.SequenceNode):
            return [self.plain(item, item_path) for item, item_path in self.items(node, path)]
        value = self.value(node, path)
        if isinstance(value, (date, datetime)):
            self.problem(node, path, "must be a number or text, not a date")
            return _INVALID
        return value

    # -- the document --------------------------------------------------------

    def read(self, root):
        doc = self.fields(root, "", _ROOT_FIELDS)
        version = doc.whole_number("format", required=True)
        if version not in (None, FORMAT_VERSION):
            self.problem(doc.node_of("format"), "format", f"this loader reads format {FORMAT_VERSION}, not {version}")
        agreement = self.read_agreement(doc.mapping("agreement", _AGREEMENT_FIELDS, required=True))
        parties = [self.read_party(n, p) for n, p in doc.items("parties", required=True)]
        milestones = [self.read_milestone(n, p, i) for i, (n, p) in enumerate(doc.items("milestones"))]
        provisions = [self.read_provision(n, p, i) for i, (n, p) in enumerate(doc.items("provisions"))]
        commitments = [
            self.read_commitment(n, p, i) for i, (n, p) in enumerate(doc.items("commitments", required=True))
        ]
        if not parties and doc.has("parties"):
            self.problem(doc.node_of("parties"), "parties", "must name at least one party")
        actors = [self.read_party(n, p, non_party=True) for n, p in doc.items("non_party_actors")]
        spec = AgreementSpec(
            self.path, agreement, [p for p in parties if p], [c for c in commitments if c], [a for a in actors if a],
            [m for m in milestones if m],
            [p for p in provisions if p],
            doc.has("provisions"),
        )
        # One namespace for parties and non-party actors: a slug, a name or a name sources use
        # names one actor, or a report could be both a party's act and a non-party's.
        self.check_parties(spec.parties + spec.actors)
        self.check_commitments(spec)
        self.check_provisions(spec)
        return spec

    def read_agreement(self, f):
        values = {
            "slug": f.slug("slug"),
            "title": f.text("title", required=True, max_length=300),
            "summary": f.text("summary"),
            "signed_on": f.day("signed_on"),
            # Required, not defaulted to UTC: deadlines end at local midnight, and
            # a guessed zone would move every one of them without anyone noticing.
            "time_zone": f.text("time_zone", required=True),
            "state": f.choice("state", AGREEMENT_STATES, default="draft"),
            "source": f.text("source"),
            "publish_computed_verdicts": f.flag("publish_computed_verdicts", default=False),
            # The share (in %) of a ceiling's or prohibition's elapsed days sources must cover for
            # "in compliance" (docs/agreement-format.md, "coverage_share").
            "coverage_share": f.whole_number("coverage_share", default=DEFAULT_COVERAGE_SHARE, minimum=0),
            "ended_on": f.day("ended_on"),
        }
        if values["coverage_share"] is not None and values["coverage_share"] > 100:
            self.problem(f.node_of("coverage_share"), f.path("coverage_share"), "must be a percentage, 0 to 100")
        if values["time_zone"]:
            try:
                rules.validate_time_zone(values["time_zone"])
            except rules.RuleError as e:
                self.problem(f.node_of("time_zone"), f.path("time_zone"), e.message)
        return values

    def read_party(self, node, path, non_party=False):
        f = self.fields(node, path, _PARTY_FIELDS)
        if not f.has_node():
            return None
        names = []
        for item, item_path in f.items("names"):
            if isinstance(item, yaml.MappingNode):
                nf = self.fields(item, item_path, _PARTY_NAME_FIELDS)
                name, note = nf.text("name", required=True, max_length=300), nf.text("note", max_length=300)
            else:
                name, note = self.text_item(item, item_path, max_length=300), ""
            if name and not rules.normalize_name(name):
                self.problem(item, item_path, "has no letters or digits to match on")
            elif name:
                names.append(NameSpec(name, note, rules.normalize_name(name), item, item_path))
        return PartySpec(
            slug=f.slug("slug"),
            name=f.text("name", required=True, max_length=200),
            description=f.text("description"),
            names=names,
            node=node,
            path=path,
            non_party=non_party,
        )

    def read_milestone(self, node, path, position):
        f = self.fields(node, path, _MILESTONE_FIELDS)
        if not f.has_node():
            return None
        key = f.slug("key")
        if key == SIGNING:
            self.problem(f.node_of("key"), f.path("key"), f"'{SIGNING}' is reserved for window.from")
        values = {
            "title": f.text("title", required=True, max_length=300),
            "text": f.text("text"),
            "position": position,
        }
        if not f.has("rule"):
            self.problem(f.node, f.path("rule"), "is required: which reports show the milestone was reached?")
            return MilestoneSpec(key, values, node, path)
        before = len(self.problems)
        rule = self.read_rule(f)
        if len(self.problems) > before:
            return MilestoneSpec(key, values, node, path)
        unknown = sorted(set(rule) - set(_MILESTONE_RULE_FIELDS))
        if unknown:
            self.problem(
                _find(f.node_of("rule"), unknown[0]), f.path(f"rule.{unknown[0]}"),
                "unknown field for a milestone (known: " + ", ".join(_MILESTONE_RULE_FIELDS) + ")",
            )
            return MilestoneSpec(key, values, node, path)
        if not rule.get("categories"):
            # Without categories every report anywhere would reach it.
            self.problem(_find(f.node_of("rule"), "categories"), f.path("rule.categories"),
                         "a milestone needs the categories of the reports that show it")
            return MilestoneSpec(key, values, node, path)
        try:
            # Anyone's report counts: a milestone is owed by no party.
            parsed = rules.Rule.from_dict("deadline", {**rule, "attribution": "any"})
        except rules.RuleError as e:
            self.problem(_find(node, e.field), f.path(e.field), e.message)
        else:
            values["rule"] = parsed.to_dict()
        return MilestoneSpec(key, values, node, path)

    def read_commitment(self, node, path, position):
        f = self.fields(node, path, _COMMITMENT_FIELDS)
        if not f.has_node():
            return None
        key = f.slug("key")
        if key == SIGNING:
            self.problem(f.node_of("key"), f.path("key"), f"'{SIGNING}' is reserved for window.from")
        owed_by = [(self.text_item(n, p), n, p) for n, p in f.items("owed_by", required=True)]
        if not owed_by and f.has("owed_by"):
            self.problem(f.node_of("owed_by"), f.path("owed_by"), "must name at least one party")

        basis = f.mapping("basis", _BASIS_FIELDS, required=True)
        basis_kind = basis.choice("kind", BASES, required=True)
        basis_by = basis.text("by", max_length=300)
        basis_note = basis.text("note")
        if basis_kind == REPORTED and not basis_by:
            self.problem(basis.node, basis.path("by"), "is required for a reported term: who reports it?")
        if basis_kind == INFERRED and not basis_note:
            self.problem(basis.node, basis.path("note"), "is required for an inferred term: inferred from what?")

        accounts, readings = [], []
        for item, item_path in f.items("competing_accounts"):
            af = self.fields(item, item_path, _ACCOUNT_FIELDS)
            account = {
                "account": af.text("account", required=True), "source": af.text("source"), "note": af.text("note")
            }
            accounts.append(account)
            if af.has("key"):
                readings.append((self.read_reading(af, account), af))
            else:
                for name in _READING_VALUE_FIELDS:
                    if af.has(name):
                        self.problem(
                            af.node_of(name), af.path(name), "belongs to a reading: give the account a key to judge it"
                        )

        needs_review = f.flag("needs_review", default=False)
        review_note = f.text("review_note")
        if needs_review and not review_note:
            self.problem(
                f.node, f.path("review_note"), "is required when needs_review is true: what should be checked?"
            )

        share = f.choice("share", SHARES)
        if share and len(owed_by) == 1:
            self.problem(
                f.node_of("share"), f.path("share"),
                f"says how several owing parties share the commitment, but only '{owed_by[0][0]}' owes it: "
                "remove it",
            )
        values = {
            "title": f.text("title", required=True, max_length=300),
            "text": f.text("text"),
            "basis": basis_kind,
            "basis_source": basis_by,
            "basis_note": basis_note,
            "competing_accounts": accounts,
            "readings": [],
            "main_reading_label": f.text("main_reading_label", max_length=200),
            "tracked": f.flag("tracked", default=True),
            "needs_review": needs_review,
            "review_note": review_note,
            "position": position,
        }

        # Kind, rule and window are checked together by terms.rules, but only once
        # each part could be read: a rule check on half-read values would add
        # confusing second-hand errors to the real one.
        before = len(self.problems)
        kind = f.text("kind", required=True)
        rule = self.read_rule(f)
        w = f.mapping("window", _WINDOW_FIELDS)
        anchor_key = w.text("from", default=SIGNING)
        moment = w.text("moment", default=None)
        if moment is not None and moment not in rules.MOMENTS:
            self.problem(w.node_of("moment"), w.path("moment"), "must be one of " + ", ".join(rules.MOMENTS))
        elif moment is not None and anchor_key == SIGNING:
            self.problem(w.node_of("moment"), w.path("moment"), "the signing has no moments: name a commitment "
                         "or a milestone in window.from")
        window = rules.Window(
            anchor=ANCHOR_SIGNING if anchor_key == SIGNING else ANCHOR_COMMITMENT,
            unit=w.text("unit", default="days"),
            starts=w.whole_number("starts", default=0),
            due=w.whole_number("due"),
            ends=w.whole_number("ends"),
            grace_days=w.whole_number("grace_days", default=0, minimum=0),
            # A deadline without `due` is a duty without a date; its reasonable time is checked by terms.rules.
            reasonable_days=w.whole_number("reasonable_days"),
        )
        if len(self.problems) == before:
            try:
                parsed = rules.validate_terms(kind, rule, window)
            except rules.RuleError as e:
                where = "window.from" if e.field == "window.anchor" else e.field
                self.problem(_find(node, where), f.path(where), e.message)
            else:
                # Stored in the canonical form, so a reload of the same rule changes nothing.
                values["rule"] = parsed.to_dict()
                values["readings"] = self.check_readings(kind, rule, window, readings)
                if share == EACH and len(owed_by) > 1 and parsed.attribution == "any":
                    self.problem(
                        f.node_of("share"), f.path("share"),
                        "'each' judges every party on its own acts, but rule.attribution 'any' counts anyone's "
                        "acts, so the parties' acts cannot be told apart: use share 'any', or attribute the acts",
                    )
        # Unsaid: `each` (every owing party must act). It means nothing for a single party, nor when the
        # rule counts anyone's acts (the engine then judges the commitment once: engine/shares.py).
        values["share"] = share or EACH
        values.update(
            kind=kind,
            anchor=window.anchor,
            offset_unit=window.unit,
            starts_offset=window.starts,
            due_offset=window.due,
            ends_offset=window.ends,
            grace_days=window.grace_days,
            reasonable_days=window.reasonable_days,
        )
        return CommitmentSpec(
            key=key,
            owed_by=owed_by,
            anchor_key=None if anchor_key == SIGNING else anchor_key,
            values=values,
            node=node,
            path=path,
            moment=moment,
            citations=[(self.text_item(n, p), n, p) for n, p in f.items("provisions")],
        )

    def read_provision(self, node, path, position):
        """One provision of the text: its number, its wording or a faithful summary, and its class."""
        f = self.fields(node, path, _PROVISION_FIELDS)
        if not f.has_node():
            return None
        number = f.text("number", required=True, max_length=200)
        if f.has("ref"):
            ref = f.slug("ref")
        else:
            ref = provision_rules.ref_for(number)
            if number and not ref:
                self.problem(f.node_of("number"), f.path("number"), "has no letters or digits to make a reference "
                             "from: give a `ref`")
            elif len(ref) > 100:
                self.problem(f.node_of("number"), f.path("number"), "makes a reference longer than 100 characters: "
                             "give a shorter `ref`")
        status = f.choice("status", provision_rules.STATUSES)
        if not status and f.has_node() and not f.has("status"):
            # The point of the text section: every provision accounted for, none left silently aside.
            self.problem(f.node, f.path("status"), "is required: classify every provision of the text ("
                         + ", ".join(s for s, _l in provision_rules.STATUSES) + ")")
        reason = f.choice("reason", provision_rules.REASONS)
        if status == provision_rules.NOT_MONITORABLE and not reason:
            self.problem(f.node, f.path("reason"), "is required for a provision that is not monitorable: "
                         + ", ".join(r for r, _l in provision_rules.REASONS))
        elif reason and status != provision_rules.NOT_MONITORABLE:
            self.problem(f.node_of("reason"), f.path("reason"), f"only a not_monitorable provision has a reason, and "
                         f"this one is {status or 'unclassified'}")
        values = {
            "number": number,
            "status": status or "",
            "reason": reason or "",
            "category": f.choice("category", provision_rules.CATEGORIES) or "",
            "wording": f.text("wording"),
            "summary": f.text("summary"),
            "quote": f.text("quote"),
            "source": f.text("source", max_length=500),
            "note": f.text("note"),
            "position": position,
        }
        if not values["wording"] and not values["summary"]:
            self.problem(f.node, f.path("wording"), "is required, or a `summary`: the official wording where the "
                         "project may hold it, otherwise a faithful summary")
        elif not values["wording"] and not values["source"]:
            self.problem(f.node, f.path("source"), "is required with a summary: name where the summary and its "
                         "quoted phrase come from")
        return ProvisionSpec(ref, number, values, node, path)

    def read_reading(self, af, account):
        """A competing account with a key, as stored in Commitment.readings (its values checked later)."""
        reading = {
            "key": af.slug("key"),
            "label": af.text("label", max_length=200) or account["account"][:200],
            "source": account["source"],
        }
        before = len(self.problems)
        rule = self.read_rule(af)
        if rule:
            reading["rule"] = rule
        if af.has("window"):
            w = self.fields(af.node_of("window"), af.path("window"), reading_rules.WINDOW_FIELDS)
            window = {}
            for name in reading_rules.WINDOW_FIELDS:
                if not w.has(name):
                    continue
                if name == "unit":
                    window[name] = w.text(name) or None
                else:
                    window[name] = w.whole_number(name, minimum=0 if name == "grace_days" else None)
            reading["window"] = window
        return reading if len(self.problems) == before else None

    def check_readings(self, kind, rule, window, readings):
        """The readings as stored, after checking each as a whole commitment and their keys against each other."""
        out, first = [], {}
        for reading, af in readings:
            if reading is None:
                continue
            key = reading["key"]
            if key in first:
                self.problem(af.node_of("key"), af.path("key"), f"'{key}' is already used at line {first[key]}")
                continue
            first[key] = _line(af.node_of("key"))
            try:
                reading_rules.check(kind, rule, window, reading)
            except rules.RuleError as e:
                where = _find(af.node, e.field) if e.field else af.node
                self.problem(where, af.path(e.field) if e.field else af.prefix, e.message)
            else:
                out.append(reading)
        return out

    def read_rule(self, f):
        if not f.has("rule"):
            return {}
        before = len(self.problems)
        rule = self.plain(f.node_of("rule"), f.path("rule"))
        if rule is None or len(self.problems) > before:
            return {}
        if not isinstance(rule, dict):
            self.problem(f.node_of("rule"), f.path("rule"), "must be a mapping of fields")
            return {}
        # Shapes terms.rules.Rule assumes rather than checks.
        for name in _RULE_LIST_FIELDS:
            if name in rule and not isinstance(rule[name], list):
                self.problem(_find(f.node_of("rule"), name), f.path(f"rule.{name}"), "must be a list of strings")
        if "unit" in rule and not isinstance(rule["unit"], str):
            self.problem(_find(f.node_of("rule"), "unit"), f.path("rule.unit"), "must be text")
        return rule

    def text_item(self, node, path, max_length=None):
        """A list item that must be text."""
        value = self.value(node, path)
        if value is None:
            self.problem(node, path, "must not be empty")
            return ""
        if value is _INVALID:
            return ""
        return self.check_text(node, path, value, required=True, max_length=max_length, default="")

    def check_text(self, node, path, value, *, required, max_length, default):
        if not isinstance(value, str):
            self.problem(node, path, f"must be text, not {_kind_of(value)} (put it in quotes)")
            return default
        value = value.strip()
        if required and not value:
            self.problem(node, path, "must not be empty")
        elif max_length and len(value) > max_length:
            self.problem(node, path, f"is {len(value)} characters long; at most {max_length} fit")
        return value

    # -- checks across the file ----------------------------------------------

    def check_parties(self, parties):
        self.check_unique(parties, "slug", lambda p: p.slug)
        self.check_unique(parties, "name", lambda p: p.name)
        # Each normalized name matches reports for one party only. A party's own
        # name matches too (claimed here with node None), so listing it again
        # among its names is fine, but another party may not claim it.
        owner = {}
        for party in parties:
            if party.name:
                owner.setdefault(rules.normalize_name(party.name), (party, None))
        for party in parties:
            for name in party.names:
                claimed_by, where = owner.setdefault(name.normalized, (party, name.node))
                if where is name.node:
                    continue
                if claimed_by is not party:
                    line = _line(where or claimed_by.node)
                    self.problem(
                        name.node,
                        name.path,
                        f"'{name.name}' already names {claimed_by.role} '{claimed_by.slug}' (line {line}): "
                        "a name can match only one party or actor",
                    )
                elif where is not None:
                    self.problem(
                        name.node, name.path, f"repeats the name at line {_line(where)} (case and punctuation aside)"
                    )

    def check_unique(self, items, name, value_of):
        """Report every item whose `name` repeats an earlier item's."""
        first = {}
        for item in items:
            value = value_of(item)
            if not value:
                continue
            if value in first:
                self.problem(
                    _find(item.node, name), f"{item.path}.{name}", f"'{value}' is already used at line {first[value]}"
                )
            else:
                first[value] = _line(_find(item.node, name))

    def check_commitments(self, spec):
        slugs = {p.slug for p in spec.parties}
        actors = {a.slug: a for a in spec.actors}
        self.check_unique(spec.commitments, "key", lambda c: c.key)
        self.check_unique(spec.milestones, "key", lambda m: m.key)
        # `window.from` names a commitment or a milestone, so no key may name both.
        commitment_lines = {c.key: _line(_find(c.node, "key")) for c in spec.commitments if c.key}
        milestones = {}
        for m in spec.milestones:
            milestones.setdefault(m.key, m)
            if m.key in commitment_lines:
                self.problem(_find(m.node, "key"), f"{m.path}.key",
                             f"'{m.key}' is already a commitment's key (line {commitment_lines[m.key]})")
        by_key = {}
        for c in spec.commitments:
            by_key.setdefault(c.key, c)
            seen = set()
            for slug, node, path in c.owed_by:
                if slug in actors and slug not in slugs:
                    self.problem(
                        node,
                        path,
                        f"'{slug}' is a non-party actor (line {_line(actors[slug].node)}): it signed nothing, so it "
                        "owes nothing here. Name the party that owes it (the one who must act or make it happen)",
                    )
                elif slug and slug not in slugs:
                    known = ", ".join(sorted(s for s in slugs if s)) or "there are none"
                    self.problem(node, path, f"'{slug}' is not one of the parties ({known})")
                elif slug in seen:
                    self.problem(node, path, f"'{slug}' is listed twice")
                seen.add(slug)
        for c in spec.commitments:
            c.values["anchor_moment"] = rules.Window.anchor_moment  # "met": what a row without a moment means
            if c.anchor_key is None:
                continue
            anchor = by_key.get(c.anchor_key)
            where, path = _find(c.node, "window.from"), f"{c.path}.window.from"
            moment_at, moment_path = _find(c.node, "window.moment"), f"{c.path}.window.moment"
            if anchor is None and c.anchor_key in milestones:
                c.values["anchor"] = ANCHOR_MILESTONE
                c.values["anchor_moment"] = "reached"
                if c.moment not in (None, "reached"):
                    self.problem(moment_at, moment_path, f"'{c.anchor_key}' is a milestone: its only moment is "
                                 "'reached'")
            elif anchor is None:
                self.problem(where, path, f"'{c.anchor_key}' is neither 'signing' nor a commitment key in this file, "
                             "nor a milestone's")
            elif c.moment is not None:
                self.check_moment(c, anchor, moment_at, moment_path)
            elif anchor.values["kind"] in rules.KINDS and anchor.values["kind"] not in _ANCHOR_KINDS:
                # The engine starts a counted-from commitment when its anchor is met;
                # ceilings and prohibitions are never "met", so it would wait for ever.
                self.problem(
                    where,
                    path,
                    f"'{c.anchor_key}' is a {anchor.values['kind']}, which is never met: count from one of its "
                    "moments (window.moment: " + ", ".join(self.moments_of(anchor)) + ")",
                )
            elif not anchor.values["tracked"]:
                self.problem(where, path, f"'{c.anchor_key}' is not tracked, so it is never met")
        self.check_cycles(spec.commitments, by_key)

    def check_provisions(self, spec):
        """Every provision numbered once; citations name provisions of the text; each class agrees with them.

        A commitment may cite only a monitored provision, and a monitored provision needs a tracked
        commitment citing it: "monitored" is then never a claim the monitor does not keep.
        """
        self.check_unique(spec.provisions, "number", lambda p: p.number)
        by_ref, numbered = {}, {}
        for p in spec.provisions:
            if not p.ref:
                continue
            if p.ref in by_ref and p.number != by_ref[p.ref].number and p.number not in numbered:
                first = by_ref[p.ref]
                self.problem(_find(p.node, "number"), f"{p.path}.number",
                             f"'{p.number}' gives the same reference '{p.ref}' as '{first.number}' at line "
                             f"{_line(_find(first.node, 'number'))}: number it apart, or give a `ref`")
            by_ref.setdefault(p.ref, p)
            numbered.setdefault(p.number, p)
        cited_by = {}
        for c in spec.commitments:
            seen = set()
            for name, node, path in c.citations:
                if not name:
                    continue
                p = by_ref.get(name) or numbered.get(name)
                if p is None:
                    if not spec.has_text:
                        self.problem(node, path, f"'{name}' is not a provision: this file has no `provisions` section")
                    else:
                        example = next(iter(by_ref), "part-one-a-1")
                        self.problem(node, path, f"'{name}' is not a provision of this file's text (cite a "
                                     f"provision's ref, e.g. '{example}', or its number)")
                    continue
                if p.ref in seen:
                    self.problem(node, path, f"'{name}' is cited twice")
                    continue
                seen.add(p.ref)
                status = p.values["status"]
                if status and status != provision_rules.MONITORED:
                    self.problem(node, path, f"'{p.number}' is classified {status} (line {_line(p.node)}): a "
                                 "commitment may cite only a monitored provision; classify it monitored, or remove "
                                 "the citation")
                if c.values.get("tracked", True):
                    cited_by.setdefault(p.ref, []).append(c.key)
            if spec.has_text and not c.citations and c.values.get("tracked", True):
                self.problem(c.node, f"{c.path}.provisions", "is required when the file carries the text: cite the "
                             "provision(s) this commitment monitors")
        for p in spec.provisions:
            if p.values["status"] == provision_rules.MONITORED and p.ref and p.ref not in cited_by:
                self.problem(_find(p.node, "status"), f"{p.path}.status",
                             f"'{p.number}' is classified monitored, but no tracked commitment cites it: cite it "
                             "from the commitment that monitors it (commitments[].provisions), or classify it "
                             "not_monitorable or not_yet_modelled")

    @staticmethod
    def moments_of(anchor):
        moments = rules.MOMENTS_OF_KIND.get(anchor.values["kind"], ())
        if anchor.values.get("ends_offset") is None:
            moments = tuple(m for m in moments if m != "closes")
        return moments

    def check_moment(self, c, anchor, where, path):
        """A moment the anchor's kind has (a prohibition is never met), of an anchor that is judged."""
        kind = anchor.values["kind"]
        if kind not in rules.KINDS:
            return  # the anchor's own kind is already reported
        if c.moment == "reached":
            self.problem(where, path, f"'{c.anchor_key}' is a commitment: 'reached' is a milestone's moment")
        elif c.moment == "closes" and c.moment in rules.MOMENTS_OF_KIND[kind] and anchor.values["ends_offset"] is None:
            self.problem(where, path, f"'{c.anchor_key}' has no window.ends, so its window never closes")
        elif c.moment not in rules.MOMENTS_OF_KIND[kind]:
            self.problem(where, path, f"a {kind} is never '{c.moment}': the moments of '{c.anchor_key}' are "
                         + ", ".join(self.moments_of(anchor)))
        elif not anchor.values["tracked"]:
            self.problem(where, path, f"'{c.anchor_key}' is not tracked, so none of its moments ever comes")
        else:
            c.values["anchor_moment"] = c.moment

    def check_cycles(self, commitments, by_key):
        done = set()
        for start in commitments:
            chain, current = [], start
            while current is not None and current.key not in done and current not in chain:
                chain.append(current)
                current = by_key.get(current.anchor_key) if current.anchor_key else None
            if current is not None and current in chain:
                loop = chain[chain.index(current) :]
                first = min(loop, key=lambda c: c.values["position"])
                keys = [c.key for c in loop] + [current.key]
                self.problem(
                    _find(first.node, "window.from"),
                    f"{first.path}.window.from",
                    "commitments count from each other in a loop: " + " → ".join(keys),
                )
            done.update(c.key for c in chain)


class _Fields:
    """The fields of one mapping in the file, read with their types checked."""

    def __init__(self, reader, node, path, entries):
        self.reader = reader
        self.node = node
        self.prefix = path
        self.entries = entries

    def path(self, name):
        return _join(self.prefix, name)

    def has(self, name):
        return name in self.entries

    def has_node(self):
        return isinstance(self.node, yaml.MappingNode)

    def node_of(self, name):
        return self.entries[name][1] if name in self.entries else self.node

    def _raw(self, name, required):
        """(node, value): value is None when the field is absent or null."""
        if name not in self.entries:
            if required and self.has_node():
                self.reader.problem(self.node, self.path(name), "is required")
            return self.node, None
        node = self.entries[name][1]
        value = self.reader.value(node, self.path(name))
        if value is None and required:
            self.reader.problem(node, self.path(name), "is required")
        return node, value

    def text(self, name, *, default="", required=False, max_length=None):
        node, value = self._raw(name, required)
        if value is None or value is _INVALID:
            return default
        return self.reader.check_text(
            node, self.path(name), value, required=required, max_length=max_length, default=default
        )

    def slug(self, name, max_length=100):
        value = self.text(name, required=True, max_length=max_length)
        if value and not slug_re.match(value):
            self.reader.problem(self.node_of(name), self.path(name), "must be letters, digits, hyphens or underscores")
        return value

    def choice(self, name, choices, *, default=None, required=False):
        value = self.text(name, default=default, required=required)
        allowed = [c[0] for c in choices]
        if value and value not in allowed:
            self.reader.problem(
                self.node_of(name), self.path(name), f"must be one of {', '.join(allowed)}, not '{value}'"
            )
        return value

    def whole_number(self, name, *, default=None, required=False, minimum=None):
        node, value = self._raw(name, required)
        if value is None or value is _INVALID:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.reader.problem(node, self.path(name), "must be a whole number")
            return default
        if minimum is not None and value < minimum:
            self.reader.problem(node, self.path(name), f"must be {minimum} or more")
        return value

    def flag(self, name, *, default):
        node, value = self._raw(name, False)
        if value is None or value is _INVALID:
            return default
        if not isinstance(value, bool):
            self.reader.problem(node, self.path(name), "must be true or false")
            return default
        return value

    def day(self, name):
        node, value = self._raw(name, False)
        if value is None or value is _INVALID:
            return None
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        elif isinstance(value, date) and not isinstance(value, datetime):
            return value
        self.reader.problem(node, self.path(name), "must be a date written YYYY-MM-DD (no time), or null")
        return None

    def items(self, name, *, required=False):
        if name not in self.entries:
            if required and self.has_node():
                self.reader.problem(self.node, self.path(name), "is required")
            return []
        node = self.entries[name][1]
        if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null":
            return []
        return self.reader.items(node, self.path(name))

    def mapping(self, name, known, *, required=False):
        if name not in self.entries:
            if required and self.has_node():
                self.reader.problem(self.node, self.path(name), "is required")
            return _Fields(self.reader, None, self.path(name), {})
        return self.reader.fields(self.entries[name][1], self.path(name), known)


# --- writing ----------------------------------------------------------------


def load_agreement_file(path, *, rename_parties=False, revise=None, by=None):
    """Load an agreement file into the database, all or nothing.

    Raises AgreementFileError listing every problem, having written nothing.
    Loading the same file again changes nothing; loading an edited file
    updates in place. A party shared with another agreement keeps its name
    unless `rename_parties` says the file may rename it for all of them.
    A change to a judged field of a commitment with published verdicts is
    refused unless `revise` gives the reason for a new revision of the terms
    (terms.revisions); `by` is who made it (the first load's r1 too).
    """
    spec = read_agreement_file(path)
    try:
        with transaction.atomic():
            result = _Writer(spec, rename_parties=rename_parties, revise=revise, by=by).write()
    except IntegrityError as e:
        # The checks cover every constraint, so only a concurrent edit gets here.
        raise AgreementFileError(
            [Problem(spec.path, None, None, f"the database changed while loading; try again ({e})")]
        ) from None
    return result


class _Writer:
    """Writes a checked AgreementSpec, matching what exists by slug, key and normalized name."""

    def __init__(self, spec, *, rename_parties=False, revise=None, by=None):
        self.spec = spec
        self.rename_parties = rename_parties
        self.revise = revise
        self.by = by or revisions.DEFAULT_AUTHOR
        self.result = LoadResult(spec.path)

    def write(self):
        spec = self.spec
        everyone = spec.parties + spec.actors
        parties = {p.slug: p for p in Party.objects.filter(slug__in=[p.slug for p in everyone])}
        names = {
            n.normalized: n
            for n in PartyName.objects.filter(
                normalized__in=[n.normalized for p in everyone for n in p.names]
            ).select_related("party")
        }
        self.check(names)
        # The judged terms as they stand, read under the agreement's lock (terms.revisions).
        before = revisions.snapshot(Agreement.objects.select_for_update().filter(slug=spec.values["slug"]).first())
        self.write_parties(parties, names)
        agreement = self.write_agreement(
            [parties[p.slug] for p in spec.parties], [parties[a.slug] for a in spec.actors]
        )
        milestones = self.write_milestones(agreement)
        self.write_commitments(agreement, parties, milestones)
        self.write_provisions(agreement)
        self.write_revision(agreement, before)
        self.result.agreement = agreement
        return self.result

    def write_revision(self, agreement, before):
        """r1 on a first load; otherwise a new revision when a judged field changed, refused without a
        reason for a commitment with published verdicts (the transaction then writes nothing)."""
        if before is None:
            # The agreement's r1 was recorded as it was created (terms.revisions.first_revision): say by whom.
            agreement.revisions.filter(number=1).update(made_by=self.by[:150], reason=revisions.FIRST_LOAD)
            self.result.revision = agreement.revisions.get(number=1)
            return
        changes = revisions.changes_between(before, revisions.snapshot(agreement))
        if not changes:
            if self.revise:
                self.result.warnings.append("--revise given, but no judged field changed: no revision recorded")
            return
        refused = revisions.needing_reason(changes, before) if not self.revise else {}
        if refused:
            raise AgreementFileError(self.revision_problems(refused))
        reason = self.revise or (
            f"loaded {self.spec.path}: judged terms changed that no published verdict rests on"
        )
        self.result.revision = revisions.record(agreement, made_by=self.by, reason=reason, changes=changes)

    def revision_problems(self, refused):
        by_key = {c.key: c for c in self.spec.commitments}
        problems = []
        for key, fields in refused.items():
            names = ", ".join(dict.fromkeys(revisions.file_name(f) for f in fields))
            if key is None:
                # Every deadline moves with the signing day and the zone, so every published verdict may.
                where, line, what = "agreement", None, f"agreement {self.spec.values['slug']}, whose commitments"
            elif isinstance(key, tuple):
                # A milestone's rule decides its day, the day 0 of every commitment counted from it.
                m = next(m for m in self.spec.milestones if m.key == key[1])
                where, line = m.path, _line(m.node)
                what = f"milestone {key[1]}, from which commitments are counted that"
            else:
                where, line, what = by_key[key].path, _line(by_key[key].node), f"commitment {key}, which"
            problems.append(
                Problem(
                    self.spec.path,
                    line,
                    where,
                    f"changes judged field{'s' if ',' in names else ''} {names} of {what} "
                    f"{'has' if isinstance(key, str) else 'have'} published verdicts (status changes or assessments): "
                    "a verdict someone cited "
                    'would change without notice. Load with --revise "reason" to record this as a revision '
                    "of the terms, or undo the change",
                )
            )
        return problems

    def check(self, names):
        """Problems only the database can show: names that belong to parties outside this file."""
        problems = []
        spec = self.spec
        everyone = spec.parties + spec.actors
        taken = dict(Party.objects.filter(name__in=[p.name for p in everyone]).values_list("name", "slug"))
        problems += self.renamed_shared_parties()
        for p in everyone:
            other = taken.get(p.name, p.slug)
            if other != p.slug:
                problems.append(
                    Problem(
                        spec.path,
                        _line(_find(p.node, "name")),
                        f"{p.path}.name",
                        f"'{p.name}' is already the name of party '{other}' in the database",
                    )
                )
            for n in p.names:
                row = names.get(n.normalized)
                if row is not None and row.party.slug != p.slug:
                    problems.append(
                        Problem(
                            spec.path,
                            _line(n.node),
                            n.path,
                            f"'{n.name}' already names party '{row.party.slug}' in the database: a name can match "
                            "only one party (remove it from that party first, or from this file)",
                        )
                    )
        if problems:
            raise AgreementFileError(problems)

    def renamed_shared_parties(self):
        """A file that would rename a party other agreements share, unless the loader was told it may.

        Parties are shared by slug, and the last file loaded sets a party's name: a second agreement's
        file spelling "United States of America" would silently rename the party on the first
        agreement's pages, history and emails.
        """
        if self.rename_parties:
            return []
        spec, problems = self.spec, []
        everyone = spec.parties + spec.actors
        current = {p.slug: p for p in Party.objects.filter(slug__in=[p.slug for p in everyone])}
        renamed = [p for p in everyone if p.slug in current and current[p.slug].name != p.name]
        if not renamed:
            return []
        sharing = {}
        # Shared as a party or as a non-party actor: its name shows on the other agreement's pages either way.
        for relation in (Agreement.parties, Agreement.non_party_actors):
            through = relation.through.objects.filter(party__slug__in=[p.slug for p in renamed])
            for party_slug, agreement_slug in through.exclude(agreement__slug=spec.values["slug"]).values_list(
                "party__slug", "agreement__slug"
            ):
                if agreement_slug not in sharing.get(party_slug, ()):
                    sharing.setdefault(party_slug, []).append(agreement_slug)
        for p in renamed:
            if p.slug in sharing:
                problems.append(
                    Problem(
                        spec.path,
                        _line(_find(p.node, "name")),
                        f"{p.path}.name",
                        f"party '{p.slug}' is named '{current[p.slug].name}' in the database and shared with "
                        f"{', '.join(sorted(sharing[p.slug]))}: this file would rename it to '{p.name}' there too. "
                        "Use the name in the database, or load with --rename-parties to rename it everywhere",
                    )
                )
        return problems

    def save(self, obj, values, what, label, also_changed=()):
        """Create or update `obj` with `values`; save nothing when nothing differs."""
        is_new = obj.pk is None
        changed = [name for name, value in values.items() if getattr(obj, name) != value]
        for name in changed:
            setattr(obj, name, values[name])
        if is_new:
            obj.save()
            self.result.record("created", what, label)
        elif changed or also_changed:
            obj.save()
            self.result.record("updated", what, label, [*changed, *also_changed])

    def write_parties(self, parties, names):
        everyone = self.spec.parties + self.spec.actors
        for p in everyone:
            party = parties.get(p.slug) or Party(slug=p.slug)
            self.save(party, {"name": p.name, "description": p.description}, p.role, p.slug)
            parties[p.slug] = party
            for n in p.names:
                row = names.get(n.normalized) or PartyName(party=party)
                self.save(row, {"name": n.name, "note": n.note}, "party name", f"'{n.name}' of {p.slug}")
        # Names are never deleted by a load: an analyst may have added them in the admin.
        in_file = [n.normalized for p in everyone for n in p.names]
        extra = PartyName.objects.filter(party__in=parties.values()).exclude(normalized__in=in_file)
        for row in extra.select_related("party"):
            self.result.warnings.append(
                f"party {row.party.slug} has the name '{row.name}' in the database but not in this file: left as it is"
            )

    def write_agreement(self, parties, actors=()):
        values = self.spec.values
        # Locked so that two loads of the same agreement take turns rather than collide.
        agreement = Agreement.objects.select_for_update().filter(slug=values["slug"]).first() or Agreement()
        is_new = agreement.pk is None
        parties_changed = not is_new and set(agreement.parties.values_list("pk", flat=True)) != {p.pk for p in parties}
        actors_changed = not is_new and set(agreement.non_party_actors.values_list("pk", flat=True)) != {
            a.pk for a in actors
        }
        also = ["parties"] if parties_changed else []
        also += ["non_party_actors"] if actors_changed else []
        self.save(agreement, values, "agreement", values["slug"], also)
        if is_new or parties_changed:
            agreement.parties.set(parties)
        if (is_new and actors) or actors_changed:
            agreement.non_party_actors.set(actors)
        return agreement

    def write_milestones(self, agreement):
        existing = {m.key: m for m in agreement.milestones.all()}
        written = {}
        for spec in self.spec.milestones:
            milestone = existing.get(spec.key) or Milestone(agreement=agreement, key=spec.key)
            self.save(milestone, spec.values, "milestone", spec.key)
            written[spec.key] = milestone
        # Never deleted by a load, like commitments: another commitment may count from it.
        for key in sorted(existing.keys() - written.keys()):
            self.result.warnings.append(f"milestone {key} is in the database but not in this file: left as it is")
        return written

    def write_commitments(self, agreement, parties, milestones=None):
        milestones = milestones or {}
        existing = {c.key: c for c in agreement.commitments.prefetch_related("owed_by")}
        written = {}
        for spec in self.in_anchor_order():
            commitment = existing.get(spec.key) or Commitment(agreement=agreement, key=spec.key)
            on_milestone = spec.values["anchor"] == ANCHOR_MILESTONE
            values = {
                **spec.values,
                "anchor_commitment_id": written[spec.anchor_key].pk if spec.anchor_key and not on_milestone else None,
                "anchor_milestone_id": milestones[spec.anchor_key].pk if on_milestone else None,
            }
            owed_by = [parties[slug] for slug, _, _ in spec.owed_by]
            owed_changed = commitment.pk is not None and {p.pk for p in commitment.owed_by.all()} != {
                p.pk for p in owed_by
            }
            self.save(commitment, values, "commitment", spec.key, ["owed_by"] if owed_changed else [])
            if owed_changed or spec.key not in existing:
                commitment.owed_by.set(owed_by)
            written[spec.key] = commitment
        # Never deleted by a load: a commitment may have reports and verdicts attached.
        for key in sorted(existing.keys() - written.keys(), key=lambda k: existing[k].position):
            self.result.warnings.append(
                f"commitment {key} is in the database but not in this file: left as it is "
                "(it may have history; delete it in the admin if it should go)"
            )

    def write_provisions(self, agreement):
        """The text's provisions and the commitments citing them, exactly as the file says.

        Unlike commitments, provisions are deleted when the file drops them: they carry no evidence or
        verdicts, only the file's account of the text, and a stale one would miscount the text.
        """
        existing = {p.ref: p for p in agreement.provisions.all()}
        written = {}
        for spec in self.spec.provisions:
            provision = existing.get(spec.ref) or Provision(agreement=agreement, ref=spec.ref)
            self.save(provision, spec.values, "provision", spec.ref)
            written[spec.ref] = provision
        gone = existing.keys() - written.keys()
        if gone:
            agreement.provisions.filter(ref__in=gone).delete()
            for ref in sorted(gone):
                self.result.record("updated", "provision", ref, ["deleted: no longer in the file"])
        # Citations, set per provision (through the relation, so that the history records them).
        commitments = dict(agreement.commitments.values_list("key", "pk"))
        keys = {pk: key for key, pk in commitments.items()}
        current = {}
        through = Provision.commitments.through.objects.filter(provision__agreement=agreement)
        for provision_id, commitment_id in through.values_list("provision_id", "commitment_id"):
            current.setdefault(provision_id, set()).add(commitment_id)
        for spec in self.spec.provisions:
            provision = written[spec.ref]
            want = {
                commitments[c.key]
                for c in self.spec.commitments
                if any(name in (spec.ref, spec.number) for name, _node, _path in c.citations)
            }
            have = current.get(provision.pk, set())
            if want != have:
                provision.commitments.set(want)
                if spec.ref not in existing:
                    continue  # a new provision's citations are part of its creation
                cited = sorted(keys[pk] for pk in want)
                self.result.record("updated", "citations of provision", spec.ref,
                                   [f"cited by {', '.join(cited) or 'no commitment'}"])

    def in_anchor_order(self):
        """File order, except that a commitment comes after the one it is counted from."""
        by_key = {c.key: c for c in self.spec.commitments}
        order, seen = [], set()

        def visit(c):
            if c.key not in seen:
                seen.add(c.key)
                if c.anchor_key in by_key:  # a milestone's key is written before every commitment
                    visit(by_key[c.anchor_key])
                order.append(c)

        for c in self.spec.commitments:
            visit(c)
        return order
