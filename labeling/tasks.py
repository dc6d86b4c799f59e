"""Periodic clean-ups of the labeler workspace and accounts (celery beat).

Registered under the names they had in ``jobs.tasks``, so schedules and
queued messages that name them still reach them."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="jobs.tasks.prune_heartbeats")
def prune_heartbeats() -> int:
    from labeling.services import heartbeat_prune

    return heartbeat_prune()


@shared_task(name="jobs.tasks.prune_expired_tokens")
def prune_expired_tokens() -> int:
    from labeling.tokens import token_prune

    return token_prune()
