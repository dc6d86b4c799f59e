"""Early stopping: a compare datapoint takes no more answers once its
leader's posterior confidence reaches the definition's threshold."""

from __future__ import annotations

from audiences.models import Membership

from ..aggregation import leader_confidence
from ..models import JobDatapoint, JobDefinition, Response


def leader_confident(
    job_datapoint: JobDatapoint, definition: JobDefinition, payload: dict, membership: Membership
) -> bool:
    """Whether, with the vote ``payload`` about to be stored, the compare
    datapoint's leader reaches the definition's confidence threshold
    (jobs.aggregation.leader_confidence: votes of labelers nobody graded
    count for nothing)."""
    first = job_datapoint.datapoint.asset.labeler_value
    stored = Response.objects.filter(job_datapoint=job_datapoint).values_list(
        "payload__choice", "user_score", "graded_answers"
    )
    votes = [
        (0 if choice == first else 1, score, graded)
        for choice, score, graded in [*stored, (payload["choice"], membership.user_score, membership.answers)]
    ]
    leader, confidence = leader_confidence(votes)
    return leader is not None and confidence + 1e-9 >= definition.confidence_threshold  # 1e-9: float rounding
