"""Small builders for test data, going through the real services."""

from __future__ import annotations

from rest_framework.test import APIClient

from audiences import services as audience_services
from jobs import feed
from jobs import services as job_services

BLUE_BOX = {"x_min": 0.1, "y_min": 0.1, "x_max": 0.4, "y_max": 0.5}


def url(name: str) -> str:
    return f"https://assets.example.org/{name}.jpg"


def draw_audience(owner, *, examples: int = 4, name: str = "Draw audience", **rule):
    """A custom audience with ``examples`` draw examples, all with BLUE_BOX."""
    audience = audience_services.audience_create(owner=owner, name=name, **rule)
    for index in range(examples):
        audience_services.example_add_draw(
            audience=audience,
            owner=owner,
            instruction="Color in all the blue books",
            datapoint=url(f"example-{index}"),
            truths=[BLUE_BOX],
            explanation="The blue book is in the upper left.",
        )
    return audience


def compare_audience(owner, *, examples: int = 4, name: str = "Compare audience", **rule):
    """A custom audience whose compare examples' truth is always the first item."""
    audience = audience_services.audience_create(owner=owner, name=name, **rule)
    for index in range(examples):
        audience_services.example_add_compare(
            audience=audience,
            owner=owner,
            instruction="Which image follows the prompt?",
            datapoint=[url(f"good-{index}"), url(f"bad-{index}")],
            truth=url(f"good-{index}"),
            context=f"Prompt {index}",
            explanation="The left one has the duck.",
        )
    return audience


def draw_job(owner, audience, *, datapoints: int = 3, responses: int = 2):
    definition = job_services.job_definition_create_draw(
        owner=owner,
        name="Blue books",
        instruction="Color in all the blue books",
        datapoints=[url(f"image-{i}") for i in range(datapoints)],
        responses_per_datapoint=responses,
    )
    return job_services.job_create(owner=owner, definition=definition, audience=audience)


def compare_job(owner, audience, *, datapoints: int = 3, responses: int = 2):
    definition = job_services.job_definition_create_compare(
        owner=owner,
        name="Prompt alignment",
        instruction="Which image follows the prompt?",
        datapoints=[[url(f"left-{i}"), url(f"right-{i}")] for i in range(datapoints)],
        contexts=[f"prompt {i}" for i in range(datapoints)],
        responses_per_datapoint=responses,
    )
    return job_services.job_create(owner=owner, definition=definition, audience=audience)


def stroke_inside(box=BLUE_BOX, size=0.02) -> dict:
    """A zig-zag that stays inside ``box`` with a margin for the brush."""
    margin = size
    x0, x1 = box["x_min"] + margin, box["x_max"] - margin
    y0, y1 = box["y_min"] + margin, box["y_max"] - margin
    points = []
    for step in range(9):
        y = y0 + (y1 - y0) * step / 8
        points.append({"x": x0 if step % 2 == 0 else x1, "y": y})
    return {"lines": [{"size": size, "points": points}]}


def stroke_outside() -> dict:
    return {"lines": [{"size": 0.03, "points": [{"x": 0.6, "y": 0.6}, {"x": 0.95, "y": 0.95}]}]}


def active_leases_counted(job) -> dict[int, tuple[int, int]]:
    """Per position of ``job``: (its row's count of active leases, the active leases there are)."""
    from django.db.models import Count, Q

    from jobs.models import JobDatapoint, Lease

    slots = JobDatapoint.objects.filter(job=job).annotate(
        actual=Count("leases", filter=Q(leases__status=Lease.Status.ACTIVE))
    )
    return {slot.position: (slot.leases_active, slot.actual) for slot in slots}


def miscounted_leases(job) -> dict[int, tuple[int, int]]:
    """``active_leases_counted`` where the two differ: empty when every row counts right."""
    return {position: pair for position, pair in active_leases_counted(job).items() if pair[0] != pair[1]}


def api_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def answer_all(job, labelers, respond):
    """Each labeler takes tasks until none is left, answering with ``respond(task)``."""
    for labeler in labelers:
        while (lease := feed.task_next(labeler=labeler, job=job)) is not None:
            feed.task_submit(labeler=labeler, task_id=lease.public_id, response=respond(lease))
