"""The requester's web workflow: make a custom audience and its graduation
rule, add qualification examples (draw boxes on an uploaded image, pick the
right one of two items) and see how labelers do on them, make a draw or
compare job from files, a zip or URLs, preview it and start it on an
audience.

Every write goes through the services the API uses (``audiences.services``,
``jobs.services``) inside one transaction, so a refused form changes
nothing; their messages come back on the form with a 400. Objects are the
requester's own: anything else is a 404.
"""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_http_methods

from assets import services as asset_services
from audiences import services as audience_services
from audiences.selectors import audience_get, audience_list
from core.csp import with_csp
from jobs import services as job_services
from jobs.models import TaskKind
from jobs.selectors import job_definition_get

from . import example_selectors, uploads
from .forms import (
    AudienceForm,
    CompareExampleForm,
    DrawExampleForm,
    JobForm,
    StartForm,
    errors_from,
)


def requester_form(view):
    """Signed-in requesters (staff) only, GET and POST; objects not found are 404s."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_staff:
            raise PermissionDenied("The dashboard is for requesters.")
        try:
            return view(request, *args, **kwargs)
        except ObjectDoesNotExist as exc:
            raise Http404("Not found.") from exc

    return with_csp(login_required(require_http_methods(["GET", "POST"])(wrapped)))


def _refused(request, template: str, context: dict):
    return render(request, template, context, status=400)


def _saved(form, write):
    """Run ``write()`` in one transaction; a service's ValidationError goes
    on ``form`` (and nothing is written). Returns what ``write`` returned, or None."""
    try:
        with transaction.atomic():
            return write()
    except ValidationError as error:
        errors_from(form, error)
        return None


# --- audiences -------------------------------------------------------------------------------


@requester_form
def audience_new(request):
    form = AudienceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        audience = _saved(
            form,
            lambda: audience_services.audience_create(
                owner=request.user,
                name=data["name"],
                description=data["description"],
                target_accuracy=data["target_accuracy"],
                min_tasks=data["min_tasks"],
                max_tasks=data["max_tasks"],
            ),
        )
        if audience is not None:
            return redirect("labeling:dashboard-examples", audience_id=audience.public_id)
    context = {"form": form}
    return (
        _refused(request, "dashboard/audience_new.html", context)
        if request.method == "POST"
        else render(request, "dashboard/audience_new.html", context)
    )


@requester_form
def examples(request, audience_id: str):
    audience = example_selectors.owned_audience(user=request.user, public_id=audience_id)
    return render(
        request,
        "dashboard/examples.html",
        {
            "audience": audience,
            "rates": example_selectors.example_pass_rates(audience=audience),
            "flag_min": example_selectors.FLAG_MIN_GOOD_ANSWERS,
        },
    )


def _example_page(request, audience_id: str, *, form_class, template: str, write):
    audience = example_selectors.owned_audience(user=request.user, public_id=audience_id)
    form = form_class(request.POST or None, request.FILES or None)
    if request.method == "POST":
        if form.is_valid() and _saved(form, lambda: write(audience, form.cleaned_data)) is not None:
            return redirect(reverse("labeling:dashboard-examples", kwargs={"audience_id": audience.public_id}))
        return _refused(request, template, {"form": form, "audience": audience})
    return render(request, template, {"form": form, "audience": audience})


@requester_form
def example_new_draw(request, audience_id: str):
    def write(audience, data):
        asset = asset_services.asset_upload(owner=request.user, upload=data["image"])
        return audience_services.example_add_draw(
            audience=audience,
            owner=request.user,
            instruction=data["instruction"],
            context=data["context"],
            explanation=data["explanation"],
            datapoint={"asset_id": asset.public_id},
            truths=data["truths"],
        )

    return _example_page(
        request, audience_id, form_class=DrawExampleForm, template="dashboard/example_new_draw.html", write=write
    )


@requester_form
def example_new_compare(request, audience_id: str):
    def item(data, side):
        if data.get(f"{side}_image"):
            asset = asset_services.asset_upload(owner=request.user, upload=data[f"{side}_image"])
            return {"asset_id": asset.public_id}
        return uploads.url_item(data[f"{side}_url"])

    def write(audience, data):
        first, second = item(data, "first"), item(data, "second")
        return audience_services.example_add_compare(
            audience=audience,
            owner=request.user,
            instruction=data["instruction"],
            context=data["context"],
            explanation=data["explanation"],
            datapoint=[first, second],
            truth=first if data["truth"] == "first" else second,
        )

    return _example_page(
        request, audience_id, form_class=CompareExampleForm, template="dashboard/example_new_compare.html", write=write
    )


# --- jobs ----------------------------------------------------------------------------------------


def _datapoints(*, owner, kind: str, data: dict) -> list:
    """The form's images as the definition's datapoints: one image each
    (draw) or pairs in name order (compare)."""
    if (data["urls"] or "").strip():
        return uploads.url_lines(data["urls"], per_line=1 if kind == TaskKind.DRAW else 2)
    items = uploads.images_store(owner=owner, files=[*data["files"], *data["folder"]], archive=data["archive"])
    if kind == TaskKind.DRAW:
        return items
    if len(items) % 2:
        raise ValidationError({"files": [f"a compare job pairs its images; {len(items)} is an odd number."]})
    return [[items[i], items[i + 1]] for i in range(0, len(items), 2)]


@requester_form
def job_new(request):
    form = JobForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data

            def write():
                return job_services.job_definition_create(
                    owner=request.user,
                    kind=data["kind"],
                    name=data["name"],
                    instruction=data["instruction"],
                    responses_per_datapoint=data["responses_per_datapoint"],
                    datapoints=_datapoints(owner=request.user, kind=data["kind"], data=data),
                )

            definition = _saved(form, write)
            if definition is not None:
                return redirect("labeling:dashboard-definition", definition_id=definition.public_id)
        return _refused(request, "dashboard/job_new.html", {"form": form, "max_files": uploads.MAX_FILES})
    return render(request, "dashboard/job_new.html", {"form": form, "max_files": uploads.MAX_FILES})


@requester_form
def definition(request, definition_id: str):
    """A definition made here: preview it as labelers see it, then start it on an audience."""
    found = job_definition_get(user=request.user, public_id=definition_id)
    audiences = list(audience_list(user=request.user).order_by("kind", "name"))
    form = StartForm(request.POST or None, audiences=audiences)
    context = {"definition": found, "form": form, "jobs": found.jobs.select_related("audience").order_by("-id")}
    if request.method == "POST":
        if form.is_valid():
            audience = audience_get(user=request.user, public_id=form.cleaned_data["audience"])
            job = _saved(form, lambda: job_services.job_create(owner=request.user, definition=found, audience=audience))
            if job is not None:
                return redirect("labeling:dashboard-job", job_id=job.public_id)
        return _refused(request, "dashboard/definition.html", context)
    return render(request, "dashboard/definition.html", context)


urlpatterns = [
    path("dashboard/audiences/new/", audience_new, name="dashboard-audience-new"),
    path("dashboard/audiences/<str:audience_id>/examples/", examples, name="dashboard-examples"),
    path(
        "dashboard/audiences/<str:audience_id>/examples/new/draw/", example_new_draw, name="dashboard-example-new-draw"
    ),
    path(
        "dashboard/audiences/<str:audience_id>/examples/new/compare/",
        example_new_compare,
        name="dashboard-example-new-compare",
    ),
    path("dashboard/jobs/new/", job_new, name="dashboard-job-new"),
    path("dashboard/definitions/<str:definition_id>/", definition, name="dashboard-definition"),
]
