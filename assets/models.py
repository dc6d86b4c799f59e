"""Assets, the items labelers are shown (an uploaded image, an image URL or a
text), and the two task kinds.

Below both audiences (qualification examples) and jobs (datapoints). The
``Asset`` model belongs to the ``jobs`` app by label: its table, migrations
and permissions stay where they have always been.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from core import ids

from . import wire


class TaskKind(models.TextChoices):
    DRAW = "draw", "Draw"
    COMPARE = "compare", "Compare"


class Asset(models.Model):
    """An item shown to labelers: an uploaded image, an image URL or a text.

    Uploaded images are stored once under their content hash; ``key`` is the
    hash of what identifies the asset (the bytes, the URL or the text), so the
    same item given twice by one owner is one asset.
    """

    class Kind(models.TextChoices):
        IMAGE = "image", "Uploaded image"
        URL = "url", "URL"
        TEXT = "text", "Text"

    public_id = models.CharField(max_length=40, unique=True, default=ids.asset_id, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assets")
    kind = models.CharField(max_length=5, choices=Kind.choices)
    key = models.CharField(max_length=64, help_text="sha256 of the identifying content")
    file = models.FileField(upload_to="assets/", max_length=200, blank=True)
    name = models.CharField(max_length=255, blank=True, help_text="original file name of an upload")
    content_type = models.CharField(max_length=40, blank=True)
    byte_size = models.PositiveBigIntegerField(null=True, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    url = models.URLField(max_length=wire.MAX_URL_LENGTH, blank=True)
    text = models.TextField(max_length=wire.MAX_TEXT_ITEM_LENGTH, blank=True)
    known_regions = models.JSONField(
        null=True,
        blank=True,
        help_text=(
            "Boxes known to hold the target, recorded by image generators (the demo) "
            "for simulated labelers. Never sent to labelers."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # Registered with the jobs app, whose table (jobs_asset), migrations
        # and permissions it has always had.
        app_label = "jobs"
        constraints = [
            models.UniqueConstraint(fields=["owner", "key"], name="asset_unique_per_owner"),
            models.CheckConstraint(
                name="asset_kind_has_content",
                condition=(
                    (
                        Q(kind="image")
                        & ~Q(file="")
                        & Q(width__isnull=False, width__gt=0)
                        & Q(height__isnull=False, height__gt=0)
                    )
                    | (Q(kind="url") & ~Q(url=""))
                    | (Q(kind="text") & ~Q(text=""))
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.value[:80]

    @property
    def value(self) -> str:
        """The item as a requester names it: the URL, the text or the file name."""
        if self.kind == self.Kind.URL:
            return self.url
        if self.kind == self.Kind.TEXT:
            return self.text
        return self.name or self.file.name.rsplit("/", 1)[-1]

    @property
    def labeler_value(self) -> str:
        """What a labeler's browser gets for this item, and sends back as a
        compare choice: the URL, the text, or the stored image's URL (named
        by content hash, so it says nothing about the datapoint)."""
        if self.kind == self.Kind.IMAGE:
            return settings.MEDIA_URL + self.file.name
        return self.value

    @property
    def is_image(self) -> bool:
        return self.kind in (self.Kind.IMAGE, self.Kind.URL)


def compare_items_constraints(prefix: str) -> list[models.BaseConstraint]:
    """Draw rows carry one asset; compare rows two distinct ones."""
    return [
        models.CheckConstraint(
            name=f"{prefix}_items_match_kind",
            condition=(
                (Q(kind=TaskKind.DRAW) & Q(asset_b__isnull=True))
                | (Q(kind=TaskKind.COMPARE) & Q(asset_b__isnull=False) & ~Q(asset_b=F("asset")))
            ),
        ),
    ]


class UrlFetch(models.Model):
    """One URL the server fetches for ``owner`` (of a compatible API batch,
    or alone), and how it went: Completed with its asset, or Failed saying why."""

    class Status(models.TextChoices):
        PENDING = "Pending"
        COMPLETED = "Completed"
        FAILED = "Failed"

    batch = models.ForeignKey(
        "compat.BatchUpload", on_delete=models.CASCADE, related_name="items", null=True, blank=True
    )
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField(default=0)
    url = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    # A fetch whose asset is deleted is gone with it: asked again, the URL is fetched again.
    asset = models.ForeignKey("jobs.Asset", on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    error_message = models.TextField(blank=True)
    stage = models.CharField(max_length=20, blank=True)
    upstream_status = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # The compatible API's table by label (compat_urlfetch, its migrations),
        # as Asset is the jobs app's; kept here so our own API fetches with it too.
        app_label = "compat"
        ordering = ["batch", "position", "id"]
        indexes = [models.Index(fields=["owner", "status"])]
        constraints = [
            models.CheckConstraint(
                name="url_fetch_completed_has_asset",
                condition=~Q(status="Completed") | Q(asset__isnull=False),
            ),
        ]
