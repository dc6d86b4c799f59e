"""What every CrowdCanvas admin page shares: who sees which rows, writes
through the services, and read-only inlines.

Requesters are staff users (not superusers). On an admin built on
``ScopedAdmin`` they see the rows they own, plus whatever ``scope_q`` adds
(global and curated audiences), and edit or delete only what they own. A row
outside their scope is a 404 on every page (change, delete, history; the
autocomplete endpoint and changelists never list it), never Django's
redirect to the index or a 403 that would confirm it exists. Operators
(superusers) see everything.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db.models import Model, Q
from django.forms.models import BaseInlineFormSet
from django.http import Http404

admin.site.site_header = "CrowdCanvas admin"
admin.site.site_title = "CrowdCanvas admin"
admin.site.index_title = "Audiences, jobs and their results"


def owner_pk(obj: Model, path: str):
    """The primary key of the user at ``path`` (``"owner"``, ``"job__owner"``) from ``obj``."""
    *hops, last = path.split("__")
    for hop in hops:
        obj = getattr(obj, hop)
    return getattr(obj, f"{last}_id")


def adopt(target: Model, created: Model) -> None:
    """Make the admin's unsaved ``target`` the row a service created, so the
    admin's log entry and redirect point at it."""
    for field in created._meta.concrete_fields:
        setattr(target, field.attname, getattr(created, field.attname))
    target._state.adding = False
    target._state.db = created._state.db


class SafeAutocompleteSelect(AutocompleteSelect):
    """Django's autocomplete widget looks the submitted value up in the
    database when the form is shown again; a value that is not a key at all
    ("abc") would raise there (a 500) instead of showing the field's error."""

    def optgroups(self, name, value, attr=None):
        remote = self.field.remote_field
        key = remote.model._meta.get_field(remote.field_name)
        valid = []
        for item in value:
            try:
                key.to_python(item)
            except ValidationError:
                continue
            valid.append(item)
        return super().optgroups(name, valid, attr)


class ScopedAdmin(admin.ModelAdmin):
    """A ModelAdmin scoped to its rows' owner, writing through services.

    ``owner_path`` leads from a row to the user who owns it. A service called
    from ``save_model``/``save_related`` may refuse the write with a
    ``ValidationError({field: [...]})``: the request's transaction is rolled
    back and the form is shown again with those errors on its fields
    (``service_fields`` maps a service's argument names to form field names).
    """

    owner_path = "owner"
    service_fields: dict[str, str] = {}

    # --- who sees and edits what ---------------------------------------------------

    def owner_q(self, user) -> Q:
        if user.is_superuser:
            return Q()
        return Q(**{f"{self.owner_path}_id": user.pk})

    def scope_q(self, user) -> Q:
        """The rows ``user`` may see (and refer to in forms): by default, their own."""
        return self.owner_q(user)

    def may_edit(self, user, obj) -> bool:
        return user.is_superuser or owner_pk(obj, self.owner_path) == user.pk

    def owner_fields(self, request) -> list[str]:
        """``["owner"]`` for operators; a requester owns all they can edit."""
        return ["owner"] if request.user.is_superuser else []

    def get_list_display(self, request):
        return [name for name in super().get_list_display(request) if name != "owner" or request.user.is_superuser]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(self.scope_q(request.user))

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404(f"No {self.opts.verbose_name} with this id.")
        return obj

    def has_change_permission(self, request, obj=None):
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or self.may_edit(request.user, obj))

    def has_delete_permission(self, request, obj=None):
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or self.may_edit(request.user, obj))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        """Foreign-key choices are the related rows the user may see."""
        if db_field.name in self.get_autocomplete_fields(request) and "widget" not in kwargs:
            kwargs["widget"] = SafeAutocompleteSelect(db_field, self.admin_site, using=kwargs.get("using"))
        related = db_field.related_model
        if "queryset" not in kwargs and self.admin_site.is_registered(related):
            related_admin = self.admin_site.get_model_admin(related)
            if isinstance(related_admin, ScopedAdmin):
                kwargs["queryset"] = related._default_manager.filter(related_admin.scope_q(request.user))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    # --- writes through services -----------------------------------------------------

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as refusal:
            # Raised by a service after the form was valid; the transaction
            # is rolled back. Show the same form again, with the refusal.
            if request.method != "POST" or hasattr(request, "service_refusal"):
                raise
            request.service_refusal = refusal
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        refusal = getattr(request, "service_refusal", None)
        return form if refusal is None else _with_errors(form, refusal, self.service_fields)


def _with_errors(form_class, refusal: ValidationError, field_names: dict[str, str]):
    """``form_class`` that also reports ``refusal`` when validated."""

    class RefusedForm(form_class):
        def clean(self):
            cleaned = super().clean()
            for key, errors in refusal.update_error_dict({}).items():
                name = field_names.get(key, key)
                messages = ValidationError(errors).messages
                if name in self.fields:
                    self.add_error(name, messages)
                else:
                    prefix = "" if key == NON_FIELD_ERRORS else f"{key}: "
                    self.add_error(None, [m if m.startswith(key) else prefix + m for m in messages])
            return cleaned

    RefusedForm.__name__ = form_class.__name__
    return RefusedForm


class FirstRowsFormSet(BaseInlineFormSet):
    """An inline formset over the first ``limit`` rows; ``total`` counts them all."""

    limit = 100

    def get_queryset(self):
        if not hasattr(self, "total"):
            rows = super().get_queryset()
            self._queryset = rows[: self.limit]
            shown = len(self._queryset)
            self.total = shown if shown < self.limit else rows.count()
        return self._queryset

    @property
    def not_shown(self) -> int:
        self.get_queryset()
        return self.total - len(self._queryset)


class ReadOnlyInline(admin.TabularInline):
    """Related rows shown on the parent's page, never edited there: at most
    ``limit`` of them, with a count of the rest."""

    extra = 0
    can_delete = False
    formset = FirstRowsFormSet
    limit = 100
    template = "admin/crowdcanvas/readonly_tabular.html"

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.limit = self.limit
        return formset

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def labeler_column(request, names):
    """Operators see labelers' accounts; requesters their pseudonyms."""
    if not request.user.is_superuser:
        return list(names)
    return ["labeler" if name == "labeler_name" else name for name in names]
