"""Pieces the JSON API views share: the requester base view, pass-through
input fields, paging, and the error shapes for the OpenAPI schema (the
strict JSON parser is ``core.parsers``).

Error shapes (see ``core.api_errors``):

- 400 ``{field: [message, ...]}`` (a validation failure), or
  ``{"detail": message}`` (a body that is not JSON, a multipart request
  without its payload ...);
- 401, 403, 404, 413, 415: ``{"detail": message}`` (domain conflicts add a
  ``code``).

Input serializers validate the *shape* of a body: which fields exist, which
are required, that no unknown field is sent. The *rules* (types, ranges,
lengths, formats) live in the services and ``assets.wire``, once; the
pass-through fields below hand values to them exactly as sent, while their
declared type documents the field in the schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.db.models import QuerySet
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer
from rest_framework import exceptions, permissions, serializers, status
from rest_framework.views import APIView

from core.parsers import JSONParser

# --- views ------------------------------------------------------------------------------------


class IsRequester(permissions.BasePermission):
    """Requesters are staff users (operators too); labelers have their own API."""

    message = "This API is for requesters; your account is a labeler account."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_staff)


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "too_large"


class RequesterApiView(APIView):
    """Base of the requester API's views: token or session auth, requesters
    only, strict JSON, and a 413 (not an HTML 400) for oversized bodies."""

    permission_classes = [permissions.IsAuthenticated, IsRequester]
    parser_classes = [JSONParser]

    def handle_exception(self, exc):
        if isinstance(exc, RequestDataTooBig):
            exc = RequestTooLarge()
        return super().handle_exception(exc)


def validated(serializer_class: type[serializers.Serializer], data: Any) -> dict:
    """Run ``data`` through an input serializer; 400 ``{field: [messages]}`` otherwise."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


# --- input fields -------------------------------------------------------------------------------


class StrictInputSerializer(serializers.Serializer):
    # An input body: an object whose unknown fields are refused (400 naming
    # each), but for ``accepted_extra`` (fields no view reads, such as a form's
    # CSRF token); before the known fields are checked, or after them with
    # ``unknown_fields_last``. A comment, not a docstring: subclasses'
    # docstrings describe them in the schema.
    accepted_extra: tuple[str, ...] = ()
    unknown_fields_last = False

    def to_internal_value(self, data):
        if not self.unknown_fields_last:
            self._refuse_unknown_fields(data)
        value = super().to_internal_value(data)
        if self.unknown_fields_last:
            self._refuse_unknown_fields(data)
        return value

    def _refuse_unknown_fields(self, data) -> None:
        if isinstance(data, Mapping):
            unknown = sorted(str(key) for key in data if key not in self.fields and key not in self.accepted_extra)
            if unknown:
                raise serializers.ValidationError({key[:100]: ["unknown field."] for key in unknown[:20]})


class _PassThrough:
    """The value reaches the service as sent (no coercion: ``"7"`` stays a
    string, ``7`` an int), so the service's checks decide and name the field.
    Declared limits only document the field in the schema."""

    def to_internal_value(self, data):
        return data

    def run_validators(self, value):
        return None


class RawCharField(_PassThrough, serializers.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)


class RawFloatField(_PassThrough, serializers.FloatField):
    pass


class RawIntegerField(_PassThrough, serializers.IntegerField):
    pass


class RawChoiceField(_PassThrough, serializers.ChoiceField):
    pass


class RawJSONField(_PassThrough, serializers.JSONField):
    """Any JSON value; annotate subclasses with ``extend_schema_field``."""


# --- paging -----------------------------------------------------------------------------------------

MAX_PAGE_SIZE = 100
MAX_PAGE = 1_000_000


class PageQuerySerializer(serializers.Serializer):
    page = serializers.IntegerField(
        required=False,
        default=1,
        min_value=1,
        max_value=MAX_PAGE,
        help_text="1-based page number; a page past the end is empty",
    )
    page_size = serializers.IntegerField(
        required=False,
        default=20,
        min_value=1,
        max_value=MAX_PAGE_SIZE,
        help_text=f"items per page (at most {MAX_PAGE_SIZE})",
    )


class FindQuerySerializer(PageQuerySerializer):
    name = serializers.CharField(
        required=False,
        default="",
        allow_blank=True,
        max_length=200,
        help_text="case-insensitive substring of the name; empty matches all",
    )


@dataclass(frozen=True)
class Page:
    count: int
    page: int
    page_size: int
    items: list


def paginate(queryset: QuerySet, *, page: int, page_size: int) -> Page:
    """One page of an ordered queryset; a page past the end is empty."""
    count = queryset.count()
    offset = (page - 1) * page_size
    items = list(queryset[offset : offset + page_size]) if offset < count else []
    return Page(count=count, page=page, page_size=page_size, items=items)


def page_serializer(name: str, item: serializers.Serializer) -> type[serializers.Serializer]:
    """The output serializer of a page of ``item``s: ``{count, page, page_size, results}``."""
    return type(
        name,
        (serializers.Serializer,),
        {
            "__doc__": "A page of results, newest first; `count` is the number of matches in all.",
            "count": serializers.IntegerField(),
            "page": serializers.IntegerField(),
            "page_size": serializers.IntegerField(),
            "results": item,
        },
    )


# --- error shapes (OpenAPI) ------------------------------------------------------------------------


class DetailErrorSerializer(serializers.Serializer):
    """An error explained in one message."""

    detail = serializers.CharField()
    code = serializers.CharField(required=False, help_text="stable error code (state conflicts)")


class FieldErrorsSerializer(serializers.Serializer):
    """``{field: [message, ...]}`` (the schema comes from ``FieldErrorsExtension``)."""


class FieldErrorsExtension(OpenApiSerializerExtension):
    target_class = FieldErrorsSerializer

    def get_name(self, auto_schema, direction):
        return "FieldErrors"

    def map_serializer(self, auto_schema, direction):
        return {
            "type": "object",
            "description": "Validation failure: each invalid field (or `non_field_errors`) with its messages.",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
            "example": {"name": ["name must not be empty."]},
        }


BAD_REQUEST = PolymorphicProxySerializer(
    component_name="BadRequest",
    serializers=[FieldErrorsSerializer, DetailErrorSerializer],
    resource_type_field_name=None,
)

_ERROR_DESCRIPTIONS = {
    400: 'Invalid request: `{field: [messages]}`, or `{"detail": message}` for a body that cannot be parsed.',
    401: "No valid credentials: send `Authorization: Token <key>`.",
    403: "Signed in, but not as a requester.",
    404: "No such object among those you can see.",
    413: "The request body is too large.",
    409: 'The object\'s state does not allow this: `{"detail": message, "code": code}`.',
    415: "Unsupported content type.",
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """Schema entries for the listed error statuses."""
    return {
        code: OpenApiResponse(
            BAD_REQUEST if code == 400 else DetailErrorSerializer, description=_ERROR_DESCRIPTIONS[code]
        )
        for code in codes
    }
