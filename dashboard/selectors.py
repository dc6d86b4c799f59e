"""Reads for the requester dashboard (``dashboard.views``), scoped to the
requester like every selector: another requester's audience or job does not
exist here (``DoesNotExist``, a 404).

Pages are paged, and each page costs a fixed number of queries whatever the
size of what it pages through: a job of 10,000 datapoints opens as fast as
one of 10. Labelers are named by ``labeler_anonymous_id``, never by username.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.paginator import Page, Paginator
from django.db.models import Avg, Case, Count, IntegerField, QuerySet, Value, When
from django.urls import reverse
from django.utils import timezone

from assets import wire
from assets.media import thumbnail_url
from assets.models import Asset, TaskKind
from audiences.models import Audience, Membership, QualificationExample
from audiences.selectors import audience_get, audience_list, audience_stats, example_list, example_truths_visible_to
from core.pseudonyms import labeler_anonymous_id
from jobs.models import Job, JobDatapoint
from jobs.result_updates import item_names
from jobs.selectors import job_list, job_progress
from labeling.models import Heartbeat

ACTIVE_WINDOW = timedelta(minutes=5)
JOBS_PER_PAGE = 20
CARDS_PER_PAGE = 24
MEMBERS_PER_PAGE = 50
EXAMPLES_PER_PAGE = 24
RANKING_ROWS = 50
MAX_REFRESH_POSITIONS = 100
GALLERY_IMAGE_SIZE = 640
THUMBNAIL_SIZE = 320

_KIND_ORDER = Case(
    When(kind=Audience.Kind.GLOBAL, then=Value(0)),
    When(kind=Audience.Kind.CURATED, then=Value(1)),
    default=Value(2),
    output_field=IntegerField(),
)


def _page(queryset, number: Any, per_page: int) -> Page:
    """``number`` as given in the query string; out-of-range or malformed
    numbers show the nearest page instead of failing. ``page.elided`` lists
    the page numbers to link (with ``Paginator.ELLIPSIS`` for gaps)."""
    page = Paginator(queryset, per_page).get_page(number)
    page.elided = list(page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1))
    return page


def percent(ratio: float | None) -> str:
    """A ratio as a percentage string for SVG attributes (never localized)."""
    return f"{max(0.0, min(1.0, ratio or 0.0)) * 100:.2f}".rstrip("0").rstrip(".")


def _rect(box: dict | wire.Box) -> dict[str, str]:
    """A box (ratios) as an SVG rect in a 0..100 viewBox."""
    if isinstance(box, wire.Box):
        box = box.as_dict()
    return {
        "x": percent(box["x_min"]),
        "y": percent(box["y_min"]),
        "width": percent(box["x_max"] - box["x_min"]),
        "height": percent(box["y_max"] - box["y_min"]),
    }


def image_src(asset: Asset, size: int | None = None) -> str:
    """Where the dashboard loads an image from: the stored file (a
    thumbnail of ``size``, or the original) or the asset's http(s) URL."""
    if asset.kind == Asset.Kind.IMAGE:
        return thumbnail_url(asset.file.name, size) if size else asset.labeler_value
    if asset.kind == Asset.Kind.URL and asset.url.lower().startswith(("http://", "https://")):
        return asset.url
    return ""


def _asset_view(asset: Asset, *, name: str, size: int | None = THUMBNAIL_SIZE) -> dict[str, Any]:
    src = image_src(asset, size)
    return {"name": name, "src": src, "text": "" if src else asset.value, "width": asset.width, "height": asset.height}


# --- audiences ---------------------------------------------------------------------------------


def active_labeler_counts(*, audiences: list[Audience], since=None) -> dict[int, int]:
    """Per audience (by pk), the labelers who sent a heartbeat since ``since``
    (default: the last five minutes) and are members of it (qualifying or
    graduated; the global audience: every labeler). Two queries."""
    since = since or timezone.now() - ACTIVE_WINDOW
    recent = Heartbeat.objects.filter(created_at__gte=since)
    counts = {audience.pk: 0 for audience in audiences}
    global_pks = [a.pk for a in audiences if a.kind == Audience.Kind.GLOBAL]
    others = [a.pk for a in audiences if a.kind != Audience.Kind.GLOBAL]
    if others:
        rows = (
            Membership.objects.filter(audience_id__in=others, labeler_id__in=recent.values("labeler_id"))
            .exclude(state=Membership.State.DROPPED)
            .order_by()
            .values("audience_id")
            .annotate(n=Count("labeler_id", distinct=True))
        )
        counts.update({row["audience_id"]: row["n"] for row in rows})
    if global_pks:
        everyone = recent.filter(labeler__is_staff=False).values("labeler_id").distinct().count()
        counts.update(dict.fromkeys(global_pks, everyone))
    return counts


@dataclass
class AudienceRow:
    audience: Audience
    members: dict[str, int]
    example_count: int
    active: int

    @property
    def editable(self) -> bool:
        return self.audience.kind == Audience.Kind.CUSTOM


def audience_rows(*, user: AbstractBaseUser, audiences: list[Audience] | None = None) -> list[AudienceRow]:
    """The audiences ``user`` may use (global, curated, their own custom
    ones) with member counts by state, example counts and labelers active in
    the last five minutes: five queries however many audiences."""
    if audiences is None:
        audiences = list(audience_list(user=user).order_by(_KIND_ORDER, "name", "id"))
    stats = audience_stats(audiences=audiences)
    active = active_labeler_counts(audiences=audiences)
    return [AudienceRow(a, stats[a.pk]["members"], stats[a.pk]["example_count"], active[a.pk]) for a in audiences]


def members_visible_to(audience: Audience, user: AbstractBaseUser) -> bool:
    """Members one by one (pseudonyms, scores, answers) are for the
    audience's owner and operators only. The labelers of the global and
    curated audiences work for every requester: each requester sees them as
    counts and averages, never one labeler's record."""
    if getattr(user, "is_superuser", False):
        return True
    return audience.owner_id is not None and audience.owner_id == user.pk


@dataclass
class AudiencePage:
    row: AudienceRow
    state: str
    members: Page
    member_rows: list[dict[str, Any]]
    show_examples: bool
    show_members: bool = True
    member_summary: dict[str, Any] | None = None
    examples: Page | None = None
    example_rows: list[dict[str, Any]] = field(default_factory=list)


def _example_view(example: QualificationExample) -> dict[str, Any]:
    """An example with its truth: boxes over a draw image, the right item of
    a compare pair marked. For the audience's owner only."""
    if example.kind == TaskKind.DRAW:
        boxes = [_rect(box.as_box()) for box in example.truth_boxes.all()]
        items = [{**_asset_view(example.asset, name=example.asset.value), "boxes": boxes, "truth": False}]
    else:
        items = [
            {**_asset_view(asset, name=asset.value), "boxes": [], "truth": asset.pk == example.truth_asset_id}
            for asset in (example.asset, example.asset_b)
        ]
    return {"example": example, "items": items}


def audience_page(
    *, user: AbstractBaseUser, public_id: str, state: str = "", page: Any = 1, examples_page: Any = 1
) -> AudiencePage:
    """One audience for the dashboard: counts, a page of its members in one
    state (pseudonymous ids and scores; for the audience's owner only) and,
    for the audience's owner, a page of its examples with their truths.
    Curated and global audiences show counts and averages only."""
    audience = audience_get(user=user, public_id=public_id)
    (row,) = audience_rows(user=user, audiences=[audience])
    if state not in Membership.State.values:
        state = Membership.State.GRADUATED
    in_state = Membership.objects.filter(audience=audience, state=state)
    show_members = members_visible_to(audience, user)
    members = _page(
        (in_state if show_members else Membership.objects.none())
        .only("labeler_id", "state", "answers", "correct", "user_score", "created_at", "decided_at")
        .order_by("-user_score", "id"),
        page,
        MEMBERS_PER_PAGE,
    )
    member_rows = [
        {
            "labeler": labeler_anonymous_id(m.labeler_id),
            "user_score": m.user_score,
            "answers": m.answers,
            "accuracy": m.accuracy,
            "joined": m.created_at,
            "decided": m.decided_at,
        }
        for m in members
    ]
    summary = (
        None
        if show_members
        else in_state.aggregate(count=Count("id"), user_score=Avg("user_score"), answers=Avg("answers"))
    )
    result = AudiencePage(
        row=row,
        state=state,
        members=members,
        member_rows=member_rows,
        show_examples=example_truths_visible_to(audience, user),
        show_members=show_members,
        member_summary=summary,
    )
    if result.show_examples:
        result.examples = _page(example_list(audience=audience), examples_page, EXAMPLES_PER_PAGE)
        result.example_rows = [_example_view(example) for example in result.examples]
    return result


# --- jobs ----------------------------------------------------------------------------------------


@dataclass
class JobRow:
    job: Job
    progress: dict[str, Any]


def job_rows(*, user: AbstractBaseUser, page: Any = 1) -> tuple[Page, list[JobRow]]:
    """A page of the requester's jobs, newest first, each with its progress
    (a fixed number of queries per job: bounded by the page size)."""
    jobs = _page(job_list(user=user), page, JOBS_PER_PAGE)
    return jobs, [JobRow(job, job_progress(job=job)) for job in jobs]


def job_get_light(*, user: AbstractBaseUser, public_id: str) -> Job:
    """The job (scoped like ``jobs.selectors.job_get``) without its summary,
    which for a large compare job is a long ranking."""
    return job_list(user=user).defer("summary").get(public_id=public_id)


def heatmap_url(job: Job, position: int, version: int) -> str:
    """The heatmap overlay of one datapoint (the requester API's PNG);
    ``version`` (the responses it includes) changes the URL when the heatmap
    does, so a refreshed card never shows a cached older one."""
    path = reverse("jobs:job-datapoint-heatmap", kwargs={"job_id": job.public_id, "position": position})
    return f"{path}?v={version}"


def responses_url(job: Job, position: int) -> str:
    """The requester API's results of one datapoint, with every response
    (a draw's strokes): page ``position + 1`` of one result per page."""
    path = reverse("jobs:job-results", kwargs={"job_id": job.public_id})
    return f"{path}?page={position + 1}&page_size=1"


def _draw_card(job: Job, slot: JobDatapoint, result_data: dict, included: int) -> dict[str, Any]:
    datapoint = slot.datapoint
    asset = datapoint.asset
    return {
        "image": _asset_view(asset, name=asset.value, size=GALLERY_IMAGE_SIZE),
        "boxes": [_rect(box) for box in result_data.get("consensusBoxes", [])],
        "agreement": result_data.get("agreement"),
        "summed_user_scores": result_data.get("summedUserScores"),
        "heatmap_url": heatmap_url(job, slot.position, included) if included else "",
        "responses_url": responses_url(job, slot.position),
    }


def _compare_card(slot: JobDatapoint, result_data: dict) -> dict[str, Any]:
    datapoint = slot.datapoint
    names = item_names(datapoint)
    counts = result_data.get("aggregatedResults", {})
    ratios = result_data.get("aggregatedResultsRatios", {})
    weighted = result_data.get("summedUserScoresRatios", {})
    items = []
    for asset, name in zip(datapoint.assets, names):
        items.append(
            {
                **_asset_view(asset, name=name),
                "votes": counts.get(name, 0),
                "ratio": ratios.get(name, 0.0),
                "ratio_percent": percent(ratios.get(name, 0.0)),
                "weighted_ratio": weighted.get(name, 0.0),
                "weighted_percent": percent(weighted.get(name, 0.0)),
                "winner": result_data.get("winner") == name,
                "weighted_winner": result_data.get("weightedWinner") == name,
            }
        )
    return {"items": items, "confidence": result_data.get("confidence"), "stopped_early": slot.stopped_early}


def result_cards(*, job: Job, slots) -> list[dict[str, Any]]:
    """Cards of the results gallery for ``slots`` (job datapoints loaded with
    ``_gallery_slots``): no query of their own."""
    cards = []
    for slot in slots:
        result = getattr(slot, "result", None)
        data, included = (result.data or {}, result.response_count) if result is not None else ({}, 0)
        card = {
            "position": slot.position,
            "kind": job.definition.kind,
            "context": slot.datapoint.context,
            "media_context": (
                _asset_view(slot.datapoint.media_context, name=slot.datapoint.media_context.value)
                if slot.datapoint.media_context_id
                else None
            ),
            "responses": slot.response_count,
            "included": included,
            "closed": slot.closed,
            "has_result": bool(data),
        }
        if job.definition.kind == TaskKind.DRAW:
            card.update(_draw_card(job, slot, data, included))
        else:
            card.update(_compare_card(slot, data))
        cards.append(card)
    return cards


def _gallery_slots(job: Job) -> QuerySet[JobDatapoint]:
    return (
        JobDatapoint.objects.filter(job=job)
        .select_related("datapoint__asset", "datapoint__asset_b", "datapoint__media_context", "result")
        .defer("result__state")
        .order_by("position")
    )


def ranking_view(*, job: Job, collected: int) -> dict[str, Any] | None:
    """A compare job's ranking (its stored summary: made when the job
    completes), the first ``RANKING_ROWS`` items. ``None`` for draw jobs."""
    if job.definition.kind != TaskKind.COMPARE:
        return None
    summary, included = Job.objects.filter(pk=job.pk).values_list("summary", "summary_response_count").get()
    ranking = (summary or {}).get("ranking")
    if not ranking:
        return {"items": [], "total": 0, "included": 0, "stale": False}
    items = ranking.get("items", [])
    return {
        "items": items[:RANKING_ROWS],
        "total": len(items),
        "included": included,
        "stale": included < collected,
        "regularized": ranking.get("regularized", False),
    }


@dataclass
class JobPage:
    job: Job
    progress: dict[str, Any]
    cards_page: Page
    cards: list[dict[str, Any]]
    ranking: dict[str, Any] | None


def job_page(*, user: AbstractBaseUser, public_id: str, page: Any = 1) -> JobPage:
    """One job for the dashboard: its progress and one page of its results
    gallery (``CARDS_PER_PAGE`` datapoints), in a fixed number of queries
    whatever the number of datapoints. The ranking of a compare job is on
    the first page."""
    job = job_get_light(user=user, public_id=public_id)
    progress = job_progress(job=job)
    cards_page = _page(_gallery_slots(job), page, CARDS_PER_PAGE)
    ranking = ranking_view(job=job, collected=progress["responses_collected"]) if cards_page.number == 1 else None
    return JobPage(
        job=job,
        progress=progress,
        cards_page=cards_page,
        cards=result_cards(job=job, slots=cards_page.object_list),
        ranking=ranking,
    )


def job_cards(
    *, user: AbstractBaseUser, public_id: str, positions: list[int], with_ranking: bool = False
) -> tuple[Job, list[dict[str, Any]], dict[str, Any] | None]:
    """The gallery cards of some datapoints (to refresh them in place) and,
    if asked, a compare job's ranking."""
    job = job_get_light(user=user, public_id=public_id)
    slots = _gallery_slots(job).filter(position__in=positions[:MAX_REFRESH_POSITIONS])
    ranking = None
    if with_ranking and job.definition.kind == TaskKind.COMPARE:
        ranking = ranking_view(job=job, collected=job_progress(job=job)["responses_collected"])
    return job, result_cards(job=job, slots=slots), ranking
