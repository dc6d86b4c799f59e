"""The requester dashboard: thin HTML views over ``dashboard.selectors``.

Requesters (staff users) see their audiences and jobs, a job's live
progress (the page's scripts listen on ``/ws/jobs/<id>/``) and a paged
gallery of its results. Everything is scoped to the requester: another
requester's audience or job is a 404. Pages carry no inline script; data
reaches the scripts in ``data-`` attributes, and every user-given text is
escaped by the templates.
"""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from assets.models import TaskKind
from audiences.models import Membership
from core.csp import with_csp
from labeling import tokens as api_tokens

from . import selectors

EXPORTS = {TaskKind.DRAW: ("json", "coco"), TaskKind.COMPARE: ("json", "csv")}
EXPORT_LABELS = {"json": "JSON", "csv": "CSV", "coco": "COCO"}


def requester_page(view):
    """Signed-in requesters (staff) only; objects not found are 404s."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_staff:
            raise PermissionDenied("The dashboard is for requesters.")
        try:
            return view(request, *args, **kwargs)
        except ObjectDoesNotExist as exc:
            raise Http404("Not found.") from exc

    return with_csp(login_required(require_GET(wrapped)))


def duration_text(seconds: float | None) -> str:
    """``eta_seconds`` for people: "45 s", "12 min", "3 h 20 min"."""
    if seconds is None:
        return "—"
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def progress_view(progress: dict) -> dict:
    """The progress snapshot with the texts the page shows (the page's
    scripts format the websocket's snapshots the same way)."""
    rate = progress.get("responses_per_minute")
    return {
        **progress,
        "rate_text": "—" if rate is None else f"{rate:.1f}",
        "eta_text": duration_text(progress.get("eta_seconds")),
    }


def downloads(job) -> list[dict[str, str]]:
    base = reverse("jobs:job-results-download", kwargs={"job_id": job.public_id})
    return [
        {"format": fmt, "label": EXPORT_LABELS[fmt], "url": f"{base}?format={fmt}"}
        for fmt in EXPORTS[job.definition.kind]
    ]


@requester_page
def index(request):
    jobs_page, jobs = selectors.job_rows(user=request.user, page=request.GET.get("page"))
    return render(
        request,
        "dashboard/index.html",
        {
            "audiences": selectors.audience_rows(user=request.user),
            "jobs_page": jobs_page,
            "jobs": [{"job": row.job, "progress": progress_view(row.progress)} for row in jobs],
        },
    )


@requester_page
def audience(request, audience_id: str):
    page = selectors.audience_page(
        user=request.user,
        public_id=audience_id,
        state=request.GET.get("state", ""),
        page=request.GET.get("page"),
        examples_page=request.GET.get("examples"),
    )
    states = [(value, f"{label} ({page.row.members[value]})") for value, label in Membership.State.choices]
    return render(request, "dashboard/audience.html", {"page": page, "audience": page.row.audience, "states": states})


@requester_page
def job(request, job_id: str):
    page = selectors.job_page(user=request.user, public_id=job_id, page=request.GET.get("page"))
    return render(
        request,
        "dashboard/job.html",
        {
            "page": page,
            "job": page.job,
            "progress": progress_view(page.progress),
            "downloads": downloads(page.job),
        },
    )


def _positions(raw: str) -> list[int]:
    positions = []
    for part in raw.split(",")[: selectors.MAX_REFRESH_POSITIONS]:
        part = part.strip()
        if part.isdigit():
            positions.append(int(part))
    return positions


@requester_page
def job_cards(request, job_id: str):
    """Some cards of the gallery, rendered as on the page (``?positions=1,2``;
    ``&ranking=1`` adds a compare job's ranking): the page swaps them in when
    the websocket says their results changed."""
    job, cards, ranking = selectors.job_cards(
        user=request.user,
        public_id=job_id,
        positions=_positions(request.GET.get("positions", "")),
        with_ranking=bool(request.GET.get("ranking")),
    )
    return render(request, "dashboard/_cards.html", {"job": job, "cards": cards, "ranking": ranking})


@with_csp
@login_required
@require_http_methods(["GET", "POST"])
def tokens(request):
    """The requester's API tokens: made here (the key shown once, on the
    response to the POST that made it), listed by their first characters,
    revoked here."""
    if not request.user.is_staff:
        raise PermissionDenied("The dashboard is for requesters.")
    made = None
    revoked = 0
    if request.method == "POST":
        if request.POST.get("action") == "create":
            row, key = api_tokens.token_create(user=request.user)
            made = {"key": key, "expiry": row.expiry}
        elif request.POST.get("action") == "revoke":
            revoked = api_tokens.token_revoke(user=request.user, token_key=request.POST.get("token_key", ""))
    response = render(
        request,
        "dashboard/tokens.html",
        {
            "tokens": api_tokens.token_list(user=request.user),
            "made": made,
            "revoked": revoked,
            "posted": request.method == "POST",
        },
    )
    response["Cache-Control"] = "no-store"
    return response
