"""The lease-based task feed: who gets which datapoint, submissions, skips."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from audiences.models import Membership
from audiences.selectors import global_audience
from jobs import feed
from jobs.models import Job, JobDatapoint, Lease, Response
from tests import factories

pytestmark = pytest.mark.django_db


def api_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def next_task(client, job):
    response = client.post(f"/api/labeler/jobs/{job.public_id}/tasks/next/")
    assert response.status_code == 200, response.content
    return response.json()["task"]


def submit(client, task_id, response, **kwargs):
    return client.post(f"/api/labeler/tasks/{task_id}/submit/", {"response": response}, format="json", **kwargs)


def skip(client, task_id):
    return client.post(f"/api/labeler/tasks/{task_id}/skip/")


def position_of(task) -> int:
    return int(task["items"][0]["value"].rsplit("-", 1)[1].split(".")[0])


@pytest.fixture
def global_draw_job(requester):
    return factories.draw_job(requester, global_audience(), datapoints=3, responses=2)


def test_only_graduated_labelers_work_on_custom_audience_jobs(requester, labeler):
    audience = factories.draw_audience(requester)
    job = factories.draw_job(requester, audience)
    response = api_for(labeler).post(f"/api/labeler/jobs/{job.public_id}/tasks/next/")
    assert response.status_code == 403 and response.json()["code"] == "not_eligible"
    Membership.objects.create(labeler=labeler, audience=audience, state=Membership.State.GRADUATED)
    assert next_task(api_for(labeler), job) is not None


def test_every_labeler_works_on_global_jobs(global_draw_job, labeler):
    task = next_task(api_for(labeler), global_draw_job)
    assert task["kind"] == "draw" and task["instruction"] == "Color in all the blue books"
    assert task["job"]["id"] == global_draw_job.public_id and task["expires_at"]


def test_same_task_until_answered(global_draw_job, labeler):
    client = api_for(labeler)
    assert next_task(client, global_draw_job) == next_task(client, global_draw_job)


def test_datapoint_offered_only_while_responses_plus_leases_are_below_needed(global_draw_job, make_labeler):
    clients = [api_for(make_labeler(f"l{i}")) for i in range(5)]
    positions = [position_of(next_task(client, global_draw_job)) for client in clients]
    # 2 responses per datapoint: two leases fill a datapoint, closest-to-done first.
    assert positions == [0, 0, 1, 1, 2]
    for jd in JobDatapoint.objects.filter(job=global_draw_job):
        live = Lease.objects.filter(job_datapoint=jd, status=Lease.Status.ACTIVE).count()
        assert jd.response_count + live <= 2


def test_closest_to_completion_goes_first(requester, make_labeler):
    job = factories.draw_job(requester, global_audience(), datapoints=3, responses=3)
    first = api_for(make_labeler("a"))
    task = next_task(first, job)
    submit(first, task["id"], factories.stroke_inside())  # datapoint 0 has 1 of 3; next for 'a' is 1
    JobDatapoint.objects.filter(job=job, position=2).update(response_count=2)
    assert position_of(next_task(api_for(make_labeler("b")), job)) == 2  # 2 of 3 beats 1 of 3


def test_submit_stores_score_and_time_and_gives_the_next_task(global_draw_job, labeler):
    client = api_for(labeler)
    task = next_task(client, global_draw_job)
    Lease.objects.filter(public_id=task["id"]).update(leased_at=timezone.now() - timedelta(seconds=7))
    result = submit(client, task["id"], factories.stroke_inside())
    assert result.status_code == 200
    body = result.json()
    assert body["accepted"] is True and body["next"]["id"] != task["id"]
    stored = Response.objects.get()
    assert stored.user_score == 0.5 and 7000 <= stored.time_spent_ms < 20000
    assert stored.payload == factories.stroke_inside()
    assert JobDatapoint.objects.get(pk=stored.job_datapoint_id).response_count == 1
    assert Lease.objects.get(public_id=task["id"]).status == Lease.Status.SUBMITTED


def test_never_offered_what_was_answered_or_skipped(global_draw_job, labeler):
    client = api_for(labeler)
    first = next_task(client, global_draw_job)
    second = submit(client, first["id"], factories.stroke_inside()).json()["next"]
    third = skip(client, second["id"]).json()["next"]
    assert len({position_of(t) for t in (first, second, third)}) == 3
    fourth = submit(client, third["id"], factories.stroke_inside()).json()["next"]
    assert fourth is None
    response = client.post(f"/api/labeler/jobs/{global_draw_job.public_id}/tasks/next/")
    assert response.json() == {"task": None, "detail": "No more tasks in this job for you."}


def test_skip_returns_the_slot(requester, make_labeler):
    job = factories.draw_job(requester, global_audience(), datapoints=1, responses=1)
    a, b = api_for(make_labeler("a")), api_for(make_labeler("b"))
    task = next_task(a, job)
    assert next_task(b, job) is None  # the only slot is leased
    skip(a, task["id"])
    assert next_task(b, job) is not None


def test_expired_leases_return_their_slot(requester, make_labeler):
    job = factories.draw_job(requester, global_audience(), datapoints=1, responses=1)
    a, b = api_for(make_labeler("a")), api_for(make_labeler("b"))
    task = next_task(a, job)
    assert next_task(b, job) is None
    Lease.objects.filter(public_id=task["id"]).update(
        leased_at=timezone.now() - timedelta(minutes=11), expires_at=timezone.now() - timedelta(minutes=1)
    )
    taken = next_task(b, job)
    assert taken is not None
    late = submit(a, task["id"], factories.stroke_inside())
    assert late.status_code == 409 and late.json()["code"] == "task_expired"
    assert submit(b, taken["id"], factories.stroke_inside()).status_code == 200
    assert Response.objects.count() == 1


def test_a_late_answer_is_kept_while_there_is_room(global_draw_job, labeler):
    client = api_for(labeler)
    task = next_task(client, global_draw_job)
    Lease.objects.filter(public_id=task["id"]).update(
        leased_at=timezone.now() - timedelta(minutes=11), expires_at=timezone.now() - timedelta(minutes=1)
    )
    assert submit(client, task["id"], factories.stroke_inside()).status_code == 200


def test_lease_duration_is_configurable(settings, global_draw_job, labeler):
    settings.LEASE_SECONDS = 30
    task = next_task(api_for(labeler), global_draw_job)
    lease = Lease.objects.get(public_id=task["id"])
    assert (lease.expires_at - lease.leased_at) == timedelta(seconds=30)


def test_job_completes_when_every_datapoint_is_full(requester, make_labeler, django_capture_on_commit_callbacks):
    job = factories.compare_job(requester, global_audience(), datapoints=2, responses=1)
    client = api_for(make_labeler("solo"))
    task = next_task(client, job)
    with django_capture_on_commit_callbacks(execute=True):
        task = submit(client, task["id"], {"choice": task["items"][0]["value"]}).json()["next"]
    assert Job.objects.get(pk=job.pk).state == Job.State.RUNNING
    with django_capture_on_commit_callbacks(execute=True):
        result = submit(client, task["id"], {"choice": task["items"][1]["value"]}).json()
    assert result["next"] is None
    job.refresh_from_db()
    assert job.state == Job.State.COMPLETED and job.completed_at is not None
    response = client.post(f"/api/labeler/jobs/{job.public_id}/tasks/next/")
    assert response.status_code == 409 and response.json()["code"] == "job_not_running"


def test_compare_choice_is_stored_as_the_item(requester, labeler):
    job = factories.compare_job(requester, global_audience(), datapoints=1, responses=1)
    client = api_for(labeler)
    task = next_task(client, job)
    assert {item["value"] for item in task["items"]} == {factories.url("left-0"), factories.url("right-0")}
    assert task["context"] == "prompt 0"
    submit(client, task["id"], {"choice": factories.url("right-0")})
    assert Response.objects.get().payload == {"choice": factories.url("right-0")}


# --- bad input --------------------------------------------------------------------------

LINE = {"size": 0.02, "points": [{"x": 0.5, "y": 0.5}]}


@pytest.mark.parametrize(
    ("response", "fragment"),
    [
        ("lines", "must be an object"),
        ([], "must be an object"),
        ({}, "missing lines"),
        ({"lines": [LINE], "extra": 1}, "unknown field"),
        ({"lines": {"size": 0.02}}, "must be a list"),
        ({"lines": [{"size": "big", "points": LINE["points"]}]}, "size must be a number"),
        ({"lines": [{"size": True, "points": LINE["points"]}]}, "size must be a number"),
        ({"lines": [{"size": 0.0001, "points": LINE["points"]}]}, "size must be between"),
        ({"lines": [{"size": 0.5, "points": LINE["points"]}]}, "size must be between"),
        ({"lines": [{"size": 0.02, "points": []}]}, "non-empty list"),
        ({"lines": [{"size": 0.02, "points": [{"x": -0.01, "y": 0.5}]}]}, "between 0 and 1"),
        ({"lines": [{"size": 0.02, "points": [{"x": 0.5, "y": 1.01}]}]}, "between 0 and 1"),
        ({"lines": [{"size": 0.02, "points": [{"x": "0.5", "y": 0.5}]}]}, "must be a number"),
        ({"lines": [{"size": 0.02, "points": [{"x": 0.5}]}]}, "missing y"),
        ({"lines": [{"size": 0.02, "points": [[0.5, 0.5]]}]}, "must be an object"),
        ({"lines": [LINE] * 201}, "at most 200"),
        ({"lines": [{"size": 0.02, "points": [{"x": 0.5, "y": 0.5}] * 5001}]}, "at most 5000"),
        ({"lines": [{"size": 0.02, "points": [{"x": 0.5, "y": 0.5}] * 4000}] * 6}, "more than 20000"),
        ({"choice": factories.url("image-0")}, "missing lines"),
    ],
)
def test_malformed_draw_responses_are_refused_and_store_nothing(global_draw_job, labeler, response, fragment):
    client = api_for(labeler)
    task = next_task(client, global_draw_job)
    result = submit(client, task["id"], response)
    assert result.status_code == 400
    messages = result.json()["response"]
    assert any(fragment in message for message in messages), messages
    assert not Response.objects.exists()
    assert Lease.objects.get(public_id=task["id"]).status == Lease.Status.ACTIVE


@pytest.mark.parametrize(
    "response",
    [{"choice": "https://assets.example.org/elsewhere.jpg"}, {"choice": 1}, {"choice": None}, {"pick": "x"}],
)
def test_compare_choice_must_be_one_of_the_two_items(requester, labeler, response):
    job = factories.compare_job(requester, global_audience(), datapoints=1, responses=1)
    client = api_for(labeler)
    task = next_task(client, job)
    result = submit(client, task["id"], response)
    assert result.status_code == 400 and "response" in result.json()
    assert not Response.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b'{"response": {"lines": [{"size": NaN, "points": []}]}}',
        b'{"response": {"lines": [{"size": 0.02, "points": [{"x": Infinity, "y": 0.1}]}]}}',
    ],
)
def test_unparseable_bodies_are_refused(global_draw_job, labeler, body):
    client = api_for(labeler)
    task = next_task(client, global_draw_job)
    result = client.generic("POST", f"/api/labeler/tasks/{task['id']}/submit/", body, content_type="application/json")
    assert result.status_code == 400 and "detail" in result.json()
    assert not Response.objects.exists()


def test_submission_without_a_lease_of_this_labeler_is_404(global_draw_job, make_labeler):
    owner, thief = api_for(make_labeler("owner")), api_for(make_labeler("thief"))
    task = next_task(owner, global_draw_job)
    assert submit(thief, task["id"], factories.stroke_inside()).status_code == 404
    assert submit(thief, "tsk_" + "0" * 32, factories.stroke_inside()).status_code == 404
    assert skip(thief, task["id"]).status_code == 404
    assert not Response.objects.exists()


def test_second_submission_for_the_same_datapoint_is_409(global_draw_job, labeler):
    client = api_for(labeler)
    task = next_task(client, global_draw_job)
    assert submit(client, task["id"], factories.stroke_inside()).status_code == 200
    again = submit(client, task["id"], factories.stroke_inside())
    assert again.status_code == 409 and again.json()["code"] == "task_already_submitted"
    assert Response.objects.count() == 1


def test_skipped_task_cannot_be_submitted(global_draw_job, labeler):
    client = api_for(labeler)
    task = next_task(client, global_draw_job)
    skip(client, task["id"])
    result = submit(client, task["id"], factories.stroke_inside())
    assert result.status_code == 409 and result.json()["code"] == "task_skipped"


def test_submission_body_needs_a_response(global_draw_job, labeler):
    client = api_for(labeler)
    task = next_task(client, global_draw_job)
    result = client.post(f"/api/labeler/tasks/{task['id']}/submit/", {"answer": {}}, format="json")
    assert result.status_code == 400 and "response" in result.json()


def test_unknown_job_is_404(labeler):
    assert api_for(labeler).post("/api/labeler/jobs/job_nope/tasks/next/").status_code == 404


def test_empty_drawing_is_an_answer(global_draw_job, labeler):
    client = api_for(labeler)
    task = next_task(client, global_draw_job)
    assert submit(client, task["id"], {"lines": []}).status_code == 200
    assert Response.objects.get().payload == {"lines": []}


def test_task_json_is_plain(global_draw_job, labeler):
    task = next_task(api_for(labeler), global_draw_job)
    assert set(task) == {"id", "kind", "instruction", "context", "media_context", "items", "expires_at", "job"}
    json.dumps(task)


def test_next_task_keeps_looking_past_slots_that_filled_up_meanwhile(global_draw_job, labeler, monkeypatch):
    """Under load, several candidates can turn out full once locked (other
    labelers leased them while this request ran); the labeler must still get
    the datapoint that has room rather than be told there is no work."""
    from jobs.feed import leasing

    job = factories.draw_job(global_draw_job.owner, global_audience(), datapoints=6, responses=1)
    real_lease_if_room = leasing._lease_if_room
    seen = []

    def filled_meanwhile(*, job, job_datapoint, labeler, now, duration):
        seen.append(job_datapoint.position)
        return (
            real_lease_if_room(job=job, job_datapoint=job_datapoint, labeler=labeler, now=now, duration=duration)
            if len(seen) > 4
            else None
        )

    monkeypatch.setattr(leasing, "_lease_if_room", filled_meanwhile)
    # The one-statement lease skips rows others hold; this is the general path.
    monkeypatch.setattr(leasing, "_held_or_new_lease", lambda **_: None)
    lease = leasing.task_next(labeler=labeler, job=job)
    assert lease is not None and lease.job_datapoint.position == 4
    assert seen == [0, 1, 2, 3, 4]


# --- pausing -----------------------------------------------------------------------------------


def test_a_paused_job_hands_out_no_tasks_but_takes_answers_to_held_ones(requester, make_labeler):
    job = factories.draw_job(requester, global_audience(), datapoints=3, responses=1)
    owner = APIClient()
    owner.force_authenticate(requester)
    holder, newcomer = api_for(make_labeler("holder")), api_for(make_labeler("newcomer"))
    held = next_task(holder, job)

    paused = owner.post(f"/api/jobs/{job.public_id}/pause/")
    assert paused.status_code == 200 and paused.json()["state"] == "paused"
    refused = newcomer.post(f"/api/labeler/jobs/{job.public_id}/tasks/next/")
    assert refused.status_code == 409 and refused.json()["code"] == "job_not_running"
    answered = submit(holder, held["id"], factories.stroke_inside())
    assert answered.status_code == 200 and answered.json()["next"] is None
    assert Response.objects.filter(job=job).count() == 1

    assert owner.post(f"/api/jobs/{job.public_id}/resume/").json()["state"] == "running"
    assert next_task(newcomer, job) is not None


def test_only_running_jobs_pause_and_only_the_owner_can(requester, other_requester):
    job = factories.draw_job(requester, global_audience())
    stranger = APIClient()
    stranger.force_authenticate(other_requester)
    assert stranger.post(f"/api/jobs/{job.public_id}/pause/").status_code == 404
    Job.objects.filter(pk=job.pk).update(state=Job.State.COMPLETED)
    owner = APIClient()
    owner.force_authenticate(requester)
    refused = owner.post(f"/api/jobs/{job.public_id}/pause/")
    assert refused.status_code == 409 and "completed" in refused.json()["detail"]
    assert Job.objects.get(pk=job.pk).state == Job.State.COMPLETED


def test_an_answer_to_a_full_datapoint_is_refused_even_with_a_live_lease(global_draw_job, labeler):
    """Whatever left a lease live on a datapoint that has all its answers,
    the answer is refused and nothing is counted."""
    lease = feed.task_next(labeler=labeler, job=global_draw_job)
    JobDatapoint.objects.filter(pk=lease.job_datapoint_id).update(response_count=2, closed=True)
    response = submit(api_for(labeler), lease.public_id, {"lines": []})
    assert response.status_code == 409 and response.json()["code"] == "task_expired"
    assert Response.objects.count() == 0
    assert JobDatapoint.objects.get(pk=lease.job_datapoint_id).response_count == 2
    assert Lease.objects.get(pk=lease.pk).status == Lease.Status.ACTIVE


def test_an_answer_to_a_live_lease_is_stored_in_one_statement_on_postgresql(global_draw_job, labeler):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if connection.vendor != "postgresql":
        pytest.skip("the one-statement path is PostgreSQL's")
    from jobs import content_cache

    lease = feed.task_next(labeler=labeler, job=global_draw_job)
    content_cache.datapoint(lease.job_datapoint.datapoint_id)  # as after the task was shown
    with CaptureQueriesContext(connection) as queries:
        feed.task_submit(labeler=labeler, task_id=lease.public_id, response={"lines": []})
    # The lease with its job and membership, then the answer itself (no BEGIN or COMMIT).
    assert len(queries.captured_queries) == 2, [q["sql"][:80] for q in queries.captured_queries]
    slot = JobDatapoint.objects.get(pk=lease.job_datapoint_id)
    assert slot.response_count == 1 and not slot.closed
    assert Lease.objects.get(pk=lease.pk).status == Lease.Status.SUBMITTED
    assert Response.objects.get().labeler == labeler


def feed_statements(queries) -> list[str]:
    """The statements run, without transaction control (BEGIN, COMMIT, savepoints)."""
    control = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK")
    return [q["sql"] for q in queries.captured_queries if not q["sql"].startswith(control)]


def test_a_new_lease_is_one_statement_on_postgresql(global_draw_job, labeler):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from jobs import content_cache

    if connection.vendor != "postgresql":
        pytest.skip("counts PostgreSQL statements")
    membership = feed.working_membership_get_or_create(labeler=labeler, audience=global_draw_job.audience)
    content_cache.definition(global_draw_job.definition_id)  # as in a process that served this job before
    with CaptureQueriesContext(connection) as queries:
        lease = feed.task_next(labeler=labeler, job=global_draw_job, membership=membership)
    # The labeler's held lease or else a new one, with the slot's lease count: one statement, no
    # transaction (nor savepoint) around it.
    assert len(queries.captured_queries) == 1, [q["sql"][:80] for q in queries.captured_queries]
    assert lease is not None and Lease.objects.get(pk=lease.pk).status == Lease.Status.ACTIVE
    assert JobDatapoint.objects.get(pk=lease.job_datapoint_id).leases_active == 1
    with CaptureQueriesContext(connection) as queries:
        again = feed.task_next(labeler=labeler, job=global_draw_job, membership=membership)
    assert again.pk == lease.pk and again.public_id == lease.public_id  # held: the same task
    assert again.expires_at == lease.expires_at
    assert len(queries.captured_queries) == 1
    assert JobDatapoint.objects.get(pk=lease.job_datapoint_id).leases_active == 1


def assert_counts_hold(job) -> None:
    assert factories.miscounted_leases(job) == {}


def test_each_datapoint_counts_its_active_leases_through_every_change(requester, make_labeler):
    """Leasing, answering, skipping, a late answer and a lease renewed after
    it ran out all keep the row's count equal to the active leases."""
    job = factories.draw_job(requester, global_audience(), datapoints=2, responses=3)
    lara, otto, ines = (api_for(make_labeler(name)) for name in ("lara", "otto", "ines"))
    first, second, third = next_task(lara, job), next_task(otto, job), next_task(ines, job)
    assert factories.active_leases_counted(job)[0] == (3, 3)  # all on the one closest to completion
    assert_counts_hold(job)
    assert submit(lara, first["id"], factories.stroke_inside()).status_code == 200
    assert_counts_hold(job)
    assert skip(otto, second["id"]).status_code == 200
    assert_counts_hold(job)
    # Ines's lease runs out: it still counts as active until she answers it late or it is renewed.
    Lease.objects.filter(public_id=third["id"]).update(
        leased_at=timezone.now() - timedelta(hours=2), expires_at=timezone.now() - timedelta(hours=1)
    )
    assert submit(ines, third["id"], factories.stroke_inside()).status_code == 200  # late, with room
    assert_counts_hold(job)
    renewed = next_task(lara, job)  # lara's next is on the other datapoint (she answered this one)
    Lease.objects.filter(public_id=renewed["id"]).update(
        leased_at=timezone.now() - timedelta(hours=2), expires_at=timezone.now() - timedelta(hours=1)
    )
    again = next_task(lara, job)
    assert again["id"] != renewed["id"] and position_of(again) == position_of(renewed)  # renewed, new id
    assert_counts_hold(job)


def test_room_behind_leases_that_ran_out_is_found_and_recounted(requester, make_labeler):
    job = factories.draw_job(requester, global_audience(), datapoints=1, responses=1)
    lara, otto = api_for(make_labeler("lara")), api_for(make_labeler("otto"))
    held = next_task(lara, job)
    assert next_task(otto, job) is None  # the one slot is held
    Lease.objects.filter(public_id=held["id"]).update(
        leased_at=timezone.now() - timedelta(hours=2), expires_at=timezone.now() - timedelta(hours=1)
    )
    # The row still counts Lara's lease (it is active until answered); the general path looks closer.
    assert factories.active_leases_counted(job)[0] == (1, 1)
    taken = next_task(otto, job)
    assert taken is not None
    assert factories.active_leases_counted(job)[0] == (2, 2)
    assert submit(otto, taken["id"], factories.stroke_inside()).status_code == 200
    assert submit(lara, held["id"], factories.stroke_inside()).json()["code"] == "task_expired"
    assert factories.active_leases_counted(job)[0] == (1, 1)  # Lara's lease: active, ran out, its place taken


def test_a_new_jobs_slots_are_sampled_for_the_planner_when_they_change_the_table(
    requester, django_capture_on_commit_callbacks
):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL planner statistics")

    def sampled_rows() -> float:
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples FROM pg_class WHERE oid = 'jobs_jobdatapoint'::regclass")
            return cursor.fetchone()[0]

    with django_capture_on_commit_callbacks(execute=True):
        factories.draw_job(requester, global_audience(), datapoints=40)
    # ANALYZE ran once the job was in: the statistics count every slot.
    assert sampled_rows() == JobDatapoint.objects.count() >= 40
    with django_capture_on_commit_callbacks(execute=True):
        factories.draw_job(requester, global_audience(), datapoints=3)
    # A job a tenth the size of what is known leaves the table to autovacuum.
    assert sampled_rows() == JobDatapoint.objects.count() - 3


def test_datapoints_are_read_in_runs_and_kept(requester, labeler):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from jobs import content_cache
    from jobs.models import Datapoint

    job = factories.draw_job(requester, global_audience(), datapoints=5, responses=1)
    ids = list(Datapoint.objects.filter(definition_id=job.definition_id).order_by("pk").values_list("pk", flat=True))
    with CaptureQueriesContext(connection) as queries:
        shown = [content_cache.datapoint(pk) for pk in ids]
    assert len(queries.captured_queries) == 1  # the first read brought the ones after it too
    assert [d.pk for d in shown] == ids and shown[2].asset.value  # items loaded with them
    with pytest.raises(Datapoint.DoesNotExist):
        content_cache.datapoint(ids[-1] + 10_000)


# --- the general path's upsert -----------------------------------------------------------------------


@pytest.mark.parametrize("status", [Lease.Status.SUBMITTED, Lease.Status.SKIPPED])
def test_the_general_paths_upsert_never_revives_an_answered_or_skipped_lease(requester, labeler, status):
    one_slot_job = factories.draw_job(requester, global_audience(), datapoints=1, responses=1)
    lease = feed.task_next(labeler=labeler, job=one_slot_job)
    Lease.objects.filter(pk=lease.pk).update(status=status)
    JobDatapoint.objects.filter(pk=lease.job_datapoint_id).update(leases_active=0)
    slot = feed.room.OpenDatapoint(lease.job_datapoint_id, lease.job_datapoint.datapoint_id, 0)
    from django.db import transaction

    with transaction.atomic():
        revived = feed.leasing._lease_if_room(
            job=one_slot_job, job_datapoint=slot, labeler=labeler, now=timezone.now(), duration=timedelta(seconds=60)
        )
    assert revived is None
    assert Lease.objects.get(pk=lease.pk).status == status
    assert factories.miscounted_leases(one_slot_job) == {}
