"""Who may use the review pages: users holding `review.verify_lab_report` (through the `clinician`
group, or directly; superusers hold every permission). Signing in is the server's own login, the
same accounts the SMART authorisation pages use (/oauth2/login)."""
from __future__ import annotations

from django.contrib.auth.models import Group, Permission

PERMISSION = "review.verify_lab_report"
CLINICIAN_GROUP = "clinician"


def may_review(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.has_perm(PERMISSION))


def clinician_group() -> Group:
    """The `clinician` group, holding the permission (created on first use)."""
    group, _ = Group.objects.get_or_create(name=CLINICIAN_GROUP)
    app_label, codename = PERMISSION.split(".")
    group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return group
