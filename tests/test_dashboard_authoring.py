"""The requester's web workflow through Django's test client: audiences,
examples and jobs made from forms go through the services; bad input (a
rule out of range, non-images, zip bombs, too many files, odd pairs,
another requester's objects) is a 4xx that says what is wrong and changes
nothing; writes need the CSRF token; pass rates flag an example most
graduates fail."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from audiences import services as audience_services
from audiences.models import Audience, Membership, QualificationAnswer, QualificationExample
from audiences.selectors import global_audience
from dashboard import uploads as dashboard_uploads
from dashboard.example_selectors import example_pass_rates
from jobs.models import Asset, Datapoint, Job, JobDefinition
from tests import factories
from tests.conftest import image_bytes

pytestmark = pytest.mark.django_db

BOX = {"x_min": 0.1, "y_min": 0.2, "x_max": 0.5, "y_max": 0.6}


def logged_in(user, **options) -> Client:
    client = Client(**options)
    client.force_login(user)
    return client


def png(name: str, color=(40, 90, 200), size=(64, 48)) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, image_bytes(*size, color=color), content_type="image/png")


def zipped(entries: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return SimpleUploadedFile("images.zip", buffer.getvalue(), content_type="application/zip")


def counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (Audience, QualificationExample, Asset, JobDefinition, Datapoint, Job)
    }


def refused(response, message: str) -> None:
    assert response.status_code == 400, response.status_code
    assert message in response.content.decode(), response.content.decode()[-3000:]


JOB = {"kind": "draw", "name": "Shelves", "instruction": "Color in every blue book", "responses_per_datapoint": 3}


# --- audiences --------------------------------------------------------------------------------


def test_a_requester_creates_an_audience_with_its_graduation_rule(requester):
    response = logged_in(requester).post(
        "/dashboard/audiences/new/",
        {
            "name": "Shelf spotters",
            "description": "Find <b>blue</b> books",
            "target_accuracy": "0.8",
            "min_tasks": "4",
            "max_tasks": "9",
        },
    )
    audience = Audience.objects.get(name="Shelf spotters")
    assert response.status_code == 302
    assert response["Location"] == f"/dashboard/audiences/{audience.public_id}/examples/"
    assert (audience.owner, audience.kind, audience.target_accuracy, audience.min_tasks, audience.max_tasks) == (
        requester,
        Audience.Kind.CUSTOM,
        0.8,
        4,
        9,
    )


def test_an_audience_rule_out_of_range_is_refused_with_the_services_message(requester):
    before = counts()
    response = logged_in(requester).post(
        "/dashboard/audiences/new/",
        {"name": "Shelf spotters", "target_accuracy": "0.8", "min_tasks": "9", "max_tasks": "4"},
    )
    refused(response, "must be at least min_tasks (9), got 4.")
    assert counts() == before


def test_forms_need_the_csrf_token(requester):
    client = logged_in(requester, enforce_csrf_checks=True)
    response = client.post(
        "/dashboard/audiences/new/", {"name": "x", "target_accuracy": "0.8", "min_tasks": "3", "max_tasks": "5"}
    )
    assert response.status_code == 403
    assert not Audience.objects.filter(name="x").exists()


def test_labelers_cannot_use_the_forms(labeler):
    for url in ("/dashboard/audiences/new/", "/dashboard/jobs/new/"):
        assert logged_in(labeler).get(url).status_code == 403


# --- examples --------------------------------------------------------------------------------


def test_a_draw_example_from_an_image_and_its_boxes(requester):
    audience = audience_services.audience_create(owner=requester, name="Shelf spotters")
    response = logged_in(requester).post(
        f"/dashboard/audiences/{audience.public_id}/examples/new/draw/",
        {
            "instruction": "Color in every blue book",
            "explanation": "The blue one on the left",
            "image": png("shelf.png"),
            "truths": json.dumps([BOX]),
        },
    )
    assert response.status_code == 302
    (example,) = audience.examples.all()
    assert example.kind == "draw" and example.asset.name == "shelf.png" and example.asset.owner == requester
    assert [box.as_box().as_dict() for box in example.truth_boxes.all()] == [BOX]


@pytest.mark.parametrize(
    "post, message",
    [
        ({"truths": ""}, "Draw at least one box"),
        ({"truths": json.dumps([{**BOX, "x_max": 0.05}])}, "x_max"),
        ({"image": SimpleUploadedFile("notes.png", b"not an image at all")}, "not an image Pillow can read"),
    ],
)
def test_a_bad_draw_example_changes_nothing(requester, post, message):
    audience = audience_services.audience_create(owner=requester, name="Shelf spotters")
    before = counts()
    data = {"instruction": "Color in every blue book", "image": png("shelf.png"), "truths": json.dumps([BOX]), **post}
    response = logged_in(requester).post(f"/dashboard/audiences/{audience.public_id}/examples/new/draw/", data)
    refused(response, message)
    assert counts() == before


def test_a_compare_example_with_the_truth_picked(requester):
    audience = audience_services.audience_create(owner=requester, name="Judges")
    response = logged_in(requester).post(
        f"/dashboard/audiences/{audience.public_id}/examples/new/compare/",
        {
            "instruction": "Which is lighter?",
            "first_image": png("dark.png", (20, 20, 20)),
            "second_url": "https://assets.example.org/light.jpg",
            "truth": "second",
        },
    )
    assert response.status_code == 302
    (example,) = audience.examples.all()
    assert example.asset.name == "dark.png" and example.asset_b.url == "https://assets.example.org/light.jpg"
    assert example.truth_asset == example.asset_b


def test_a_compare_example_needs_both_items(requester):
    audience = audience_services.audience_create(owner=requester, name="Judges")
    before = counts()
    response = logged_in(requester).post(
        f"/dashboard/audiences/{audience.public_id}/examples/new/compare/",
        {"instruction": "Which is lighter?", "first_image": png("dark.png"), "truth": "first"},
    )
    refused(response, "Give the second item as an image file or as a URL")
    assert counts() == before


def test_examples_go_to_the_requesters_own_custom_audiences_only(requester, other_requester, operator):
    theirs = audience_services.audience_create(owner=other_requester, name="Bob's")
    curated = audience_services.audience_create(owner=None, name="Curated", kind=Audience.Kind.CURATED)
    client = logged_in(requester)
    before = counts()
    for audience in (theirs, curated, global_audience()):
        for path in ("examples/", "examples/new/draw/", "examples/new/compare/"):
            url = f"/dashboard/audiences/{audience.public_id}/{path}"
            assert client.get(url).status_code == 404
            assert (
                client.post(url, {"instruction": "x", "image": png("a.png"), "truths": json.dumps([BOX])}).status_code
                == 404
            )
    assert counts() == before


def test_pass_rates_flag_an_example_most_graduates_fail(requester, make_labeler):
    audience = factories.draw_audience(requester, examples=2)
    wrong, fine = audience.examples.order_by("id")
    for index in range(4):
        membership = Membership.objects.create(
            labeler=make_labeler(f"grad{index}"), audience=audience, state=Membership.State.GRADUATED
        )
        QualificationAnswer.objects.create(membership=membership, example=wrong, payload={}, correct=index == 0)
        QualificationAnswer.objects.create(membership=membership, example=fine, payload={}, correct=True)
    newcomer = Membership.objects.create(labeler=make_labeler("new"), audience=audience)
    QualificationAnswer.objects.create(membership=newcomer, example=fine, payload={}, correct=False)

    rates = {rate.example.pk: rate for rate in example_pass_rates(audience=audience)}
    assert (rates[wrong.pk].good_answers, rates[wrong.pk].good_passed, rates[wrong.pk].flagged) == (4, 1, True)
    assert (rates[fine.pk].answers, rates[fine.pk].passed, rates[fine.pk].pass_rate) == (5, 4, 0.8)
    assert not rates[fine.pk].flagged
    page = logged_in(requester).get(f"/dashboard/audiences/{audience.public_id}/examples/").content.decode()
    assert page.count("Probably wrong") == 1
    assert f'class="flagged" data-example-id="{wrong.public_id}"' in page


# --- jobs ----------------------------------------------------------------------------------------


def test_a_draw_job_from_files_then_started_on_an_audience(requester):
    client = logged_in(requester)
    response = client.post("/dashboard/jobs/new/", {**JOB, "files": [png("b.png", (1, 2, 3)), png("a.png")]})
    definition = JobDefinition.objects.get(owner=requester)
    assert response.status_code == 302 and response["Location"] == f"/dashboard/definitions/{definition.public_id}/"
    assert [d.asset.name for d in definition.datapoints.order_by("position")] == ["a.png", "b.png"]
    page = client.get(response["Location"]).content.decode()
    assert f'href="/preview/{definition.public_id}/"' in page
    response = client.post(response["Location"], {"audience": global_audience().public_id})
    job = Job.objects.get(definition=definition)
    assert response["Location"] == f"/dashboard/jobs/{job.public_id}/"
    assert job.audience == global_audience() and job.owner == requester


def test_a_compare_job_from_a_zip_pairs_its_images_in_name_order(requester):
    archive = zipped(
        {f"set/{name}.png": image_bytes(color=(index, 0, 0)) for index, name in enumerate(["4", "2", "1", "3"])}
        | {"__MACOSX/._1.png": b"junk"}
    )
    response = logged_in(requester).post("/dashboard/jobs/new/", {**JOB, "kind": "compare", "archive": archive})
    assert response.status_code == 302
    (first, second) = JobDefinition.objects.get().datapoints.order_by("position")
    assert [first.asset.name, first.asset_b.name, second.asset.name, second.asset_b.name] == [
        "1.png",
        "2.png",
        "3.png",
        "4.png",
    ]


def test_a_job_from_pasted_urls(requester):
    urls = "https://assets.example.org/a.jpg https://assets.example.org/b.jpg\n\nhttps://x.example/c.png http://x.example/d.png\n"
    response = logged_in(requester).post("/dashboard/jobs/new/", {**JOB, "kind": "compare", "urls": urls})
    assert response.status_code == 302
    pairs = [(d.asset.url, d.asset_b.url) for d in JobDefinition.objects.get().datapoints.order_by("position")]
    assert pairs == [
        ("https://assets.example.org/a.jpg", "https://assets.example.org/b.jpg"),
        ("https://x.example/c.png", "http://x.example/d.png"),
    ]


def bomb() -> SimpleUploadedFile:
    """A zip whose entry unpacks from a few KB to more than an image may be (its declared size truthful)."""
    return zipped({"bomb.png": b"\0" * (3 * 1024 * 1024)})


def lying_bomb() -> SimpleUploadedFile:
    """A zip whose entry declares a small size and unpacks to much more: read
    no further than it declares, it is no image."""
    archive = bomb()
    data = bytearray(archive.read())
    big = (3 * 1024 * 1024).to_bytes(4, "little")
    small = (100).to_bytes(4, "little")
    data = bytes(data).replace(big, small)  # the local header and central directory sizes
    return SimpleUploadedFile("images.zip", data, content_type="application/zip")


@pytest.mark.parametrize(
    "post, message",
    [
        ({"files": [png("a.png"), SimpleUploadedFile("b.png", b"GIF89a nope")]}, "b.png: "),
        ({"archive": zipped({"a.png": image_bytes(), "notes.txt": b"hello"})}, "notes.txt: file is not an image"),
        ({"archive": SimpleUploadedFile("images.zip", b"PK\x03\x04 not really")}, "not a zip archive"),
        ({"archive": "bomb"}, "bomb.png: 3145728 bytes unpacked; the limit is 2097152"),
        ({"archive": "lying"}, "bomb.png: "),
        ({"archive": zipped({f"{i}.png": image_bytes(color=(i, 0, 0)) for i in range(6)})}, "the zip holds 6 files"),
        ({"files": [png(f"{i}.png", (i, 0, 0)) for i in range(6)]}, "more than 5 images"),
        (
            {"kind": "compare", "files": [png("a.png"), png("b.png", (1, 1, 1)), png("c.png", (2, 2, 2))]},
            "3 is an odd number",
        ),
        ({"urls": "ftp://example.org/a.png"}, "URL scheme &#x27;ftp&#x27; is not allowed"),
        ({"urls": "https://a.example/1.png https://a.example/2.png"}, "line 1: expected one URL, found 2."),
        ({"files": [png("a.png")], "urls": "https://a.example/1.png"}, "Give the images one way"),
        ({}, "Give the images one way"),
        ({"files": [png("a.png")], "responses_per_datapoint": 1001}, "less than or equal to 1000"),
    ],
)
def test_a_bad_job_form_changes_nothing(requester, settings, monkeypatch, post, message):
    settings.ASSET_MAX_BYTES = 2 * 1024 * 1024
    monkeypatch.setattr(dashboard_uploads, "MAX_FILES", 5)
    if post.get("archive") == "bomb":
        post = {"archive": bomb()}
    elif post.get("archive") == "lying":
        post = {"archive": lying_bomb()}
    before = counts()
    response = logged_in(requester).post("/dashboard/jobs/new/", {**JOB, **post})
    refused(response, message)
    assert counts() == before


def test_more_files_than_a_request_may_carry_are_refused(requester, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 4
    before = counts()
    response = logged_in(requester).post(
        "/dashboard/jobs/new/", {**JOB, "files": [png(f"{i}.png", (i, 0, 0)) for i in range(5)]}
    )
    assert response.status_code == 400
    assert counts() == before


def test_an_image_with_too_many_pixels_is_refused_before_decoding(requester, settings):
    settings.ASSET_MAX_PIXELS = 50 * 50
    before = counts()
    response = logged_in(requester).post("/dashboard/jobs/new/", {**JOB, "files": [png("big.png", size=(64, 64))]})
    refused(response, "big.png: image is 64x64 pixels; the limit is 2500 pixels in all.")
    assert counts() == before


def test_jobs_start_from_the_requesters_own_definitions_on_audiences_they_may_use(requester, other_requester):
    mine = factories.draw_job(requester, global_audience()).definition
    theirs = factories.draw_job(other_requester, global_audience()).definition
    their_audience = audience_services.audience_create(owner=other_requester, name="Bob's")
    client = logged_in(requester)
    jobs = Job.objects.count()
    assert client.get(f"/dashboard/definitions/{theirs.public_id}/").status_code == 404
    assert (
        client.post(
            f"/dashboard/definitions/{theirs.public_id}/", {"audience": global_audience().public_id}
        ).status_code
        == 404
    )
    refused(
        client.post(f"/dashboard/definitions/{mine.public_id}/", {"audience": their_audience.public_id}),
        "Select a valid choice",
    )
    assert Job.objects.count() == jobs
