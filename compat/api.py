"""The compatible API: the endpoints the hosted service's Python client
calls, served at the root of ``api.<SERVICE_DOMAIN>`` (``compat.hosts``).

One view per endpoint, each a few lines: parse with ``compat.wire``, write
with ``compat.services``, answer with ``compat.documents``. Errors are the
project's (``core.api_errors``): 400 with the field and what is wrong,
404 for anything not the caller's.
"""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from rest_framework import parsers, permissions, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from assets import fetches
from assets import services as asset_services
from audiences.selectors import audience_find, audience_get
from core.parsers import JSONParser
from jobs.selectors import job_get

from . import documents, services
from .auth import BearerAuthentication
from .models import BatchUpload, Dataset, UrlFetch

MAX_PAGE_SIZE = 100


class IsRequester(permissions.BasePermission):
    message = "This API is for requesters; your account is a labeler account."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_staff)


class JsonWhateverAccepted(BaseContentNegotiation):
    """JSON whatever the client accepts: it asks for results as
    ``application/octet-stream`` and reads them as JSON."""

    def select_parser(self, request, parsers):
        content_type = request.content_type.split(";", 1)[0].strip().lower()
        return next((parser for parser in parsers if parser.media_type == content_type), None)

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class CompatApi(APIView):
    authentication_classes = [BearerAuthentication]
    permission_classes = [permissions.IsAuthenticated, IsRequester]
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JsonWhateverAccepted


def _absolute(request):
    return request.build_absolute_uri


def _int_param(request, name: str, default: int, *, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError({name: [f"must be an integer, got {raw[:20]!r}."]}) from None
    if not low <= value <= high:
        raise ValidationError({name: [f"must be between {low} and {high}, got {value}."]})
    return value


# --- audiences ----------------------------------------------------------------------------------


class AudienceCreateApi(CompatApi):
    def post(self, request):
        audience = services.audience_create(owner=request.user, body=request.data)
        return Response({"audienceId": audience.public_id}, status=status.HTTP_200_OK)


class AudienceDetailApi(CompatApi):
    def get(self, request, audience_id: str):
        audience = audience_get(user=request.user, public_id=audience_id)
        return Response(documents.audience_documents([audience])[0])


class AudienceListApi(CompatApi):
    def get(self, request):
        page = _int_param(request, "page", 1, low=1, high=100_000)
        page_size = _int_param(request, "page_size", 10, low=1, high=MAX_PAGE_SIZE)
        name = request.query_params.get("name[contains]", "")
        if "\x00" in name or len(name) > 200:
            raise ValidationError({"name[contains]": ["at most 200 characters, no NUL."]})
        queryset = audience_find(user=request.user, name=name).select_related("owner")
        total = queryset.count()
        items = list(queryset[(page - 1) * page_size : page * page_size])
        return Response(
            {
                "total": total,
                "page": page,
                "pageSize": page_size,
                "totalPages": -(-total // page_size),
                "items": documents.audience_documents(items),
            }
        )


class AudienceUserMetricsApi(CompatApi):
    def get(self, request, audience_id: str):
        audience = audience_get(user=request.user, public_id=audience_id)
        return Response(documents.audience_user_metrics(audience))


class AudienceRecruitApi(CompatApi):
    """Recruiting starts by itself once an audience has its examples: this
    only confirms the audience exists."""

    def post(self, request, audience_id: str):
        audience_get(user=request.user, public_id=audience_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AudienceExampleApi(CompatApi):
    def post(self, request, audience_id: str):
        audience = audience_get(user=request.user, public_id=audience_id)
        example = services.example_add(owner=request.user, audience=audience, body=request.data)
        return Response({"exampleId": example.public_id}, status=status.HTTP_200_OK)


# --- assets -------------------------------------------------------------------------------------


class AssetFileApi(CompatApi):
    parser_classes = [parsers.MultiPartParser]

    def post(self, request):
        upload = request.FILES.get("file")
        if upload is None:
            raise ValidationError({"file": ["send the image as multipart field `file`."]})
        asset = asset_services.asset_upload(owner=request.user, upload=upload)
        return Response({"fileName": asset.public_id, "warnings": [], "wasCompressed": False})


class AssetUrlApi(CompatApi):
    def post(self, request):
        fetch = services.url_fetch_single(owner=request.user, url=request.query_params.get("url"))
        if fetch.status == UrlFetch.Status.PENDING:
            # 429 with Retry-After: the client asks again (and finds this fetch), as it does for no 4xx else.
            return Response(
                {"detail": "The image is still being fetched; ask again in a second.", "code": "still_fetching"},
                status=status.HTTP_429_TOO_MANY_REQUESTS,
                headers={"Retry-After": "1"},
            )
        if fetch.status == UrlFetch.Status.FAILED:
            raise ValidationError({"url": [f"could not be fetched: {fetch.error_message}"]})
        return Response({"fileName": fetch.asset.public_id, "warnings": [], "wasCompressed": False})


class BatchUploadCreateApi(CompatApi):
    def post(self, request):
        body = request.data
        if not isinstance(body, dict):
            raise ValidationError({"body": ["must be an object with urls and correlationId."]})
        batch = services.batch_upload_create(
            owner=request.user, urls=body.get("urls"), correlation_id=body.get("correlationId")
        )
        return Response({"batchUploadId": batch.public_id})


class BatchUploadStatusApi(CompatApi):
    def get(self, request):
        correlation = request.query_params.get("correlationId", "")
        if not correlation or len(correlation) > 100 or "\x00" in correlation:
            raise ValidationError({"correlationId": ["is required (at most 100 characters, no NUL)."]})
        fetches.url_fetches_fail_lost(owner=request.user)
        return Response(documents.batch_uploads_status(owner=request.user, correlation_id=correlation))


class BatchUploadDetailApi(CompatApi):
    def get(self, request, batch_id: str):
        batch = BatchUpload.objects.get(owner=request.user, public_id=batch_id)
        return Response(documents.batch_upload_document(batch))


class BatchUploadAbortApi(CompatApi):
    def post(self, request, batch_id: str):
        batch = BatchUpload.objects.get(owner=request.user, public_id=batch_id)
        services.batch_upload_abort(batch=batch)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- datasets, definitions, jobs -------------------------------------------------------------------


class DatasetCreateApi(CompatApi):
    def post(self, request):
        body = request.data if isinstance(request.data, dict) else None
        if body is None:
            raise ValidationError({"body": ["must be an object with a name."]})
        dataset = services.dataset_create(owner=request.user, name=body.get("name"))
        return Response({"datasetId": dataset.public_id}, status=status.HTTP_200_OK)


class DatasetDatapointApi(CompatApi):
    def post(self, request, dataset_id: str):
        dataset = Dataset.objects.get(owner=request.user, public_id=dataset_id)
        datapoint = services.dataset_datapoint_add(dataset=dataset, body=request.data)
        return Response({"datapointId": datapoint.public_id}, status=status.HTTP_200_OK)


class JobDefinitionCreateApi(CompatApi):
    def post(self, request):
        definition = services.job_definition_create(owner=request.user, body=request.data)
        return Response(
            {"definitionId": definition.public_id, "pipelineId": definition.public_id}, status=status.HTTP_200_OK
        )


class JobCreateApi(CompatApi):
    def post(self, request):
        job = services.job_create(owner=request.user, body=request.data)
        return Response(
            {
                "jobId": job.public_id,
                "experimentId": None,
                "costWarning": None,
                "contentCheckSkipDenied": False,
                "recruitingStarted": True,
            },
            status=status.HTTP_200_OK,
        )


class JobDetailApi(CompatApi):
    def get(self, request, job_id: str):
        job = job_get(user=request.user, public_id=job_id)
        return Response(documents.job_document(job))


class JobProgressApi(CompatApi):
    def get(self, request, job_id: str):
        job = job_get(user=request.user, public_id=job_id)
        return Response(documents.job_progress_document(job))


class JobDownloadResultsApi(CompatApi):
    def get(self, request, job_id: str):
        job = job_get(user=request.user, public_id=job_id)
        document = documents.job_results_document(job, absolute_url=_absolute(request))
        return HttpResponse(json.dumps(document).encode(), content_type="application/octet-stream")


class JobRetryApi(CompatApi):
    """Results here are never stale (they are rebuilt as answers arrive):
    a retry has nothing to do."""

    def post(self, request, job_id: str):
        job_get(user=request.user, public_id=job_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
