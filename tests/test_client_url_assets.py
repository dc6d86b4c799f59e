"""The client's URL datapoints (requests go to an httpx.MockTransport):
fetched and stored by the server by default, polled while the server is
still fetching, a refused URL a ValueError naming it with nothing created;
or, with ``url_assets="link"``, sent as links."""

from __future__ import annotations

import pytest

import crowdcanvas
from tests.client_fakes import (  # noqa: F401 (fixtures, clean_environment autouse)
    AUDIENCE,
    DEFINITION,
    URL_A,
    URL_B,
    clean_environment,
    client,
    offline,
    server,
)


def test_urls_are_kept_as_links_when_asked(client, server):
    server.route("POST", "/api/job-definitions/", (201, {**DEFINITION, "kind": "compare"}))
    client.job.create_compare_job_definition("J", "Which?", [[URL_A, URL_B]], url_assets="link")
    (body,) = server.bodies("POST", "/api/job-definitions/")
    assert body["datapoints"] == [[URL_A, URL_B]]
    audience = crowdcanvas.Audience(client._http, AUDIENCE)
    server.route("POST", "/api/audiences/aud_1/examples/compare/", (201, {}))
    audience.add_compare_example("Which?", [URL_A, URL_B], truth=URL_B, url_assets="link")
    (example,) = server.bodies("POST", "/api/audiences/aud_1/examples/compare/")
    assert example["datapoint"] == [URL_A, URL_B] and example["truth"] == URL_B
    assert server.bodies("POST", "/api/assets/fetch/") == []


def test_an_unknown_url_assets_choice_is_a_value_error_before_any_request(offline):
    with pytest.raises(ValueError, match="url_assets must be 'fetch' or 'link'"):
        offline.job.create_draw_job_definition("J", "Color", [URL_A], url_assets="download")
    audience = crowdcanvas.Audience(offline._http, AUDIENCE)
    with pytest.raises(ValueError, match="url_assets must be 'fetch' or 'link'"):
        audience.add_draw_example("Color", URL_A, [{"x_min": 0, "y_min": 0, "x_max": 1, "y_max": 1}], url_assets=None)


def test_while_the_server_is_still_fetching_the_client_asks_again_with_the_same_urls(client, server):
    pending = {
        "fetches": [
            {"url": URL_A, "status": "pending", "asset_id": None},
            {"url": URL_B, "status": "completed", "asset_id": "ast_b"},
        ],
        "pending": 1,
    }
    done = {
        "fetches": [
            {"url": URL_A, "status": "completed", "asset_id": "ast_a"},
            {"url": URL_B, "status": "completed", "asset_id": "ast_b"},
        ],
        "pending": 0,
    }
    server.route("POST", "/api/assets/fetch/", [(202, pending), (202, pending), (200, done)])
    server.route("POST", "/api/job-definitions/", (201, {**DEFINITION, "kind": "compare"}))
    slept = []
    client._http.sleep = slept.append
    client.job.create_compare_job_definition("J", "Which?", [[URL_A, URL_B]])
    assert server.bodies("POST", "/api/assets/fetch/") == [{"urls": [URL_A, URL_B], "wait": 15.0}] * 3
    assert len(slept) == 2
    (body,) = server.bodies("POST", "/api/job-definitions/")
    assert body["datapoints"] == [[{"asset_id": "ast_a"}, {"asset_id": "ast_b"}]]


def test_a_url_the_server_refuses_is_a_value_error_naming_it_and_nothing_is_created(client, server):
    refused = f"{URL_B!r}: could not be fetched: the server answered HTTP 404."
    server.route("POST", "/api/assets/fetch/", (400, {"urls": [refused]}))
    with pytest.raises(ValueError, match="could not be fetched") as excinfo:
        client.job.create_draw_job_definition("J", "Color", [URL_A, URL_B])
    assert URL_B in str(excinfo.value) and isinstance(excinfo.value, crowdcanvas.BadRequestError)
    assert server.bodies("POST", "/api/job-definitions/") == []


def test_more_urls_than_one_request_takes_are_sent_in_parts(client, server, monkeypatch):
    monkeypatch.setattr(crowdcanvas._http, "FETCH_URLS_PER_REQUEST", 2)
    server.route("POST", "/api/job-definitions/", (201, DEFINITION))
    urls = [f"https://assets.example.org/{i}.jpg" for i in range(5)]
    client.job.create_draw_job_definition("J", "Color", urls + urls[:1])
    assert [len(body["urls"]) for body in server.bodies("POST", "/api/assets/fetch/")] == [2, 2, 1]
    (body,) = server.bodies("POST", "/api/job-definitions/")
    assert body["datapoints"][0] == body["datapoints"][5] and len({d["asset_id"] for d in body["datapoints"]}) == 5


def test_the_client_limit_equals_the_servers():
    from assets import fetches

    assert crowdcanvas._limits.MAX_FETCH_URLS == fetches.MAX_FETCH_URLS
