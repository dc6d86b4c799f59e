"""Labeler pages: thin HTML views. Qualification and work run in the browser
against the labeler JSON API (``labeling.api``); these views render the
page shell, the home page and the sign-up form."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import ensure_csrf_cookie

from assets import wire
from audiences.models import Audience
from core import throttles
from core.csp import with_csp
from jobs.models import Job, JobDefinition

from . import api
from .forms import SignupForm

TOO_MANY_SIGNUPS = "Too many sign-ups from your address. Try again in %(minutes)s minute(s)."


# The draw UI enforces the server's limits before sending (assets.wire).
DRAW_LIMITS = {
    "max-lines": wire.MAX_LINES,
    "max-points-per-line": wire.MAX_POINTS_PER_LINE,
    "max-total-points": wire.MAX_TOTAL_POINTS,
    "min-brush": wire.MIN_BRUSH,
    "max-brush": wire.MAX_BRUSH,
}


@with_csp
def signup(request):
    if request.user.is_authenticated:
        return redirect("labeling:home")
    if request.method == "POST":
        wait = throttles.signup_blocked_for(request)  # counted before the form is even read
        if wait:
            response = render(
                request,
                "labeling/signup.html",
                {"form": SignupForm(), "throttled": TOO_MANY_SIGNUPS % {"minutes": -(-wait // 60)}},
                status=429,
            )
            response["Retry-After"] = str(wait)
            return response
    form = SignupForm(request.POST if request.method == "POST" else None)  # an empty POST shows what is missing
    if request.method == "POST" and form.is_valid():
        user = form.create_labeler()
        if user is not None:
            login(request, user)
            return redirect("labeling:home")
    return render(request, "labeling/signup.html", {"form": form})


@with_csp
@login_required
def home(request):
    return render(request, "labeling/home.html", {"home": api.home_data(request.user)})


def _workspace(request, *, mode: str, title: str, subtitle: str = "", **ids: str):
    context = {
        "mode": mode,
        "title": title,
        "subtitle": subtitle,
        "data": {"mode": mode, **ids, **DRAW_LIMITS},
    }
    return render(request, "labeling/workspace.html", context)


@with_csp
@login_required
@ensure_csrf_cookie
def qualify(request, audience_id: str):
    audience = get_object_or_404(Audience.objects.exclude(kind=Audience.Kind.GLOBAL), public_id=audience_id)
    return _workspace(
        request,
        mode="qualify",
        title=f"Qualify: {audience.name}",
        subtitle=audience.description,
        **{"audience-id": audience.public_id},
    )


@with_csp
@login_required
@ensure_csrf_cookie
def work(request, job_id: str):
    job = get_object_or_404(Job.objects.select_related("definition", "audience"), public_id=job_id)
    return _workspace(
        request,
        mode="work",
        title=job.definition.name,
        subtitle=f"Audience: {job.audience.name}",
        **{"job-id": job.public_id, "page-lease-seconds": str(settings.PAGE_LEASE_SECONDS)},
    )


@with_csp
@login_required
@ensure_csrf_cookie
def preview(request, definition_id: str):
    definition = get_object_or_404(JobDefinition, public_id=definition_id, owner=request.user)
    return _workspace(
        request,
        mode="preview",
        title=definition.name,
        subtitle="As labelers will see it",
        **{"definition-id": definition.public_id},
    )
