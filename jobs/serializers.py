"""The requester API's serializers: inputs (checked before any service runs)
and the shapes of its replies (for the schema and the docs)."""

from __future__ import annotations

from django.db import models
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_field
from rest_framework import serializers

from assets import fetches, wire
from assets.api_fields import UPLOAD_ITEM_SCHEMA
from assets.models import Asset, TaskKind
from core.api_common import (
    MAX_PAGE,
    FindQuerySerializer,
    RawCharField,
    RawChoiceField,
    RawFloatField,
    RawIntegerField,
    RawJSONField,
    StrictInputSerializer,
    page_serializer,
)

from . import selectors, services
from .models import Job, JobDefinition

PAYLOAD_FIELD = "payload"


@extend_schema_field(
    {
        "type": "array",
        "minItems": 1,
        "maxItems": services.MAX_DATAPOINTS,
        "description": "draw: one image item per datapoint; compare: a pair of items per datapoint",
        "items": {
            "oneOf": [
                *UPLOAD_ITEM_SCHEMA["oneOf"],
                {"type": "array", "items": UPLOAD_ITEM_SCHEMA, "minItems": 2, "maxItems": 2},
            ]
        },
    }
)
class DatapointsField(RawJSONField):
    pass


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "string", "maxLength": wire.MAX_CONTEXT_LENGTH, "nullable": True},
        "description": "one text per datapoint, shown with it (null or empty for none)",
    }
)
class ContextsField(RawJSONField):
    pass


@extend_schema_field(
    {
        "type": "array",
        "items": {**UPLOAD_ITEM_SCHEMA, "nullable": True},
        "description": "one image per datapoint (or null), shown beside it",
    }
)
class MediaContextsField(RawJSONField):
    pass


class AssetUploadSerializer(StrictInputSerializer):
    """One image, sent as multipart/form-data."""

    file = serializers.FileField(help_text="one image: JPEG, PNG, WebP or GIF")
    name = serializers.CharField(
        required=False, max_length=255, help_text="file name to record (default: the uploaded file's name)"
    )


class AssetSerializer(serializers.Serializer):
    """An uploaded image; refer to it in items as `{"asset_id": id}`."""

    id = serializers.CharField(source="public_id")
    kind = serializers.ChoiceField(choices=Asset.Kind.choices)
    name = serializers.CharField()
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)
    content_type = serializers.CharField()
    byte_size = serializers.IntegerField(allow_null=True)
    created = serializers.DateTimeField(source="created_at")


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "string", "maxLength": wire.MAX_URL_LENGTH},
        "minItems": 1,
        "maxItems": fetches.MAX_FETCH_URLS,
        "description": f"1..{fetches.MAX_FETCH_URLS} http(s) image URLs",
    }
)
class FetchUrlsField(RawJSONField):
    pass


class AssetFetchSerializer(StrictInputSerializer):
    """Image URLs for the server to fetch and store (each once by content hash)."""

    urls = FetchUrlsField()
    wait = serializers.FloatField(
        required=False,
        default=fetches.MAX_WAIT_SECONDS,
        min_value=0,
        max_value=fetches.MAX_WAIT_SECONDS,
        help_text="seconds to wait for the fetches before answering 202 (ask again with the same URLs)",
    )


class UrlFetchSerializer(serializers.Serializer):
    """One URL's fetch: its asset once completed; pending means ask again."""

    url = serializers.CharField()
    status = serializers.SerializerMethodField()
    asset_id = serializers.CharField(source="asset.public_id", allow_null=True, default=None)

    def get_status(self, fetch) -> str:
        return fetch.status.lower()


class AssetFetchResultSerializer(serializers.Serializer):
    """Each URL's fetch, in the order sent."""

    fetches = UrlFetchSerializer(many=True)
    pending = serializers.IntegerField(help_text="how many are still being fetched (202)")


class JobDefinitionCreateSerializer(StrictInputSerializer):
    """A job definition: what to ask about which datapoints, and how many answers to collect."""

    kind = RawChoiceField(choices=TaskKind.choices)
    name = RawCharField(max_length=wire.MAX_NAME_LENGTH)
    instruction = RawCharField(
        max_length=wire.MAX_INSTRUCTION_LENGTH, help_text='what labelers do, e.g. "Color in all the blue books"'
    )
    datapoints = DatapointsField()
    contexts = ContextsField(required=False, allow_null=True)
    media_contexts = MediaContextsField(required=False, allow_null=True)
    responses_per_datapoint = RawIntegerField(
        required=False, min_value=1, max_value=services.MAX_RESPONSES_PER_DATAPOINT, help_text="default 10"
    )
    confidence_threshold = RawFloatField(
        required=False,
        allow_null=True,
        min_value=0,
        max_value=1,
        help_text="compare only, in (0, 1): stop a datapoint once its leader is this certain",
    )
    draw_aggregation = RawChoiceField(
        choices=JobDefinition.DrawAggregation.choices, required=False, help_text="draw only; default majority"
    )
    client_key = RawCharField(
        required=False,
        max_length=services.MAX_CLIENT_KEY_LENGTH,
        help_text="a key of your choosing, new for each definition: the request sent again with it (its reply "
        "lost) returns the definition made the first time instead of a second one",
    )


class DatapointBatchSerializer(StrictInputSerializer):
    """More datapoints for a definition no job runs yet, from position `start` on."""

    start = RawIntegerField(
        min_value=0,
        max_value=services.MAX_DATAPOINTS,
        help_text="the position of the batch's first datapoint: the definition's datapoint "
        "count, or less for a batch sent again",
    )
    datapoints = DatapointsField()
    contexts = ContextsField(required=False, allow_null=True)
    media_contexts = MediaContextsField(required=False, allow_null=True)


class DatapointBatchResultSerializer(serializers.Serializer):
    added = serializers.IntegerField(help_text="datapoints new in this batch (0: it had been stored already)")
    datapoint_count = serializers.IntegerField(help_text="the definition's datapoints now")


class JobDefinitionSerializer(serializers.Serializer):
    """A job definition; assign it to an audience to run it."""

    id = serializers.CharField(source="public_id")
    kind = serializers.ChoiceField(choices=TaskKind.choices)
    name = serializers.CharField()
    instruction = serializers.CharField()
    responses_per_datapoint = serializers.IntegerField()
    confidence_threshold = serializers.FloatField(allow_null=True)
    draw_aggregation = serializers.ChoiceField(choices=JobDefinition.DrawAggregation.choices)
    datapoint_count = serializers.IntegerField()
    preview_url = serializers.SerializerMethodField(help_text="open to see the tasks as labelers will")
    created = serializers.DateTimeField(source="created_at")

    @extend_schema_field(OpenApiTypes.URI)
    def get_preview_url(self, definition: JobDefinition) -> str:
        path = reverse("labeling:preview", kwargs={"definition_id": definition.public_id})
        return self.context["request"].build_absolute_uri(path)


JobDefinitionPageSerializer = page_serializer("JobDefinitionPage", JobDefinitionSerializer(many=True))


MULTIPART_DEFINITION_SCHEMA = {
    "type": "object",
    "description": (
        f"The definition as JSON text in `{PAYLOAD_FIELD}` (the same body as the JSON request); every "
        'other field is an image file, named by a datapoint item `{"file": "<field name>"}`.'
    ),
    "properties": {PAYLOAD_FIELD: {"type": "string", "description": "JobDefinitionCreate as JSON"}},
    "required": [PAYLOAD_FIELD],
    "additionalProperties": {"type": "string", "format": "binary"},
}


class JobCreateSerializer(StrictInputSerializer):
    """Which definition to run on which audience."""

    job_definition = serializers.CharField(max_length=100, help_text="id of one of your job definitions")
    audience = serializers.CharField(max_length=100, help_text='audience id; "global" for every labeler')


class JobDefinitionRefSerializer(serializers.Serializer):
    """The job's definition."""

    id = serializers.CharField(source="public_id")
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=TaskKind.choices)


class AudienceRefSerializer(serializers.Serializer):
    """The audience the job runs on."""

    id = serializers.CharField(source="public_id")
    name = serializers.CharField()
    kind = serializers.CharField()


class JobSerializer(serializers.Serializer):
    """A job: a definition running on an audience (running, paused, completed or failed)."""

    id = serializers.CharField(source="public_id")
    state = serializers.ChoiceField(choices=Job.State.choices)
    definition = JobDefinitionRefSerializer()
    audience = AudienceRefSerializer()
    responses_needed = serializers.IntegerField(help_text="datapoints x responses per datapoint")
    created = serializers.DateTimeField(source="created_at")
    completed = serializers.DateTimeField(source="completed_at", allow_null=True)


JobPageSerializer = page_serializer("JobPage", JobSerializer(many=True))


class JobFindQuerySerializer(FindQuerySerializer):
    name = serializers.CharField(
        required=False,
        default="",
        allow_blank=True,
        max_length=200,
        help_text="case-insensitive substring of the definition's name",
    )
    state = serializers.ChoiceField(choices=Job.State.choices, required=False)
    job_definition = serializers.CharField(required=False, max_length=100, help_text="a definition id")
    audience = serializers.CharField(required=False, max_length=100, help_text="an audience id")


class ProgressAudienceSerializer(serializers.Serializer):
    """The job's audience with its members by state."""

    id = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.CharField()
    graduated = serializers.IntegerField(help_text="members who can work on the job")
    qualifying = serializers.IntegerField(help_text="members still answering qualification examples")
    dropped = serializers.IntegerField()


class JobProgressSerializer(serializers.Serializer):
    """How far a job is."""

    job_id = serializers.CharField()
    state = serializers.ChoiceField(choices=Job.State.choices)
    datapoints_total = serializers.IntegerField()
    datapoints_done = serializers.IntegerField(help_text="datapoints that take no more responses")
    responses_collected = serializers.IntegerField()
    responses_needed = serializers.IntegerField(
        help_text="open datapoints count their responses per datapoint, closed ones what they got"
    )
    completion_percentage = serializers.FloatField(help_text="0-100; 100 once the job is completed")
    responses_per_minute = serializers.FloatField(
        help_text="responses in the last 5 minutes / 5 (over the job's life while it is younger)"
    )
    eta_seconds = serializers.IntegerField(
        allow_null=True, help_text="remaining responses at that pace; null when the pace is 0 or the job is not running"
    )
    audience = ProgressAudienceSerializer()
    last_response_at = serializers.DateTimeField(allow_null=True)
    created = serializers.DateTimeField()
    completed = serializers.DateTimeField(allow_null=True)


class ResultsInfoSerializer(serializers.Serializer):
    """What the results are of."""

    jobId = serializers.CharField()
    definitionId = serializers.CharField()
    name = serializers.CharField()
    type = serializers.ChoiceField(choices=TaskKind.choices)
    instruction = serializers.CharField()
    responsesPerDatapoint = serializers.IntegerField()
    audienceId = serializers.CharField()
    state = serializers.ChoiceField(choices=Job.State.choices)
    created = serializers.DateTimeField()
    completed = serializers.DateTimeField(allow_null=True)
    aggregatorVersion = serializers.CharField(help_text="version of the aggregation that made the results")
    drawAlgorithm = serializers.ChoiceField(
        choices=JobDefinition.DrawAggregation.choices,
        required=False,
        help_text="draw jobs only: how the consensus is computed",
    )


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {"type": "integer"},
        "description": "item name -> votes; null until the datapoint's result is in",
        "nullable": True,
    }
)
class ItemCountsField(serializers.JSONField):
    pass


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {"type": "number"},
        "description": "item name -> value; null until the datapoint's result is in",
        "nullable": True,
    }
)
class ItemNumbersField(serializers.JSONField):
    pass


class CompareDetailSerializer(serializers.Serializer):
    """One labeler's vote."""

    votedFor = serializers.CharField(help_text="the chosen item, named as you gave it")
    userScore = serializers.FloatField(help_text="the labeler's user score when answering (0..1)")
    labeler = serializers.CharField(help_text="stable pseudonym of the labeler")
    timeSpentMs = serializers.IntegerField()
    created = serializers.DateTimeField()


class CompareDatapointResultSerializer(serializers.Serializer):
    """One compare datapoint with its votes and their aggregates (null until its result is in)."""

    position = serializers.IntegerField()
    items = serializers.ListField(
        child=serializers.CharField(),
        min_length=2,
        max_length=2,
        help_text="the two items as given: URL, text or uploaded file name",
    )
    context = serializers.CharField(allow_blank=True)
    mediaContext = serializers.CharField(allow_null=True)
    responses = serializers.IntegerField(help_text="responses collected")
    aggregatedResponses = serializers.IntegerField(  # noqa: N815 - the results document is camelCase
        help_text="responses the aggregates below include (behind `responses` while workers catch up)"
    )
    stoppedEarly = serializers.BooleanField(help_text="closed by the confidence threshold")
    aggregatedResults = ItemCountsField()
    aggregatedResultsRatios = ItemNumbersField()
    summedUserScores = ItemNumbersField()
    summedUserScoresRatios = ItemNumbersField()
    winner = serializers.CharField(allow_null=True, help_text="the item with most votes; null on a tie")
    weightedWinner = serializers.CharField(
        allow_null=True, help_text="the item with the highest summed user score; null on a tie"
    )
    confidence = serializers.FloatField(
        allow_null=True, help_text="posterior probability that the leading item is the better one"
    )
    detailedResults = CompareDetailSerializer(many=True)


class RleSerializer(serializers.Serializer):
    """A COCO uncompressed RLE mask: column-major run lengths, starting with zeros."""

    size = serializers.ListField(child=serializers.IntegerField(), min_length=2, max_length=2, help_text="[rows, cols]")
    counts = serializers.ListField(child=serializers.IntegerField())


class RatioBoxSerializer(serializers.Serializer):
    """A box as ratios of the image (0..1)."""

    x_min = serializers.FloatField()
    y_min = serializers.FloatField()
    x_max = serializers.FloatField()
    y_max = serializers.FloatField()


@extend_schema_field(
    {
        "type": "array",
        "items": {
            "type": "object",
            "description": "a stroke: brush diameter as a ratio of the image width, points as ratios",
            "properties": {
                "size": {"type": "number"},
                "points": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
                        "required": ["x", "y"],
                    },
                },
            },
            "required": ["size", "points"],
        },
    }
)
class LinesField(serializers.JSONField):
    pass


class DrawDetailSerializer(serializers.Serializer):
    """One labeler's strokes."""

    labeler = serializers.CharField(help_text="stable pseudonym of the labeler")
    userScore = serializers.FloatField(help_text="the labeler's user score when answering (0..1)")
    lines = LinesField()
    timeSpentMs = serializers.IntegerField()
    created = serializers.DateTimeField()


class DrawDatapointResultSerializer(serializers.Serializer):
    """One draw datapoint with its responses and their consensus (null until its result is in)."""

    position = serializers.IntegerField()
    item = serializers.CharField(help_text="the image as given: URL or uploaded file name")
    context = serializers.CharField(allow_blank=True)
    mediaContext = serializers.CharField(allow_null=True)
    imageSize = serializers.ListField(
        child=serializers.IntegerField(),
        min_length=2,
        max_length=2,
        allow_null=True,
        help_text="[width, height] in pixels; null for URL images",
    )
    responses = serializers.IntegerField(help_text="responses collected")
    aggregatedResponses = serializers.IntegerField(  # noqa: N815 - the results document is camelCase
        help_text="responses the aggregates below include (behind `responses` while workers catch up)"
    )
    gridSize = serializers.ListField(
        child=serializers.IntegerField(),
        min_length=2,
        max_length=2,
        help_text="[rows, cols] of the grid strokes are rasterized on",
    )
    consensusMask = RleSerializer(allow_null=True, help_text="cells at least half the weight inked, at grid size")
    consensusBoxes = RatioBoxSerializer(
        many=True, allow_null=True, help_text="bounding boxes of the consensus's regions, largest first"
    )
    agreement = serializers.FloatField(allow_null=True, help_text="mean IoU of the responses with the consensus")
    summedUserScores = serializers.FloatField(allow_null=True)
    heatmapUrl = serializers.URLField(help_text="PNG overlay of the share of weight inking each cell")
    detailedResults = DrawDetailSerializer(many=True)


class RankedItemSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    item = serializers.CharField()
    score = serializers.FloatField(help_text="centered Bradley-Terry log-strength")
    wins = serializers.IntegerField()
    comparisons = serializers.IntegerField()


class RankingSerializer(serializers.Serializer):
    """Bradley-Terry ranking of every item of the job over all votes."""

    method = serializers.CharField()
    regularized = serializers.BooleanField(help_text="a weak prior was needed for finite scores")
    comparisons = serializers.IntegerField(help_text="votes the ranking includes")
    items = RankedItemSerializer(many=True)
    state = serializers.ChoiceField(
        choices=["ready", "computing"],
        help_text="ready: the ranking includes every vote; computing: a worker is bringing it up to date, and "
        "this is the ranking of the votes it last included (no items before the first)",
    )


class CompareSummarySerializer(serializers.Serializer):
    """Job-wide compare results."""

    datapoints = serializers.IntegerField()
    responses = serializers.IntegerField()
    ranking = RankingSerializer(allow_null=True)


class DrawSummarySerializer(serializers.Serializer):
    """Job-wide draw results."""

    datapoints = serializers.IntegerField()
    responses = serializers.IntegerField()
    meanAgreement = serializers.FloatField(allow_null=True, help_text="mean agreement of datapoints with a result")


class JobResultsSerializer(serializers.Serializer):
    """A job's aggregated results so far (camelCase, as the hosted service's result format)."""

    info = ResultsInfoSerializer()
    count = serializers.IntegerField(required=False, help_text="paged requests only: datapoints in all")
    page = serializers.IntegerField(required=False, help_text="paged requests only")
    pageSize = serializers.IntegerField(required=False, help_text="paged requests only")
    results = PolymorphicProxySerializer(
        component_name="DatapointResult",
        serializers=[CompareDatapointResultSerializer, DrawDatapointResultSerializer],
        resource_type_field_name=None,
        many=True,
    )
    summary = PolymorphicProxySerializer(
        component_name="ResultsSummary",
        serializers=[CompareSummarySerializer, DrawSummarySerializer],
        resource_type_field_name=None,
    )


class CocoInfoSerializer(serializers.Serializer):
    description = serializers.CharField()
    version = serializers.CharField(help_text="the aggregator version")
    date_created = serializers.DateTimeField()


class CocoImageSerializer(serializers.Serializer):
    """One datapoint's image."""

    id = serializers.IntegerField(help_text="the datapoint's position + 1")
    file_name = serializers.CharField(help_text="the image as given: URL or uploaded file name")
    width = serializers.IntegerField(help_text="pixels when known; else the grid's columns")
    height = serializers.IntegerField(help_text="pixels when known; else the grid's rows")


class CocoCategorySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(help_text="the job's instruction")
    supercategory = serializers.CharField(allow_blank=True)


class CocoAnnotationSerializer(serializers.Serializer):
    """A consensus mask (iscrowd 1, with its RLE segmentation) or a consensus box (iscrowd 0, bbox only)."""

    id = serializers.IntegerField()
    image_id = serializers.IntegerField()
    category_id = serializers.IntegerField()
    segmentation = RleSerializer(required=False, help_text="masks only: uncompressed RLE at the image's size")
    area = serializers.FloatField(help_text="pixels")
    bbox = serializers.ListField(
        child=serializers.FloatField(), min_length=4, max_length=4, help_text="[x, y, width, height] in pixels"
    )
    iscrowd = serializers.IntegerField()


class CocoDatasetSerializer(serializers.Serializer):
    """A draw job's consensus as a COCO dataset."""

    info = CocoInfoSerializer()
    licenses = serializers.ListField(child=serializers.DictField(), max_length=0)
    images = CocoImageSerializer(many=True)
    categories = CocoCategorySerializer(many=True)
    annotations = CocoAnnotationSerializer(many=True)


class ResultsQuerySerializer(serializers.Serializer):
    page = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_PAGE,
        help_text="1-based page of datapoints; without page and page_size, all of them",
    )
    page_size = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=selectors.RESULTS_MAX_PAGE_SIZE,
        help_text=f"datapoints per page (default {selectors.RESULTS_PAGE_SIZE}, "
        f"at most {selectors.RESULTS_MAX_PAGE_SIZE})",
    )


class ExportFormat(models.TextChoices):
    JSON = "json", "The results document"
    CSV = "csv", "Compare jobs: one row per datapoint"
    COCO = "coco", "Draw jobs: a COCO dataset of the consensus"


class DownloadQuerySerializer(serializers.Serializer):
    format = serializers.ChoiceField(
        choices=ExportFormat.choices,
        required=False,
        default=ExportFormat.JSON,
        help_text="json: the results document; csv (compare jobs): one row per datapoint; "
        "coco (draw jobs): images, one category, consensus masks (RLE) and boxes",
    )
