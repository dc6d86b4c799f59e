"""Our own API fetches image URLs on the server (``POST /api/assets/fetch/``):
each URL answered with its stored asset, a refused URL a 400 naming it with
nothing stored, a slow fetch a 202 the client polls by asking again. Tasks
run in-process here (no broker), as in the embedded default."""

from __future__ import annotations

import pytest

from assets import fetches
from assets.models import Asset, UrlFetch
from tests.factories import api_for
from tests.test_url_fetch import images  # noqa: F401 (fixture: plain HTTP image host on loopback)

# Committed rows: a fetch starts when its row commits, as it does in a request.
committed = pytest.mark.django_db(transaction=True)
FETCH = "/api/assets/fetch/"


@committed
def test_each_url_is_answered_with_its_stored_asset_and_asking_again_fetches_nothing(images, requester):
    api = api_for(requester)
    response = api.post(
        FETCH, {"urls": ["http://images.test/img.png", "http://images.test/redirect-ok"]}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert [(f["url"], f["status"]) for f in body["fetches"]] == [
        ("http://images.test/img.png", "completed"),
        ("http://images.test/redirect-ok", "completed"),
    ]
    assert body["pending"] == 0
    (asset,) = Asset.objects.filter(owner=requester)  # the same bytes from two URLs: one asset
    assert {f["asset_id"] for f in body["fetches"]} == {asset.public_id}
    assert asset.kind == Asset.Kind.IMAGE and (asset.width, asset.height) == (64, 48)
    hits = list(images.hits)
    again = api.post(FETCH, {"urls": ["http://images.test/img.png"]}, format="json")
    assert again.status_code == 200 and again.json()["fetches"][0]["asset_id"] == asset.public_id
    assert images.hits == hits


@committed
def test_a_url_to_a_private_address_is_a_400_naming_it_and_nothing_is_stored(images, requester):
    private = f"http://127.0.0.1:{images.port}/img.png"
    response = api_for(requester).post(FETCH, {"urls": ["http://images.test/img.png", private]}, format="json")
    assert response.status_code == 400
    (message,) = response.json()["urls"]
    assert private in message and "not a public address" in message
    assert images.hits == [] and not UrlFetch.objects.exists() and not Asset.objects.exists()


@committed
def test_what_is_not_an_image_or_too_big_is_a_400_naming_each_url(images, requester, settings):
    settings.ASSET_MAX_BYTES = 20_000
    urls = ["http://images.test/text", "http://images.test/big.png", "http://images.test/img.png"]
    response = api_for(requester).post(FETCH, {"urls": urls}, format="json")
    assert response.status_code == 400
    first, second = response.json()["urls"]
    assert first.startswith("'http://images.test/text': could not be fetched")
    assert second.startswith("'http://images.test/big.png': could not be fetched") and "limit" in second
    assert [a.name for a in Asset.objects.filter(owner=requester)] == ["img.png"]


@committed
def test_a_fetch_still_running_is_a_202_and_asking_again_finds_it(images, requester, monkeypatch):
    from assets import tasks

    delivered = []
    monkeypatch.setattr(tasks.fetch_url, "delay", delivered.append)  # a broker that has not delivered yet
    api = api_for(requester)
    body = {"urls": ["http://images.test/img.png"], "wait": 0}
    response = api.post(FETCH, body, format="json")
    assert response.status_code == 202
    assert response.json() == {
        "fetches": [{"url": "http://images.test/img.png", "status": "pending", "asset_id": None}],
        "pending": 1,
    }
    (fetch_id,) = delivered
    fetches.url_fetch_run(fetch_id=fetch_id)  # the worker's turn
    response = api.post(FETCH, body, format="json")
    assert response.status_code == 200 and response.json()["fetches"][0]["status"] == "completed"
    assert delivered == [fetch_id] and UrlFetch.objects.count() == 1


@committed
def test_another_requesters_fetch_is_not_shared(images, requester, other_requester):
    mine = api_for(requester).post(FETCH, {"urls": ["http://images.test/img.png"]}, format="json").json()
    theirs = api_for(other_requester).post(FETCH, {"urls": ["http://images.test/img.png"]}, format="json").json()
    assert mine["fetches"][0]["asset_id"] != theirs["fetches"][0]["asset_id"]
    assert Asset.objects.get(public_id=theirs["fetches"][0]["asset_id"]).owner == other_requester


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "urls"),
        ({"urls": "http://images.test/img.png"}, "urls"),
        ({"urls": []}, "urls"),
        ({"urls": ["gopher://images.test/x.png"]}, "urls"),
        ({"urls": ["http://images.test/img.png"], "wait": 31}, "wait"),
        ({"urls": ["http://images.test/img.png"], "extra": 1}, "extra"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_stores_nothing(images, requester, body, field):
    response = api_for(requester).post(FETCH, body, format="json")
    assert response.status_code == 400 and field in response.json(), response.content
    assert not UrlFetch.objects.exists() and images.hits == []


def test_a_labeler_cannot_fetch(images, labeler):
    assert api_for(labeler).post(FETCH, {"urls": ["http://images.test/img.png"]}, format="json").status_code == 403
