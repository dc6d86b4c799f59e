"""Audiences, their qualification examples, and labelers' memberships."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from assets import wire
from assets.models import Asset, TaskKind, compare_items_constraints
from core import ids

GLOBAL_AUDIENCE_ID = "global"


def _ratio_check(name: str, field: str) -> models.CheckConstraint:
    return models.CheckConstraint(name=name, condition=Q(**{f"{field}__gte": 0}) & Q(**{f"{field}__lte": 1}))


class Audience(models.Model):
    """A pool of labelers. ``global`` holds every labeler; curated audiences
    are run by operators and visible to every requester; custom audiences
    belong to one requester and admit labelers through qualification."""

    class Kind(models.TextChoices):
        GLOBAL = "global", "Global"
        CURATED = "curated", "Curated"
        CUSTOM = "custom", "Custom"

    public_id = models.CharField(max_length=40, unique=True, default=ids.audience_id, editable=False)
    kind = models.CharField(max_length=7, choices=Kind.choices, default=Kind.CUSTOM)
    name = models.CharField(max_length=wire.MAX_NAME_LENGTH)
    description = models.TextField(max_length=wire.MAX_CONTEXT_LENGTH, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="audiences", null=True, blank=True
    )
    target_accuracy = models.FloatField(default=0.75)
    min_tasks = models.PositiveIntegerField(
        default=5, help_text="answers needed before a labeler can graduate (clamped to the number of examples)"
    )
    max_tasks = models.PositiveIntegerField(
        default=10, help_text="answers after which a labeler who has not graduated is dropped"
    )
    gold_rate = models.FloatField(
        default=0.05, help_text="share of served tasks that are the audience's own examples (custom audiences)"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                name="audience_owner_matches_kind",
                condition=(Q(kind="custom") & Q(owner__isnull=False))
                | (Q(kind__in=["global", "curated"]) & Q(owner__isnull=True)),
            ),
            models.UniqueConstraint(fields=["kind"], condition=Q(kind="global"), name="audience_single_global"),
            _ratio_check("audience_target_accuracy_ratio", "target_accuracy"),
            _ratio_check("audience_gold_rate_ratio", "gold_rate"),
            models.CheckConstraint(name="audience_min_tasks_positive", condition=Q(min_tasks__gte=1)),
            models.CheckConstraint(name="audience_max_tasks_at_least_min", condition=Q(max_tasks__gte=F("min_tasks"))),
            models.CheckConstraint(name="audience_name_not_empty", condition=~Q(name="")),
        ]
        indexes = [models.Index(fields=["owner", "name"]), models.Index(fields=["kind", "name"])]

    def __str__(self) -> str:
        return self.name

    @property
    def needs_qualification(self) -> bool:
        return self.kind != self.Kind.GLOBAL


class QualificationExample(models.Model):
    """A question with a known answer that gates an audience (and, served
    among real tasks, keeps checking its members)."""

    DEFAULT_REQUIRED_PRECISION = 0.8
    DEFAULT_REQUIRED_COMPLETENESS = 1.0

    public_id = models.CharField(max_length=40, unique=True, default=ids.example_id, editable=False)
    audience = models.ForeignKey(Audience, on_delete=models.CASCADE, related_name="examples")
    kind = models.CharField(max_length=7, choices=TaskKind.choices)
    instruction = models.CharField(max_length=wire.MAX_INSTRUCTION_LENGTH)
    context = models.TextField(max_length=wire.MAX_CONTEXT_LENGTH, blank=True)
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="+")
    asset_b = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    truth_asset = models.ForeignKey(
        Asset, on_delete=models.PROTECT, related_name="+", null=True, blank=True, help_text="compare: the right item"
    )
    required_precision = models.FloatField(
        default=DEFAULT_REQUIRED_PRECISION, help_text="draw: share of ink that must lie inside the truth boxes"
    )
    required_completeness = models.FloatField(
        default=DEFAULT_REQUIRED_COMPLETENESS, help_text="draw: share of truth boxes the ink must touch"
    )
    explanation = models.TextField(max_length=wire.MAX_EXPLANATION_LENGTH, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["audience", "created_at", "id"]
        constraints = [
            *compare_items_constraints("example"),
            models.CheckConstraint(
                name="example_truth_matches_kind",
                condition=(Q(kind=TaskKind.DRAW) & Q(truth_asset__isnull=True))
                | (Q(kind=TaskKind.COMPARE) & (Q(truth_asset=F("asset")) | Q(truth_asset=F("asset_b")))),
            ),
            _ratio_check("example_required_precision_ratio", "required_precision"),
            _ratio_check("example_required_completeness_ratio", "required_completeness"),
            models.CheckConstraint(name="example_instruction_not_empty", condition=~Q(instruction="")),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.instruction[:60]}"


class TruthBox(models.Model):
    """A region a correct draw answer colors in (ratios of the image)."""

    example = models.ForeignKey(QualificationExample, on_delete=models.CASCADE, related_name="truth_boxes")
    x_min = models.FloatField()
    y_min = models.FloatField()
    x_max = models.FloatField()
    y_max = models.FloatField()

    class Meta:
        ordering = ["example", "id"]
        constraints = [
            models.CheckConstraint(
                name="truth_box_in_image_and_ordered",
                condition=Q(x_min__gte=0)
                & Q(y_min__gte=0)
                & Q(x_max__lte=1)
                & Q(y_max__lte=1)
                & Q(x_min__lt=F("x_max"))
                & Q(y_min__lt=F("y_max")),
            ),
        ]

    def __str__(self) -> str:
        return f"({self.x_min:.2f}, {self.y_min:.2f})–({self.x_max:.2f}, {self.y_max:.2f})"

    def as_box(self) -> wire.Box:
        return wire.Box(self.x_min, self.y_min, self.x_max, self.y_max)


class Membership(models.Model):
    """A labeler in an audience: qualifying, graduated or dropped, with the
    record that gives their user score."""

    class State(models.TextChoices):
        QUALIFYING = "qualifying", "Qualifying"
        GRADUATED = "graduated", "Graduated"
        DROPPED = "dropped", "Dropped"

    labeler = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    audience = models.ForeignKey(Audience, on_delete=models.CASCADE, related_name="memberships")
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUALIFYING)
    answers = models.PositiveIntegerField(default=0, help_text="graded answers (qualification and gold)")
    correct = models.PositiveIntegerField(default=0)
    chance_sum = models.FloatField(default=0.0, help_text="sum of the chance of guessing each graded answer")
    user_score = models.FloatField(default=0.5)
    current_example = models.ForeignKey(
        QualificationExample, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    current_task_id = models.CharField(
        max_length=40, blank=True, help_text="opaque id under which the current example is shown"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["labeler", "audience"], name="membership_unique"),
            _ratio_check("membership_user_score_ratio", "user_score"),
            models.CheckConstraint(name="membership_correct_le_answers", condition=Q(correct__lte=F("answers"))),
        ]
        indexes = [models.Index(fields=["audience", "state"])]

    def __str__(self) -> str:
        # No username: requesters see memberships of their audiences, never who the labelers are.
        return f"Member {self.pk} of {self.audience}: {self.state}"

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.answers if self.answers else None


class QualificationAnswer(models.Model):
    """A graded answer to an example, in qualification or as a gold task."""

    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="graded_answers")
    example = models.ForeignKey(QualificationExample, on_delete=models.CASCADE, related_name="answers")
    gold = models.BooleanField(default=False, help_text="served among job tasks, not in qualification")
    payload = models.JSONField()
    correct = models.BooleanField()
    precision = models.FloatField(null=True, blank=True)
    completeness = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["membership", "example"], condition=Q(gold=False), name="qualification_answer_once"
            ),
        ]
