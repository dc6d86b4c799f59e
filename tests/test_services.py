"""Every write service rejects bad input with a message naming the field,
and writes nothing when it does."""

from __future__ import annotations

import math

import pytest
from django.core.exceptions import ValidationError

from assets import services as asset_services
from assets.models import Asset
from audiences import services as audience_services
from audiences.models import Audience, QualificationExample, TruthBox
from jobs import services as job_services
from jobs.models import Datapoint, Job, JobDatapoint, JobDefinition

pytestmark = pytest.mark.django_db

BOX = {"x_min": 0.1, "y_min": 0.2, "x_max": 0.5, "y_max": 0.6}
URL_A = "https://assets.example.org/a.jpg"
URL_B = "https://assets.example.org/b.jpg"


def row_counts() -> dict[str, int]:
    models = (Audience, QualificationExample, TruthBox, Asset, JobDefinition, Datapoint, Job, JobDatapoint)
    return {model.__name__: model.objects.count() for model in models}


def assert_rejected(call, field: str, fragment: str) -> None:
    """``call`` raises a ValidationError on ``field`` whose message contains
    ``fragment``, and no row was written."""
    before = row_counts()
    with pytest.raises(ValidationError) as excinfo:
        call()
    errors = excinfo.value.message_dict
    assert field in errors, errors
    assert any(fragment in message for message in errors[field]), errors
    assert row_counts() == before


@pytest.fixture
def audience(requester):
    return audience_services.audience_create(owner=requester, name="Custom")


# --- audience_create --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field", "fragment"),
    [
        ({"name": ""}, "name", "must not be empty"),
        ({"name": "   "}, "name", "must not be empty"),
        ({"name": "x" * 201}, "name", "at most 200"),
        ({"name": 7}, "name", "must be a string"),
        ({"name": "A", "target_accuracy": 1.5}, "target_accuracy", "must be in"),
        ({"name": "A", "target_accuracy": 0}, "target_accuracy", "must be in"),
        ({"name": "A", "target_accuracy": math.nan}, "target_accuracy", "finite"),
        ({"name": "A", "target_accuracy": "high"}, "target_accuracy", "must be a number"),
        ({"name": "A", "min_tasks": 0}, "min_tasks", "between 1"),
        ({"name": "A", "min_tasks": 2.5}, "min_tasks", "must be an integer"),
        ({"name": "A", "min_tasks": 6, "max_tasks": 4}, "max_tasks", "at least min_tasks"),
        ({"name": "A", "gold_rate": 0.9}, "gold_rate", "must be in"),
    ],
)
def test_audience_create_rejects(requester, kwargs, field, fragment):
    assert_rejected(lambda: audience_services.audience_create(owner=requester, **kwargs), field, fragment)


def test_audience_create_defaults_and_rule(requester):
    audience = audience_services.audience_create(
        owner=requester, name="Mine", target_accuracy=0.9, min_tasks=4, max_tasks=6
    )
    assert (audience.kind, audience.owner, audience.target_accuracy, audience.min_tasks, audience.max_tasks) == (
        Audience.Kind.CUSTOM,
        requester,
        0.9,
        4,
        6,
    )
    default = audience_services.audience_create(owner=requester, name="Defaults")
    assert default.target_accuracy == 0.75


def test_only_operators_make_curated_audiences(requester):
    assert_rejected(
        lambda: audience_services.audience_create(owner=requester, name="C", kind=Audience.Kind.CURATED),
        "kind",
        "operators",
    )
    curated = audience_services.audience_create(owner=None, name="C", kind=Audience.Kind.CURATED)
    assert curated.owner is None


# --- examples ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field", "fragment"),
    [
        ({"instruction": ""}, "instruction", "must not be empty"),
        ({"instruction": "x" * 251}, "instruction", "at most 250"),
        ({"datapoint": "ftp://host/a.jpg"}, "datapoint", "scheme 'ftp'"),
        ({"datapoint": "javascript://alert(1)"}, "datapoint", "scheme 'javascript'"),
        ({"datapoint": "just some text"}, "datapoint", "not text"),
        ({"datapoint": [URL_A, URL_B]}, "datapoint", "exactly one image"),
        ({"datapoint": {"asset_id": "ast_missing"}}, "datapoint", "unknown asset id"),
        ({"truths": []}, "truths", "at least one box"),
        ({"truths": BOX}, "truths", "list of boxes"),
        ({"truths": [{**BOX, "x_min": 0.7}]}, "truths", "x_min must be less than x_max"),
        ({"truths": [{**BOX, "y_max": 1.2}]}, "truths", "between 0 and 1"),
        ({"truths": [{**BOX, "x_max": math.inf}]}, "truths", "finite"),
        ({"truths": [{**BOX, "x_min": True}]}, "truths", "must be a number"),
        ({"truths": [{"x_min": 0.1, "y_min": 0.1, "x_max": 0.2}]}, "truths", "missing y_max"),
        ({"truths": [{**BOX, "colour": "red"}]}, "truths", "unknown field"),
        ({"required_precision": 1.1}, "required_precision", "must be in"),
        ({"required_completeness": -1}, "required_completeness", "must be in"),
        ({"context": "x" * 2001}, "context", "at most 2000"),
    ],
)
def test_add_draw_example_rejects(requester, audience, kwargs, field, fragment):
    call_kwargs = {"instruction": "Color the books", "datapoint": URL_A, "truths": [BOX], **kwargs}
    assert_rejected(
        lambda: audience_services.example_add_draw(audience=audience, owner=requester, **call_kwargs),
        field,
        fragment,
    )


def test_add_draw_example_stores_boxes(requester, audience):
    example = audience_services.example_add_draw(
        audience=audience,
        owner=requester,
        instruction="Color the books",
        datapoint=URL_A,
        truths=[BOX, {"x_min": 0.6, "y_min": 0.6, "x_max": 0.9, "y_max": 0.9}],
        explanation="The books are on the left.",
    )
    assert example.kind == "draw" and example.asset.url == URL_A
    assert [b.as_box().as_dict() for b in example.truth_boxes.all()][0] == BOX
    assert example.truth_boxes.count() == 2
    assert (example.required_precision, example.required_completeness) == (0.8, 1.0)


@pytest.mark.parametrize(
    ("kwargs", "field", "fragment"),
    [
        ({"datapoint": [URL_A]}, "datapoint", "exactly 2 items"),
        ({"datapoint": [URL_A, URL_B, "c"]}, "datapoint", "exactly 2 items"),
        ({"datapoint": [URL_A, URL_A], "truth": URL_A}, "datapoint", "same item twice"),
        ({"datapoint": URL_A}, "datapoint", "exactly 2 items"),
        ({"truth": "https://assets.example.org/c.jpg"}, "truth", "one of the two"),
        ({"truth": URL_A + " "}, "truth", "not a valid URL"),
        ({"truth": None}, "truth", "must be a URL"),
        ({"datapoint": [URL_A, ""], "truth": URL_A}, "datapoint", "must not be empty"),
        ({"datapoint": [URL_A, "file:///etc/passwd"], "truth": URL_A}, "datapoint", "scheme 'file'"),
    ],
)
def test_add_compare_example_rejects(requester, audience, kwargs, field, fragment):
    call_kwargs = {"instruction": "Which follows the prompt?", "datapoint": [URL_A, URL_B], "truth": URL_A, **kwargs}
    assert_rejected(
        lambda: audience_services.example_add_compare(audience=audience, owner=requester, **call_kwargs),
        field,
        fragment,
    )


def test_add_compare_example_truth_is_the_matching_item(requester, audience):
    example = audience_services.example_add_compare(
        audience=audience,
        owner=requester,
        instruction="Which?",
        datapoint=[URL_A, "a text item"],
        truth="a text item",
        context="A prompt",
    )
    assert example.truth_asset == example.asset_b
    assert example.asset_b.kind == Asset.Kind.TEXT and example.context == "A prompt"


def test_examples_only_on_own_custom_audiences(requester, other_requester, audience):
    from audiences.selectors import global_audience

    assert_rejected(
        lambda: audience_services.example_add_compare(
            audience=audience, owner=other_requester, instruction="Which?", datapoint=[URL_A, URL_B], truth=URL_A
        ),
        "audience",
        "not found",
    )
    assert_rejected(
        lambda: audience_services.example_add_compare(
            audience=global_audience(),
            owner=requester,
            instruction="Which?",
            datapoint=[URL_A, URL_B],
            truth=URL_A,
        ),
        "audience",
        "global audience",
    )


# --- job definitions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "kwargs", "field", "fragment"),
    [
        ("draw", {"datapoints": []}, "datapoints", "must not be empty"),
        ("draw", {"datapoints": URL_A}, "datapoints", "must be a list"),
        ("draw", {"datapoints": [URL_A, "ftp://x/y.png"]}, "datapoints", "datapoints[1]"),
        ("draw", {"datapoints": [URL_A, "plain text"]}, "datapoints", "not text"),
        ("draw", {"datapoints": [URL_A, 42]}, "datapoints", "must be a URL"),
        ("draw", {"instruction": ""}, "instruction", "must not be empty"),
        ("draw", {"instruction": "x" * 251}, "instruction", "at most 250"),
        ("draw", {"name": ""}, "name", "must not be empty"),
        ("draw", {"responses_per_datapoint": 0}, "responses_per_datapoint", "between 1"),
        ("draw", {"responses_per_datapoint": "10"}, "responses_per_datapoint", "must be an integer"),
        ("draw", {"contexts": ["only one", "two"]}, "contexts", "2 entries but there are 1"),
        ("draw", {"contexts": [7]}, "contexts", "must be a string"),
        ("draw", {"confidence_threshold": 0.9}, "confidence_threshold", "compare definitions only"),
        (
            "compare",
            {"datapoints": [[URL_A, URL_B], [URL_A]]},
            "datapoints",
            "datapoints[1] must be a list of exactly 2",
        ),
        ("compare", {"datapoints": [[URL_A, URL_A]]}, "datapoints", "same item twice"),
        ("compare", {"datapoints": [URL_A]}, "datapoints", "exactly 2 items"),
        ("compare", {"confidence_threshold": 1.0}, "confidence_threshold", "must be in (0, 1)"),
        ("compare", {"confidence_threshold": 0}, "confidence_threshold", "must be in (0, 1)"),
        ("compare", {"confidence_threshold": math.nan}, "confidence_threshold", "finite"),
        ("compare", {"datapoints": [[URL_A, {"asset_id": "ast_nope"}]]}, "datapoints", "unknown asset id"),
    ],
)
def test_job_definition_create_rejects(requester, kind, kwargs, field, fragment):
    defaults = {"name": "Job", "instruction": "Do it", "datapoints": [URL_A] if kind == "draw" else [[URL_A, URL_B]]}
    assert_rejected(
        lambda: job_services.job_definition_create(owner=requester, kind=kind, **{**defaults, **kwargs}),
        field,
        fragment,
    )


def test_uploaded_asset_of_another_owner_is_unknown(requester, other_requester, png_bytes):
    theirs = asset_services.asset_create_image(owner=other_requester, data=png_bytes, name="b.png")
    assert_rejected(
        lambda: job_services.job_definition_create_draw(
            owner=requester, name="Job", instruction="Color", datapoints=[{"asset_id": theirs.public_id}]
        ),
        "datapoints",
        "unknown asset id",
    )


def test_job_definition_create_compare_with_contexts(requester, png_bytes):
    upload = asset_services.asset_create_image(owner=requester, data=png_bytes, name="local/a.png")
    definition = job_services.job_definition_create_compare(
        owner=requester,
        name="Prompt alignment",
        instruction="Which image follows the prompt?",
        datapoints=[[URL_A, URL_B], [{"asset_id": upload.public_id}, "text item"]],
        contexts=["A duck", "A book"],
        responses_per_datapoint=5,
        confidence_threshold=0.95,
    )
    datapoints = list(definition.datapoints.select_related("asset", "asset_b"))
    assert [d.position for d in datapoints] == [0, 1]
    assert [d.context for d in datapoints] == ["A duck", "A book"]
    assert datapoints[1].asset == upload and datapoints[1].asset_b.text == "text item"
    assert definition.confidence_threshold == 0.95 and definition.responses_per_datapoint == 5


def test_same_url_twice_is_one_asset(requester):
    job_services.job_definition_create_draw(
        owner=requester, name="J", instruction="Color", datapoints=[URL_A, URL_A, URL_B]
    )
    assert Asset.objects.filter(owner=requester, url=URL_A).count() == 1


# --- jobs --------------------------------------------------------------------------------


def test_job_create_sets_up_slots(requester, audience):
    definition = job_services.job_definition_create_draw(
        owner=requester, name="J", instruction="Color", datapoints=[URL_A, URL_B], responses_per_datapoint=35
    )
    job = job_services.job_create(owner=requester, definition=definition, audience=audience)
    assert job.state == Job.State.RUNNING and job.responses_needed == 70
    assert list(job.job_datapoints.values_list("position", "response_count")) == [(0, 0), (1, 0)]


def test_job_create_only_with_visible_definition_and_audience(requester, other_requester, audience):
    mine = job_services.job_definition_create_draw(owner=requester, name="J", instruction="C", datapoints=[URL_A])
    theirs = job_services.job_definition_create_draw(
        owner=other_requester, name="J", instruction="C", datapoints=[URL_A]
    )
    their_audience = audience_services.audience_create(owner=other_requester, name="Theirs")
    assert_rejected(
        lambda: job_services.job_create(owner=requester, definition=theirs, audience=audience),
        "job_definition",
        "not found",
    )
    assert_rejected(
        lambda: job_services.job_create(owner=requester, definition=mine, audience=their_audience),
        "audience",
        "not found",
    )
