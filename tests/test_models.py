"""The database itself holds the domain's invariants, whatever code writes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from assets.models import Asset
from audiences.models import Audience, Membership, QualificationExample, TruthBox
from jobs.models import Datapoint, Job, JobDatapoint, JobDefinition, Lease, Response

pytestmark = pytest.mark.django_db


def rejected():
    """The statement inside must violate a database constraint."""
    return pytest.raises(IntegrityError)


@pytest.fixture
def text_assets(requester):
    return [Asset.objects.create(owner=requester, kind="text", key=f"k{i}", text=f"item {i}") for i in range(3)]


@pytest.fixture
def audience(requester):
    return Audience.objects.create(owner=requester, name="Custom")


@pytest.fixture
def draw_job(requester, audience, text_assets):
    definition = JobDefinition.objects.create(owner=requester, kind="draw", name="D", instruction="Color")
    datapoint = Datapoint.objects.create(definition=definition, position=0, kind="draw", asset=text_assets[0])
    job = Job.objects.create(owner=requester, definition=definition, audience=audience, responses_needed=1)
    job_datapoint = JobDatapoint.objects.create(job=job, datapoint=datapoint, position=0)
    return job, job_datapoint


def test_global_audience_is_unique():
    with rejected(), transaction.atomic():
        Audience.objects.create(kind=Audience.Kind.GLOBAL, name="Another global")


def test_custom_audience_needs_owner_and_curated_has_none(requester):
    with rejected(), transaction.atomic():
        Audience.objects.create(kind=Audience.Kind.CUSTOM, name="Orphan")
    with rejected(), transaction.atomic():
        Audience.objects.create(kind=Audience.Kind.CURATED, name="Owned curated", owner=requester)


@pytest.mark.parametrize(
    "fields",
    [
        {"target_accuracy": 1.5},
        {"target_accuracy": -0.1},
        {"min_tasks": 0, "max_tasks": 3},
        {"min_tasks": 5, "max_tasks": 4},
        {"gold_rate": 2.0},
        {"name": ""},
    ],
)
def test_audience_rule_ranges(requester, fields):
    with rejected(), transaction.atomic():
        Audience.objects.create(owner=requester, **{"name": "A", **fields})


@pytest.mark.parametrize(
    "box",
    [
        {"x_min": -0.1, "y_min": 0, "x_max": 0.5, "y_max": 0.5},
        {"x_min": 0, "y_min": 0, "x_max": 1.2, "y_max": 0.5},
        {"x_min": 0.5, "y_min": 0, "x_max": 0.5, "y_max": 0.5},
        {"x_min": 0.1, "y_min": 0.6, "x_max": 0.5, "y_max": 0.5},
    ],
)
def test_truth_box_ratios_and_order(audience, text_assets, box):
    example = QualificationExample.objects.create(
        audience=audience, kind="draw", instruction="Color", asset=text_assets[0]
    )
    with rejected(), transaction.atomic():
        TruthBox.objects.create(example=example, **box)


def test_compare_example_items_distinct_and_truth_among_them(audience, text_assets):
    a, b, c = text_assets
    common = {"audience": audience, "kind": "compare", "instruction": "Which"}
    with rejected(), transaction.atomic():
        QualificationExample.objects.create(**common, asset=a, asset_b=a, truth_asset=a)
    with rejected(), transaction.atomic():
        QualificationExample.objects.create(**common, asset=a, asset_b=b, truth_asset=c)
    with rejected(), transaction.atomic():
        QualificationExample.objects.create(**common, asset=a, asset_b=None, truth_asset=a)
    QualificationExample.objects.create(**common, asset=a, asset_b=b, truth_asset=b)


def test_draw_example_has_one_item_and_no_truth_item(audience, text_assets):
    a, b, _ = text_assets
    with rejected(), transaction.atomic():
        QualificationExample.objects.create(audience=audience, kind="draw", instruction="Color", asset=a, asset_b=b)


def test_responses_per_datapoint_at_least_one(requester):
    with rejected(), transaction.atomic():
        JobDefinition.objects.create(
            owner=requester, kind="draw", name="D", instruction="Color", responses_per_datapoint=0
        )


def test_confidence_threshold_only_for_compare_and_open_interval(requester):
    with rejected(), transaction.atomic():
        JobDefinition.objects.create(
            owner=requester, kind="draw", name="D", instruction="Color", confidence_threshold=0.9
        )
    with rejected(), transaction.atomic():
        JobDefinition.objects.create(
            owner=requester, kind="compare", name="C", instruction="Which", confidence_threshold=1.0
        )


def test_datapoint_position_unique_and_compare_pairs_distinct(requester, text_assets):
    a, b, _ = text_assets
    definition = JobDefinition.objects.create(owner=requester, kind="compare", name="C", instruction="Which")
    Datapoint.objects.create(definition=definition, position=0, kind="compare", asset=a, asset_b=b)
    with rejected(), transaction.atomic():
        Datapoint.objects.create(definition=definition, position=0, kind="compare", asset=b, asset_b=a)
    with rejected(), transaction.atomic():
        Datapoint.objects.create(definition=definition, position=1, kind="compare", asset=a, asset_b=a)


def test_one_membership_per_labeler_and_audience(labeler, audience):
    Membership.objects.create(labeler=labeler, audience=audience)
    with rejected(), transaction.atomic():
        Membership.objects.create(labeler=labeler, audience=audience)


def test_membership_score_is_a_ratio(labeler, audience):
    with rejected(), transaction.atomic():
        Membership.objects.create(labeler=labeler, audience=audience, user_score=1.2)


def test_one_response_per_job_datapoint_and_labeler(labeler, draw_job):
    job, job_datapoint = draw_job
    common = {
        "job": job,
        "job_datapoint": job_datapoint,
        "labeler": labeler,
        "payload": {"lines": []},
        "user_score": 0.5,
        "time_spent_ms": 1000,
    }
    Response.objects.create(**common)
    with rejected(), transaction.atomic():
        Response.objects.create(**common)


def test_one_lease_per_job_datapoint_and_labeler(labeler, draw_job):
    job, job_datapoint = draw_job
    now = timezone.now()
    common = {
        "job": job,
        "job_datapoint": job_datapoint,
        "labeler": labeler,
        "leased_at": now,
        "expires_at": now + timedelta(minutes=10),
    }
    Lease.objects.create(**common)
    with rejected(), transaction.atomic():
        Lease.objects.create(**common)


def test_asset_kind_needs_its_content(requester):
    with rejected(), transaction.atomic():
        Asset.objects.create(owner=requester, kind="url", key="u", url="")
    with rejected(), transaction.atomic():
        Asset.objects.create(owner=requester, kind="image", key="i", file="assets/x.png")  # no size


def test_public_ids_are_opaque(requester, audience, draw_job):
    job, _ = draw_job
    for public_id in (audience.public_id, job.public_id, job.definition.public_id):
        prefix, _, rest = public_id.partition("_")
        assert prefix in {"aud", "job", "jdf"}
        assert len(rest) == 32 and not rest.isdigit()
    assert Audience.objects.create(owner=requester, name="Second").public_id != audience.public_id


@pytest.mark.parametrize("model", [JobDatapoint, Lease, Response])
def test_tables_written_on_every_task_keep_no_redundant_index(model):
    """Every index costs every insert (and every update of a column it
    holds): none of these tables has an index whose columns another of its
    indexes starts with, unless it enforces uniqueness, nor a
    pattern-matching twin of a unique one."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("reads PostgreSQL's catalog")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.relname, x.indisunique, pg_get_indexdef(x.indexrelid),"
            " ARRAY(SELECT a.attname FROM unnest(x.indkey) WITH ORDINALITY k(num, ord)"
            "       JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.num ORDER BY k.ord)"
            " FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = %s::regclass",
            [model._meta.db_table],
        )
        indexes = cursor.fetchall()
    assert len(indexes) >= 3
    for name, unique, definition, columns in indexes:
        assert "pattern_ops" not in definition, definition
        covered_by = [
            other
            for other, _, _, longer in indexes
            if other != name and len(longer) > len(columns) and longer[: len(columns)] == columns
        ]
        assert unique or not covered_by, f"{name} {columns} is the start of {covered_by}"
