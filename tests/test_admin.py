"""The Django admin for requesters and operators: scoping, read-only views,
previews, progress, writes through the services, escaping."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from assets.media import thumbnail_url
from assets.models import Asset
from assets.services import asset_create_image
from audiences.models import Audience, QualificationExample
from audiences.selectors import global_audience
from audiences.services import audience_create, example_add_compare, example_add_draw
from jobs.models import Job, JobDatapoint, JobDefinition, Response
from jobs.services import job_create, job_definition_create_draw

XSS = "<script>alert(1)</script>"
ESCAPED_XSS = "&lt;script&gt;alert(1)&lt;/script&gt;"
BOX = {"x_min": 0.1, "y_min": 0.2, "x_max": 0.5, "y_max": 0.6}
BOX_OVERLAY = 'class="cc-box" style="left: 10.00%; top: 20.00%; width: 40.00%; height: 40.00%"'
URL_ITEM = "https://img.example.com/dog.png"


def admin_url(obj, view: str = "change") -> str:
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=[obj.pk])


def changelist_url(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def management_form(prefix: str, total: int = 0, initial: int = 0) -> dict[str, int]:
    return {
        f"{prefix}-TOTAL_FORMS": total,
        f"{prefix}-INITIAL_FORMS": initial,
        f"{prefix}-MIN_NUM_FORMS": 0,
        f"{prefix}-MAX_NUM_FORMS": 1000,
    }


@dataclass
class Owned:
    """What one requester has made through the services."""

    user: object
    image: Asset
    audience: Audience
    example: QualificationExample
    compare_example: QualificationExample
    definition: JobDefinition
    job: Job
    response: Response


def make_owned(user, png_bytes: bytes, labeler) -> Owned:
    name = user.username
    image = asset_create_image(owner=user, data=png_bytes, name=f"{name}.png")
    audience = audience_create(owner=user, name=f"Audience of {name}")
    example = example_add_draw(
        audience=audience,
        owner=user,
        instruction=f"Color the cat of {name}",
        datapoint={"asset_id": image.public_id},
        truths=[BOX],
    )
    compare_example = example_add_compare(
        audience=audience,
        owner=user,
        instruction=f"Which is a dog, {name}?",
        datapoint=[URL_ITEM, "a drawing of a cat"],
        truth=URL_ITEM,
    )
    definition = job_definition_create_draw(
        owner=user,
        name=f"Cats of {name}",
        instruction="Color in the cat",
        datapoints=[{"asset_id": image.public_id}, URL_ITEM],
        responses_per_datapoint=2,
    )
    job = job_create(owner=user, definition=definition, audience=audience)
    first, second = job.job_datapoints.order_by("position")
    JobDatapoint.objects.filter(pk=first.pk).update(response_count=2)
    JobDatapoint.objects.filter(pk=second.pk).update(response_count=1)
    response = Response.objects.create(
        job=job, job_datapoint=first, labeler=labeler, payload={"lines": []}, user_score=0.5, time_spent_ms=1200
    )
    return Owned(user, image, audience, example, compare_example, definition, job, response)


@pytest.fixture
def alice(requester, png_bytes, labeler) -> Owned:
    return make_owned(requester, png_bytes, labeler)


@pytest.fixture
def bob(other_requester, png_bytes, labeler) -> Owned:
    return make_owned(other_requester, png_bytes, labeler)


@pytest.fixture
def curated(operator, png_bytes):
    audience = audience_create(owner=None, kind=Audience.Kind.CURATED, name="Expert birders")
    image = asset_create_image(owner=operator, data=png_bytes, name="bird.png")
    example = example_add_draw(
        audience=audience,
        owner=operator,
        instruction="Color the curated bird",
        datapoint={"asset_id": image.public_id},
        truths=[{"x_min": 0.3, "y_min": 0.3, "x_max": 0.7, "y_max": 0.9}],
    )
    return audience, example


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.content.decode()


OBJECTS = ["audience", "example", "definition", "job", "response"]


# --- scoping: another requester's objects do not exist ---------------------------------------


@pytest.mark.parametrize("name", OBJECTS)
def test_changelists_list_own_objects_not_another_requesters(client, alice, bob, name):
    client.force_login(alice.user)
    html = page(client, changelist_url(type(getattr(alice, name))))
    assert admin_url(getattr(alice, name)) in html
    assert admin_url(getattr(bob, name)) not in html


@pytest.mark.parametrize("view", ["change", "delete", "history"])
@pytest.mark.parametrize("name", OBJECTS)
def test_another_requesters_object_pages_are_404(client, alice, bob, name, view):
    client.force_login(alice.user)
    assert client.get(admin_url(getattr(bob, name), view)).status_code == 404
    assert client.post(admin_url(getattr(bob, name), view), {"post": "yes"}).status_code == 404
    assert client.get(admin_url(getattr(alice, name), view)).status_code != 404  # the same page of her own


def test_missing_object_is_404_not_a_redirect(client, alice):
    client.force_login(alice.user)
    assert client.get(reverse("admin:audiences_audience_change", args=[10**9])).status_code == 404


AUTOCOMPLETE_SOURCES = {  # remote model -> an FK pointing at it
    "audience": ("jobs", "job", "audience"),
    "definition": ("jobs", "job", "definition"),
    "example": ("jobs", "lease", "example"),
    "job": ("jobs", "response", "job"),
}


@pytest.mark.parametrize("name", AUTOCOMPLETE_SOURCES)
def test_autocomplete_never_offers_another_requesters_objects(client, alice, bob, name):
    app_label, model_name, field_name = AUTOCOMPLETE_SOURCES[name]
    client.force_login(alice.user)

    def search(term: str) -> set[str]:
        response = client.get(
            reverse("admin:autocomplete"),
            {"app_label": app_label, "model_name": model_name, "field_name": field_name, "term": term},
        )
        assert response.status_code == 200
        return {row["id"] for row in response.json()["results"]}

    own, other = getattr(alice, name), getattr(bob, name)
    assert str(own.pk) in search("")
    assert str(other.pk) not in search("")
    assert search(other.public_id) == set()


def test_example_and_job_forms_offer_only_usable_choices(client, alice, bob, curated):
    client.force_login(alice.user)
    job_form = client.get(reverse("admin:jobs_job_add")).context["adminform"].form
    assert set(job_form.fields["definition"].queryset) == {alice.definition}
    assert set(job_form.fields["audience"].queryset) == {global_audience(), curated[0], alice.audience}
    example_form = client.get(reverse("admin:audiences_qualificationexample_add")).context["adminform"].form
    assert set(example_form.fields["audience"].queryset) == {alice.audience}
    assert set(example_form.fields["asset"].queryset) == set(Asset.objects.filter(owner=alice.user))


# --- global and curated audiences: read-only, curated truths hidden ------------------------------


def test_requester_sees_global_and_curated_audiences_read_only(client, alice, curated):
    client.force_login(alice.user)
    listed = page(client, changelist_url(Audience))
    for audience in (global_audience(), curated[0]):
        assert admin_url(audience) in listed
        html = page(client, admin_url(audience))
        assert 'name="_save"' not in html
        assert "View audience" in html
        refused = client.post(
            admin_url(audience),
            {"name": "Taken over", "target_accuracy": 0.5, "min_tasks": 1, "max_tasks": 2, "gold_rate": 0.0},
        )
        assert refused.status_code == 403
        assert Audience.objects.get(pk=audience.pk).name == audience.name
        assert client.get(admin_url(audience, "delete")).status_code == 403


def test_bulk_delete_refuses_global_and_curated_audiences(client, alice, curated):
    client.force_login(alice.user)
    selected = [global_audience().pk, curated[0].pk]
    action = {"action": "delete_selected", "_selected_action": selected}
    confirmation = client.post(changelist_url(Audience), action)
    assert "permission to delete the following types of objects" in confirmation.content.decode()
    assert client.post(changelist_url(Audience), {**action, "post": "yes"}).status_code == 403
    assert Audience.objects.filter(pk__in=selected).count() == 2


def test_requester_never_sees_a_curated_audiences_examples_or_truths(client, alice, curated):
    audience, example = curated
    client.force_login(alice.user)
    html = page(client, admin_url(audience))
    assert example.instruction not in html
    assert 'class="cc-box"' not in html
    assert client.get(admin_url(example)).status_code == 404
    assert example.instruction not in page(client, changelist_url(QualificationExample))


def test_operator_sees_everything_and_edits_curated_audiences(client, operator, alice, bob, curated):
    client.force_login(operator)
    for name in OBJECTS:
        listed = page(client, changelist_url(type(getattr(alice, name))))
        assert admin_url(getattr(alice, name)) in listed
        assert admin_url(getattr(bob, name)) in listed
        page(client, admin_url(getattr(bob, name)))
    audience, example = curated
    html = page(client, admin_url(audience))
    assert 'name="_save"' in html
    assert example.instruction in html
    assert 'class="cc-box" style="left: 30.00%; top: 30.00%; width: 40.00%; height: 60.00%"' in html
    assert 'name="_save"' not in page(client, admin_url(global_audience()))


# --- previews: thumbnails and truths ---------------------------------------------------------------


def test_own_audience_page_shows_examples_with_thumbnails_and_truths(client, alice):
    client.force_login(alice.user)
    html = page(client, admin_url(alice.audience))
    assert f'src="{thumbnail_url(alice.image.file.name, 160)}"' in html
    assert BOX_OVERLAY in html
    # the compare example: both items, the right one marked
    assert f'<img src="{URL_ITEM}"' in html
    assert "a drawing of a cat" in html
    marked = re.search(r'<span class="cc-item cc-marked">(.*?)<span class="cc-item">', html, re.S).group(1)
    assert URL_ITEM in marked and "truth" in marked
    # each example links to its own page
    assert admin_url(alice.example) in html
    assert admin_url(alice.compare_example) in html


def test_example_page_has_its_truth_boxes_inline_and_drawn(client, alice):
    client.force_login(alice.user)
    html = page(client, admin_url(alice.example))
    assert 'name="truth_boxes-0-x_min"' in html
    assert 'value="0.1"' in html
    assert BOX_OVERLAY in html
    assert f'src="{thumbnail_url(alice.image.file.name, 320)}"' in html


def test_definition_page_shows_datapoints_with_lazy_thumbnails(client, alice):
    client.force_login(alice.user)
    html = page(client, admin_url(alice.definition))
    assert f'<img src="{thumbnail_url(alice.image.file.name, 160)}"' in html
    assert f'<img src="{URL_ITEM}"' in html
    assert html.count('loading="lazy"') == 2
    assert 'name="_save"' not in html


def test_large_definition_shows_the_first_100_datapoints_and_counts_the_rest(client, requester):
    definition = job_definition_create_draw(
        owner=requester,
        name="Many",
        instruction="Color",
        datapoints=[f"https://img.example.com/{index}.png" for index in range(130)],
    )
    client.force_login(requester)
    html = page(client, admin_url(definition))
    assert html.count('<span class="cc-item">') == 100
    assert "https://img.example.com/99.png" in html
    assert "https://img.example.com/100.png" not in html
    assert "Showing the first 100 of 130 datapoints; 30 more not shown." in html


# --- jobs: progress, filters, queries -------------------------------------------------------------


def test_job_changelist_shows_progress(client, alice):
    client.force_login(alice.user)
    html = page(client, changelist_url(Job))
    # 2 datapoints x 2 responses needed, 2 + 1 collected
    assert '<progress class="cc-progress" value="3" max="4">75%</progress> 75% (3 / 4)' in html
    job_page = page(client, admin_url(alice.job))
    assert "75% (3 / 4)" in job_page
    responses_link = re.search(r'<a href="([^"]+)">3 responses</a>', job_page).group(1).replace("&amp;", "&")
    assert admin_url(alice.response) in page(client, responses_link)


def test_job_changelist_filters_by_state_and_audience(client, alice, curated):
    other = job_create(owner=alice.user, definition=alice.definition, audience=curated[0])
    Job.objects.filter(pk=other.pk).update(state=Job.State.PAUSED)
    client.force_login(alice.user)
    by_state = page(client, changelist_url(Job) + "?state__exact=paused")
    assert admin_url(other) in by_state and admin_url(alice.job) not in by_state
    by_audience = page(client, changelist_url(Job) + f"?audience__id__exact={alice.audience.pk}")
    assert admin_url(alice.job) in by_audience and admin_url(other) not in by_audience


def test_job_changelist_queries_do_not_grow_with_the_number_of_jobs(client, alice, django_assert_max_num_queries):
    client.force_login(alice.user)
    url = changelist_url(Job)
    client.get(url)
    with CaptureQueriesContext(connection) as one_job:
        client.get(url)
    for _ in range(15):
        job_create(owner=alice.user, definition=alice.definition, audience=global_audience())
    with django_assert_max_num_queries(len(one_job.captured_queries)):
        html = client.get(url).content.decode()
    assert html.count('class="cc-progress"') == 16


# --- responses are read-only ----------------------------------------------------------------------


@pytest.mark.parametrize("who", ["requester", "operator"])
def test_responses_cannot_be_added_changed_or_deleted(client, alice, operator, who):
    client.force_login(alice.user if who == "requester" else operator)
    response = alice.response
    assert client.get(reverse("admin:jobs_response_add")).status_code == 403
    assert client.post(reverse("admin:jobs_response_add"), {"payload": "{}"}).status_code == 403
    html = page(client, admin_url(response))
    assert 'name="_save"' not in html
    assert client.post(admin_url(response), {"payload": '{"lines": [1]}', "user_score": 1}).status_code == 403
    assert client.post(admin_url(response, "delete"), {"post": "yes"}).status_code == 403
    response.refresh_from_db()
    assert response.payload == {"lines": []} and response.user_score == 0.5


# --- writes go through the services -----------------------------------------------------------------


AUDIENCE_FORM = {
    "name": "Birders",
    "description": "",
    "target_accuracy": 0.8,
    "min_tasks": 5,
    "max_tasks": 10,
    "gold_rate": 0.05,
}


def test_requester_creates_a_custom_audience_through_audience_create(client, requester):
    client.force_login(requester)
    add = reverse("admin:audiences_audience_add")
    refused = client.post(add, {**AUDIENCE_FORM, "target_accuracy": 0})  # the service's rule: (0, 1]
    assert refused.status_code == 200
    assert "must be in (0, 1], got 0." in refused.content.decode()
    assert not Audience.objects.filter(name="Birders").exists()

    assert client.post(add, {**AUDIENCE_FORM, "kind": "curated"}).status_code == 302
    audience = Audience.objects.get(name="Birders")
    assert (audience.kind, audience.owner) == (Audience.Kind.CUSTOM, requester)


def test_requester_changes_own_audience_through_audience_update(client, alice):
    client.force_login(alice.user)
    data = {**AUDIENCE_FORM, **management_form("examples")}
    refused = client.post(admin_url(alice.audience), {**data, "gold_rate": 0.9})
    assert "must be in [0, 0.5], got 0.9." in refused.content.decode()
    assert client.post(admin_url(alice.audience), data).status_code == 302
    alice.audience.refresh_from_db()
    assert alice.audience.name == "Birders"


def test_only_operators_create_curated_audiences(client, operator, requester):
    client.force_login(operator)
    add = reverse("admin:audiences_audience_add")
    refused = client.post(add, {**AUDIENCE_FORM, "kind": "custom", "owner": ""})  # custom needs an owner
    assert refused.status_code == 200 and 'class="errornote"' in refused.content.decode()
    assert not Audience.objects.filter(name="Birders").exists()
    assert client.post(add, {**AUDIENCE_FORM, "kind": "curated", "owner": ""}).status_code == 302
    assert Audience.objects.get(name="Birders").kind == Audience.Kind.CURATED


def test_job_is_created_through_job_create(client, alice, bob):
    client.force_login(alice.user)
    add = reverse("admin:jobs_job_add")
    assert client.post(add, {"definition": alice.definition.pk, "audience": global_audience().pk}).status_code == 302
    job = Job.objects.exclude(pk=alice.job.pk).get(owner=alice.user)
    assert job.audience == global_audience()
    assert job.responses_needed == 4 and job.job_datapoints.count() == 2

    for foreign in (
        {"definition": bob.definition.pk, "audience": alice.audience.pk},
        {"definition": alice.definition.pk, "audience": bob.audience.pk},
    ):
        refused = client.post(add, foreign)
        assert refused.status_code == 200
        assert "Select a valid choice" in refused.content.decode()
    assert Job.objects.filter(owner=alice.user).count() == 2


def draw_example_form(alice: Owned, boxes: list[dict]) -> dict:
    data = {
        "audience": alice.audience.pk,
        "kind": "draw",
        "instruction": "Color the bird",
        "context": "",
        "asset": alice.image.pk,
        "asset_b": "",
        "truth": "",
        "required_precision": 0.8,
        "required_completeness": 1.0,
        "explanation": "",
        **management_form("truth_boxes", total=len(boxes)),
    }
    for index, box in enumerate(boxes):
        data.update({f"truth_boxes-{index}-{key}": value for key, value in box.items()})
    return data


@pytest.mark.parametrize(
    "boxes, error",
    [
        ([{"x_min": 0.6, "y_min": 0.1, "x_max": 0.2, "y_max": 0.5}], "x_min must be less than x_max"),
        ([{"x_min": 0.1, "y_min": 0.1, "x_max": 1.5, "y_max": 0.5}], "box.x_max must be between 0 and 1"),
        ([], "truth boxes needs at least one box."),
    ],
)
def test_draw_example_with_bad_truth_boxes_is_a_form_error(client, alice, boxes, error):
    client.force_login(alice.user)
    refused = client.post(reverse("admin:audiences_qualificationexample_add"), draw_example_form(alice, boxes))
    assert refused.status_code == 200
    assert error in refused.content.decode()
    assert not QualificationExample.objects.filter(instruction="Color the bird").exists()


def test_draw_example_is_added_with_its_truth_boxes_through_the_service(client, alice):
    client.force_login(alice.user)
    added = client.post(reverse("admin:audiences_qualificationexample_add"), draw_example_form(alice, [BOX]))
    assert added.status_code == 302
    example = QualificationExample.objects.get(instruction="Color the bird")
    assert example.audience == alice.audience and example.asset == alice.image
    assert [box.as_box().as_dict() for box in example.truth_boxes.all()] == [BOX]


def test_assets_are_added_through_the_asset_services(client, requester, png_bytes):
    client.force_login(requester)
    add = reverse("admin:jobs_asset_add")
    refused = client.post(add, {"upload": SimpleUploadedFile("notes.png", b"not an image"), "item": ""})
    assert refused.status_code == 200
    assert 'id="id_upload_error"' in refused.content.decode()
    assert not Asset.objects.filter(owner=requester).exists()

    assert client.post(add, {"upload": SimpleUploadedFile("cat.png", png_bytes), "item": ""}).status_code == 302
    assert client.post(add, {"item": URL_ITEM}).status_code == 302
    assert client.post(add, {"item": "a drawing of a cat"}).status_code == 302
    kinds = sorted(Asset.objects.filter(owner=requester).values_list("kind", flat=True))
    assert kinds == [Asset.Kind.IMAGE, Asset.Kind.TEXT, Asset.Kind.URL]


def test_compare_example_is_added_through_the_service_which_checks_its_truth(client, alice):
    client.force_login(alice.user)
    url_asset = Asset.objects.get(owner=alice.user, url=URL_ITEM)
    data = {**draw_example_form(alice, []), "kind": "compare", "asset_b": url_asset.pk}
    add = reverse("admin:audiences_qualificationexample_add")
    refused = client.post(add, data)
    truth_error = '<ul class="errorlist" id="id_truth_error"><li>truth must not be empty.</li></ul>'
    assert truth_error in refused.content.decode()
    assert not QualificationExample.objects.filter(instruction="Color the bird").exists()

    assert client.post(add, {**data, "truth": "second"}).status_code == 302
    example = QualificationExample.objects.get(instruction="Color the bird")
    assert (example.asset, example.asset_b, example.truth_asset) == (alice.image, url_asset, url_asset)


# --- user content is inert ------------------------------------------------------------------------


def test_user_content_is_escaped_on_admin_pages(client, requester, png_bytes):
    audience = audience_create(owner=requester, name=XSS, description=XSS)
    image = asset_create_image(owner=requester, data=png_bytes)
    example = example_add_draw(
        audience=audience, owner=requester, instruction=XSS, datapoint={"asset_id": image.public_id}, truths=[BOX]
    )
    compare = example_add_compare(
        audience=audience, owner=requester, instruction="Which?", datapoint=[XSS, "plain"], truth=XSS
    )
    definition = job_definition_create_draw(
        owner=requester, name=XSS, instruction=XSS, datapoints=[{"asset_id": image.public_id}], contexts=[XSS]
    )
    job = job_create(owner=requester, definition=definition, audience=audience)
    text_asset = Asset.objects.get(owner=requester, text=XSS)
    client.force_login(requester)
    urls = [changelist_url(model) for model in (Audience, QualificationExample, JobDefinition, Job, Asset)]
    urls += [admin_url(obj) for obj in (audience, example, compare, definition, job, text_asset)]
    for url in urls:
        html = page(client, url)
        assert XSS not in html, url
        assert ESCAPED_XSS in html, url
