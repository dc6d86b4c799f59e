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
from django.db import transaction
from django.http import HttpResponse
from django.utils.cache import patch_cache_control
from django.utils.http import parse_etags, quote_etag
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import parsers, status
from rest_framework.exceptions import NotFound
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.response import Response

from assets import fetches as asset_fetches
from assets import services as asset_services
from assets.models import TaskKind, UrlFetch
from audiences import selectors as audience_selectors
from audiences.models import Audience
from core.api_common import (
    FindQuerySerializer,
    RequesterApiView,
    RequestTooLarge,
    error_responses,
    paginate,
    validated,
)
from core.parsers import JSONParser, json_loads
from core.validation import field

from . import aggregation, exports, result_updates, selectors, services, streaming, tasks
from .models import Job, JobDefinition
from .serializers import (
    MULTIPART_DEFINITION_SCHEMA,
    PAYLOAD_FIELD,
    AssetFetchResultSerializer,
    AssetFetchSerializer,
    AssetSerializer,
    AssetUploadSerializer,
    CocoDatasetSerializer,
    DatapointBatchResultSerializer,
    DatapointBatchSerializer,
    DownloadQuerySerializer,
    ExportFormat,
    JobCreateSerializer,
    JobDefinitionCreateSerializer,
    JobDefinitionPageSerializer,
    JobDefinitionSerializer,
    JobFindQuerySerializer,
    JobPageSerializer,
    JobProgressSerializer,
    JobResultsSerializer,
    JobSerializer,
    ResultsQuerySerializer,
)

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
        raise ValidationError(
            {name: [f"unknown form field; send the definition as JSON in `{PAYLOAD_FIELD}`."] for name in others[:20]}
        )
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
    """Upload (through ``assets.services.asset_upload``) each file that an item
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
                uploaded[name] = asset_services.asset_upload(owner=owner, upload=files[name]).public_id
            except ValidationError as exc:
                raise ValidationError(f"{where}: file {name!r}: {' '.join(exc.messages)}") from None
        return {"asset_id": uploaded[name]}

    data = dict(data)
    datapoints = data.get("datapoints")
    if isinstance(datapoints, list):
        with field("datapoints"):
            data["datapoints"] = [
                [resolve(item, f"datapoints[{i}][{j}]") for j, item in enumerate(datapoint)]
                if isinstance(datapoint, list)
                else resolve(datapoint, f"datapoints[{i}]")
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
        asset = asset_services.asset_upload(owner=request.user, upload=data["file"], name=data.get("name"))
        return Response(AssetSerializer(asset).data, status=status.HTTP_201_CREATED)


class AssetFetchApi(RequesterApiView):
    @extend_schema(
        operation_id="assets_fetch",
        tags=["assets"],
        summary="Fetch and store images from URLs",
        description=(
            "The server fetches each URL (public hosts only; size, pixels, redirects and time capped; the "
            "bytes checked with Pillow) and stores the image once by content hash; refer to it in datapoints "
            'as `{"asset_id": <id>}`. 200 when all are stored; 202 while some are still being fetched after '
            "`wait` seconds: send the same URLs again to poll (the fetches already made are found, not "
            "repeated). 400 naming each URL that is refused (before anything is stored) or that failed."
        ),
        request=AssetFetchSerializer,
        responses={
            200: AssetFetchResultSerializer,
            202: AssetFetchResultSerializer,
            **error_responses(400, 401, 403, 413),
        },
    )
    def post(self, request):
        data = validated(AssetFetchSerializer, request.data)
        fetched = asset_fetches.asset_fetch_urls(owner=request.user, urls=data["urls"], wait=data["wait"])
        failed = [
            f"{fetch.url[:200]!r}: could not be fetched: {fetch.error_message}"
            for fetch in dict.fromkeys(fetched)
            if fetch.status == UrlFetch.Status.FAILED
        ]
        if failed:
            raise ValidationError({"urls": failed[:50]})
        pending = sum(1 for fetch in fetched if fetch.status == UrlFetch.Status.PENDING)
        body = AssetFetchResultSerializer({"fetches": fetched, "pending": pending}).data
        return Response(body, status=status.HTTP_202_ACCEPTED if pending else status.HTTP_200_OK)


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
        return Response(
            {
                "count": page.count,
                "page": page.page,
                "page_size": page.page_size,
                "results": JobDefinitionSerializer(page.items, many=True, context={"request": request}).data,
            }
        )

    @extend_schema(
        operation_id="job_definitions_create",
        tags=["job definitions"],
        summary="Create a draw or compare job definition",
        description=(
            "JSON, or multipart/form-data with the same JSON in the form field `payload` and image files "
            'in other fields, each named by an item `{"file": "<field name>"}`. All or nothing: a rejected '
            "definition stores nothing."
        ),
        request={"application/json": JobDefinitionCreateSerializer, "multipart/form-data": MULTIPART_DEFINITION_SCHEMA},
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
        jobs = selectors.job_find(
            user=request.user,
            name=query["name"],
            state=query.get("state"),
            definition_id=query.get("job_definition"),
            audience_id=query.get("audience"),
        )
        page = paginate(jobs, page=query["page"], page_size=query["page_size"])
        return Response(
            {
                "count": page.count,
                "page": page.page,
                "page_size": page.page_size,
                "results": JobSerializer(page.items, many=True).data,
            }
        )

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
        definition = _lookup(
            selectors.job_definition_get,
            JobDefinition.DoesNotExist,
            user=request.user,
            public_id=data["job_definition"],
            where="job_definition",
        )
        audience = _lookup(
            audience_selectors.audience_get,
            Audience.DoesNotExist,
            user=request.user,
            public_id=data["audience"],
            where="audience",
        )
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
            'same object (with `"type": "progress"`) whenever the job changes.'
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
            return streaming.streaming_json(
                selectors.job_results_text(job=job, summary=summary, absolute_url=request.build_absolute_uri)
            )
        document = selectors.job_results(
            job=job, page=query.get("page"), page_size=query.get("page_size"), absolute_url=request.build_absolute_uri
        )
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
                share = np.zeros(result_updates.draw_grid(slot.datapoint), dtype=np.float64)
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
                PolymorphicProxySerializer(
                    component_name="ResultsExport",
                    serializers=[JobResultsSerializer, CocoDatasetSerializer],
                    resource_type_field_name=None,
                ),
                description="an attachment: the results document (format=json) or a COCO dataset (format=coco)",
            ),
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
                content_type="text/csv; charset=utf-8",
                filename=f"{job.public_id}-results.csv",
            )
        if export == ExportFormat.COCO:
            entries = partial(
                selectors.job_result_entries, job=job, absolute_url=request.build_absolute_uri, with_responses=False
            )
            return streaming.streaming_attachment(
                exports.draw_coco_text(selectors.results_info(job=job), entries),
                content_type="application/json",
                filename=f"{job.public_id}-coco.json",
            )
        summary = _results_summary(job)
        return streaming.streaming_attachment(
            selectors.job_results_text(job=job, summary=summary, absolute_url=request.build_absolute_uri),
            content_type="application/json",
            filename=f"{job.public_id}-results.json",
        )
