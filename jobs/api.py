"""Requester API for assets, job definitions and jobs (mounted under /api/).

One view per endpoint, thin: input serializers check the body's shape, the
services in ``jobs.services`` do every write (and every domain check), the
selectors in ``jobs.selectors`` every read, scoped to the requester.
Another requester's object is a 404.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import parsers, serializers, status
from rest_framework.response import Response

from audiences import selectors as audience_selectors
from audiences.models import Audience
from labeling.api_common import (
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

from . import selectors, services, wire
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
    audience = ProgressAudienceSerializer()
    last_response_at = serializers.DateTimeField(allow_null=True)
    created = serializers.DateTimeField()
    completed = serializers.DateTimeField(allow_null=True)


class ResultsInfoSerializer(serializers.Serializer):
    """What the results are of."""

    job_id = serializers.CharField()
    definition_id = serializers.CharField()
    name = serializers.CharField()
    type = serializers.ChoiceField(choices=TaskKind.choices)
    instruction = serializers.CharField()
    responses_per_datapoint = serializers.IntegerField()
    audience_id = serializers.CharField()
    state = serializers.ChoiceField(choices=Job.State.choices)
    created = serializers.DateTimeField()
    completed = serializers.DateTimeField(allow_null=True)


class ResultResponseSerializer(serializers.Serializer):
    """One labeler's response."""

    payload = serializers.JSONField(
        help_text='draw: {"lines": [{"size", "points": [{"x", "y"}]}]}; compare: {"choice": <an item>}')
    user_score = serializers.FloatField(help_text="the labeler's user score when answering (0..1)")
    labeler = serializers.CharField(help_text="stable pseudonym of the labeler")
    created = serializers.DateTimeField()


class DatapointResultSerializer(serializers.Serializer):
    """One datapoint, in definition order, with its responses."""

    position = serializers.IntegerField()
    items = serializers.ListField(child=serializers.CharField(),
                                  help_text="as given: URL, text or uploaded file name")
    context = serializers.CharField(allow_blank=True)
    media_context = serializers.CharField(allow_null=True)
    responses = ResultResponseSerializer(many=True)


class JobResultsSerializer(serializers.Serializer):
    """A job's results so far."""

    info = ResultsInfoSerializer()
    results = DatapointResultSerializer(many=True)


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


class JobProgressApi(RequesterApiView):
    @extend_schema(
        operation_id="jobs_progress",
        tags=["jobs"],
        summary="How far a job is",
        description=(
            "Datapoints done (closed) of all, responses collected of needed, and the audience's members: "
            "an audience with no graduated and no qualifying members cannot make the job progress."
        ),
        responses={200: JobProgressSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request, job_id: str):
        job = selectors.job_get(user=request.user, public_id=job_id)
        return Response(selectors.job_progress(job=job))


class JobResultsApi(RequesterApiView):
    @extend_schema(
        operation_id="jobs_results",
        tags=["jobs"],
        summary="A job's results so far",
        description="Every datapoint in order with the responses collected for it.",
        responses={200: JobResultsSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request, job_id: str):
        job = selectors.job_get(user=request.user, public_id=job_id)
        return Response(selectors.job_results(job=job))

