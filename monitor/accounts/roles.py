"""The four staff roles, as Django groups, and what each may do.

Roles are plain groups of model permissions, so the admin, the API and any
later view check them the same way (`user.has_perm(...)`). The definitions live
here, in code: `sync_roles` sets each group to exactly its definition. It runs
in the data migration that creates the groups and again after every `migrate`
(see apps.py), so a model added later gets its "view" permission for Viewers
and every permission for Administrators without another data migration.
A deployment that wants different roles makes other groups; these four are
reset to their definitions.

- Viewer: reads everything staff may read, changes nothing.
- Monitor: also enters and edits reports, attaches files to them, groups them as events, imports files.
  Cannot verify, dispute or reject.
- Analyst: also verifies, disputes and rejects reports (never one they entered
  themselves: see Report.set_verification), sees restricted reports, records
  assessments, edits commitments and classifies the text's provisions, and keeps the names sources use for parties
  and places. May back-date: an imported file may give their new reports a
  `recorded_at` (evidence.backdate_report). Registers webhooks (and sees their deliveries on each
  webhook's page), though not the subscribers' outbox.
- Administrator: every permission (users and groups included). Not a
  superuser: the four-eyes rule applies to everyone anyway.
"""

VIEWER = "Viewer"
MONITOR = "Monitor"
ANALYST = "Analyst"
ADMINISTRATOR = "Administrator"
ROLES = (VIEWER, MONITOR, ANALYST, ADMINISTRATOR)

# Apps whose every model a Viewer may look at. Alerts (subscribers' addresses) are left to Administrators.
READABLE_APPS = ("terms", "evidence", "verdicts")

MONITOR_EXTRA = (
    "evidence.add_report",
    "evidence.change_report",
    "evidence.add_eventgroup",
    "evidence.change_eventgroup",
    "evidence.add_importjob",
    # Files kept with a report (a document, a screenshot, a web capture): added, never changed or deleted.
    "evidence.add_attachment",
)
ANALYST_EXTRA = (
    "evidence.verify_report",
    "evidence.view_restricted_report",
    # A file's `recorded_at` for a new report: rewrites what was "known at" a past date.
    "evidence.backdate_report",
    "verdicts.add_assessment",
    "terms.change_commitment",
    # Classifying the text's provisions (monitored, not monitorable and why, not yet modelled) is analysts' work.
    "terms.change_provision",
    # Party names are edited inline on the party's page, which needs change_party.
    "terms.change_party",
    "terms.add_partyname",
    "terms.change_partyname",
    "terms.delete_partyname",
    "evidence.add_placename",
    "evidence.change_placename",
    "evidence.delete_placename",
    # Webhooks: an Analyst registers, pauses and resumes the endpoints monitoring teams receive alerts on.
    "alerts.view_webhook",
    "alerts.add_webhook",
    "alerts.change_webhook",
    "alerts.delete_webhook",
)


def _perms(permissions, names):
    wanted = {tuple(n.split(".", 1)) for n in names}
    found = {
        (app, codename): pk
        for pk, app, codename in permissions.filter(
            content_type__app_label__in={app for app, _ in wanted}, codename__in={c for _, c in wanted}
        ).values_list("pk", "content_type__app_label", "codename")
    }
    return {found[w] for w in wanted if w in found}


def role_permissions(permissions):
    """{role: set of permission ids}, from `permissions` (a Permission queryset): those that exist now."""
    # Exactly the models' own view_<model> permissions (not, say, a custom "view_…" one that means more).
    view = {
        pk
        for pk, codename, model in permissions.filter(
            content_type__app_label__in=READABLE_APPS, codename__startswith="view_"
        ).values_list("pk", "codename", "content_type__model")
        if codename == f"view_{model}"
    }
    monitor = view | _perms(permissions, MONITOR_EXTRA)
    analyst = monitor | _perms(permissions, ANALYST_EXTRA)
    return {
        VIEWER: view,
        MONITOR: monitor,
        ANALYST: analyst,
        ADMINISTRATOR: set(permissions.values_list("pk", flat=True)),
    }


def sync_roles(apps, using="default"):
    """Create the four groups if missing and set each to exactly its permissions."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, perms in role_permissions(Permission.objects.using(using)).items():
        group, _ = Group.objects.using(using).get_or_create(name=role)
        group.permissions.set(perms)


def grant_role(user, role):
    """Put a user in one of the roles (creating the groups first if a flushed database lost them)."""
    from django.apps import apps as global_apps
    from django.contrib.auth.models import Group

    if role not in ROLES:
        raise ValueError(f"unknown role {role!r} (roles: {', '.join(ROLES)})")
    group = Group.objects.filter(name=role).first()
    if group is None:
        sync_roles(global_apps)
        group = Group.objects.get(name=role)
    user.groups.add(group)
    if not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    return user
