"""Requester API for audiences and their qualification examples (mounted under /api/).

One view per endpoint, thin: input serializers check the body's shape, the
services in ``audiences.services`` do every write (and every domain check),
the selectors in ``audiences.selectors`` every read, scoped to the
requester: the global and curated audiences and their own custom ones.
Another requester's custom audience is a 404.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response

from assets import wire
from assets.api_fields import ItemField, PairField
from assets.models import TaskKind
from core.api_common import (
    FindQuerySerializer,
    PageQuerySerializer,
    RawCharField,
    RawFloatField,
    RawIntegerField,
    RawJSONField,
    RequesterApiView,
    StrictInputSerializer,
    error_responses,
    page_serializer,
    paginate,
    validated,
)

from . import selectors, services
from .models import Audience, QualificationExample

# --- serializers: audiences ------------------------------------------------------------------------


class AudienceCreateSerializer(StrictInputSerializer):
    """A new custom audience; omitted fields take their defaults."""

    name = RawCharField(max_length=wire.MAX_NAME_LENGTH)
    description = RawCharField(required=False, allow_null=True, max_length=wire.MAX_CONTEXT_LENGTH)
    target_accuracy = RawFloatField(
        required=False,
        allow_null=True,
        min_value=0,
        max_value=1,
        help_text="share of correct answers to graduate, in (0, 1]; default 0.75",
    )
    min_tasks = RawIntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=services.MAX_TASKS_LIMIT,
        help_text="answers before a labeler can graduate; default 5",
    )
    max_tasks = RawIntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=services.MAX_TASKS_LIMIT,
        help_text="answers after which a labeler who has not graduated is dropped; default 10",
    )
    gold_rate = RawFloatField(
        required=False,
        allow_null=True,
        min_value=0,
        max_value=0.5,
        help_text="share of served tasks that are this audience's examples; default 0.05",
    )


class MembersSerializer(serializers.Serializer):
    """Labelers of the audience by membership state."""

    graduated = serializers.IntegerField()
    qualifying = serializers.IntegerField()
    dropped = serializers.IntegerField()


# Output serializers that read the context say what they need in a comment:
# docstrings are the schema's descriptions.


class AudienceSerializer(serializers.Serializer):
    """An audience: global (every labeler), curated (run by operators, open to
    every requester) or custom (yours, joined through qualification)."""

    # context: {"user": the requester, "stats": selectors.audience_stats(...)}

    id = serializers.CharField(source="public_id")
    kind = serializers.ChoiceField(choices=Audience.Kind.choices)
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    owned = serializers.SerializerMethodField(help_text="yours: you can add examples")
    target_accuracy = serializers.FloatField()
    min_tasks = serializers.IntegerField()
    max_tasks = serializers.IntegerField()
    gold_rate = serializers.FloatField()
    example_count = serializers.SerializerMethodField()
    members = serializers.SerializerMethodField()
    created = serializers.DateTimeField(source="created_at")

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_owned(self, audience: Audience) -> bool:
        return audience.owner_id is not None and audience.owner_id == self.context["user"].pk

    @extend_schema_field(OpenApiTypes.INT)
    def get_example_count(self, audience: Audience) -> int:
        return self.context["stats"][audience.pk]["example_count"]

    @extend_schema_field(MembersSerializer)
    def get_members(self, audience: Audience) -> dict:
        return self.context["stats"][audience.pk]["members"]


AudiencePageSerializer = page_serializer("AudiencePage", AudienceSerializer(many=True))


def _audience_data(audiences: list[Audience], user) -> list[dict]:
    context = {"user": user, "stats": selectors.audience_stats(audiences=audiences)}
    return AudienceSerializer(audiences, many=True, context=context).data


# --- serializers: examples ------------------------------------------------------------------------------


class BoxSerializer(serializers.Serializer):
    """A region as ratios of the image (0..1), min < max."""

    x_min = serializers.FloatField(min_value=0, max_value=1)
    y_min = serializers.FloatField(min_value=0, max_value=1)
    x_max = serializers.FloatField(min_value=0, max_value=1)
    y_max = serializers.FloatField(min_value=0, max_value=1)


@extend_schema_field(BoxSerializer(many=True))
class BoxesField(RawJSONField):
    pass


class DrawExampleCreateSerializer(StrictInputSerializer):
    """A draw qualification example: an image and the region(s) a correct answer colors in."""

    instruction = RawCharField(max_length=wire.MAX_INSTRUCTION_LENGTH)
    datapoint = ItemField(help_text="the image: a URL or an uploaded asset")
    truths = BoxesField(help_text=f"1 to {wire.MAX_BOXES} boxes a correct answer colors in")
    context = RawCharField(required=False, allow_null=True, max_length=wire.MAX_CONTEXT_LENGTH)
    explanation = RawCharField(
        required=False,
        allow_null=True,
        max_length=wire.MAX_EXPLANATION_LENGTH,
        help_text="shown to a labeler after a wrong answer",
    )
    required_precision = RawFloatField(
        required=False,
        allow_null=True,
        min_value=0,
        max_value=1,
        help_text="share of the ink that must lie inside the boxes; default 0.8",
    )
    required_completeness = RawFloatField(
        required=False,
        allow_null=True,
        min_value=0,
        max_value=1,
        help_text="share of the boxes the ink must touch; default 1",
    )


class CompareExampleCreateSerializer(StrictInputSerializer):
    """A compare qualification example: two distinct items and the right one."""

    instruction = RawCharField(max_length=wire.MAX_INSTRUCTION_LENGTH)
    datapoint = PairField()
    truth = ItemField(help_text="the right item: exactly one of the two datapoint items")
    context = RawCharField(required=False, allow_null=True, max_length=wire.MAX_CONTEXT_LENGTH)
    explanation = RawCharField(
        required=False,
        allow_null=True,
        max_length=wire.MAX_EXPLANATION_LENGTH,
        help_text="shown to a labeler after a wrong answer",
    )


class ExampleSerializer(serializers.Serializer):
    """A qualification example. `truth`, `truths` and `explanation` are null
    unless the audience is yours."""

    # context: {"truths_visible": selectors.example_truths_visible_to(audience, user)}

    id = serializers.CharField(source="public_id")
    kind = serializers.ChoiceField(choices=TaskKind.choices)
    instruction = serializers.CharField()
    context = serializers.CharField(allow_blank=True)
    items = serializers.SerializerMethodField(help_text="as given: URL, text or uploaded file name")
    truth_visible = serializers.SerializerMethodField()
    truth = serializers.SerializerMethodField(help_text="compare: the right item")
    truths = serializers.SerializerMethodField(help_text="draw: the boxes a correct answer colors in")
    explanation = serializers.SerializerMethodField()
    required_precision = serializers.SerializerMethodField()
    required_completeness = serializers.SerializerMethodField()
    created = serializers.DateTimeField(source="created_at")

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_items(self, example: QualificationExample) -> list[str]:
        return [asset.value for asset in (example.asset, example.asset_b) if asset is not None]

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_truth_visible(self, example: QualificationExample) -> bool:
        return self.context["truths_visible"]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_truth(self, example: QualificationExample) -> str | None:
        if not self.context["truths_visible"] or example.kind != TaskKind.COMPARE:
            return None
        return example.truth_asset.value

    @extend_schema_field(BoxSerializer(many=True, allow_null=True))
    def get_truths(self, example: QualificationExample) -> list[dict] | None:
        if not self.context["truths_visible"] or example.kind != TaskKind.DRAW:
            return None
        return [box.as_box().as_dict() for box in example.truth_boxes.all()]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_explanation(self, example: QualificationExample) -> str | None:
        return example.explanation if self.context["truths_visible"] else None

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_required_precision(self, example: QualificationExample) -> float | None:
        return example.required_precision if example.kind == TaskKind.DRAW else None

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_required_completeness(self, example: QualificationExample) -> float | None:
        return example.required_completeness if example.kind == TaskKind.DRAW else None


ExamplePageSerializer = page_serializer("ExamplePage", ExampleSerializer(many=True))


def _example_data(example: QualificationExample, *, audience: Audience, user) -> dict:
    example = selectors.example_list(audience=audience).get(pk=example.pk)
    context = {"truths_visible": selectors.example_truths_visible_to(audience, user)}
    return ExampleSerializer(example, context=context).data


# --- views: audiences ---------------------------------------------------------------------------------


class AudienceListApi(RequesterApiView):
    @extend_schema(
        operation_id="audiences_find",
        tags=["audiences"],
        summary="Find audiences by name",
        description="The global and curated audiences and your own custom ones, newest first.",
        parameters=[FindQuerySerializer],
        responses={200: AudiencePageSerializer, **error_responses(400, 401, 403)},
    )
    def get(self, request):
        query = validated(FindQuerySerializer, request.query_params)
        audiences = selectors.audience_find(user=request.user, name=query["name"])
        page = paginate(audiences, page=query["page"], page_size=query["page_size"])
        return Response(
            {
                "count": page.count,
                "page": page.page,
                "page_size": page.page_size,
                "results": _audience_data(page.items, request.user),
            }
        )

    @extend_schema(
        operation_id="audiences_create",
        tags=["audiences"],
        summary="Create a custom audience",
        description="A new, empty audience; labelers join it by passing the qualification examples you add.",
        request=AudienceCreateSerializer,
        responses={201: AudienceSerializer, **error_responses(400, 401, 403, 413, 415)},
    )
    def post(self, request):
        data = validated(AudienceCreateSerializer, request.data)
        audience = services.audience_create(owner=request.user, **data)
        return Response(_audience_data([audience], request.user)[0], status=status.HTTP_201_CREATED)


class AudienceDetailApi(RequesterApiView):
    @extend_schema(
        operation_id="audiences_get",
        tags=["audiences"],
        summary="Get an audience",
        description="By id; `global` is the audience of every labeler. Includes member counts by state.",
        responses={200: AudienceSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request, audience_id: str):
        audience = selectors.audience_get(user=request.user, public_id=audience_id)
        return Response(_audience_data([audience], request.user)[0])


# --- views: examples ------------------------------------------------------------------------------------


class ExampleListApi(RequesterApiView):
    @extend_schema(
        operation_id="audience_examples_list",
        tags=["audiences"],
        summary="An audience's qualification examples",
        description="In the order they were added. Truths and explanations only for the audience's owner.",
        parameters=[PageQuerySerializer],
        responses={200: ExamplePageSerializer, **error_responses(400, 401, 403, 404)},
    )
    def get(self, request, audience_id: str):
        audience = selectors.audience_get(user=request.user, public_id=audience_id)
        query = validated(PageQuerySerializer, request.query_params)
        page = paginate(selectors.example_list(audience=audience), page=query["page"], page_size=query["page_size"])
        context = {"truths_visible": selectors.example_truths_visible_to(audience, request.user)}
        return Response(
            {
                "count": page.count,
                "page": page.page,
                "page_size": page.page_size,
                "results": ExampleSerializer(page.items, many=True, context=context).data,
            }
        )


class DrawExampleCreateApi(RequesterApiView):
    @extend_schema(
        operation_id="audience_examples_add_draw",
        tags=["audiences"],
        summary="Add a draw qualification example",
        description="An image and the box(es) a correct answer colors in. Your custom audiences only.",
        request=DrawExampleCreateSerializer,
        responses={201: ExampleSerializer, **error_responses(400, 401, 403, 404, 413, 415)},
    )
    def post(self, request, audience_id: str):
        audience = selectors.audience_get(user=request.user, public_id=audience_id)
        data = validated(DrawExampleCreateSerializer, request.data)
        example = services.example_add_draw(audience=audience, owner=request.user, **data)
        return Response(_example_data(example, audience=audience, user=request.user), status=status.HTTP_201_CREATED)


class CompareExampleCreateApi(RequesterApiView):
    @extend_schema(
        operation_id="audience_examples_add_compare",
        tags=["audiences"],
        summary="Add a compare qualification example",
        description="Two distinct items and the right one (`truth`, exactly one of them). Your custom audiences only.",
        request=CompareExampleCreateSerializer,
        responses={201: ExampleSerializer, **error_responses(400, 401, 403, 404, 413, 415)},
    )
    def post(self, request, audience_id: str):
        audience = selectors.audience_get(user=request.user, public_id=audience_id)
        data = validated(CompareExampleCreateSerializer, request.data)
        example = services.example_add_compare(audience=audience, owner=request.user, **data)
        return Response(_example_data(example, audience=audience, user=request.user), status=status.HTTP_201_CREATED)
