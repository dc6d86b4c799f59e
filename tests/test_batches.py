"""Definitions made in batches: a client key makes the create request
idempotent, each batch is keyed by its positions (sent again, it adds
nothing), bad batches are 400s that change nothing; and the client sends a
large definition in batches through a proxy that drops the replies of
requests the server committed, with no datapoint stored twice."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from rest_framework.test import APIClient

from assets import wire
from audiences.selectors import global_audience
from crowdcanvas import CrowdCanvasClient
from jobs import services as job_services
from jobs.models import Datapoint, JobDefinition
from tests import factories
from tests.stack import AsgiServer, django_env


def api_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {user.api_token}")
    return client


def urls(start: int, stop: int) -> list[str]:
    return [factories.url(f"batch-{i}") for i in range(start, stop)]


def create(api, *, key: str = "k-1", name: str = "Batched", datapoints=None):
    body = {
        "kind": "draw",
        "name": name,
        "instruction": "Color in all the blue books",
        "datapoints": datapoints or urls(0, 3),
        "client_key": key,
    }
    return api.post("/api/job-definitions/", body, format="json")


def add(api, definition_id: str, start: int, datapoints: list, **extra):
    return api.post(
        f"/api/job-definitions/{definition_id}/datapoints/",
        {"start": start, "datapoints": datapoints, **extra},
        format="json",
    )


def stored(definition_id: str) -> list[tuple[int, str, str]]:
    return list(
        Datapoint.objects.filter(definition__public_id=definition_id)
        .order_by("position")
        .values_list("position", "asset__url", "context")
    )


@pytest.mark.django_db
def test_a_create_sent_again_with_its_client_key_makes_one_definition(requester):
    api = api_for(requester)
    first, again = create(api), create(api)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert JobDefinition.objects.filter(owner=requester).count() == 1
    assert len(stored(first.json()["id"])) == 3
    other = create(api, key="k-2")
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]


@pytest.mark.django_db
def test_a_client_key_reused_for_another_definition_is_a_400(requester):
    api = api_for(requester)
    create(api)
    response = create(api, name="Something else")
    assert response.status_code == 400 and "use a new key" in response.json()["client_key"][0]
    assert JobDefinition.objects.filter(owner=requester).count() == 1


@pytest.mark.django_db
def test_a_batch_sent_again_adds_nothing(requester):
    api = api_for(requester)
    definition_id = create(api).json()["id"]
    added = add(api, definition_id, 3, urls(3, 6), contexts=["a", "b", "c"])
    assert added.status_code == 200 and added.json() == {"added": 3, "datapoint_count": 6}
    again = add(api, definition_id, 3, urls(3, 6), contexts=["a", "b", "c"])
    assert again.status_code == 200 and again.json() == {"added": 0, "datapoint_count": 6}
    # A batch overlapping the stored end adds only what is new.
    overlap = add(api, definition_id, 5, urls(5, 8), contexts=["c", "", ""])
    assert overlap.json() == {"added": 2, "datapoint_count": 8}
    assert stored(definition_id) == [
        (i, factories.url(f"batch-{i}"), context) for i, context in enumerate(["", "", "", "a", "b", "c", "", ""])
    ]
    assert api.get(f"/api/job-definitions/{definition_id}/").json()["datapoint_count"] == 8


@pytest.mark.django_db
@pytest.mark.parametrize(
    "start, datapoints, contexts, where, message",
    [
        (4, urls(4, 5), None, "start", "send the batches in order"),
        (1, urls(5, 7), None, "datapoints", "datapoints[0] differs from the datapoint stored at position 1"),
        (2, urls(2, 3), ["other"], "datapoints", "differs from the datapoint stored at position 2"),
        (-1, urls(3, 4), None, "start", ""),
        (3, [], None, "datapoints", "must not be empty"),
        (3, ["not a url"], None, "datapoints", ""),
        (3, urls(3, 5), ["one"], "contexts", "has 1 entries but there are 2 datapoints"),
    ],
)
def test_a_bad_batch_is_a_400_that_changes_nothing(requester, start, datapoints, contexts, where, message):
    api = api_for(requester)
    definition_id = create(api).json()["id"]
    before = stored(definition_id)
    extra = {} if contexts is None else {"contexts": contexts}
    response = add(api, definition_id, start, datapoints, **extra)
    assert response.status_code == 400, response.content
    assert message in " ".join(response.json()[where])
    assert stored(definition_id) == before


@pytest.mark.django_db
def test_a_definition_assigned_to_a_job_takes_no_more_datapoints(requester):
    api = api_for(requester)
    definition_id = create(api).json()["id"]
    definition = JobDefinition.objects.get(public_id=definition_id)
    job_services.job_create(owner=requester, definition=definition, audience=global_audience())
    response = add(api, definition_id, 3, urls(3, 4))
    assert response.status_code == 409 and "its datapoints are fixed" in response.json()["detail"]
    assert response.json()["code"] == "definition_assigned"
    assert len(stored(definition_id)) == 3


@pytest.mark.django_db
def test_batches_for_another_requesters_definition_are_404(requester, other_requester):
    definition_id = create(api_for(requester)).json()["id"]
    response = add(api_for(other_requester), definition_id, 3, urls(3, 4))
    assert response.status_code == 404
    assert len(stored(definition_id)) == 3


# --- the client, through a proxy that loses replies ------------------------------------------------------


class ReplyLosingProxy:
    """An HTTP proxy to ``target`` that forwards every request and, for the
    POSTs numbered in ``lose`` (1-based), waits for the server's reply (the
    request committed) and then closes the connection without sending it."""

    def __init__(self, target: str, *, lose: set[int]) -> None:
        self.client = httpx.Client(base_url=target, timeout=60)
        self.lock = threading.Lock()
        self.posts = 0
        self.lost: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def _handle(self, method: str) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with proxy.lock:
                    if method == "POST":
                        proxy.posts += 1
                    cut = method == "POST" and proxy.posts in lose
                headers = {
                    name: value
                    for name, value in self.headers.items()
                    if name.lower() in {"authorization", "content-type", "accept"}
                }
                upstream = proxy.client.request(method, self.path, content=body, headers=headers)
                if cut:
                    with proxy.lock:
                        proxy.lost.append(f"{self.path} {upstream.status_code}")
                    self.close_connection = True
                    return
                self.send_response(upstream.status_code)
                self.send_header("Content-Type", upstream.headers.get("Content-Type", "application/json"))
                self.send_header("Content-Length", str(len(upstream.content)))
                self.end_headers()
                self.wfile.write(upstream.content)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> ReplyLosingProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.client.close()


@pytest.fixture
def server(test_database_url, artifacts_dir):
    log_path = artifacts_dir / "batches-server.log"
    log_path.unlink(missing_ok=True)
    process = AsgiServer(django_env(test_database_url), log_path).start()
    yield process
    process.stop()


def test_the_client_sends_a_definition_in_batches_and_a_lost_reply_stores_nothing_twice(server, requester):
    items = urls(0, 47)
    contexts = [f"prompt {i}" for i in range(47)]
    # POST 1 creates the definition with the first batch, 2-5 add the rest: lose the create's reply
    # and the third batch's (each sent again: POSTs 2 and 5).
    with ReplyLosingProxy(server.url, lose={1, 5}) as proxy:
        with CrowdCanvasClient(proxy.url, requester.api_token) as client:
            definition = client.job.create_draw_job_definition(
                "Batched",
                "Color in all the blue books",
                items,
                contexts=contexts,
                responses_per_datapoint=2,
                batch_size=10,
                progress=False,
                url_assets="link",  # the batches are under test, not fetching their images
            )
    assert proxy.lost == ["/api/job-definitions/ 201", f"/api/job-definitions/{definition.id}/datapoints/ 200"]
    assert proxy.posts == 5 + 2
    assert definition.datapoint_count == 47
    assert JobDefinition.objects.filter(owner=requester).count() == 1
    assert stored(definition.id) == [(i, item, context) for i, (item, context) in enumerate(zip(items, contexts))]
    assert "Traceback" not in server.log()


@pytest.mark.django_db
def test_items_past_the_databases_parameter_limit_resolve(requester):
    # PostgreSQL takes at most 65,535 parameters a statement; a definition may have 100,000 datapoints.
    specs = [wire.ItemSpec("text", f"caption {i}") for i in range(66_000)]
    assets = job_services.assets_from_items(owner=requester, specs=specs, where="datapoints")
    assert [asset.text for asset in assets[:2]] == ["caption 0", "caption 1"] and len(assets) == 66_000
    assert len({asset.pk for asset in assets}) == 66_000
