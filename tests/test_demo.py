"""The demo data: ``manage.py seed_demo`` and the book image generator."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from PIL import Image

from demo import images as demo_images
from demo.management.commands import seed_demo as demo

# A pixel is "book blue" when its hue is blue and it is clearly saturated:
# the blue-grey wall background stays below saturation 0.2.
BLUE_HUE = (190.0, 250.0)
MIN_SATURATION = 0.45
MIN_VALUE = 0.2
# How far (pixels) anti-aliasing may spread a book's edge beyond its box.
EDGE_PIXELS = 3


def blue_mask(pixels: np.ndarray) -> np.ndarray:
    """Boolean (rows x cols): the saturated blue pixels of an RGB array."""
    rgb = pixels[..., :3].astype(np.float32) / 255.0
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    high, low = rgb.max(axis=2), rgb.min(axis=2)
    chroma = np.maximum(high - low, 1e-6)
    hue = np.where(high == r, ((g - b) / chroma) % 6, np.where(high == g, (b - r) / chroma + 2, (r - g) / chroma + 4))
    hue = hue * 60.0
    saturation = np.where(high > 0, (high - low) / np.maximum(high, 1e-6), 0.0)
    return (hue >= BLUE_HUE[0]) & (hue <= BLUE_HUE[1]) & (saturation >= MIN_SATURATION) & (high >= MIN_VALUE)


def box_slices(box: dict, width: int, height: int, grow: int = 0) -> tuple[slice, slice]:
    x0, y0 = int(np.floor(box["x_min"] * width)) - grow, int(np.floor(box["y_min"] * height)) - grow
    x1, y1 = int(np.ceil(box["x_max"] * width)) + grow, int(np.ceil(box["y_max"] * height)) + grow
    return slice(max(0, y0), min(height, y1)), slice(max(0, x0), min(width, x1))


def stored_pixels(asset) -> np.ndarray:
    with asset.file.open("rb") as handle:
        return np.asarray(Image.open(io.BytesIO(handle.read())).convert("RGB"))


def stored_bytes(asset) -> bytes:
    with asset.file.open("rb") as handle:
        return handle.read()


def run_seed_demo(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", "--force", *args, stdout=out)
    return out.getvalue()


def box_tuple(box: dict) -> tuple[float, float, float, float]:
    return box["x_min"], box["y_min"], box["x_max"], box["y_max"]


@pytest.fixture(scope="module")
def seeded_once(django_db_setup, django_db_blocker):
    """Seed the demo once for this module (it takes a few seconds), inside a
    transaction rolled back when the module is done; each test then runs in a
    savepoint within it (the ``db`` fixture), so its changes are undone too."""
    with django_db_blocker.unblock(), transaction.atomic():
        try:
            yield run_seed_demo()
        finally:
            transaction.set_rollback(True)


@pytest.fixture
def seeded(seeded_once, db):
    """The seeded demo; the output of the first ``seed_demo`` run."""
    return seeded_once


def _demo_objects():
    from audiences.models import Audience
    from jobs.models import Job, JobDefinition

    User = get_user_model()
    return {
        "operator": User.objects.get(username=demo.OPERATOR),
        "requester": User.objects.get(username=demo.REQUESTER),
        "curated": Audience.objects.get(name=demo.CURATED_NAME),
        "custom": Audience.objects.get(name=demo.CUSTOM_NAME),
        "draw": JobDefinition.objects.get(name=demo.DRAW_JOB_NAME),
        "compare": JobDefinition.objects.get(name=demo.COMPARE_JOB_NAME),
        "jobs": Job.objects.select_related("definition", "audience"),
    }


# --- what seed_demo creates ---------------------------------------------------------


def test_seed_demo_creates_accounts_with_roles(seeded):
    from audiences.models import Membership
    from core.roles import REQUESTERS_GROUP
    from labeling.tokens import AuthToken

    objects = _demo_objects()
    operator, requester = objects["operator"], objects["requester"]
    assert operator.is_superuser and operator.is_staff
    assert requester.is_staff and not requester.is_superuser
    assert requester.groups.filter(name=REQUESTERS_GROUP).exists()
    assert AuthToken.objects.filter(user=requester).exists()
    labelers = get_user_model().objects.filter(username__in=demo.LABELERS)
    assert labelers.count() == 2
    for labeler in labelers:
        assert not labeler.is_staff
        assert Membership.objects.get(labeler=labeler, audience__public_id="global").state == "graduated"


def test_seed_demo_creates_curated_audience_with_compare_examples(seeded):
    from audiences.models import Audience

    curated = _demo_objects()["curated"]
    assert curated.kind == Audience.Kind.CURATED
    assert curated.owner is None
    examples = list(curated.examples.all())
    assert len(examples) >= 3
    for example in examples:
        assert example.kind == "compare"
        assert example.context  # the prompt
        assert example.explanation
        assert example.truth_asset_id in (example.asset_id, example.asset_b_id)


def test_seed_demo_creates_custom_audience_of_the_requester_with_draw_and_compare_examples(seeded):
    from audiences.models import Audience

    objects = _demo_objects()
    custom = objects["custom"]
    assert custom.kind == Audience.Kind.CUSTOM
    assert custom.owner == objects["requester"]
    draw = list(custom.examples.filter(kind="draw").prefetch_related("truth_boxes"))
    compare = list(custom.examples.filter(kind="compare"))
    assert len(draw) >= 7
    assert len(compare) >= 3
    for example in draw:
        assert example.instruction == "Color in all the blue books"
        assert example.truth_boxes.count() >= 1
        assert example.explanation
    for example in compare:
        assert example.explanation
        assert example.truth_asset_id in (example.asset_id, example.asset_b_id)


def test_seed_demo_creates_draw_and_compare_definitions_and_assigns_jobs(seeded):
    objects = _demo_objects()
    requester, draw, compare = objects["requester"], objects["draw"], objects["compare"]
    assert (draw.kind, draw.owner, draw.instruction) == ("draw", requester, "Color in all the blue books")
    assert draw.datapoints.count() == 12
    assert all(dp.asset.kind == "image" for dp in draw.datapoints.select_related("asset"))
    assert (compare.kind, compare.owner) == ("compare", requester)
    pairs = list(compare.datapoints.select_related("asset", "asset_b"))
    assert len(pairs) == 8
    for datapoint in pairs:
        assert datapoint.context  # the prompt
        assert datapoint.asset.kind == datapoint.asset_b.kind == "image"
        assert datapoint.asset_id != datapoint.asset_b_id
    jobs = {(job.definition.name, job.audience.name, job.audience.kind, job.state) for job in objects["jobs"]}
    assert jobs == {
        ("Blue Books Example", "Blue book spotters", "custom", "running"),
        ("Blue Books Example", "Global", "global", "running"),
        ("Prompt Alignment Job", "Prompt alignment (curated)", "curated", "running"),
    }


# --- truths and regions --------------------------------------------------------------


def test_draw_example_truth_boxes_equal_the_known_blue_book_regions_of_their_images(seeded):
    custom = _demo_objects()["custom"]
    generated = {}
    for index in range(len(demo.DRAW_EXAMPLE_BLUE)):
        scene = demo.draw_example_scene(index)
        generated[demo_images.png_bytes(scene.render())] = scene.blue_boxes()
    examples = list(custom.examples.filter(kind="draw").select_related("asset").prefetch_related("truth_boxes"))
    assert examples
    for example in examples:
        truths = sorted((b.x_min, b.y_min, b.x_max, b.y_max) for b in example.truth_boxes.all())
        known = sorted(box_tuple(box) for box in example.asset.known_regions)
        blue_books = sorted(box_tuple(box) for box in generated[stored_bytes(example.asset)])
        assert truths == known == blue_books
        assert len(truths) >= 1


def test_every_draw_job_image_has_its_blue_book_regions_recorded(seeded):
    draw = _demo_objects()["draw"]
    for datapoint in draw.datapoints.select_related("asset"):
        regions = datapoint.asset.known_regions
        assert isinstance(regions, list) and regions, f"datapoint {datapoint.position} has no known regions"
        assert len(regions) == demo.DRAW_JOB_BLUE[datapoint.position]
        for box in regions:
            assert 0 <= box["x_min"] < box["x_max"] <= 1
            assert 0 <= box["y_min"] < box["y_max"] <= 1


def test_stored_images_have_blue_pixels_inside_each_region_and_none_far_outside(seeded):
    from assets.models import Asset

    objects = _demo_objects()
    assets = [dp.asset for dp in objects["draw"].datapoints.select_related("asset")]
    assets += [example.asset for example in objects["custom"].examples.filter(kind="draw").select_related("asset")]
    assert len(assets) >= 19
    for asset in assets:
        assert isinstance(asset, Asset)
        pixels = stored_pixels(asset)
        assert pixels.shape[:2] == (asset.height, asset.width)
        blue = blue_mask(pixels)
        near = np.zeros_like(blue)
        for box in asset.known_regions:
            rows, cols = box_slices(box, asset.width, asset.height)
            assert blue[rows, cols].mean() > 0.3, f"{asset.name}: region {box} is not mostly blue"
            near[box_slices(box, asset.width, asset.height, grow=EDGE_PIXELS)] = True
        stray = int((blue & ~near).sum())
        assert stray == 0, f"{asset.name}: {stray} blue pixels outside the recorded regions"


def test_compare_truths_are_the_images_that_follow_the_prompt(seeded):
    objects = _demo_objects()
    for index, example in enumerate(objects["curated"].examples.select_related("asset", "asset_b", "truth_asset")):
        pair = demo_images.prompt_pair(
            demo.CURATED_EXAMPLE_PROMPTS[index], f"prompt-example-{index}", *demo.image_size(index + 3)
        )
        assert example.context == pair.prompt
        assert stored_bytes(example.truth_asset) == demo_images.png_bytes(pair.right)
        wrong = example.asset_b if example.truth_asset_id == example.asset_id else example.asset
        assert stored_bytes(wrong) == demo_images.png_bytes(pair.wrong)
    positions = set()
    for datapoint in objects["compare"].datapoints.select_related("asset", "asset_b"):
        key = demo.COMPARE_JOB_PROMPTS[datapoint.position]
        pair = demo_images.prompt_pair(
            key, demo.compare_job_seed(datapoint.position), *demo.image_size(datapoint.position)
        )
        assert datapoint.context == pair.prompt
        items = [stored_bytes(datapoint.asset), stored_bytes(datapoint.asset_b)]
        right = demo_images.png_bytes(pair.right)
        assert items.count(right) == 1 and demo_images.png_bytes(pair.wrong) in items
        positions.add(items.index(right))
    assert positions == {0, 1}, "the right image should not always be listed in the same place"


def test_count_examples_truth_has_more_blue_books(seeded):
    custom = _demo_objects()["custom"]
    examples = list(custom.examples.filter(kind="compare").select_related("asset", "asset_b", "truth_asset"))
    assert len(examples) == len(demo.COUNT_EXAMPLES)
    for example in examples:
        wrong = example.asset_b if example.truth_asset_id == example.asset_id else example.asset
        assert blue_mask(stored_pixels(example.truth_asset)).sum() > blue_mask(stored_pixels(wrong)).sum()


# --- idempotence and output -----------------------------------------------------------------


def _counts() -> dict[str, int]:
    from assets.models import Asset
    from audiences.models import Audience, Membership, QualificationExample, TruthBox
    from jobs.models import Datapoint, Job, JobDatapoint, JobDefinition
    from labeling.tokens import AuthToken

    models = [
        get_user_model(),
        AuthToken,
        Audience,
        Membership,
        QualificationExample,
        TruthBox,
        Asset,
        JobDefinition,
        Datapoint,
        Job,
        JobDatapoint,
    ]
    return {model.__name__: model.objects.count() for model in models}


def test_running_seed_demo_twice_creates_nothing_new(seeded):
    before = _counts()
    output = run_seed_demo()
    assert _counts() == before
    assert "created" not in output
    # Each account, audience, definition and job is reported as existing.
    reported = re.findall(
        r"^  exists +(operator|requester|labeler|curated audience|custom audience|draw job "
        r"definition|compare job definition|job) ",
        output,
        re.MULTILINE,
    )
    assert sorted(reported) == sorted(
        [
            "operator",
            "requester",
            "labeler",
            "labeler",
            "curated audience",
            "custom audience",
            "draw job definition",
            "compare job definition",
            "job",
            "job",
            "job",
        ]
    )


def test_output_lists_urls_and_logins_whose_passwords_work(seeded):
    from rest_framework.test import APIClient

    for url in ("http://127.0.0.1:8000/", "http://127.0.0.1:8000/admin/", "http://127.0.0.1:8000/api/docs/"):
        assert url in seeded
    usernames = [demo.OPERATOR, demo.REQUESTER, *demo.LABELERS]
    for username in usernames:
        match = re.search(rf"^\s+{re.escape(username)}\s+/\s+(\S+)", seeded, re.MULTILINE)
        assert match, f"no login line for {username}"
        assert authenticate(username=username, password=match.group(1)) is not None
    token = re.search(r"API token: (\S+)", seeded).group(1)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/api/audiences/").status_code == 200

    again = run_seed_demo()
    for username in usernames:
        assert re.search(rf"^\s+{re.escape(username)}\s+/\s+\(unchanged\)", again, re.MULTILINE)
    # Tokens are stored hashed: the existing one is not shown again.
    assert token not in again and "API token: (unchanged" in again


def test_reset_passwords_prints_new_passwords_that_work(seeded):
    output = run_seed_demo("--reset-passwords")
    match = re.search(rf"^\s+{demo.OPERATOR}\s+/\s+(\S+)", output, re.MULTILINE)
    assert match and match.group(1) != "(unchanged)"
    assert authenticate(username=demo.OPERATOR, password=match.group(1)) is not None


def test_seed_demo_refuses_to_run_with_debug_off_unless_forced(db, settings):
    settings.DEBUG = False
    before = _counts()
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("seed_demo", stdout=io.StringIO())
    assert _counts() == before


# --- the generator --------------------------------------------------------------------------------


def test_book_scene_is_deterministic_and_depends_on_the_seed():
    first, boxes = demo_images.book_scene(3, 640, 480, blue=2, red=1)
    again, same_boxes = demo_images.book_scene(3, 640, 480, blue=2, red=1)
    other, _ = demo_images.book_scene(4, 640, 480, blue=2, red=1)
    assert demo_images.png_bytes(first) == demo_images.png_bytes(again)
    assert boxes == same_boxes and len(boxes) == 2
    assert demo_images.png_bytes(first) != demo_images.png_bytes(other)


@pytest.mark.parametrize("style", demo_images.STYLES)
def test_book_scene_without_blue_books_has_no_blue_pixels(style):
    image, boxes = demo_images.book_scene(11, 800, 600, blue=0, red=3, style=style)
    assert boxes == []
    assert image.size == (800, 600)
    assert int(blue_mask(np.asarray(image)).sum()) == 0


@pytest.mark.parametrize("seed", range(6))
def test_book_scene_blue_boxes_cover_exactly_the_blue_pixels(seed):
    width, height = demo_images.SIZES[seed % len(demo_images.SIZES)]
    image, boxes = demo_images.book_scene(seed, width, height, blue=3, style=demo_images.STYLES[seed % 4])
    assert len(boxes) == 3
    blue = blue_mask(np.asarray(image))
    near = np.zeros_like(blue)
    for box in boxes:
        rows, cols = box_slices(box, width, height)
        assert blue[rows, cols].mean() > 0.3
        near[box_slices(box, width, height, grow=EDGE_PIXELS)] = True
    assert int((blue & ~near).sum()) == 0
