"""Job definitions and their datapoints, jobs, leases, responses and results
(assets, the items they show, are ``assets.models``).

Rules a database can hold are constraints here; the rest lives in
``services.py``. Objects are addressed from outside by ``public_id``.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Greatest

from assets import wire
from assets.models import Asset, TaskKind, compare_items_constraints
from core import ids


class JobDefinition(models.Model):
    """What to ask (kind, instruction, datapoints) and how many answers."""

    class DrawAggregation(models.TextChoices):
        MAJORITY = "majority", "Weighted majority vote"
        EM = "em", "Expectation-maximization"

    public_id = models.CharField(max_length=40, unique=True, default=ids.job_definition_id, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="job_definitions")
    kind = models.CharField(max_length=7, choices=TaskKind.choices)
    name = models.CharField(max_length=wire.MAX_NAME_LENGTH)
    instruction = models.CharField(max_length=wire.MAX_INSTRUCTION_LENGTH)
    responses_per_datapoint = models.PositiveIntegerField(default=10)
    confidence_threshold = models.FloatField(
        null=True,
        blank=True,
        help_text="Compare only: stop a datapoint once its leader's posterior confidence reaches this.",
    )
    draw_aggregation = models.CharField(
        max_length=10, choices=DrawAggregation.choices, default=DrawAggregation.MAJORITY
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                name="definition_responses_at_least_one",
                condition=Q(responses_per_datapoint__gte=1) & Q(responses_per_datapoint__lte=1000),
            ),
            models.CheckConstraint(
                name="definition_confidence_threshold_range",
                condition=Q(confidence_threshold__isnull=True)
                | (Q(kind=TaskKind.COMPARE) & Q(confidence_threshold__gt=0) & Q(confidence_threshold__lt=1)),
            ),
            models.CheckConstraint(name="definition_instruction_not_empty", condition=~Q(instruction="")),
        ]
        indexes = [models.Index(fields=["owner", "name"])]

    def __str__(self) -> str:
        return self.name


class Datapoint(models.Model):
    """One item (draw) or pair of items (compare) of a definition, in order."""

    definition = models.ForeignKey(JobDefinition, on_delete=models.CASCADE, related_name="datapoints")
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=7, choices=TaskKind.choices)
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="+")
    asset_b = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    context = models.TextField(max_length=wire.MAX_CONTEXT_LENGTH, blank=True)
    media_context = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="+", null=True, blank=True)

    class Meta:
        ordering = ["definition", "position"]
        constraints = [
            models.UniqueConstraint(fields=["definition", "position"], name="datapoint_unique_position"),
            *compare_items_constraints("datapoint"),
        ]

    def __str__(self) -> str:
        return f"#{self.position}"

    @property
    def assets(self) -> list[Asset]:
        return [self.asset] if self.asset_b_id is None else [self.asset, self.asset_b]


class Job(models.Model):
    """A definition running on an audience."""

    class State(models.TextChoices):
        RUNNING = "running", "Running"
        PAUSED = "paused", "Paused"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    public_id = models.CharField(max_length=40, unique=True, default=ids.job_id, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jobs")
    definition = models.ForeignKey(JobDefinition, on_delete=models.PROTECT, related_name="jobs")
    audience = models.ForeignKey("audiences.Audience", on_delete=models.PROTECT, related_name="jobs")
    state = models.CharField(max_length=10, choices=State.choices, default=State.RUNNING)
    responses_needed = models.PositiveIntegerField(
        help_text="datapoints x responses per datapoint, fixed at assignment"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    summary = models.JSONField(default=dict, blank=True, help_text="job-wide results (compare: the ranking)")
    summary_response_count = models.PositiveIntegerField(
        default=0, help_text="responses the summary includes; behind the job's count means stale"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["audience", "state"]), models.Index(fields=["owner", "state"])]

    def __str__(self) -> str:
        return f"{self.definition.name} on {self.audience.name}"


class JobDatapoint(models.Model):
    """A datapoint within one job: the unit leases, responses and results hang on.

    ``response_count`` is kept under this row's lock by the submission
    service; ``closed`` means it takes no more responses (full, or stopped
    early by its confidence threshold). ``leases_active`` counts its leases
    whose status is active, those that ran out included: every service that
    creates a lease or ends one changes it in the same transaction, under
    this row's lock. Short of its answers by more than that count, the datapoint
    has room, which a statement that has just locked the row can tell from
    the row alone (see ``jobs.feed.leasing.task_next``).
    """

    # Indexed first in job_dp_feed and job_datapoint_unique: no index of its own.
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="job_datapoints", db_index=False)
    datapoint = models.ForeignKey(Datapoint, on_delete=models.CASCADE, related_name="job_datapoints")
    position = models.PositiveIntegerField()
    response_count = models.PositiveIntegerField(default=0)
    closed = models.BooleanField(default=False)
    stopped_early = models.BooleanField(default=False)
    leases_active = models.PositiveIntegerField(default=0)
    last_response_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["job", "position"]
        constraints = [
            models.UniqueConstraint(fields=["job", "datapoint"], name="job_datapoint_unique"),
            models.CheckConstraint(name="job_datapoint_count_non_negative", condition=Q(response_count__gte=0)),
        ]
        indexes = [models.Index(fields=["job", "closed", "-response_count", "position"], name="job_dp_feed")]

    def __str__(self) -> str:
        return f"{self.job_id}/{self.position}"


class LeaseQuerySet(models.QuerySet):
    def end(self, now: dt.datetime) -> int:
        """End these leases at ``now``, the time a request read before it
        waited for a lock: a lease taken meanwhile, after ``now``, ends just
        after it began, so ``expires_at > leased_at`` holds."""
        return self.update(
            expires_at=Greatest(
                Value(now, output_field=models.DateTimeField()), F("leased_at") + dt.timedelta(microseconds=1)
            )
        )


class Lease(models.Model):
    """A task handed to a labeler: a job datapoint (or, for ongoing quality
    checks, one of the audience's examples), held until ``expires_at``.

    The labeler API calls a lease a *task*; its ``public_id`` is the task id.
    A datapoint never has more responses plus live leases than it needs.

    Only an active lease before ``expires_at`` holds room. A released one was
    given back (the labeler's page closed): like one that ran out, it holds
    nothing, and the labeler may be given the datapoint again (the row is
    renewed under a new id). A skipped or submitted one is final.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUBMITTED = "submitted", "Submitted"
        SKIPPED = "skipped", "Skipped"
        RELEASED = "released", "Released"

    # Leases and responses are written on every task: each index costs every
    # write. Unique through a constraint (no pattern-matching index beside
    # it); foreign keys indexed first in a composite index get none of their own.
    public_id = models.CharField(max_length=40, default=ids.task_id, editable=False)
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="leases")
    job_datapoint = models.ForeignKey(
        JobDatapoint, on_delete=models.CASCADE, related_name="leases", null=True, blank=True, db_index=False
    )
    example = models.ForeignKey(
        "audiences.QualificationExample", on_delete=models.CASCADE, related_name="+", null=True, blank=True
    )
    # PROTECT: a labeler's tasks are counted in their datapoint's row
    # (leases_active); deleting the labeler would leave the count behind.
    labeler = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="leases", db_index=False
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    leased_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    objects = LeaseQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["public_id"], name="lease_public_id_unique"),
            # Quality-check leases have no datapoint; NULLs never collide.
            models.UniqueConstraint(fields=["job_datapoint", "labeler"], name="lease_one_per_datapoint_labeler"),
            models.CheckConstraint(
                name="lease_datapoint_xor_example",
                condition=(Q(job_datapoint__isnull=False) & Q(example__isnull=True))
                | (Q(job_datapoint__isnull=True) & Q(example__isnull=False)),
            ),
            models.CheckConstraint(name="lease_expires_after_start", condition=Q(expires_at__gt=F("leased_at"))),
        ]
        indexes = [
            models.Index(fields=["job_datapoint", "status", "expires_at"], name="lease_live"),
            models.Index(fields=["labeler", "job", "status"], name="lease_labeler_job"),
            # The quality checks a labeler was shown (never shown twice); few rows.
            models.Index(
                fields=["labeler", "example"], name="lease_labeler_checks", condition=Q(example__isnull=False)
            ),
        ]


class Response(models.Model):
    """One labeler's answer to one job datapoint."""

    public_id = models.CharField(max_length=40, default=ids.response_id, editable=False)  # see Lease
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="responses", db_index=False)
    job_datapoint = models.ForeignKey(JobDatapoint, on_delete=models.CASCADE, related_name="responses", db_index=False)
    # PROTECT: answers a requester paid for are never lost with the account,
    # and counts and results include them (labelers are deactivated instead).
    labeler = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="responses")
    payload = models.JSONField()
    user_score = models.FloatField(help_text="the labeler's user score in the job's audience when submitted")
    graded_answers = models.PositiveIntegerField(
        default=0,
        help_text="graded answers (qualification and gold) behind user_score when submitted; "
        "0: the score is the prior, not evidence",
    )
    time_spent_ms = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["public_id"], name="response_public_id_unique"),
            models.UniqueConstraint(fields=["job_datapoint", "labeler"], name="response_unique_per_labeler"),
            models.CheckConstraint(
                name="response_user_score_ratio", condition=Q(user_score__gte=0) & Q(user_score__lte=1)
            ),
        ]
        indexes = [models.Index(fields=["job", "created_at"])]


class DatapointResult(models.Model):
    """The aggregate of one job datapoint, rebuilt by Celery workers.

    ``response_count`` is how many responses it includes; when it is behind
    the job datapoint's own count, the result is stale and the sweeper
    re-enqueues it.
    """

    job_datapoint = models.OneToOneField(JobDatapoint, on_delete=models.CASCADE, related_name="result")
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="results")
    response_count = models.PositiveIntegerField(default=0)
    data = models.JSONField(default=dict)
    state = models.BinaryField(
        null=True, blank=True, help_text="draw: the weighted vote grid and response masks (jobs.aggregation.DrawState)"
    )
    aggregator_version = models.CharField(max_length=20, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["job", "response_count"])]
