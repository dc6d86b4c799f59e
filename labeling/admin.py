"""Admin for accounts: deleting a labeler who has worked is refused
(deactivate them instead).

A labeler's responses and tasks are counted in their datapoints' rows
(``JobDatapoint.response_count``, ``leases_active``) and in the results
requesters paid for; ``Response.labeler`` and ``Lease.labeler`` are
``PROTECT``, so no path deletes them with the account (``User.delete()``
raises ``ProtectedError``). Here the admin says so in words, on the delete
page and on the bulk delete action, and offers the "Deactivate" action: a
deactivated account can no longer sign in or use its API tokens, and
everything it answered stays counted.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import Count, Q

from audiences.models import Membership

from .models import Heartbeat

User = get_user_model()

# Rows that go with an account and that no count depends on: the admin may
# delete them with it although their own admin pages never delete them.
DELETED_WITH_ACCOUNT = (Membership, Heartbeat)


def labeler_work_refusals(users) -> list[str]:
    """Why each of ``users`` who has answered or holds a task in a job may
    not be deleted: one sentence per such user (empty: all may be)."""
    rows = (
        User.objects.filter(pk__in=[user.pk for user in users])
        .annotate(answered=Count("responses", distinct=True), tasks=Count("leases", distinct=True))
        .filter(Q(answered__gt=0) | Q(tasks__gt=0))
        .order_by("username")
    )
    return [
        f"{user.get_username()} has {user.answered} response(s) and {user.tasks} task(s) in jobs. "
        "Accounts that have worked on jobs are never deleted, so the answers requesters paid for stay "
        "counted in their jobs and results: deactivate the account instead (the \"Deactivate the "
        "selected accounts\" action, or untick \"Active\" on its page)."
        for user in rows
    ]


class AccountAdmin(UserAdmin):
    actions = ["deactivate"]

    def get_deleted_objects(self, objs, request):
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        refusals = labeler_work_refusals(list(objs))
        if refusals:
            # Not a list of every response and lease (there may be thousands),
            # nor "no permission to delete responses": one sentence per
            # labeler, saying what to do instead.
            return deleted, model_count, set(), refusals
        quiet = {model._meta.verbose_name for model in DELETED_WITH_ACCOUNT}
        perms_needed = {name for name in perms_needed if name not in quiet}
        return deleted, model_count, perms_needed, protected

    @admin.action(description="Deactivate the selected accounts (they can no longer sign in or use API tokens)",
                  permissions=["change"])
    def deactivate(self, request, queryset):
        changed = queryset.filter(is_active=True).update(is_active=False)
        self.message_user(request, f"{changed} account(s) deactivated; their answers stay counted.")


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, AccountAdmin)
