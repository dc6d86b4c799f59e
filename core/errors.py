"""Domain errors that are not validation failures, with stable codes.

Services raise them; the API turns them into ``{"detail", "code"}`` with the
error's HTTP status (see ``core.api_errors``), pages show the detail.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    AUDIENCE_NOT_OPEN = "audience_not_open"
    AUDIENCE_NOT_QUALIFYING = "audience_not_qualifying"
    NOT_ELIGIBLE = "not_eligible"
    JOB_NOT_RUNNING = "job_not_running"
    STALE_TASK = "stale_task"
    TASK_SUBMITTED = "task_already_submitted"
    TASK_SKIPPED = "task_skipped"
    TASK_EXPIRED = "task_expired"
    TASK_RELEASED = "task_released"
    RATE_LIMITED = "rate_limited"
    DEFINITION_ASSIGNED = "definition_assigned"


class DomainError(Exception):
    status = 400

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Conflict(DomainError):
    """The request is valid but the state does not allow it (HTTP 409)."""

    status = 409


class Forbidden(DomainError):
    """The user may not do this (HTTP 403)."""

    status = 403
