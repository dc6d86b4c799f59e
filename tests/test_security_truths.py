"""No truth of a qualification or gold example reaches a labeler.

A labeler qualifies for a draw and a compare audience and works their jobs,
where gold tasks (the audiences' own examples, served as if they were job
tasks) are forced in. Every page and every API response the labeler gets
on the way, and every route of the URL map fetched as that labeler, is
scanned: no truth box (in any spelling), no truth item marked, no example
id, no explanation outside a wrong qualification answer, and a gold task
shaped exactly like a job task. (The qualification-only scan is in
``test_pages.py``.)
"""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest
from django.test import Client

from audiences import services as audience_services
from audiences.models import Membership, QualificationAnswer
from jobs import feed
from jobs.models import Lease
from tests import factories
from tests.test_pages import DRAW_TRUTHS, EXPLANATION, assert_no_draw_truth
from tests.test_security_isolation import fill, routes

pytestmark = pytest.mark.django_db

# Times ("...T22:12:31.435829+00:00") hold digit runs a truth's spelling could match by chance.
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d[T ][\d:.]+(?:[+-]\d\d:\d\d|Z)?")
TASK_KEYS = {"id", "kind", "instruction", "context", "media_context", "items", "expires_at", "job"}


class EveryOtherTaskIsGold:
    """Stands in for ``jobs.feed.gold._random``: every other served task is a
    gold task (``random() < gold_rate``)."""

    def __init__(self) -> None:
        self.calls = 0

    def random(self) -> float:
        self.calls += 1
        return 0.0 if self.calls % 2 else 0.999


class AlwaysGold(EveryOtherTaskIsGold):
    def random(self) -> float:
        self.calls += 1
        return 0.0


@pytest.fixture
def audiences(requester):
    # A low bar: the labeler stays after the wrong gold answer the test gives.
    draw = audience_services.audience_create(
        owner=requester, name="Mug finders", min_tasks=3, max_tasks=4, gold_rate=0.5, target_accuracy=0.5
    )
    draw_truth = {}
    # The examples ask what the factories' jobs ask: only those are served as their gold.
    # Qualification takes at most 4 of the 8; the rest serve as checks, each once.
    for index in range(8):
        example = audience_services.example_add_draw(
            audience=draw,
            owner=requester,
            instruction="Color in all the blue books",
            datapoint=factories.url(f"mug-{index}"),
            truths=[DRAW_TRUTHS[index % 2]],
            explanation=f"{EXPLANATION} #{index}",
            required_precision=0.6,
        )
        draw_truth[example.asset.labeler_value] = DRAW_TRUTHS[index % 2]
    compare = audience_services.audience_create(
        owner=requester, name="Duck judges", min_tasks=3, max_tasks=4, gold_rate=0.5, target_accuracy=0.5
    )
    compare_truth = {}
    for index in range(8):
        good, bad = factories.url(f"duck-{index}"), factories.url(f"goose-{index}")
        audience_services.example_add_compare(
            audience=compare,
            owner=requester,
            instruction="Which image follows the prompt?",
            datapoint=[good, bad],
            truth=good,
            explanation=EXPLANATION,
        )
        compare_truth[frozenset((good, bad))] = good
    return draw, draw_truth, compare, compare_truth


def good_answer(task: dict, draw_truth: dict, compare_truth: dict) -> dict:
    values = [item["value"] for item in task["items"]]
    if task["kind"] == "draw":
        box = draw_truth.get(values[0], factories.BLUE_BOX)
        return factories.stroke_inside(box, size=0.03)
    return {"choice": compare_truth.get(frozenset(values), values[0])}


def wrong_answer(task: dict, compare_truth: dict) -> dict:
    if task["kind"] == "draw":
        return factories.stroke_outside()
    values = [item["value"] for item in task["items"]]
    return {"choice": next(value for value in values if value != compare_truth[frozenset(values)])}


def test_no_truth_reaches_a_labeler_through_qualification_or_gold_tasks(requester, labeler, audiences, monkeypatch):
    draw, draw_truth, compare, compare_truth = audiences
    monkeypatch.setattr(feed.gold, "_random", EveryOtherTaskIsGold())
    draw_job = factories.draw_job(requester, draw, datapoints=4, responses=2)
    compare_job = factories.compare_job(requester, compare, datapoints=4, responses=2)
    client = Client()
    client.force_login(labeler)
    seen: list[tuple[str, str, str]] = []  # (where, body, flow)

    def fetch(where: str, response, flow: str) -> dict | None:
        assert response.status_code < 500, (where, response.status_code)
        seen.append((where, response.content.decode(), flow))
        return response.json() if response.get("Content-Type") == "application/json" else None

    def post(path: str, body: dict | None = None):
        return client.post(path, json.dumps(body or {}), content_type="application/json")

    # Qualify for both audiences (one wrong answer each: its explanation is shown, as designed).
    for audience in (draw, compare):
        base = f"/api/labeler/audiences/{audience.public_id}/qualification"
        fetch("qualify page", client.get(f"/audiences/{audience.public_id}/qualify/"), "page")
        state = fetch("qualification next", post(f"{base}/next/"), "qualification")
        wrong_given = False
        while state["task"]:
            task = state["task"]
            response = (
                good_answer(task, draw_truth, compare_truth) if wrong_given else wrong_answer(task, compare_truth)
            )
            state = fetch(
                "qualification answer",
                post(f"{base}/answer/", {"task_id": task["id"], "response": response}),
                "qualification answer" if wrong_given else "wrong qualification answer",
            )
            wrong_given = True
            fetch("home during qualification", client.get("/"), "page")
        assert state["status"] == Membership.State.GRADUATED, state

    # Work both jobs; gold tasks come every other time. The second gold answer of each job is wrong.
    served = Counter()
    for job in (draw_job, compare_job):
        fetch("work page", client.get(f"/jobs/{job.public_id}/work/"), "page")
        task = fetch("task next", post(f"/api/labeler/jobs/{job.public_id}/tasks/next/"), "job")["task"]
        golds = 0
        while task:
            assert set(task) == TASK_KEYS and task["id"].startswith("tsk_"), task
            assert task["job"] == {"id": job.public_id, "name": job.definition.name}
            assert task["instruction"] == job.definition.instruction
            lease = Lease.objects.get(public_id=task["id"])
            gold = lease.example_id is not None
            served["gold" if gold else "job"] += 1
            golds += gold
            if gold and golds == 2:
                response = wrong_answer(task, compare_truth)
            else:
                response = good_answer(task, draw_truth, compare_truth)
            state = fetch(
                "task submit", post(f"/api/labeler/tasks/{task['id']}/submit/", {"response": response}), "job"
            )
            assert set(state) == {"accepted", "next"}, state
            fetch("home while working", client.get("/api/labeler/home/"), "job")
            task = state["next"]
        fetch("home page after work", client.get("/"), "page")
    assert served["gold"] >= 6 and served["job"] == 8, served
    assert Membership.objects.filter(labeler=labeler, state=Membership.State.GRADUATED).count() == 3

    # Every route of the URL map, fetched as this labeler.
    task_id = Lease.objects.filter(labeler=labeler).order_by("-leased_at").first().public_id
    values = {
        "audience_id": draw.public_id,
        "job_id": draw_job.public_id,
        "definition_id": draw_job.definition.public_id,
        "position": 0,
        "task_id": task_id,
        "object_id": 1,
        "app_label": "audiences",
        "content_type_id": 1,
        "url": "x/",
        "uidb64": "MQ",
        "token": "t",
        "id": 1,
    }
    for route, name, _ in routes():
        if name in ("api-schema", "api-docs"):  # the API's documentation, the same for everyone
            continue
        for audience, job in ((draw, draw_job), (compare, compare_job)):
            url = fill(
                route,
                {
                    **values,
                    "audience_id": audience.public_id,
                    "job_id": job.public_id,
                    "definition_id": job.definition.public_id,
                },
            )
            fetch(f"GET {name}", client.get(url), "route")

    explanations = 0
    for where, body, flow in seen:
        assert_no_draw_truth(TIMESTAMP.sub("<time>", body), where)
        for marker in ('"truth', "truth_", "Truth", "qex_", "required_completeness"):
            assert marker not in body, (marker, where)
        if flow == "wrong qualification answer":
            explanations += EXPLANATION in body
        else:
            assert EXPLANATION not in body, where
        if flow in ("job", "page", "route"):
            assert '"correct"' not in body, where
    assert explanations == 2


def test_nothing_marks_a_compare_gold_tasks_truth(requester, make_labeler, audiences, monkeypatch):
    """Served as job tasks, a compare example's items come in both orders
    and are described alike: the truth is not told apart by position or field."""
    from labeling.selectors import task_view

    _, _, compare, compare_truth = audiences
    monkeypatch.setattr(feed.gold, "_random", AlwaysGold())
    job = factories.compare_job(requester, compare, datapoints=1, responses=1)
    positions = []
    for index in range(3):  # each labeler is shown each of the 8 examples once
        labeler = make_labeler(f"checked{index}")
        Membership.objects.create(labeler=labeler, audience=compare, state=Membership.State.GRADUATED, user_score=0.9)
        while (lease := feed.task_next(labeler=labeler, job=job)).example_id is not None:
            task = task_view(lease)
            values = [item["value"] for item in task["items"]]
            assert set(task["items"][0]) == set(task["items"][1])
            positions.append(values.index(compare_truth[frozenset(values)]))
            feed.task_skip(labeler=labeler, task_id=lease.public_id)
        feed.task_skip(labeler=labeler, task_id=lease.public_id)  # the job's own task: room for the next
    assert len(positions) == 24
    assert set(positions) == {0, 1}, positions  # p of a fluke: 2 / 2**24


def test_a_gold_answer_does_not_show_in_what_the_labeler_sees(requester, labeler, audiences, monkeypatch):
    _, _, compare, compare_truth = audiences
    Membership.objects.create(labeler=labeler, audience=compare, state=Membership.State.GRADUATED, user_score=0.9)
    monkeypatch.setattr(feed.gold, "_random", AlwaysGold())
    job = factories.compare_job(requester, compare, datapoints=1, responses=1)
    client = Client()
    client.force_login(labeler)
    before = client.get("/api/labeler/home/").json()
    task = client.post(f"/api/labeler/jobs/{job.public_id}/tasks/next/").json()["task"]
    client.post(
        f"/api/labeler/tasks/{task['id']}/submit/",
        {"response": wrong_answer(task, compare_truth)},
        content_type="application/json",
    )
    assert client.get("/api/labeler/home/").json()["memberships"] == before["memberships"]


def test_a_check_is_handed_out_and_shown_with_the_statements_of_a_job_task(
    requester, make_labeler, audiences, monkeypatch
):
    """What takes a server's time: on PostgreSQL a check is leased in one
    statement, as a job task is, and shown from the process's cache, as a
    datapoint is (bench/gold_timing.py measures the time itself)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from jobs import content_cache
    from labeling.selectors import task_view

    if connection.vendor != "postgresql":
        pytest.skip("counts PostgreSQL statements")
    _, _, compare, _ = audiences
    job = factories.compare_job(requester, compare, datapoints=4, responses=3)
    content_cache.definition(job.definition_id)  # as in a process that served this job before
    content_cache.shows_media_context(job.definition_id)
    statements = {}
    for index, gold in enumerate((False, True, True)):
        labeler = make_labeler(f"timed{index}")
        membership = Membership.objects.create(labeler=labeler, audience=compare, state=Membership.State.GRADUATED)
        monkeypatch.setattr(feed.gold, "_random", AlwaysGold() if gold else random_never_gold())
        with CaptureQueriesContext(connection) as queries:
            lease = feed.task_next(labeler=labeler, job=job, membership=membership)
            task_view(lease)
        assert (lease.example_id is not None) == gold
        statements.setdefault(gold, []).append(len(queries.captured_queries))
    # A job task: the lease, then its datapoint (read with the next ones). The first check: the lease,
    # then the examples around it and their truth boxes, into the cache; the next one, shown to
    # another labeler, is the lease alone.
    assert statements == {False: [2], True: [3, 1]}, statements


def random_never_gold():
    class NeverGold(EveryOtherTaskIsGold):
        def random(self) -> float:
            return 0.999

    return NeverGold()


# --- the left/right order of compare items --------------------------------------------------------

# Two-sided 99% interval of Binomial(200, 1/2) for how often a guess is right.
GUESSES = 200
CHANCE_LOW, CHANCE_HIGH = 82, 118


def old_public_shuffle(task_id: str) -> list[int]:
    """The order a labeler computes from the task id alone with the old scheme
    (``random.Random(task_id)``): where the requester's first item goes."""
    import random

    order = [0, 1]
    random.Random(task_id).shuffle(order)
    return order


def guessed_right(task: dict, first_value: str) -> bool:
    """Whether re-running the public shuffle on the task id tells which shown
    item was the requester's first (the truth, in the seeds' idiom)."""
    order = old_public_shuffle(task["id"])
    return task["items"][order.index(0)]["value"] == first_value


def test_the_compare_order_cannot_be_recomputed_from_the_task_id(requester, labeler):
    """Qualification, gold and job compare tasks, each listed truth (or first
    item) first: re-running the old public shuffle on the task id finds the
    first item no more often than chance, and each task keeps its order when
    it is shown again."""
    from audiences.models import QualificationExample
    from jobs.models import JobDatapoint
    from labeling.selectors import qualification_task_view, task_view

    audience = factories.compare_audience(requester, examples=4, gold_rate=0.5)
    examples = list(QualificationExample.objects.filter(audience=audience).select_related("asset", "asset_b"))
    assert all(example.truth_asset_id == example.asset_id for example in examples)
    job = factories.compare_job(requester, audience, datapoints=4, responses=1)
    slots = list(JobDatapoint.objects.filter(job=job).order_by("position"))

    # Task ids as the server makes them, fixed so that the test is too: the
    # order then depends on the test settings' SECRET_KEY alone.
    def task_id(index, kind):
        return f"tsk_{'qgj'.index(kind) * GUESSES + index:032x}"

    def qualification_task(index):
        example = examples[index % len(examples)]
        membership = Membership(
            labeler=labeler, audience=audience, current_example=example, current_task_id=task_id(index, "q")
        )
        return qualification_task_view(membership), example.asset.labeler_value

    def gold_task(index):
        example = examples[index % len(examples)]
        lease = Lease(job=job, example=example, labeler=labeler, public_id=task_id(index, "g"))
        return task_view(lease), example.asset.labeler_value

    def job_task(index):
        slot = slots[index % len(slots)]
        lease = Lease(job=job, job_datapoint=slot, labeler=labeler, public_id=task_id(index, "j"))
        return task_view(lease), factories.url(f"left-{slot.position}")

    for make in (qualification_task, gold_task, job_task):
        right = 0
        for index in range(GUESSES):
            task, first_value = make(index)
            assert make(index)[0]["items"] == task["items"]  # shown again: the same order
            right += guessed_right(task, first_value)
        assert CHANCE_LOW <= right <= CHANCE_HIGH, (make.__name__, right)


def test_the_compare_order_is_fixed_for_a_task(requester, labeler, monkeypatch, settings):
    """Asked again (a reload), a qualification, gold or job task shows its
    items in the same order."""
    settings.SUBMIT_RATE = "none"  # many reloads
    audience = factories.compare_audience(
        requester, examples=6, min_tasks=4, max_tasks=4, target_accuracy=0.5, gold_rate=0.5
    )
    client = Client()
    client.force_login(labeler)

    def post(path: str, body: dict | None = None):
        return client.post(path, json.dumps(body or {}), content_type="application/json").json()

    base = f"/api/labeler/audiences/{audience.public_id}/qualification"
    state = post(f"{base}/next/")
    while state["task"]:
        assert post(f"{base}/next/")["task"] == state["task"]
        good = next(item["value"] for item in state["task"]["items"] if "/good-" in item["value"])
        state = post(f"{base}/answer/", {"task_id": state["task"]["id"], "response": {"choice": good}})
    assert state["status"] == Membership.State.GRADUATED

    class EveryOtherLeaseIsGold(EveryOtherTaskIsGold):
        # Reloads ask for a task too: count the leases handed out, not the calls.
        def random(self) -> float:
            self.calls += 1
            return 0.0 if Lease.objects.filter(labeler=labeler).count() % 2 else 0.999

    monkeypatch.setattr(feed.gold, "_random", EveryOtherLeaseIsGold())
    job = factories.compare_job(requester, audience, datapoints=4, responses=1)
    kinds = set()
    task = post(f"/api/labeler/jobs/{job.public_id}/tasks/next/")["task"]
    while task:
        kinds.add(Lease.objects.get(public_id=task["id"]).example_id is not None)
        for _ in range(3):
            assert post(f"/api/labeler/jobs/{job.public_id}/tasks/next/")["task"] == task
        task = post(f"/api/labeler/tasks/{task['id']}/submit/", {"response": {"choice": task["items"][0]["value"]}})[
            "next"
        ]
    assert kinds == {True, False}


# --- what a labeler can read does not move with gold answers -------------------------------------

CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"')


def test_nothing_a_labeler_fetches_moves_with_a_gold_answer(requester, labeler, audiences, monkeypatch, settings):
    """Everything a labeler can fetch (home page and API, the qualification
    state of each audience, the qualify and work pages) is the same before
    and after a right and a wrong gold answer, and the reply to a gold
    answer is shaped as a job task's. (A drop from the audience does show;
    see README, "Reliability and security".)"""
    settings.SUBMIT_RATE = "none"
    draw, draw_truth, compare, compare_truth = audiences
    client = Client()
    client.force_login(labeler)

    def post(path: str, body: dict | None = None):
        response = client.post(path, json.dumps(body or {}), content_type="application/json")
        assert response.status_code == 200, (path, response.status_code, response.content)
        return response.json()

    for audience in (draw, compare):
        base = f"/api/labeler/audiences/{audience.public_id}/qualification"
        state = post(f"{base}/next/")
        while state["task"]:
            state = post(
                f"{base}/answer/",
                {"task_id": state["task"]["id"], "response": good_answer(state["task"], draw_truth, compare_truth)},
            )
        assert state["status"] == Membership.State.GRADUATED
    jobs = [
        factories.draw_job(requester, draw, datapoints=2, responses=1),
        factories.compare_job(requester, compare, datapoints=2, responses=1),
    ]
    monkeypatch.setattr(feed.gold, "_random", AlwaysGold())

    def everything() -> dict:
        seen = {
            "home api": client.get("/api/labeler/home/").json(),
            "home page": CSRF_FIELD.sub("<csrf>", client.get("/").content.decode()),
        }
        for audience in (draw, compare):
            seen[f"qualification {audience.name}"] = post(
                f"/api/labeler/audiences/{audience.public_id}/qualification/next/"
            )
            seen[f"qualify page {audience.name}"] = CSRF_FIELD.sub(
                "<csrf>", client.get(f"/audiences/{audience.public_id}/qualify/").content.decode()
            )
        for job in jobs:
            seen[f"work page {job.public_id}"] = CSRF_FIELD.sub(
                "<csrf>", client.get(f"/jobs/{job.public_id}/work/").content.decode()
            )
        return seen

    for job in jobs:
        for right in (True, False):
            before = everything()
            task = post(f"/api/labeler/jobs/{job.public_id}/tasks/next/")["task"]
            assert Lease.objects.get(public_id=task["id"]).example_id is not None
            response = good_answer(task, draw_truth, compare_truth) if right else wrong_answer(task, compare_truth)
            reply = post(f"/api/labeler/tasks/{task['id']}/submit/", {"response": response})
            assert set(reply) == {"accepted", "next"} and reply["accepted"] is True
            assert set(reply["next"]) == TASK_KEYS
            after = everything()
            for where in before:
                assert after[where] == before[where], (job.definition.kind, right, where)
            feed.task_skip(labeler=labeler, task_id=reply["next"]["id"])
    assert QualificationAnswer.objects.filter(gold=True).count() == 4


def test_the_home_page_moves_no_more_with_a_job_answer_than_with_a_gold_answer(requester, labeler, audiences, settings):
    """A gold answer changes nothing a labeler can fetch (above); so a job
    answer must not either while the job has work left for them, or the
    difference tells which tasks were gold. The home page says which jobs
    have work, not how much."""
    settings.SUBMIT_RATE = "none"
    draw, draw_truth, compare, compare_truth = audiences
    client = Client()
    client.force_login(labeler)
    base = f"/api/labeler/audiences/{draw.public_id}/qualification"
    state = client.post(f"{base}/next/").json()
    while state["task"]:
        state = client.post(
            f"{base}/answer/",
            json.dumps(
                {"task_id": state["task"]["id"], "response": good_answer(state["task"], draw_truth, compare_truth)}
            ),
            content_type="application/json",
        ).json()
    job = factories.draw_job(requester, draw, datapoints=3, responses=1)
    draw.gold_rate = 0
    draw.save()

    def home() -> tuple[dict, str]:
        return client.get("/api/labeler/home/").json(), CSRF_FIELD.sub("<csrf>", client.get("/").content.decode())

    before = home()
    task = client.post(f"/api/labeler/jobs/{job.public_id}/tasks/next/").json()["task"]
    answered = client.post(
        f"/api/labeler/tasks/{task['id']}/submit/",
        json.dumps({"response": good_answer(task, draw_truth, compare_truth)}),
        content_type="application/json",
    )
    assert answered.status_code == 200 and Lease.objects.get(public_id=task["id"]).example_id is None
    feed.task_skip(labeler=labeler, task_id=answered.json()["next"]["id"])
    assert home() == before
    assert [entry["id"] for entry in before[0]["jobs"]] == [job.public_id]
