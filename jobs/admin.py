"""Admin for assets, job definitions (datapoints inline), jobs and responses.

Scoping and writes through services come from ``core.admin_base``.
Definitions arrive with their datapoints through the API, and no service
changes a definition, an asset or a job's state yet, so those pages are
read-only; jobs are created here through ``job_create``.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count, Sum
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from assets import wire
from assets.models import Asset, TaskKind
from assets.previews import LARGE_THUMBNAIL_SIZE, THUMBNAIL_SIZE, Shown, assets_preview
from assets.services import asset_upload, assets_from_items
from core import validation
from core.admin_base import ReadOnlyInline, ScopedAdmin, adopt, labeler_column
from core.errors import DomainError
from core.pseudonyms import labeler_anonymous_id

from .models import Datapoint, Job, JobDefinition, Response
from .services import job_create, job_set_paused

# --- how assets look in the admin ---------------------------------------------------


def datapoint_preview(datapoint: Datapoint, *, size: int = THUMBNAIL_SIZE) -> SafeString:
    shown = [Shown(asset) for asset in datapoint.assets]
    if datapoint.media_context_id:
        shown.append(Shown(datapoint.media_context, caption="media context"))
    return assets_preview(shown, size=size)


def progress_bar(collected: int, needed: int) -> SafeString:
    percent = min(100, round(100 * collected / needed)) if needed else 100
    return format_html(
        '<progress class="cc-progress" value="{}" max="{}">{}%</progress> {}% ({} / {})',
        collected,
        needed,
        percent,
        percent,
        collected,
        needed,
    )


# --- assets ---------------------------------------------------------------------------


class AssetAddForm(forms.ModelForm):
    upload = forms.FileField(required=False, help_text="An image (JPEG, PNG, WebP or GIF).")
    item = forms.CharField(
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Or an image URL (http/https), or a text item.",
    )

    class Meta:
        model = Asset
        fields: list[str] = []

    def clean(self):
        cleaned = super().clean()
        if bool(cleaned.get("upload")) == bool(cleaned.get("item")):
            raise ValidationError("Give either an image file or a URL / text item.")
        return cleaned


@admin.register(Asset)
class AssetAdmin(ScopedAdmin):
    form = AssetAddForm
    list_display = ["preview", "public_id", "kind", "created_at"]
    list_filter = ["kind"]
    search_fields = ["public_id", "name", "url", "text"]
    service_fields = {"file": "upload"}

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["upload", "item"]
        details = {
            Asset.Kind.IMAGE: ["name", "content_type", "width", "height", "byte_size"],
            Asset.Kind.URL: ["url"],
            Asset.Kind.TEXT: ["text"],
        }[obj.kind]
        return ["public_id", "kind", "large_preview", *details, "created_at"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.get_fields(request, obj)

    def has_change_permission(self, request, obj=None):
        return False  # assets never change once made

    @admin.display(description="preview")
    def preview(self, asset):
        return assets_preview([Shown(asset)])

    @admin.display(description="preview")
    def large_preview(self, asset):
        return assets_preview([Shown(asset)], size=LARGE_THUMBNAIL_SIZE)

    def save_model(self, request, obj, form, change):
        upload, item = form.cleaned_data["upload"], form.cleaned_data["item"]
        if upload:
            asset = asset_upload(owner=request.user, upload=upload)
        else:
            with validation.field("item"):
                spec = wire.parse_item(item, "item")
            (asset,) = assets_from_items(owner=request.user, specs=[spec], where="item")
        adopt(obj, asset)


# --- job definitions -------------------------------------------------------------------


class DatapointInline(ReadOnlyInline):
    model = Datapoint
    fields = ["items", "context"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("asset", "asset_b", "media_context")

    @admin.display(description="items")
    def items(self, datapoint):
        return datapoint_preview(datapoint)


@admin.register(JobDefinition)
class JobDefinitionAdmin(ScopedAdmin):
    list_display = ["name", "kind", "datapoint_count", "responses_per_datapoint", "owner", "created_at"]
    list_filter = ["kind"]
    search_fields = ["name", "public_id"]
    inlines = [DatapointInline]

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related("owner")
        # An aggregate drops Meta.ordering; autocomplete pages need it.
        return queryset.annotate(datapoint_count=Count("datapoints")).order_by(*self.opts.ordering)

    def get_fields(self, request, obj=None):
        per_kind = ["confidence_threshold"] if obj and obj.kind == TaskKind.COMPARE else ["draw_aggregation"]
        return [
            "public_id",
            "name",
            "kind",
            "instruction",
            "responses_per_datapoint",
            *per_kind,
            "datapoint_count",
            *self.owner_fields(request),
            "created_at",
        ]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    def has_add_permission(self, request):
        return False  # definitions come with their datapoints, through the API

    def has_change_permission(self, request, obj=None):
        return False  # no service changes a definition

    @admin.display(description="datapoints", ordering="datapoint_count")
    def datapoint_count(self, definition):
        return definition.datapoint_count


# --- jobs ------------------------------------------------------------------------------


@admin.register(Job)
class JobAdmin(ScopedAdmin):
    list_display = ["name", "audience", "state", "progress", "owner", "created_at"]
    list_filter = ["state", ("audience", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["public_id", "definition__name", "audience__name"]
    autocomplete_fields = ["definition"]
    service_fields = {"job_definition": "definition"}

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("definition", "audience", "owner")
            .annotate(collected=Coalesce(Sum("job_datapoints__response_count"), 0))
            .order_by(*self.opts.ordering)  # an aggregate drops Meta.ordering
        )

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["definition", "audience"]
        return [
            "public_id",
            "definition",
            "audience",
            *self.owner_fields(request),
            "state",
            "progress",
            "responses",
            "created_at",
            "completed_at",
        ]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.get_fields(request, obj)

    actions = ["pause", "resume"]

    def has_change_permission(self, request, obj=None):
        return False  # a job changes only through the pause and resume actions

    def has_pause_permission(self, request) -> bool:
        """Anyone who sees jobs may pause and resume them; the queryset holds only their own."""
        return self.has_view_permission(request)

    def _set_paused(self, request, queryset, paused: bool) -> None:
        changed = 0
        for job in queryset.select_related("audience"):
            try:
                job_set_paused(job=job, paused=paused)
                changed += 1
            except DomainError as refusal:
                self.message_user(request, f"{job.definition.name}: {refusal.message}", level="error")
        self.message_user(request, f"{changed} job(s) {'paused' if paused else 'resumed'}.")

    @admin.action(description="Pause the selected jobs", permissions=["pause"])
    def pause(self, request, queryset):
        self._set_paused(request, queryset, paused=True)

    @admin.action(description="Resume the selected jobs", permissions=["pause"])
    def resume(self, request, queryset):
        self._set_paused(request, queryset, paused=False)

    @admin.display(description="job", ordering="definition__name")
    def name(self, job):
        return job.definition.name

    @admin.display(description="progress", ordering="collected")
    def progress(self, job):
        return progress_bar(job.collected, job.responses_needed)

    @admin.display(description="responses")
    def responses(self, job):
        url = reverse("admin:jobs_response_changelist") + f"?job__id__exact={job.pk}"
        return format_html('<a href="{}">{} responses</a>', url, job.collected)

    def save_model(self, request, obj, form, change):
        definition = form.cleaned_data["definition"]
        # An operator assigns a definition on behalf of its owner.
        owner = definition.owner if request.user.is_superuser else request.user
        adopt(obj, job_create(owner=owner, definition=definition, audience=form.cleaned_data["audience"]))


# --- responses ---------------------------------------------------------------------------


@admin.register(Response)
class ResponseAdmin(ScopedAdmin):
    """Responses come from labelers only; here they are read, never written."""

    owner_path = "job__owner"
    list_display = ["public_id", "job", "labeler_name", "user_score", "time_spent_ms", "created_at"]
    list_select_related = ["job__definition", "job__audience", "labeler"]
    search_fields = ["public_id", "job__public_id"]
    fields = [
        "public_id",
        "job",
        "job_datapoint",
        "labeler_name",
        "payload",
        "user_score",
        "time_spent_ms",
        "created_at",
    ]
    readonly_fields = fields

    @admin.display(description="labeler")
    def labeler_name(self, obj: Response) -> str:
        """Requesters see a pseudonym, as in results; operators the account."""
        return labeler_anonymous_id(obj.labeler_id)

    def get_list_display(self, request):
        return labeler_column(request, super().get_list_display(request))

    def get_fields(self, request, obj=None):
        return labeler_column(request, super().get_fields(request, obj))

    def get_readonly_fields(self, request, obj=None):
        return labeler_column(request, super().get_readonly_fields(request, obj))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
