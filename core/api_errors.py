"""One error shape for the whole API.

Validation failures are HTTP 400 with ``{field: [messages]}``; everything
else is ``{"detail": message}`` with its status. Domain ``ValidationError``s
raised by services become 400s here, so views stay thin. A body past
``DATA_UPLOAD_MAX_MEMORY_SIZE`` is a JSON 413 (not Django's HTML 400), too
many form fields or files a JSON 400, and a rate limit a 429 with
``Retry-After`` and ``"code": "rate_limited"``.
"""

from __future__ import annotations

from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import DomainError, ErrorCode


def _as_field_errors(exc: DjangoValidationError) -> dict:
    if hasattr(exc, "error_dict"):
        return {
            ("non_field_errors" if key == "__all__" else key): [str(m) for m in DjangoValidationError(errors).messages]
            for key, errors in exc.error_dict.items()
        }
    return {"detail": " ".join(exc.messages)}


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        return Response(_as_field_errors(exc), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DomainError):
        return Response({"detail": exc.message, "code": str(exc.code)}, status=exc.status)
    if isinstance(exc, ObjectDoesNotExist):
        exc = Http404()
    if isinstance(exc, RequestDataTooBig):
        return Response({"detail": "The request body is too large."}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, (TooManyFieldsSent, TooManyFilesSent)):
        return Response(
            {"detail": "The request has too many form fields or files."}, status=status.HTTP_400_BAD_REQUEST
        )
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, (Http404, exceptions.NotFound)):  # never a model's name
        response.data = {"detail": "Not found."}
    if response is not None and isinstance(exc, exceptions.Throttled):
        wait = response.get("Retry-After")
        detail = f"Too many requests; try again in {wait} seconds." if wait else "Too many requests."
        response.data = {"detail": detail, "code": str(ErrorCode.RATE_LIMITED)}
    return response
