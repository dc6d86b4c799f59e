"""The labeler API: qualification and the task feed, as JSON.

The labeler pages use exactly these endpoints, so a program can label as a
browser does. Session or token authentication; errors are
``{"detail", "code"}`` (409 for a state conflict, 403 when not eligible,
404 for anything not yours) or ``{field: [messages]}`` (400).
"""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from audiences import services as audience_services
from audiences.grading import graduation_bounds
from audiences.models import Audience, Membership
from core.api_common import DetailErrorSerializer, StrictInputSerializer, validated
from core.errors import DomainError
from core.throttles import SubmitRateThrottle
from jobs import feed
from jobs.models import Datapoint, Job, JobDefinition

from . import selectors, services

# --- schema ------------------------------------------------------------------------


class ItemSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["image", "text"])
    value = serializers.CharField(help_text="send this back as a compare `choice`")
    src = serializers.CharField(required=False, help_text="image URL")
    text = serializers.CharField(required=False)
    width = serializers.IntegerField(required=False, allow_null=True)
    height = serializers.IntegerField(required=False, allow_null=True)


class TaskSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="task id: submit or skip with it")
    kind = serializers.ChoiceField(choices=["draw", "compare"])
    instruction = serializers.CharField()
    context = serializers.CharField(allow_blank=True)
    media_context = ItemSerializer(allow_null=True)
    items = ItemSerializer(many=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    job = inline_serializer(
        "TaskJob", {"id": serializers.CharField(), "name": serializers.CharField()}, allow_null=True
    )


RESPONSE_HELP = (
    'draw: {"lines": [{"size": s, "points": [{"x": x, "y": y}, ...]}, ...]} with x, y, size as ratios '
    '(size of the image width); compare: {"choice": <the value of one of the two items>}'
)


class BodySerializer(StrictInputSerializer):
    """A request body: fields it does not know are refused (after the missing ones)."""

    # A form body (sendBeacon cannot set headers) carries its CSRF token as a field.
    accepted_extra = ("csrfmiddlewaretoken",)
    unknown_fields_last = True


class AnswerSerializer(BodySerializer):
    task_id = serializers.CharField()
    response = serializers.JSONField(help_text=RESPONSE_HELP)


class SubmitSerializer(BodySerializer):
    response = serializers.JSONField(help_text=RESPONSE_HELP)


PAGE_LEASE, STANDARD_LEASE = "page", "standard"


def lease_field() -> serializers.ChoiceField:
    return serializers.ChoiceField(
        choices=[STANDARD_LEASE, PAGE_LEASE],
        required=False,
        help_text=(
            f"`{STANDARD_LEASE}` (default): a new or renewed task is yours for LEASE_SECONDS "
            f"({settings.LEASE_SECONDS} s here); `{PAGE_LEASE}`: for PAGE_LEASE_SECONDS "
            f"({settings.PAGE_LEASE_SECONDS} s here), a short lease for a page that renews it "
            "(tasks/{id}/renew/) every third of that while it is open and releases it when it closes"
        ),
    )


class LeaseSerializer(BodySerializer):
    """Optional: which lease to take (a JSON object, or form fields)."""

    lease = lease_field()


class TaskSubmitSerializer(SubmitSerializer):
    lease = lease_field()


class ReleaseSerializer(BodySerializer):
    """No fields. The work pages send it with ``navigator.sendBeacon`` as a
    form whose ``csrfmiddlewaretoken`` field carries the CSRF token."""


def lease_seconds(body: dict) -> int:
    """The lease length a body asks for (``lease_field``)."""
    return settings.PAGE_LEASE_SECONDS if body.get("lease") == PAGE_LEASE else settings.LEASE_SECONDS


class QualificationStateSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Membership.State.values)
    user_score = serializers.FloatField(
        help_text="the score of your qualification answers; quality checks among job tasks do not change what you see"
    )
    answered = serializers.IntegerField()
    min_answers = serializers.IntegerField()
    max_answers = serializers.IntegerField()
    task = TaskSerializer(allow_null=True)


class QualificationAnswerResultSerializer(QualificationStateSerializer):
    correct = serializers.BooleanField()
    explanation = serializers.CharField(allow_blank=True, help_text="shown after a wrong answer")


class NextTaskSerializer(serializers.Serializer):
    task = TaskSerializer(allow_null=True)
    detail = serializers.CharField(required=False)


class SubmitResultSerializer(serializers.Serializer):
    accepted = serializers.BooleanField()
    next = TaskSerializer(allow_null=True)


class RenewResultSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="the task id")
    expires_at = serializers.DateTimeField(help_text="the task is yours until then")


class ReleaseResultSerializer(serializers.Serializer):
    released = serializers.BooleanField()


ERRORS = {
    400: OpenApiResponse(description="invalid body: {field: [messages]}"),
    401: OpenApiResponse(DetailErrorSerializer, description="not signed in"),
    403: OpenApiResponse(DetailErrorSerializer, description="not eligible"),
    404: OpenApiResponse(DetailErrorSerializer, description="not found"),
    409: OpenApiResponse(DetailErrorSerializer, description="state conflict (code says which)"),
    413: OpenApiResponse(DetailErrorSerializer, description="request body too large"),
    429: OpenApiResponse(DetailErrorSerializer, description="too many requests: wait Retry-After seconds"),
}

NO_WORK = "No more tasks in this job for you."


# --- qualification -------------------------------------------------------------------


def _audience(public_id: str) -> Audience:
    return get_object_or_404(Audience, public_id=public_id)


def qualification_state(membership: Membership) -> dict:
    audience = membership.audience
    low, high = graduation_bounds(
        examples=audience.examples.count(), min_tasks=audience.min_tasks, max_tasks=audience.max_tasks
    )
    answered, _, score = selectors.qualification_record(membership)  # never moved by gold answers
    return {
        "status": membership.state,
        "user_score": round(score, 4),
        "answered": answered,
        "min_answers": low,
        "max_answers": high,
        "task": selectors.qualification_task_view(membership),
    }


class QualificationNextView(APIView):
    throttle_classes = [SubmitRateThrottle]

    @extend_schema(
        operation_id="labeler_qualification_next",
        tags=["labeler"],
        request=None,
        responses={200: QualificationStateSerializer, **ERRORS},
        summary="Start or continue qualifying: the example to answer now",
    )
    def post(self, request, audience_id: str):
        membership = audience_services.qualification_next(labeler=request.user, audience=_audience(audience_id))
        return Response(qualification_state(membership))


class QualificationAnswerView(APIView):
    throttle_classes = [SubmitRateThrottle]

    @extend_schema(
        operation_id="labeler_qualification_answer",
        tags=["labeler"],
        request=AnswerSerializer,
        responses={200: QualificationAnswerResultSerializer, **ERRORS},
        summary="Answer the current example; returns the grade and the next example",
    )
    def post(self, request, audience_id: str):
        body = validated(AnswerSerializer, request.data)
        audience = _audience(audience_id)
        outcome = audience_services.qualification_answer(
            labeler=request.user, audience=audience, task_id=body["task_id"], response=body["response"]
        )
        membership = outcome.membership
        if membership.state == Membership.State.QUALIFYING:
            membership = audience_services.qualification_next(labeler=request.user, audience=audience)
        return Response(
            {"correct": outcome.correct, "explanation": outcome.explanation, **qualification_state(membership)}
        )


# --- task feed ------------------------------------------------------------------------------


def _next_task(request, job: Job, membership=None, *, seconds: int) -> dict | None:
    lease = feed.task_next(labeler=request.user, job=job, membership=membership, lease_seconds=seconds)
    return selectors.task_view(lease) if lease else None


def _next_after(request, job: Job, membership=None, *, seconds: int) -> dict | None:
    """The next task once one is answered: none when the job stopped or the
    labeler may no longer work on it."""
    try:
        return _next_task(request, job, membership, seconds=seconds)
    except DomainError:
        return None


class TaskNextView(APIView):
    throttle_classes = [SubmitRateThrottle]

    @extend_schema(
        operation_id="labeler_task_next",
        tags=["labeler"],
        request=LeaseSerializer,
        responses={200: NextTaskSerializer, **ERRORS},
        summary="Your next task in a job (the same one until you answer, skip or release it)",
        description="The body is optional. A task you hold keeps its time; a new one runs as `lease` asks.",
    )
    def post(self, request, job_id: str):
        body = validated(LeaseSerializer, request.data)
        # The definition comes from the process cache (task_next).
        job = get_object_or_404(Job.objects.select_related("audience"), public_id=job_id)
        task = _next_task(request, job, seconds=lease_seconds(body))
        return Response({"task": task} if task else {"task": None, "detail": NO_WORK})


class TaskSubmitView(APIView):
    throttle_classes = [SubmitRateThrottle]

    @extend_schema(
        operation_id="labeler_task_submit",
        tags=["labeler"],
        request=TaskSubmitSerializer,
        responses={200: SubmitResultSerializer, **ERRORS},
        summary="Answer a task; returns your next task in the same job",
        description="`lease` is for the next task. An answer to a task that ran out or was "
        "released is still taken while its datapoint has room (409 `task_expired` "
        "once it has not).",
    )
    def post(self, request, task_id: str):
        body = validated(TaskSubmitSerializer, request.data)
        submitted = feed.task_submit(labeler=request.user, task_id=task_id, response=body["response"])
        next_task = (
            _next_after(request, submitted.lease.job, submitted.membership, seconds=lease_seconds(body))
            if submitted.membership
            else None
        )
        return Response({"accepted": True, "next": next_task})


class TaskSkipView(APIView):
    throttle_classes = [SubmitRateThrottle]

    @extend_schema(
        operation_id="labeler_task_skip",
        tags=["labeler"],
        request=LeaseSerializer,
        responses={200: SubmitResultSerializer, **ERRORS},
        summary="Give a task back for good (you will not be offered that datapoint again); "
        "returns your next task in the same job",
        description="The body is optional; `lease` is for the next task.",
    )
    def post(self, request, task_id: str):
        body = validated(LeaseSerializer, request.data)
        lease = feed.task_skip(labeler=request.user, task_id=task_id)
        return Response({"accepted": True, "next": _next_after(request, lease.job, seconds=lease_seconds(body))})


class TaskRenewView(APIView):
    throttle_classes = [SubmitRateThrottle]

    @extend_schema(
        operation_id="labeler_task_renew",
        tags=["labeler"],
        request=LeaseSerializer,
        responses={200: RenewResultSerializer, **ERRORS},
        summary="Keep a task: it is yours for another lease from now",
        description="Only a live task is renewed: one that ran out is a 409 `task_expired` (its "
        "place may have been given to someone else; ask for your next task), a "
        "released one `task_released`, an answered or skipped one "
        "`task_already_submitted` or `task_skipped`. The body is optional: `lease` "
        "says how long (the work pages renew their page lease every third of it).",
    )
    def post(self, request, task_id: str):
        body = validated(LeaseSerializer, request.data)
        lease = feed.task_renew(labeler=request.user, task_id=task_id, lease_seconds=lease_seconds(body))
        return Response({"id": lease.public_id, "expires_at": lease.expires_at.isoformat()})  # as in a task


class TaskReleaseView(APIView):
    throttle_classes = [SubmitRateThrottle]

    @extend_schema(
        operation_id="labeler_task_release",
        tags=["labeler"],
        request=ReleaseSerializer,
        responses={200: ReleaseResultSerializer, **ERRORS},
        summary="Give a task back for now (not a skip): its place is free at once, and you "
        "may be given the datapoint again later",
        description="What the work pages send when they close (`navigator.sendBeacon`, a form "
        "with the CSRF token in its `csrfmiddlewaretoken` field). Releasing a "
        "released task changes nothing; an answered or skipped one is a 409.",
    )
    def post(self, request, task_id: str):
        validated(ReleaseSerializer, request.data)
        feed.task_release(labeler=request.user, task_id=task_id)
        return Response({"released": True})


# --- home ----------------------------------------------------------------------------------


class LabelerHomeSerializer(serializers.Serializer):
    username = serializers.CharField()
    memberships = serializers.ListField(child=serializers.DictField())
    audiences_to_qualify = serializers.ListField(child=serializers.DictField())
    jobs = serializers.ListField(child=serializers.DictField())


def home_data(user) -> dict:
    return {
        "username": user.get_username(),
        "memberships": [selectors.membership_view(m) for m in selectors.labeler_memberships(labeler=user)],
        "audiences_to_qualify": [
            {"id": a.public_id, "name": a.name, "kind": a.kind, "description": a.description}
            for a in selectors.audiences_to_qualify(labeler=user)
        ],
        "jobs": [
            {
                "id": job.public_id,
                "name": job.definition.name,
                "kind": job.definition.kind,
                "instruction": job.definition.instruction,
                "audience": job.audience.name,
            }
            for job in selectors.jobs_with_work(labeler=user)
        ],
    }


class LabelerHomeView(APIView):
    @extend_schema(
        operation_id="labeler_home",
        tags=["labeler"],
        responses={200: LabelerHomeSerializer, **ERRORS},
        summary="Your audiences, audiences you can qualify for, and jobs with work for you",
    )
    def get(self, request):
        return Response(home_data(request.user))


class HeartbeatView(APIView):
    throttle_classes = [SubmitRateThrottle]

    @extend_schema(
        operation_id="labeler_heartbeat",
        tags=["labeler"],
        request=None,
        responses={201: inline_serializer("Heartbeat", {"ok": serializers.BooleanField()}), **ERRORS},
        summary="Say that your labeling page is open (the pages send one a minute)",
    )
    def post(self, request):
        services.heartbeat_record(labeler=request.user)
        return Response({"ok": True}, status=201)


# --- requester preview -----------------------------------------------------------------------


class PreviewTaskSerializer(serializers.Serializer):
    task = TaskSerializer()
    position = serializers.IntegerField()
    total = serializers.IntegerField()


PREVIEW_LIMIT = 20


def _preview_datapoint(request, definition_id: str, position: int) -> tuple[Datapoint, int]:
    definition = get_object_or_404(JobDefinition, public_id=definition_id, owner=request.user)
    total = min(PREVIEW_LIMIT, definition.datapoints.count())
    if position >= total:
        raise Datapoint.DoesNotExist
    datapoint = Datapoint.objects.select_related("definition", "asset", "asset_b", "media_context").get(
        definition=definition, position=position
    )
    return datapoint, total


class PreviewTaskView(APIView):
    @extend_schema(
        operation_id="preview_task",
        tags=["preview"],
        responses={200: PreviewTaskSerializer, **ERRORS},
        summary="A datapoint of your definition as labelers will see it (first 20)",
    )
    def get(self, request, definition_id: str, position: int):
        datapoint, total = _preview_datapoint(request, definition_id, position)
        return Response({"task": selectors.preview_task_view(datapoint), "position": position, "total": total})


class PreviewCheckView(APIView):
    @extend_schema(
        operation_id="preview_check",
        tags=["preview"],
        request=SubmitSerializer,
        responses={
            200: inline_serializer(
                "PreviewCheck", {"valid": serializers.BooleanField(), "stored": serializers.BooleanField()}
            ),
            **ERRORS,
        },
        summary="Validate an answer exactly as a submission would; nothing is stored",
    )
    def post(self, request, definition_id: str, position: int):
        body = validated(SubmitSerializer, request.data)
        datapoint, _ = _preview_datapoint(request, definition_id, position)
        feed.response_validate(datapoint=datapoint, response=body["response"])
        return Response({"valid": True, "stored": False})
