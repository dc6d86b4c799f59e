"""Requester API for assets, job definitions and jobs (mounted under /api/).

One view per endpoint, thin: input serializers check the body's shape, the
services in ``jobs.services`` do every write (and every domain check), the
selectors in ``jobs.selectors`` every read, scoped to the requester.
Another requester's object is a 404.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.http import HttpResponse
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.http import parse_etags, quote_etag
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer, extend_schema, extend_schema_field
from rest_framework import parsers, serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.response import Response

from audiences import selectors as audience_selectors
from audiences.models import Audience
from labeling.api_common import (
    MAX_PAGE,
    FindQuerySerializer,
    RawCharField,
    RawChoiceField,
    RawFloatField,
    RawIntegerField,
    RawJSONField,
    RequesterApiView,
    RequestTooLarge,
    StrictInputSerializer,
    error_responses,
    page_serializer,
    paginate,
    validated,
)
from labeling.parsers import JSONParser, json_loads
from labeling.validation import field

from . import aggregation, exports, result_services, selectors, services, streaming, tasks, wire
from .models import Asset, Job, JobDefinition, TaskKind

PAYLOAD_FIELD = "payload"

# --- item schemas ---------------------------------------------------------------------------

ITEM_SCHEMA = {
    "oneOf": [
        {"type": "string", "description": "an http(s) URL of an image, or (compare) a text item"},
        {
            "type": "object",
            "description": "an image uploaded before with POST /api/assets/",
            "properties": {"asset_id": {"type": "string"}},
            "required": ["asset_id"],
            "additionalProperties": False,
        },
    ]
}
FILE_ITEM_SCHEMA = {
    "type": "object",
    "description": "multipart requests only: the image sent in this form field",
    "properties": {"file": {"type": "string"}},
    "required": ["file"],
    "additionalProperties": False,
}
UPLOAD_ITEM_SCHEMA = {"oneOf": [*ITEM_SCHEMA["oneOf"], FILE_ITEM_SCHEMA]}
PAIR_SCHEMA = {"type": "array", "items": ITEM_SCHEMA, "minItems": 2, "maxItems": 2,
               "description": "a compare datapoint: two distinct items"}


@extend_schema_field(ITEM_SCHEMA)
class ItemField(RawJSONField):
    """One datapoint item: URL, text, or ``{"asset_id": ...}``."""


@extend_schema_field(PAIR_SCHEMA)
class PairField(RawJSONField):
    """Two distinct items (a compare datapoint)."""


@extend_schema_field({
    "type": "array",
    "minItems": 1,
    "maxItems": services.MAX_DATAPOINTS,
    "description": "draw: one image item per datapoint; compare: a pair of items per datapoint",
    "items": {"oneOf": [
        *UPLOAD_ITEM_SCHEMA["oneOf"],
        {"type": "array", "items": UPLOAD_ITEM_SCHEMA, "minItems": 2, "maxItems": 2},
    ]},
})
class DatapointsField(RawJSONField):
    pass


@extend_schema_field({
    "type": "array",
    "items": {"type": "string", "maxLength": wire.MAX_CONTEXT_LENGTH, "nullable": True},
    "description": "one text per datapoint, shown with it (null or empty for none)",
})
class ContextsField(RawJSONField):
    pass


@extend_schema_field({
    "type": "array",
    "items": {**UPLOAD_ITEM_SCHEMA, "nullable": True},
    "description": "one image per datapoint (or null), shown beside it",
})
class MediaContextsField(RawJSONField):
    pass


# --- serializers: assets ---------------------------------------------------------------------


class AssetUploadSerializer(StrictInputSerializer):
    """One image, sent as multipart/form-data."""

    file = serializers.FileField(help_text="one image: JPEG, PNG, WebP or GIF")
    name = serializers.CharField(required=False, max_length=255,
                                 help_text="file name to record (default: the uploaded file's name)")


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


# --- serializers: job definitions --------------------------------------------------------------


class JobDefinitionCreateSerializer(StrictInputSerializer):
    """A job definition: what to ask about which datapoints, and how many answers to collect."""

    kind = RawChoiceField(choices=TaskKind.choices)
    name = RawCharField(max_length=wire.MAX_NAME_LENGTH)
    instruction = RawCharField(max_length=wire.MAX_INSTRUCTION_LENGTH,
                               help_text='what labelers do, e.g. "Color in all the blue books"')
    datapoints = DatapointsField()
    contexts = ContextsField(required=False, allow_null=True)
    media_contexts = MediaContextsField(required=False, allow_null=True)
    responses_per_datapoint = RawIntegerField(required=False, min_value=1,
                                              max_value=services.MAX_RESPONSES_PER_DATAPOINT,
                                              help_text="default 10")
    confidence_threshold = RawFloatField(
        required=False, allow_null=True, min_value=0, max_value=1,
        help_text="compare only, in (0, 1): stop a datapoint once its leader is this certain",
    )
    draw_aggregation = RawChoiceField(choices=JobDefinition.DrawAggregation.choices, required=False,
                                      help_text="draw only; default majority")
    client_key = RawCharField(
        required=False, max_length=services.MAX_CLIENT_KEY_LENGTH,
        help_text="a key of your choosing, new for each definition: the request sent again with it (its reply "
                  "lost) returns the definition made the first time instead of a second one")


class DatapointBatchSerializer(StrictInputSerializer):
    """More datapoints for a definition no job runs yet, from position `start` on."""

    start = RawIntegerField(min_value=0, max_value=services.MAX_DATAPOINTS,
                            help_text="the position of the batch's first datapoint: the definition's datapoint "
                                      "count, or less for a batch sent again")
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


# --- serializers: jobs ------------------------------------------------------------------------------


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
    name = serializers.CharField(required=False, default="", allow_blank=True, max_length=200,
                                 help_text="case-insensitive substring of the definition's name")
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
        help_text="open datapoints count their responses per datapoint, closed ones what they got")
    completion_percentage = serializers.FloatField(help_text="0-100; 100 once the job is completed")
    responses_per_minute = serializers.FloatField(
        help_text="responses in the last 5 minutes / 5 (over the job's life while it is younger)")
    eta_seconds = serializers.IntegerField(
        allow_null=True, help_text="remaining responses at that pace; null when the pace is 0 or the job is "
                                   "not running")
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
    drawAlgorithm = serializers.ChoiceField(choices=JobDefinition.DrawAggregation.choices, required=False,
                                            help_text="draw jobs only: how the consensus is computed")


@extend_schema_field({"type": "object", "additionalProperties": {"type": "integer"},
                      "description": "item name -> votes; null until the datapoint's result is in",
                      "nullable": True})
class ItemCountsField(serializers.JSONField):
    pass


@extend_schema_field({"type": "object", "additionalProperties": {"type": "number"},
                      "description": "item name -> value; null until the datapoint's result is in",
                      "nullable": True})
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
    items = serializers.ListField(child=serializers.CharField(), min_length=2, max_length=2,
                                  help_text="the two items as given: URL, text or uploaded file name")
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
    weightedWinner = serializers.CharField(allow_null=True,
                                           help_text="the item with the highest summed user score; null on a tie")
    confidence = serializers.FloatField(allow_null=True,
                                        help_text="posterior probability that the leading item is the better one")
    detailedResults = CompareDetailSerializer(many=True)


class RleSerializer(serializers.Serializer):
    """A COCO uncompressed RLE mask: column-major run lengths, starting with zeros."""

    size = serializers.ListField(child=serializers.IntegerField(), min_length=2, max_length=2,
                                 help_text="[rows, cols]")
    counts = serializers.ListField(child=serializers.IntegerField())


class RatioBoxSerializer(serializers.Serializer):
    """A box as ratios of the image (0..1)."""

    x_min = serializers.FloatField()
    y_min = serializers.FloatField()
    x_max = serializers.FloatField()
    y_max = serializers.FloatField()


@extend_schema_field({"type": "array", "items": {
    "type": "object", "description": "a stroke: brush diameter as a ratio of the image width, points as ratios",
    "properties": {"size": {"type": "number"}, "points": {"type": "array", "items": {
        "type": "object", "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
        "required": ["x", "y"]}}},
    "required": ["size", "points"]}})
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
    imageSize = serializers.ListField(child=serializers.IntegerField(), min_length=2, max_length=2,
                                      allow_null=True, help_text="[width, height] in pixels; null for URL images")
    responses = serializers.IntegerField(help_text="responses collected")
    aggregatedResponses = serializers.IntegerField(  # noqa: N815 - the results document is camelCase
        help_text="responses the aggregates below include (behind `responses` while workers catch up)"
    )
    gridSize = serializers.ListField(child=serializers.IntegerField(), min_length=2, max_length=2,
                                     help_text="[rows, cols] of the grid strokes are rasterized on")
    consensusMask = RleSerializer(allow_null=True, help_text="cells at least half the weight inked, at grid size")
    consensusBoxes = RatioBoxSerializer(many=True, allow_null=True,
                                        help_text="bounding boxes of the consensus's regions, largest first")
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
                  "this is the ranking of the votes it last included (no items before the first)")


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
        resource_type_field_name=None, many=True,
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
    bbox = serializers.ListField(child=serializers.FloatField(), min_length=4, max_length=4,
                                 help_text="[x, y, width, height] in pixels")
    iscrowd = serializers.IntegerField()


class CocoDatasetSerializer(serializers.Serializer):
    """A draw job's consensus as a COCO dataset."""

    info = CocoInfoSerializer()
    licenses = serializers.ListField(child=serializers.DictField(), max_length=0)
    images = CocoImageSerializer(many=True)
    categories = CocoCategorySerializer(many=True)
    annotations = CocoAnnotationSerializer(many=True)


class ResultsQuerySerializer(serializers.Serializer):
    page = serializers.IntegerField(required=False, min_value=1, max_value=MAX_PAGE,
                                    help_text="1-based page of datapoints; without page and page_size, all of them")
    page_size = serializers.IntegerField(
        required=False, min_value=1, max_value=selectors.RESULTS_MAX_PAGE_SIZE,
        help_text=f"datapoints per page (default {selectors.RESULTS_PAGE_SIZE}, "
                  f"at most {selectors.RESULTS_MAX_PAGE_SIZE})")


class ExportFormat(models.TextChoices):
    JSON = "json", "The results document"
    CSV = "csv", "Compare jobs: one row per datapoint"
    COCO = "coco", "Draw jobs: a COCO dataset of the consensus"


class DownloadQuerySerializer(serializers.Serializer):
    format = serializers.ChoiceField(
        choices=ExportFormat.choices, required=False, default=ExportFormat.JSON,
        help_text="json: the results document; csv (compare jobs): one row per datapoint; "
                  "coco (draw jobs): images, one category, consensus masks (RLE) and boxes")


# --- helpers -------------------------------------------------------------------------------------------


def _definition_body(request) -> tuple[Any, dict]:
    """The definition's JSON body and the uploaded files it may refer to: a
    JSON request, or multipart with the JSON in ``payload``."""
    if not (request.content_type or "").startswith("multipart/"):
        return request.data, {}
    files = {}
    for name in request.FILES:
        if len(request.FILES.getlist(name)) > 1:
            raise ValidationError({name: ["send one file per form field."]})
        files[name] = request.FILES[name]
    others = sorted(set(request.data.keys()) - set(files) - {PAYLOAD_FIELD})
    if others:
        raise ValidationError({name: [f"unknown form field; send the definition as JSON in `{PAYLOAD_FIELD}`."]
                               for name in others[:20]})
    if PAYLOAD_FIELD in files:
        payload_file = files.pop(PAYLOAD_FIELD)
        if payload_file.size > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            raise RequestTooLarge()
        text = payload_file.read()
    else:
        text = request.data.get(PAYLOAD_FIELD)
    if text is None:
        raise ValidationError({PAYLOAD_FIELD: ["send the definition as JSON in this form field."]})
    try:
        return json_loads(text), files
    except ValueError as exc:
        raise ValidationError({PAYLOAD_FIELD: [f"not valid JSON: {exc}"]}) from None


def _upload_referenced_files(*, owner, data: dict, files: dict) -> dict:
    """Upload (through ``services.asset_upload``) each file that an item
    ``{"file": "<form field>"}`` names, and put its asset id in its place."""
    uploaded: dict[str, str] = {}

    def resolve(item: Any, where: str) -> Any:
        if not (isinstance(item, dict) and "file" in item):
            return item
        name = item["file"]
        if set(item) != {"file"} or not isinstance(name, str):
            raise ValidationError(f'{where} must be {{"file": "<form field name>"}}.')
        if name not in files:
            hint = "" if files else " (send the definition as multipart/form-data with the file)"
            raise ValidationError(f"{where}: no file was uploaded in the form field {name[:100]!r}{hint}.")
        if name not in uploaded:
            try:
                uploaded[name] = services.asset_upload(owner=owner, upload=files[name]).public_id
            except ValidationError as exc:
                raise ValidationError(f"{where}: file {name!r}: {' '.join(exc.messages)}") from None
        return {"asset_id": uploaded[name]}

    data = dict(data)
    datapoints = data.get("datapoints")
    if isinstance(datapoints, list):
        with field("datapoints"):
            data["datapoints"] = [
                [resolve(item, f"datapoints[{i}][{j}]") for j, item in enumerate(datapoint)]
                if isinstance(datapoint, list) else resolve(datapoint, f"datapoints[{i}]")
                for i, datapoint in enumerate(datapoints)
            ]
    media_contexts = data.get("media_contexts")
    if isinstance(media_contexts, list):
        with field("media_contexts"):
            data["media_contexts"] = [resolve(item, f"media_contexts[{i}]") for i, item in enumerate(media_contexts)]
    unused = sorted(set(files) - set(uploaded))
    if unused:
        raise ValidationError({name: ["uploaded file is not referenced by any datapoint."] for name in unused[:20]})
    return data


def _lookup(getter, missing: type[Exception], *, user, public_id: str, where: str):
    """An object named in a request body: 400 on ``where`` when ``user`` cannot see it."""
    try:
        return getter(user=user, public_id=public_id)
    except missing:
        raise ValidationError({where: ["not found."]}) from None


# --- views: assets -------------------------------------------------------------------------------------


class AssetUploadApi(RequesterApiView):
    parser_classes = [parsers.MultiPartParser]

    @extend_schema(
        operation_id="assets_upload",
        tags=["assets"],
        summary="Upload one image",
        description="Upload an image (JPEG, PNG, WebP or GIF, checked with Pillow) as multipart field "
                    '`file`; refer to it in datapoints as `{"asset_id": <id>}`. The same bytes give the same '
                    "asset.",
        request={"multipart/form-data": AssetUploadSerializer},
        responses={201: AssetSerializer, **error_responses(400, 401, 403, 413, 415)},
    )
    def post(self, request):
        data = validated(AssetUploadSerializer, request.data)
        asset = services.asset_upload(owner=request.user, upload=data["file"], name=data.get("name"))
        return Response(AssetSerializer(asset).data, status=status.HTTP_201_CREATED)


# --- views: job definitions ---------------------------------------------------------------------------------


class JobDefinitionListApi(RequesterApiView):
    parser_classes = [JSONParser, parsers.MultiPartParser]

    @extend_schema(
        operation_id="job_definitions_find",
        tags=["job definitions"],
        summary="Find your job definitions by name",
        parameters=[FindQuerySerializer],
        responses={200: JobDefinitionPageSerializer, **error_responses(400, 401, 403)},
    )
    def get(self, request):
        query = validated(FindQuerySerializer, request.query_params)
        definitions = selectors.job_definition_find(user=request.user, name=query["name"])
        page = paginate(definitions, page=query["page"], page_size=query["page_size"])
        return Response({
            "count": page.count, "page": page.page, "page_size": page.page_size,
            "results": JobDefinitionSerializer(page.items, many=True, context={"request": request}).data,
        })

    @extend_schema(
        operation_id="job_definitions_create",
        tags=["job definitions"],
        summary="Create a draw or compare job definition",
        description=(
            "JSON, or multipart/form-data with the same JSON in the form field `payload` and image files "
            'in other fields, each named by an item `{"file": "<field name>"}`. All or nothing: a rejected '
            "definition stores nothing."
        ),
        request={"application/json": JobDefinitionCreateSerializer,
                 "multipart/form-data": MULTIPART_DEFINITION_SCHEMA},
        responses={201: JobDefinitionSerializer, **error_responses(400, 401, 403, 413, 415)},
    )
    def post(self, request):
        body, files = _definition_body(request)
        data = validated(JobDefinitionCreateSerializer, body)
        with transaction.atomic():
            data = _upload_referenced_files(owner=request.user, data=data, files=files)
            definition = services.job_definition_create(owner=request.user, **data)
        definition = selectors.job_definition_get(user=request.user, public_id=definition.public_id)
        output = JobDefinitionSerializer(definition, context={"request": request})
        return Response(output.data, status=status.HTTP_201_CREATED)


class JobDefinitionDetailApi(RequesterApiView):
    @extend_schema(
        operation_id="job_definitions_get",
        tags=["job definitions"],
        summary="Get one of your job definitions",
        responses={200: JobDefinitionSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request, definition_id: str):
        definition = selectors.job_definition_get(user=request.user, public_id=definition_id)
        return Response(JobDefinitionSerializer(definition, context={"request": request}).data)


class JobDefinitionDatapointsApi(RequesterApiView):
    @extend_schema(
        operation_id="job_definitions_add_datapoints",
        tags=["job definitions"],
        summary="Add a batch of datapoints to a definition",
        description=(
            "For a definition too large for one request: create it with the first batch (with a `client_key`), "
            "then send the rest in order, each with `start` = the datapoints so far. A batch sent again (its "
            "reply lost) adds nothing if it is the same as the first time (a 400 if it differs). A definition "
            "assigned to a job takes no more datapoints (409)."
        ),
        request=DatapointBatchSerializer,
        responses={200: DatapointBatchResultSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request, definition_id: str):
        definition = selectors.job_definition_get(user=request.user, public_id=definition_id)
        data = validated(DatapointBatchSerializer, request.data)
        added = services.job_definition_add_datapoints(owner=request.user, definition=definition, **data)
        count = selectors.job_definition_get(user=request.user, public_id=definition_id).datapoint_count
        return Response({"added": added, "datapoint_count": count})


# --- views: jobs ---------------------------------------------------------------------------------------------


class JobListApi(RequesterApiView):
    @extend_schema(
        operation_id="jobs_find",
        tags=["jobs"],
        summary="Find your jobs",
        parameters=[JobFindQuerySerializer],
        responses={200: JobPageSerializer, **error_responses(400, 401, 403)},
    )
    def get(self, request):
        query = validated(JobFindQuerySerializer, request.query_params)
        jobs = selectors.job_find(user=request.user, name=query["name"], state=query.get("state"),
                                  definition_id=query.get("job_definition"), audience_id=query.get("audience"))
        page = paginate(jobs, page=query["page"], page_size=query["page_size"])
        return Response({"count": page.count, "page": page.page, "page_size": page.page_size,
                         "results": JobSerializer(page.items, many=True).data})

    @extend_schema(
        operation_id="jobs_create",
        tags=["jobs"],
        summary="Assign a job definition to an audience",
        description="Starts a running job. The same definition can run on several audiences.",
        request=JobCreateSerializer,
        responses={201: JobSerializer, **error_responses(400, 401, 403, 413, 415)},
    )
    def post(self, request):
        data = validated(JobCreateSerializer, request.data)
        definition = _lookup(selectors.job_definition_get, JobDefinition.DoesNotExist, user=request.user,
                             public_id=data["job_definition"], where="job_definition")
        audience = _lookup(audience_selectors.audience_get, Audience.DoesNotExist, user=request.user,
                           public_id=data["audience"], where="audience")
        job = services.job_create(owner=request.user, definition=definition, audience=audience)
        job = selectors.job_get(user=request.user, public_id=job.public_id)
        return Response(JobSerializer(job).data, status=status.HTTP_201_CREATED)


class JobDetailApi(RequesterApiView):
    @extend_schema(
        operation_id="jobs_get",
        tags=["jobs"],
        summary="Get one of your jobs",
        responses={200: JobSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request, job_id: str):
        return Response(JobSerializer(selectors.job_get(user=request.user, public_id=job_id)).data)


class JobPauseApi(RequesterApiView):
    paused = True

    @extend_schema(
        operation_id="jobs_pause",
        tags=["jobs"],
        summary="Pause a running job: labelers get no new tasks (answers to tasks they hold are still taken)",
        request=None,
        responses={200: JobSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request, job_id: str):
        job = selectors.job_get(user=request.user, public_id=job_id)
        job = services.job_set_paused(job=job, paused=self.paused)
        return Response(JobSerializer(selectors.job_get(user=request.user, public_id=job.public_id)).data)


class JobResumeApi(JobPauseApi):
    paused = False

    @extend_schema(
        operation_id="jobs_resume",
        tags=["jobs"],
        summary="Resume a paused job",
        request=None,
        responses={200: JobSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request, job_id: str):
        return super().post(request, job_id)


class JobProgressApi(RequesterApiView):
    @extend_schema(
        operation_id="jobs_progress",
        tags=["jobs"],
        summary="How far a job is",
        description=(
            "Datapoints done (closed) of all, responses collected of needed, and the audience's members: "
            "an audience with no graduated and no qualifying members cannot make the job progress; the pace "
            "(responses per minute) and the estimated seconds left. The websocket `/ws/jobs/<id>/` sends the "
            "same object (with `\"type\": \"progress\"`) whenever the job changes."
        ),
        responses={200: JobProgressSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request, job_id: str):
        job = selectors.job_get(user=request.user, public_id=job_id)
        return Response(selectors.job_progress(job=job))


class FixedJsonNegotiation(BaseContentNegotiation):
    """Errors of the file endpoints are JSON whatever the client accepts, and
    their ``format`` query parameter picks a file, not a DRF renderer."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class JobResultsApi(RequesterApiView):
    @extend_schema(
        operation_id="jobs_results",
        tags=["jobs"],
        summary="A job's aggregated results so far",
        description=(
            "`info` (what the results are of), `results` (one entry per datapoint, by position) and `summary` "
            "(job-wide). A compare datapoint has its vote counts, ratios, summed user scores, winner, weighted "
            "winner and confidence; a draw datapoint its consensus mask (COCO RLE at grid size), consensus "
            "boxes, agreement and a heatmap link; each lists its responses in `detailedResults`. Aggregates "
            "are null until the datapoint's result includes all its responses. Items are named as you gave "
            "them. With `page` and/or `page_size` only that slice of `results` (and `count`); the summary "
            "stays job-wide."
        ),
        parameters=[ResultsQuerySerializer],
        responses={200: JobResultsSerializer, **error_responses(400, 401, 403, 404)},
    )
    def get(self, request, job_id: str):
        query = validated(ResultsQuerySerializer, request.query_params)
        job = selectors.job_get(user=request.user, public_id=job_id)
        if query.get("page") is None and query.get("page_size") is None:
            summary = _results_summary(job)
            return streaming.streaming_json(selectors.job_results_text(
                job=job, summary=summary, absolute_url=request.build_absolute_uri))
        document = selectors.job_results(job=job, page=query.get("page"), page_size=query.get("page_size"),
                                         absolute_url=request.build_absolute_uri)
        if selectors.ranking_behind(document["summary"]):
            tasks.publish_ranking(job.pk)
        return Response(document)


def _results_summary(job: Job) -> dict:
    """The results summary; a ranking behind its responses is sent to a worker."""
    summary = selectors.job_results_summary(job=job)
    if selectors.ranking_behind(summary):
        tasks.publish_ranking(job.pk)
    return summary


class JobDatapointHeatmapApi(RequesterApiView):
    content_negotiation_class = FixedJsonNegotiation

    @extend_schema(
        operation_id="jobs_datapoint_heatmap",
        tags=["jobs"],
        summary="Heatmap of a draw datapoint",
        description=(
            "An RGBA PNG at grid size (`gridSize` of the results), to stretch over the image: transparent where "
            "nobody drew, blue to red with the share of weight inking each cell. Transparent before the first "
            "result. Draw jobs only (a compare job's datapoints have none: 404). Private cache, with an ETag "
            "that changes with the responses the result includes (`If-None-Match` gives a 304)."
        ),
        responses={
            (200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY, description="the heatmap overlay"),
            304: OpenApiResponse(description="not modified since the ETag sent in `If-None-Match`"),
            **error_responses(401, 403, 404),
        },
    )
    def get(self, request, job_id: str, position: int):
        job = selectors.job_get(user=request.user, public_id=job_id)
        if job.definition.kind != TaskKind.DRAW:
            raise NotFound()
        slot, result = selectors.job_datapoint_result(job=job, position=position)
        count = result.response_count if result is not None else 0
        version = result.aggregator_version if result is not None else ""
        etag = quote_etag(f"{job.public_id}-{position}-{count}-{version}")
        if etag in parse_etags(request.headers.get("If-None-Match", "")):
            response = HttpResponse(status=304)
        else:
            if result is not None and result.state:
                share = aggregation.heatmap(aggregation.DrawState.load(bytes(result.state)))
            else:
                share = np.zeros(result_services.draw_grid(slot.datapoint), dtype=np.float64)
            response = HttpResponse(aggregation.heatmap_png(share), content_type="image/png")
        response["ETag"] = etag
        patch_cache_control(response, private=True, no_cache=True)
        return response


class JobResultsDownloadApi(RequesterApiView):
    content_negotiation_class = FixedJsonNegotiation

    @extend_schema(
        operation_id="jobs_results_download",
        tags=["jobs"],
        summary="Download a job's results as a file",
        description=(
            "`json`: the results document (as `GET /results/`, every datapoint). `csv`, compare jobs only: one "
            "row per datapoint (position, item_a, item_b, context, votes_a, votes_b, ratio_a, ratio_b, "
            "summed_score_a, summed_score_b, winner, weighted_winner, confidence, responses, stopped_early); "
            "text cells a spreadsheet would run as a formula are prefixed with `'`. `coco`, draw jobs only: a "
            "COCO dataset: one image per datapoint (id = position + 1, pixel size when known, else grid size), "
            "one category (the instruction), per datapoint the consensus mask resized to the image as an "
            "uncompressed RLE annotation (iscrowd 1) and each consensus box as a bbox annotation (iscrowd 0). "
            "A format that does not fit the job's kind is a 400."
        ),
        parameters=[DownloadQuerySerializer],
        responses={
            (200, "application/json"): OpenApiResponse(
                PolymorphicProxySerializer(component_name="ResultsExport",
                                           serializers=[JobResultsSerializer, CocoDatasetSerializer],
                                           resource_type_field_name=None),
                description="an attachment: the results document (format=json) or a COCO dataset (format=coco)"),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="an attachment (format=csv)"),
            **error_responses(400, 401, 403, 404),
        },
    )
    def get(self, request, job_id: str):
        query = validated(DownloadQuerySerializer, request.query_params)
        job = selectors.job_get(user=request.user, public_id=job_id)
        kind, export = job.definition.kind, query["format"]
        if export == ExportFormat.CSV and kind != TaskKind.COMPARE:
            raise ValidationError({"format": ["csv is for compare jobs; download draw results as json or coco."]})
        if export == ExportFormat.COCO and kind != TaskKind.DRAW:
            raise ValidationError({"format": ["coco is for draw jobs; download compare results as json or csv."]})
        if export == ExportFormat.CSV:
            return streaming.streaming_attachment(
                exports.compare_csv_lines(selectors.job_result_entries(job=job, with_responses=False)),
                content_type="text/csv; charset=utf-8", filename=f"{job.public_id}-results.csv")
        if export == ExportFormat.COCO:
            entries = partial(selectors.job_result_entries, job=job, absolute_url=request.build_absolute_uri,
                              with_responses=False)
            return streaming.streaming_attachment(
                exports.draw_coco_text(selectors.results_info(job=job), entries),
                content_type="application/json", filename=f"{job.public_id}-coco.json")
        summary = _results_summary(job)
        return streaming.streaming_attachment(
            selectors.job_results_text(job=job, summary=summary, absolute_url=request.build_absolute_uri),
            content_type="application/json", filename=f"{job.public_id}-results.json")
