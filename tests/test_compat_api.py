"""The compatible API in process: host routing under ``SERVICE_DOMAIN``,
client credentials and their tokens, the mapping onto our services, tenants,
and bad input (a 4xx saying what is wrong, nothing written)."""

from __future__ import annotations

import base64
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from knox.models import AuthToken

from audiences.models import Audience, QualificationExample, TruthBox
from compat.credentials import credential_create
from compat.models import BatchUpload, ClientCredential, Dataset, DatasetDatapoint
from jobs.models import Job, JobDefinition
from tests.conftest import image_bytes

DOMAIN = "labels.example.org:8443"
API, AUTH, APP = (f"{sub}.{DOMAIN}" for sub in ("api", "auth", "app"))


@pytest.fixture(autouse=True)
def service_domain(settings):
    settings.SERVICE_DOMAIN = DOMAIN
    settings.ALLOWED_HOSTS = [
        *settings.ALLOWED_HOSTS,
        "labels.example.org",
        "api.labels.example.org",
        "auth.labels.example.org",
        "app.labels.example.org",
    ]


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def get_token(client, credential, secret) -> str:
    response = client.post(
        "/connect/token",
        {"grant_type": "client_credentials", "scope": "openid email api"},
        HTTP_HOST=AUTH,
        HTTP_AUTHORIZATION=basic(credential.client_id, secret),
    )
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


@pytest.fixture
def bearer(client, requester):
    credential, secret = credential_create(owner=requester)
    token = get_token(client, credential, secret)

    def call(method: str, path: str, body=None, *, host: str = API, **extra):
        kwargs = {"HTTP_HOST": host, "HTTP_AUTHORIZATION": f"Bearer {token}", **extra}
        if body is not None and method in ("post",):
            return getattr(client, method)(path, body, content_type="application/json", **kwargs)
        return getattr(client, method)(path, **kwargs)

    call.credential, call.token = credential, token
    return call


def upload(bearer, name="a.png", color=(10, 20, 30)) -> str:
    file = SimpleUploadedFile(name, image_bytes(color=color), content_type="image/png")
    response = bearer("post", "/asset/file", None, data={"file": file})
    return response


# --- credentials and tokens ------------------------------------------------------------------------


def test_the_client_credentials_grant_issues_a_short_lived_bearer_token(client, requester, settings):
    credential, secret = credential_create(owner=requester)
    assert secret not in credential.secret_digest and len(credential.secret_digest) == 128
    response = client.post(
        "/connect/token",
        {"grant_type": "client_credentials"},
        HTTP_HOST=AUTH,
        HTTP_AUTHORIZATION=basic(credential.client_id, secret),
    )
    body = response.json()
    assert response.status_code == 200 and body["token_type"] == "Bearer"
    assert body["expires_in"] == settings.CLIENT_TOKEN_SECONDS
    info = client.get("/connect/userinfo", HTTP_HOST=AUTH, HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
    assert info.status_code == 200 and info.json()["role"] == "requester" and info.json()["sub"]
    audience = client.get("/audience/global", HTTP_HOST=API, HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
    assert audience.status_code == 200 and audience.json()["status"] == "Ready"


@pytest.mark.parametrize(
    "form, authorization, status, error",
    [
        ({"grant_type": "client_credentials"}, "wrong", 401, "invalid_client"),
        ({"grant_type": "client_credentials"}, None, 401, "invalid_client"),
        ({"grant_type": "password"}, "right", 400, "unsupported_grant_type"),
        ({}, "right", 400, "invalid_request"),
    ],
)
def test_token_requests_that_fail_get_the_oauth_error_and_no_token(
    client, requester, form, authorization, status, error
):
    credential, secret = credential_create(owner=requester)
    headers = (
        {}
        if authorization is None
        else {"HTTP_AUTHORIZATION": basic(credential.client_id, secret if authorization == "right" else secret + "x")}
    )
    before = AuthToken.objects.count()
    response = client.post("/connect/token", form, HTTP_HOST=AUTH, **headers)
    assert response.status_code == status and response.json()["error"] == error
    assert AuthToken.objects.count() == before


def test_revoking_a_client_ends_its_tokens_at_once(client, bearer, requester):
    assert bearer("get", "/audience/global").status_code == 200
    response = client.post(
        "/dashboard/client-credentials/", {"action": "revoke", "client_id": bearer.credential.client_id}
    )
    assert response.status_code == 302  # not signed in: the dashboard asks for a login
    client.force_login(requester)
    response = client.post(
        "/dashboard/client-credentials/", {"action": "revoke", "client_id": bearer.credential.client_id}
    )
    assert response.status_code == 200 and b"Client revoked" in response.content
    assert not ClientCredential.objects.filter(pk=bearer.credential.pk).exists()
    assert bearer("get", "/audience/global").status_code == 401


def test_the_dashboard_makes_a_client_and_shows_its_secret_once(client, requester):
    client.force_login(requester)
    response = client.post("/dashboard/client-credentials/", {"action": "create", "name": "laptop"})
    credential = ClientCredential.objects.get(owner=requester)
    assert credential.client_id.encode() in response.content and b"RAPIDATA_CLIENT_SECRET=ccs_" in response.content
    listing = client.get("/dashboard/client-credentials/")
    assert credential.client_id.encode() in listing.content and b"ccs_" not in listing.content


def test_create_requester_prints_client_credentials_to_export_and_no_unused_token(db, client):
    out = io.StringIO()
    call_command("create_requester", "carol", "--client-credentials", stdout=out, stderr=io.StringIO())
    lines = dict(line.split("=", 1) for line in out.getvalue().splitlines())
    assert set(lines) == {"RAPIDATA_CLIENT_ID", "RAPIDATA_CLIENT_SECRET"}
    credential = ClientCredential.objects.get(client_id=lines["RAPIDATA_CLIENT_ID"])
    assert credential.owner.username == "carol" and credential.owner.is_staff
    assert not AuthToken.objects.filter(user=credential.owner).exists()
    get_token(client, credential, lines["RAPIDATA_CLIENT_SECRET"])


def test_a_labeler_token_is_refused(client, labeler):
    from labeling.tokens import token_create

    _, key = token_create(user=labeler)
    response = client.get("/audience/global", HTTP_HOST=API, HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 403


# --- hosts ---------------------------------------------------------------------------------------


def test_our_own_api_and_pages_answer_on_every_service_host(client, requester, bearer):
    for host in (API, AUTH, APP, "labels.example.org", "127.0.0.1"):
        response = client.get("/api/audiences/", HTTP_HOST=host, HTTP_AUTHORIZATION=f"Token {requester.api_token}")
        assert response.status_code == 200, host
        assert client.get("/accounts/login/", HTTP_HOST=host).status_code == 200, host
    # Each host serves only its own compatible paths.
    assert bearer("get", "/audience/global", host="127.0.0.1").status_code == 404
    assert bearer("get", "/audience/global", host=AUTH).status_code == 404
    assert client.post("/connect/token", {}, HTTP_HOST=API).status_code == 404


def test_the_app_host_sends_the_pages_the_client_prints_to_ours(client):
    response = client.get("/definitions/jdf_x", HTTP_HOST=APP)
    assert response.status_code == 302 and response["Location"] == "/preview/jdf_x/"
    response = client.get("/audiences/global/job/job_x", HTTP_HOST=APP)
    assert response.status_code == 302 and response["Location"] == "/dashboard/jobs/job_x/"


# --- the mapping onto our services -------------------------------------------------------------------


def test_a_draw_workflow_maps_onto_our_definitions_jobs_and_examples(bearer, requester):
    created = bearer("post", "/audience", {"name": "Artifacts", "filters": []})
    audience_id = created.json()["audienceId"]
    assert bearer("get", f"/audience/{audience_id}").json()["status"] == "Created"
    names = [upload(bearer, f"{i}.png", (i * 40, 20, 30)).json()["fileName"] for i in range(3)]
    for name in names:
        response = bearer(
            "post",
            f"/audience/{audience_id}/example",
            {
                "asset": {"_t": "ExistingAssetInput", "name": name},
                "payload": {"_t": "LineExamplePayload", "target": "Color in the glitches"},
                "truth": {
                    "_t": "LineExampleTruth",
                    "boundingBoxes": [{"xMin": 44.0, "yMin": 42.0, "xMax": 57.99999999999999, "yMax": 63.0}],
                    "requiredPrecision": None,
                    "requiredCompleteness": None,
                },
                "randomCorrectProbability": 0.03,
                "explanation": None,
                "context": None,
                "featureFlags": None,
            },
        )
        assert response.status_code == 200, response.content
    box = TruthBox.objects.filter(example__audience__public_id=audience_id).first()
    assert (box.x_min, box.y_min, box.y_max) == (0.44, 0.42, 0.63) and abs(box.x_max - 0.58) < 1e-9
    document = bearer("get", f"/audience/{audience_id}").json()
    assert document["status"] == "Recruiting" and document["graduationRule"]["_t"] == "TaskAccuracy"
    metrics = bearer("get", f"/audience/{audience_id}/user-metrics").json()
    assert metrics["usersPerState"] == {"Graduated": 0, "Distilling": 0, "Dropped": 0}

    dataset_id = bearer("post", "/dataset", {"name": "x_dataset", "schema": None}).json()["datasetId"]
    for index, name in enumerate(names):
        response = bearer(
            "post",
            f"/dataset/{dataset_id}/datapoint",
            {
                "segments": [{"key": "asset", "kind": "Asset", "asset": {"_t": "ExistingAssetInput", "name": name}}],
                "sortIndex": index,
                "group": None,
                "privateMetadata": None,
            },
        )
        assert response.status_code == 200, response.content
    definition_id = bearer(
        "post",
        "/job/definition",
        {
            "definitionName": "Glitches",
            "workflow": {
                "_t": "SimpleWorkflow",
                "rapid": {"_t": "Line", "asset": {"segment": "asset"}, "target": {"literal": "Color in the glitches"}},
            },
            "referee": {"_t": "NaiveReferee", "totalVotes": 7},
            "datasetId": dataset_id,
        },
    ).json()["definitionId"]
    definition = JobDefinition.objects.get(public_id=definition_id)
    assert (definition.kind, definition.responses_per_datapoint, definition.datapoints.count()) == ("draw", 7, 3)
    job_id = bearer(
        "post",
        "/job",
        {
            "jobDefinitionId": definition_id,
            "audienceId": audience_id,
            "revisionNumber": 1,
            "precedingJobId": None,
            "checkForExplicitContent": None,
            "experimentId": None,
        },
    ).json()["jobId"]
    job = bearer("get", f"/job/{job_id}").json()
    assert job["state"] == "Running" and job["definitionId"] == definition_id
    progress = bearer("get", f"/job/{job_id}/progress").json()
    assert progress == {
        "completionPercentage": 0.0,
        "total": 3,
        "completed": 0,
        "state": "Labeling",
        "responseCount": 0,
    }
    results = bearer("get", f"/job/{job_id}/download-results", HTTP_ACCEPT="application/octet-stream")
    assert results["Content-Type"] == "application/octet-stream"
    import json

    document = json.loads(results.content)
    assert document["info"]["type"] == "Draw" and len(document["results"]) == 3
    found = bearer("get", "/audiences?page=1&page_size=10&sort=-created_at&name[contains]=Artif").json()
    assert found["total"] == 1 and found["items"][0]["id"] == audience_id


def test_a_compare_example_names_its_winner_by_asset(bearer):
    audience_id = bearer("post", "/audience", {"name": "Prompts", "filters": []}).json()["audienceId"]
    a, b = (upload(bearer, f"{n}.png", (n * 90, 1, 1)).json()["fileName"] for n in (1, 2))
    response = bearer(
        "post",
        f"/audience/{audience_id}/example",
        {
            "asset": {
                "_t": "MultiAssetInput",
                "assets": [{"_t": "ExistingAssetInput", "name": a}, {"_t": "ExistingAssetInput", "name": b}],
            },
            "payload": {"_t": "CompareExamplePayload", "criteria": "Which is better?"},
            "truth": {"_t": "CompareExampleTruth", "winnerId": b},
            "randomCorrectProbability": 0.5,
            "context": "a blue book",
            "explanation": None,
            "featureFlags": None,
        },
    )
    assert response.status_code == 200, response.content
    example = QualificationExample.objects.get(audience__public_id=audience_id)
    assert example.truth_asset.public_id == b and example.context == "a blue book"


# --- tenants and bad input -----------------------------------------------------------------------------


def test_another_requesters_objects_do_not_exist(bearer, other_requester):
    from tests.factories import draw_audience, draw_job

    audience = draw_audience(other_requester)
    job = draw_job(other_requester, audience)
    dataset = Dataset.objects.create(owner=other_requester, name="theirs")
    batch = BatchUpload.objects.create(owner=other_requester, correlation_id="theirs")
    for method, path in [
        ("get", f"/audience/{audience.public_id}"),
        ("get", f"/audience/{audience.public_id}/user-metrics"),
        ("post", f"/audience/{audience.public_id}/example"),
        ("get", f"/job/{job.public_id}"),
        ("get", f"/job/{job.public_id}/progress"),
        ("get", f"/job/{job.public_id}/download-results"),
        ("post", f"/dataset/{dataset.public_id}/datapoint"),
        ("get", f"/asset/batch-upload/{batch.public_id}"),
        ("post", f"/asset/batch-upload/{batch.public_id}/abort"),
    ]:
        response = bearer(method, path, {} if method == "post" else None)
        assert response.status_code == 404, (path, response.content)
    response = bearer("post", "/job", {"jobDefinitionId": job.definition.public_id, "audienceId": "global"})
    assert response.status_code == 400 and "jobDefinitionId" in response.json()
    assert Job.objects.count() == 1
    status = bearer("get", "/asset/batch-upload/status?correlationId=theirs").json()
    assert status["totalCount"] == 0 and status["completedBatches"] == []
    assert not BatchUpload.objects.get(pk=batch.pk).aborted


@pytest.mark.parametrize(
    "path, body, field",
    [
        ("/audience", {"name": ""}, "name"),
        ("/audience", {"name": "x", "filters": [{"_t": "CountryFilter"}]}, "filters"),
        ("/audience", {"name": "x", "graduationRule": {"_t": "ScoreThreshold"}}, "graduationRule"),
        ("/audience", [1, 2], "body"),
        ("/dataset", {"name": 5}, "name"),
        ("/asset/batch-upload", {"urls": "https://a.example/x.jpg", "correlationId": "c"}, "urls"),
        ("/asset/batch-upload", {"urls": ["file:///etc/passwd"], "correlationId": "c"}, "urls"),
        (
            "/job/definition",
            {
                "definitionName": "x",
                "workflow": {"_t": "SimpleWorkflow", "rapid": {"_t": "Locate"}},
                "datasetId": "dst_x",
            },
            "workflow.rapid",
        ),
        ("/job/definition", {"definitionName": "x", "workflow": {"_t": "Other"}}, "workflow"),
        ("/job", {"jobDefinitionId": "jdf_nope", "audienceId": "global"}, "jobDefinitionId"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(bearer, path, body, field):
    counts = (Audience.objects.count(), Dataset.objects.count(), JobDefinition.objects.count(), Job.objects.count())
    response = bearer("post", path, body)
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert counts == (
        Audience.objects.count(),
        Dataset.objects.count(),
        JobDefinition.objects.count(),
        Job.objects.count(),
    )


def test_a_datapoint_naming_an_asset_not_uploaded_is_refused(bearer):
    dataset_id = bearer("post", "/dataset", {"name": "d"}).json()["datasetId"]
    response = bearer(
        "post",
        f"/dataset/{dataset_id}/datapoint",
        {"segments": [{"key": "asset", "kind": "Asset", "asset": {"_t": "ExistingAssetInput", "name": "ast_nope"}}]},
    )
    assert response.status_code == 400 and "upload it first" in str(response.json())
    assert not DatasetDatapoint.objects.exists()


def test_a_url_the_server_may_not_fetch_is_a_400(bearer):
    response = bearer("post", "/asset/url?url=http://127.0.0.1:9/x.png")
    assert response.status_code == 400 and "not a public address" in str(response.json())
    assert bearer("post", "/asset/url?url=gopher://x/y").status_code == 400
    assert bearer("post", "/asset/url?url=http://a.example/%00.png").status_code == 400
    assert bearer("get", "/asset/batch-upload/status?correlationId=%00").status_code == 400
    response = bearer("post", "/asset/batch-upload", {"urls": ["http://a.example/\u0000.png"], "correlationId": "c"})
    assert response.status_code == 400 and not BatchUpload.objects.exists()
