"""Admin for accounts and API tokens.

Deleting a labeler who has worked is refused (deactivate them instead).

A labeler's responses and tasks are counted in their datapoints' rows
(``JobDatapoint.response_count``, ``leases_active``) and in the results
requesters paid for; ``Response.labeler`` and ``Lease.labeler`` are
``PROTECT``, so no path deletes them with the account (``User.delete()``
raises ``ProtectedError``). Here the admin says so in words, on the delete
page and on the bulk delete action, and offers the "Deactivate" action: a
deactivated account can no longer sign in or use its API tokens, and
everything it answered stays counted.

API tokens (``labeling.tokens``) are listed by their first characters, with
owner, creation and expiry, never their keys (which are not stored). The
"Create an API token" action on accounts shows each new key once, on the
page it returns; deleting a token (or the "Revoke" action) revokes it.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import Count
from django.template.response import TemplateResponse
from knox.models import AuthToken

from audiences.models import Membership
from jobs.models import Lease, Response

from .models import Heartbeat
from .tokens import token_create

User = get_user_model()

# Rows that go with an account and that no count depends on: the admin may
# delete them with it although their own admin pages never delete them.
DELETED_WITH_ACCOUNT = (Membership, Heartbeat)


def _counts_by_labeler(model, pks) -> dict[int, int]:
    rows = model.objects.filter(labeler_id__in=pks).order_by().values("labeler_id").annotate(n=Count("id"))
    return {row["labeler_id"]: row["n"] for row in rows}


def labeler_work_refusals(users) -> list[str]:
    """Why each of ``users`` who has answered or holds a task in a job may
    not be deleted: one sentence per such user (empty: all may be). Two
    grouped counts, whatever the number of responses."""
    pks = [user.pk for user in users]
    answered, tasks = _counts_by_labeler(Response, pks), _counts_by_labeler(Lease, pks)
    return [
        f"{user.get_username()} has {answered.get(user.pk, 0)} response(s) and {tasks.get(user.pk, 0)} task(s) "
        "in jobs. Accounts that have worked on jobs are never deleted, so the answers requesters paid for "
        'stay counted in their jobs and results: deactivate the account instead (the "Deactivate the '
        'selected accounts" action, or untick "Active" on its page).'
        for user in sorted(users, key=lambda user: user.get_username())
        if user.pk in answered or user.pk in tasks
    ]


class AccountAdmin(UserAdmin):
    actions = ["deactivate", "create_token"]

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

    @admin.action(
        description="Deactivate the selected accounts (they can no longer sign in or use API tokens)",
        permissions=["change"],
    )
    def deactivate(self, request, queryset):
        changed = queryset.filter(is_active=True).update(is_active=False)
        self.message_user(request, f"{changed} account(s) deactivated; their answers stay counted.")

    @admin.action(description="Create an API token for each selected account (shown once)", permissions=["change"])
    def create_token(self, request, queryset):
        made = [(user, token_create(user=user)) for user in queryset.filter(is_active=True).order_by("username")]
        response = TemplateResponse(
            request,
            "admin/crowdcanvas/new_tokens.html",
            {
                **self.admin_site.each_context(request),
                "title": "New API tokens",
                "opts": self.opts,
                "tokens": [{"user": user, "token": row, "key": key} for user, (row, key) in made],
            },
        )
        response["Cache-Control"] = "no-store"  # the keys are on this page only
        return response


class TokenAdmin(admin.ModelAdmin):
    """Tokens by prefix, owner, creation and expiry; revoked by deleting."""

    list_display = ["token_key", "user", "created", "expiry"]
    list_select_related = ["user"]
    search_fields = ["token_key", "user__username"]
    fields = ["token_key", "user", "created", "expiry"]
    readonly_fields = fields
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False  # made by the "Create an API token" action on accounts, which shows the key once

    def has_change_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # "revoke" says what it does
        return actions

    @admin.action(description="Revoke the selected API tokens", permissions=["delete"])
    def revoke(self, request, queryset):
        revoked, _ = queryset.delete()
        self.message_user(request, f"{revoked} token(s) revoked.")


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, AccountAdmin)
if admin.site.is_registered(AuthToken):
    admin.site.unregister(AuthToken)  # knox's lists digests and makes tokens in a message
admin.site.register(AuthToken, TokenAdmin)
