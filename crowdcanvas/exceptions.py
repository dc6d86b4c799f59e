"""Exceptions of the CrowdCanvas client.

Everything the client raises on purpose derives from :class:`CrowdCanvasError`,
except the ``ValueError``s of client-side checks (bad arguments, raised before
any request). Errors the server reports are :class:`ApiError`s carrying its
message; a 400 is also a ``ValueError``, so one ``except ValueError`` catches
bad input whichever side noticed it.
"""

from __future__ import annotations

from typing import Any


class CrowdCanvasError(Exception):
    """Base class of the client's errors."""


class ApiError(CrowdCanvasError):
    """The server answered with an error status.

    Attributes:
        status: the HTTP status code.
        detail: the server's message (``{"detail": ...}``), or ``None``.
        errors: for validation failures, ``{field: [messages]}``; else ``{}``.
        body: the decoded response body (JSON value or text).
    """

    def __init__(self, status: int, body: Any, *, method: str = "", url: str = "") -> None:
        self.status = status
        self.body = body
        self.method = method
        self.url = url
        self.detail: str | None = None
        self.errors: dict[str, list[str]] = {}
        if isinstance(body, dict):
            if isinstance(body.get("detail"), str):
                self.detail = body["detail"]
            self.errors = {
                str(key): [str(m) for m in value] if isinstance(value, list) else [str(value)]
                for key, value in body.items()
                if key not in ("detail", "code")
            }
        elif isinstance(body, str) and body.strip():
            self.detail = body.strip()[:500]
        super().__init__(self._message())

    @property
    def code(self) -> str | None:
        """The server's stable error code, when it gives one (state conflicts)."""
        return self.body.get("code") if isinstance(self.body, dict) else None

    def _message(self) -> str:
        parts = []
        if self.detail:
            parts.append(self.detail)
        parts += [f"{key}: {' '.join(messages)}" for key, messages in self.errors.items()]
        where = f" ({self.method} {self.url})" if self.method else ""
        return f"HTTP {self.status}{where}: " + ("; ".join(parts) or "no details")


class BadRequestError(ApiError, ValueError):
    """400: the server refused the input; ``errors`` names each bad field."""


class AuthenticationError(ApiError):
    """401 or 403: no valid token, or the token is not a requester's."""


class NotFoundError(ApiError, LookupError):
    """404: no such object among those you can see."""


class ConflictError(ApiError):
    """409: the object's state does not allow the request."""


class ServerError(ApiError):
    """5xx: the server failed; retrying later may help."""


class ConnectionFailed(CrowdCanvasError, ConnectionError):
    """The server could not be reached (or did not answer in time)."""


class JobFailed(CrowdCanvasError):
    """The job ended in the ``failed`` state; it will produce no results."""

    def __init__(self, message: str, progress: dict | None = None) -> None:
        super().__init__(message)
        self.progress = progress or {}


class JobTimeout(CrowdCanvasError, TimeoutError):
    """Waiting for a job took longer than the ``timeout`` given. ``progress``
    is the last progress seen."""

    def __init__(self, message: str, progress: dict | None = None) -> None:
        super().__init__(message)
        self.progress = progress or {}


class JobStalled(CrowdCanvasError, TimeoutError):
    """The job cannot complete as things stand: nothing progressed for
    ``stall_timeout`` seconds and nobody can work on it (its audience has no
    graduated and no qualifying labelers), or it is paused. ``progress`` is
    the last progress seen."""

    def __init__(self, message: str, progress: dict | None = None) -> None:
        super().__init__(message)
        self.progress = progress or {}
