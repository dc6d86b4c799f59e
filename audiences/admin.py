"""Admin for audiences and their qualification examples.

An audience's page lists its examples read-only, each with its truth drawn
on it and a link to the example's own page, where the truth boxes are an
editable inline (Django has no nested inlines). Requesters see global and
curated audiences read-only, without their examples: the truths of curated
audiences are the operators'. Creating and changing audiences and adding
examples go through ``audiences.services``.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.forms.models import BaseInlineFormSet
from django.urls import reverse
from django.utils.html import format_html

from assets import wire
from assets.models import TaskKind
from assets.previews import LARGE_THUMBNAIL_SIZE, THUMBNAIL_SIZE, Shown, assets_preview
from core.admin_base import ReadOnlyInline, ScopedAdmin, adopt, labeler_column
from core.pseudonyms import labeler_anonymous_id
from core.roles import REQUESTERS_GROUP

from .models import Audience, Membership, QualificationExample, TruthBox
from .selectors import audiences_visible_q
from .services import (
    audience_create,
    audience_update,
    example_add_compare,
    example_add_draw,
    membership_set_state,
)

BOX_FIELDS = ("x_min", "y_min", "x_max", "y_max")


def example_preview(example: QualificationExample, *, size: int = THUMBNAIL_SIZE):
    """The example's item(s) with its truth: boxes over a draw image, the
    right item of a compare marked."""
    if example.kind == TaskKind.DRAW:
        boxes = [box.as_box() for box in example.truth_boxes.all()]
        return assets_preview([Shown(example.asset, boxes=boxes)], size=size)
    shown = []
    for asset in (example.asset, example.asset_b):
        is_truth = asset.pk == example.truth_asset_id
        shown.append(Shown(asset, marked=is_truth, caption="truth" if is_truth else ""))
    return assets_preview(shown, size=size)


# --- audiences ------------------------------------------------------------------------


class ExampleInline(ReadOnlyInline):
    model = QualificationExample
    fields = ["kind", "instruction", "truth"]
    readonly_fields = fields
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("asset", "asset_b").prefetch_related("truth_boxes")

    @admin.display(description="items and truth")
    def truth(self, example):
        return example_preview(example)


@admin.register(Audience)
class AudienceAdmin(ScopedAdmin):
    list_display = ["name", "kind", "owner", "example_count", "target_accuracy", "created_at"]
    list_filter = ["kind"]
    search_fields = ["name", "public_id"]
    rule_fields = ["name", "description", "target_accuracy", "min_tasks", "max_tasks", "gold_rate"]

    def scope_q(self, user) -> Q:
        return audiences_visible_q(user)

    def editable_q(self, user) -> Q:
        """Audiences ``user`` may change and add examples to (``may_edit`` as a query)."""
        return ~Q(kind=Audience.Kind.GLOBAL) & self.owner_q(user)

    def may_edit(self, user, obj) -> bool:
        return obj.kind != Audience.Kind.GLOBAL and super().may_edit(user, obj)

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related("owner")
        # An aggregate drops Meta.ordering; autocomplete pages need it.
        return queryset.annotate(example_count=Count("examples")).order_by(*self.opts.ordering)

    def get_fields(self, request, obj=None):
        if obj is None:
            chosen = ["kind", "owner"] if request.user.is_superuser else []
            return [*chosen, *self.rule_fields]
        return [
            "public_id",
            "kind",
            *self.owner_fields(request),
            *self.rule_fields,
            *self._examples_field(request, obj),
            "created_at",
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["public_id", "kind", *self.owner_fields(request), *self._examples_field(request, obj), "created_at"]

    def _examples_field(self, request, obj) -> list[str]:
        if obj.kind == Audience.Kind.GLOBAL:
            return []
        return ["examples"] if self.may_edit(request.user, obj) else ["example_count"]

    def get_inlines(self, request, obj):
        # Only editors see the examples (and so the truths) of an audience.
        return [ExampleInline] if obj is not None and self.may_edit(request.user, obj) else []

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        if db_field.name == "kind":  # operators add custom or curated audiences
            kwargs["choices"] = [choice for choice in Audience.Kind.choices if choice[0] != Audience.Kind.GLOBAL]
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "owner":
            kwargs["queryset"] = get_user_model().objects.filter(groups__name=REQUESTERS_GROUP)
            kwargs["help_text"] = "The requester who owns a custom audience (none for a curated one)."
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description="examples", ordering="example_count")
    def example_count(self, audience):
        return audience.example_count

    @admin.display(description="examples")
    def examples(self, audience):
        add_url = reverse("admin:audiences_qualificationexample_add") + f"?audience={audience.pk}"
        return format_html('{} (listed below) · <a href="{}">Add an example</a>', audience.example_count, add_url)

    def save_model(self, request, obj, form, change):
        rule = {name: form.cleaned_data[name] for name in self.rule_fields}
        if change:
            audience_update(audience=obj, **rule)
        elif request.user.is_superuser:
            chosen = {"owner": form.cleaned_data["owner"], "kind": form.cleaned_data["kind"]}
            adopt(obj, audience_create(**chosen, **rule))
        else:
            adopt(obj, audience_create(owner=request.user, **rule))


# --- qualification examples -----------------------------------------------------------


class TruthBoxForm(forms.ModelForm):
    def clean(self):
        cleaned = super().clean()
        if all(cleaned.get(name) is not None for name in BOX_FIELDS):
            wire.parse_box({name: cleaned[name] for name in BOX_FIELDS}, "box")
        return cleaned

    def _post_clean(self):
        # When parse_box has said what is wrong, the model's check constraint
        # (the same rule) would only add a vaguer copy of it.
        if not self.non_field_errors():
            super()._post_clean()


class TruthBoxFormSet(BaseInlineFormSet):
    def boxes(self) -> list[dict[str, float]]:
        return [
            {name: form.cleaned_data[name] for name in BOX_FIELDS}
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        if self.instance.kind == TaskKind.DRAW:
            wire.parse_boxes(self.boxes(), "truth boxes")
        elif self.boxes():
            raise ValidationError("A compare example's truth is one of its two items; it takes no truth boxes.")


class TruthBoxInline(admin.TabularInline):
    model = TruthBox
    form = TruthBoxForm
    formset = TruthBoxFormSet
    fields = list(BOX_FIELDS)
    verbose_name_plural = "truth boxes"
    extra = 1
    max_num = wire.MAX_BOXES


class ExampleAddForm(forms.ModelForm):
    truth = forms.ChoiceField(
        required=False,
        choices=[("", "---------"), ("first", "The first item"), ("second", "The second item")],
        help_text="Compare examples: which item is right.",
    )


@admin.register(QualificationExample)
class QualificationExampleAdmin(ScopedAdmin):
    owner_path = "audience__owner"
    list_display = ["instruction", "audience", "kind", "truth", "created_at"]
    list_filter = ["kind", ("audience", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["instruction", "public_id"]
    autocomplete_fields = ["asset", "asset_b"]
    service_fields = {"datapoint": "asset"}
    draw_fields = ["required_precision", "required_completeness"]

    def get_queryset(self, request):
        return (
            super().get_queryset(request).select_related("audience", "asset", "asset_b").prefetch_related("truth_boxes")
        )

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ExampleAddForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return [
                "audience",
                "kind",
                "instruction",
                "context",
                "asset",
                "asset_b",
                "truth",
                *self.draw_fields,
                "explanation",
            ]
        per_kind = self.draw_fields if obj.kind == TaskKind.DRAW else []
        return [
            "public_id",
            "audience",
            "kind",
            "instruction",
            "context",
            "large_truth",
            *per_kind,
            "explanation",
            "created_at",
        ]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else ["public_id", "audience", "kind", "large_truth", "created_at"]

    def get_inlines(self, request, obj):
        return [TruthBoxInline] if obj is None or obj.kind == TaskKind.DRAW else []

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "audience":
            audiences = self.admin_site.get_model_admin(Audience)
            kwargs["queryset"] = Audience.objects.filter(audiences.editable_q(request.user))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description="items and truth")
    def truth(self, example):
        return example_preview(example)

    @admin.display(description="items and truth")
    def large_truth(self, example):
        return example_preview(example, size=LARGE_THUMBNAIL_SIZE)

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
        # A new example is made by save_related, which has its truth boxes.

    def construct_change_message(self, request, form, formsets, add=False):
        if add:  # the service, not the formset, made the truth boxes
            return [{"added": {}}]
        return super().construct_change_message(request, form, formsets, add)

    def save_related(self, request, form, formsets, change):
        if change:
            return super().save_related(request, form, formsets, change)
        data = form.cleaned_data
        audience = data["audience"]
        common = {
            "audience": audience,
            "owner": audience.owner or request.user,  # curated audiences use the operator's assets
            "instruction": data["instruction"],
            "context": data["context"],
            "explanation": data["explanation"],
        }
        items = [{"asset_id": asset.public_id} for asset in (data["asset"], data["asset_b"]) if asset]
        if data["kind"] == TaskKind.DRAW:
            (truth_boxes,) = formsets
            example = example_add_draw(
                **common,
                datapoint=items,
                truths=truth_boxes.boxes(),
                required_precision=data["required_precision"],
                required_completeness=data["required_completeness"],
            )
        else:
            truth = {"first": items[0], "second": items[-1]}.get(data["truth"], "")
            example = example_add_compare(**common, datapoint=items, truth=truth)
        adopt(form.instance, example)


# --- memberships --------------------------------------------------------------------------


@admin.register(Membership)
class MembershipAdmin(ScopedAdmin):
    """Labelers in audiences. Requesters see the members of their own
    audiences under pseudonyms, read-only; operators see everyone and can
    drop or reinstate a labeler."""

    owner_path = "audience__owner"
    list_display = ["labeler_name", "audience", "state", "user_score", "answers", "accuracy_shown", "updated_at"]
    list_filter = ["state", "audience__kind"]
    list_select_related = ["audience", "labeler"]
    search_fields = ["audience__name", "audience__public_id"]
    fields = ["labeler_name", "audience", "state", "user_score", "answers", "correct", "created_at", "decided_at"]
    readonly_fields = fields
    actions = ["drop", "reinstate"]

    @admin.display(description="labeler")
    def labeler_name(self, obj: Membership) -> str:
        return labeler_anonymous_id(obj.labeler_id)

    @admin.display(description="accuracy")
    def accuracy_shown(self, obj: Membership) -> str:
        return "—" if obj.accuracy is None else f"{obj.accuracy:.0%}"

    def get_list_display(self, request):
        return labeler_column(request, super().get_list_display(request))

    def get_fields(self, request, obj=None):
        return labeler_column(request, super().get_fields(request, obj))

    def get_readonly_fields(self, request, obj=None):
        return labeler_column(request, super().get_readonly_fields(request, obj))

    def get_search_fields(self, request):
        return [*self.search_fields, "labeler__username"] if request.user.is_superuser else self.search_fields

    def get_actions(self, request):
        return super().get_actions(request) if request.user.is_superuser else {}

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def _set_state(self, request, queryset, state: str) -> None:
        changed = 0
        for membership in queryset.select_related("audience"):
            try:
                membership_set_state(membership=membership, state=state)
                changed += 1
            except ValidationError as refusal:
                self.message_user(request, f"{membership.audience}: {' '.join(refusal.messages)}", level="error")
        self.message_user(request, f"{changed} membership(s) now {state}.")

    @admin.action(description="Drop the selected labelers from their audience")
    def drop(self, request, queryset):
        self._set_state(request, queryset, Membership.State.DROPPED)

    @admin.action(description="Reinstate the selected labelers as graduated")
    def reinstate(self, request, queryset):
        self._set_state(request, queryset, Membership.State.GRADUATED)
