"""Qualifying for an audience through the labeler API."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from audiences.models import Membership, QualificationAnswer
from audiences.selectors import global_audience
from tests import factories

pytestmark = pytest.mark.django_db

WRONG_COMPARE = "bad"


def api_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def start(client, audience):
    return client.post(f"/api/labeler/audiences/{audience.public_id}/qualification/next/")


def answer(client, audience, task_id, response):
    return client.post(
        f"/api/labeler/audiences/{audience.public_id}/qualification/answer/",
        {"task_id": task_id, "response": response},
        format="json",
    )


def good_compare_response(task) -> dict:
    return {"choice": next(item["value"] for item in task["items"] if "/good-" in item["value"])}


def bad_compare_response(task) -> dict:
    return {"choice": next(item["value"] for item in task["items"] if "/bad-" in item["value"])}


def test_audience_needs_three_examples_before_taking_labelers(requester, labeler):
    audience = factories.draw_audience(requester, examples=2)
    response = start(api_for(labeler), audience)
    assert response.status_code == 409 and response.json()["code"] == "audience_not_open"
    assert not Membership.objects.filter(audience=audience).exists()


def test_global_audience_needs_no_qualification(labeler):
    response = start(api_for(labeler), global_audience())
    assert response.status_code == 409 and response.json()["code"] == "audience_not_qualifying"


def test_examples_come_in_random_order_and_none_twice(requester, make_labeler):
    audience = factories.compare_audience(requester, examples=8, min_tasks=8, max_tasks=8, target_accuracy=0.5)
    orders = []
    for index in range(4):
        client = api_for(make_labeler(f"order{index}"))
        state = start(client, audience).json()
        seen = []
        while state["task"]:
            seen.append(state["task"]["context"])
            state = answer(client, audience, state["task"]["id"], good_compare_response(state["task"])).json()
        assert sorted(seen) == sorted(f"Prompt {i}" for i in range(8))  # each example exactly once
        orders.append(tuple(seen))
    assert len(set(orders)) > 1  # not a fixed order (4 identical shuffles of 8: p = 1/40320^3)


def test_asking_again_shows_the_same_example(requester, labeler):
    audience = factories.draw_audience(requester)
    client = api_for(labeler)
    first = start(client, audience).json()["task"]
    assert start(client, audience).json()["task"] == first


def test_good_answers_graduate_with_a_user_score(requester, labeler):
    audience = factories.draw_audience(requester, examples=5, min_tasks=4, max_tasks=5)
    client = api_for(labeler)
    state = start(client, audience).json()
    assert (state["status"], state["answered"], state["min_answers"], state["max_answers"]) == ("qualifying", 0, 4, 5)
    for _ in range(4):
        state = answer(client, audience, state["task"]["id"], factories.stroke_inside()).json()
        assert state["correct"] is True and state["explanation"] == ""
    assert state["status"] == "graduated" and state["task"] is None
    membership = Membership.objects.get(labeler=labeler, audience=audience)
    assert membership.state == Membership.State.GRADUATED
    assert (membership.answers, membership.correct) == (4, 4)
    assert membership.user_score == pytest.approx(5 / 6, abs=1 / 4096)  # (4 + 1) / (4 + 2)


def test_wrong_answer_shows_the_explanation_and_bad_labelers_are_dropped(requester, labeler):
    audience = factories.draw_audience(requester, examples=6, min_tasks=4, max_tasks=6)
    client = api_for(labeler)
    state = start(client, audience).json()
    results = []
    while state["task"]:
        state = answer(client, audience, state["task"]["id"], factories.stroke_outside()).json()
        results.append(state)
    assert all(r["correct"] is False for r in results)
    assert results[0]["explanation"] == "The blue book is in the upper left."
    # 0.75 of 6 needs 4.5 right: two wrong answers make it unreachable.
    assert len(results) == 2 and state["status"] == "dropped"
    assert Membership.objects.get(labeler=labeler, audience=audience).state == Membership.State.DROPPED


def test_a_dropped_labeler_cannot_retry(requester, labeler):
    audience = factories.compare_audience(requester, examples=3)
    client = api_for(labeler)
    state = start(client, audience).json()
    state = answer(client, audience, state["task"]["id"], bad_compare_response(state["task"])).json()
    assert state["status"] == "dropped"
    again = start(client, audience).json()
    assert again["status"] == "dropped" and again["task"] is None
    late = answer(client, audience, "tsk_anything", {"choice": "x"})
    assert late.status_code == 409 and late.json()["code"] == "audience_not_qualifying"


def test_answer_to_a_stale_task_is_refused(requester, labeler):
    audience = factories.draw_audience(requester)
    client = api_for(labeler)
    task = start(client, audience).json()["task"]
    answer(client, audience, task["id"], factories.stroke_inside())
    response = answer(client, audience, task["id"], factories.stroke_inside())
    assert response.status_code == 409 and response.json()["code"] == "stale_task"
    assert QualificationAnswer.objects.count() == 1


@pytest.mark.parametrize(
    "response",
    [
        "not an object",
        {"lines": "nope"},
        {"lines": [{"size": 0.02, "points": [{"x": 1.5, "y": 0.2}]}]},
        {"lines": [{"size": 0.9, "points": [{"x": 0.5, "y": 0.2}]}]},
        {"choice": "https://assets.example.org/example-0.jpg"},
    ],
)
def test_malformed_answers_are_refused_and_change_nothing(requester, labeler, response):
    audience = factories.draw_audience(requester)
    client = api_for(labeler)
    task = start(client, audience).json()["task"]
    result = answer(client, audience, task["id"], response)
    assert result.status_code == 400 and "response" in result.json()
    membership = Membership.objects.get(labeler=labeler, audience=audience)
    assert (membership.answers, membership.current_task_id) == (0, task["id"])
    assert not QualificationAnswer.objects.exists()


def test_answer_body_must_name_task_and_response(requester, labeler):
    audience = factories.draw_audience(requester)
    client = api_for(labeler)
    start(client, audience)
    result = client.post(f"/api/labeler/audiences/{audience.public_id}/qualification/answer/", {}, format="json")
    assert result.status_code == 400 and set(result.json()) == {"task_id", "response"}


def test_unknown_audience_is_404(labeler):
    assert start(api_for(labeler), type("A", (), {"public_id": "aud_nope"})).status_code == 404


def test_anonymous_is_refused(requester):
    audience = factories.draw_audience(requester)
    assert start(APIClient(), audience).status_code == 401
