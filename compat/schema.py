"""The compatible API's OpenAPI document, served at ``api.<domain>/openapi.json``.

Written out here (the views parse the hosted service's shapes by hand,
``compat.wire``), for readers and for the fuzz test: every operation, its
body and the statuses it answers with.
"""

from __future__ import annotations

from django.http import JsonResponse

STRING = {"type": "string"}
INT = {"type": "integer"}
NUMBER = {"type": "number"}
BOOL = {"type": "boolean"}
NULLABLE_STRING = {"type": ["string", "null"]}
ERROR = {"type": "object", "description": '`{field: [message]}` (400) or `{"detail": message}`'}


def _obj(properties: dict, required: tuple[str, ...] = ()) -> dict:
    return {"type": "object", "properties": properties, "required": list(required)}


def _discriminated(name: str, properties: dict | None = None, required: tuple[str, ...] = ()) -> dict:
    return _obj({"_t": {"type": "string", "enum": [name]}, **(properties or {})}, ("_t", *required))


EXISTING_ASSET = _discriminated("ExistingAssetInput", {"name": STRING}, ("name",))
ASSET_INPUT = {
    "oneOf": [
        EXISTING_ASSET,
        _discriminated(
            "MultiAssetInput",
            {"assets": {"type": "array", "items": EXISTING_ASSET, "minItems": 1, "maxItems": 2}},
            ("assets",),
        ),
    ]
}
GRADUATION_RULE = _discriminated("TaskAccuracy", {"targetAccuracy": NUMBER, "minTasks": INT, "maxTasks": INT})
AUDIENCE = _obj(
    {
        "id": STRING,
        "baseAudienceId": STRING,
        "name": STRING,
        "status": {"type": "string", "enum": ["Created", "Pending", "Recruiting", "Ready"]},
        "qualifiedUserCount": INT,
        "filters": {"type": "array"},
        "createdAt": STRING,
        "ownerId": STRING,
        "ownerMail": STRING,
        "organizationId": STRING,
        "isPublic": BOOL,
        "isDistilling": BOOL,
        "distillingCampaignId": STRING,
        "graduationRule": GRADUATION_RULE,
        "distillingRetrievalMode": STRING,
        "boostLevel": STRING,
    },
    (
        "id",
        "baseAudienceId",
        "name",
        "status",
        "qualifiedUserCount",
        "filters",
        "createdAt",
        "ownerId",
        "ownerMail",
        "organizationId",
        "isPublic",
        "isDistilling",
        "distillingCampaignId",
        "graduationRule",
        "distillingRetrievalMode",
        "boostLevel",
    ),
)
JOB = _obj(
    {
        "jobId": STRING,
        "name": STRING,
        "definitionId": STRING,
        "audienceId": STRING,
        "revisionNumber": INT,
        "pipelineId": STRING,
        "state": {"type": "string", "enum": ["Running", "Paused", "Completed", "Failed"]},
        "failureMessage": NULLABLE_STRING,
        "isPublic": BOOL,
        "audienceDeleted": BOOL,
        "createdAt": STRING,
        "ownerId": STRING,
        "ownerMail": STRING,
        "organizationId": STRING,
    },
    (
        "jobId",
        "name",
        "definitionId",
        "audienceId",
        "revisionNumber",
        "pipelineId",
        "state",
        "isPublic",
        "audienceDeleted",
        "createdAt",
        "ownerId",
        "ownerMail",
        "organizationId",
    ),
)
PROGRESS = _obj(
    {
        "completionPercentage": NUMBER,
        "total": INT,
        "completed": INT,
        "state": {"type": "string", "enum": ["Labeling", "Paused", "Done", "Failed"]},
        "responseCount": INT,
    },
    ("completionPercentage", "total", "completed", "state", "responseCount"),
)
FETCH_ITEM = _obj(
    {
        "url": STRING,
        "status": {"type": "string", "enum": ["Pending", "Completed", "Failed"]},
        "fileName": NULLABLE_STRING,
        "warnings": {"type": "array"},
        "errorMessage": NULLABLE_STRING,
        "stage": NULLABLE_STRING,
        "upstreamHttpStatus": {"type": ["integer", "null"]},
    },
    ("url", "status"),
)
BATCH = _obj(
    {
        "batchUploadId": STRING,
        "status": STRING,
        "totalCount": INT,
        "completedCount": INT,
        "failedCount": INT,
        "items": {"type": "array", "items": FETCH_ITEM},
    },
    ("batchUploadId", "status", "totalCount", "completedCount", "failedCount", "items"),
)


def _json_body(schema: dict) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _responses(ok: dict | None, *errors: int) -> dict:
    out = {
        "200" if ok is not None else "204": (
            {"description": "done", "content": {"application/json": {"schema": ok}}}
            if ok is not None
            else {"description": "done"}
        )
    }
    for status in (401, 403, 415, *errors):
        out[str(status)] = {"description": "refused", "content": {"application/json": {"schema": ERROR}}}
    return out


def _path_param(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": STRING}


def _query(name: str, schema: dict, required: bool = False) -> dict:
    return {"name": name, "in": "query", "required": required, "schema": schema}


def _op(
    operation_id: str, responses: dict, *, body: dict | None = None, parameters: list | None = None, summary: str = ""
) -> dict:
    op = {
        "operationId": operation_id,
        "summary": summary or operation_id,
        "responses": responses,
        "security": [{"bearerAuth": []}],
    }
    if body is not None:
        op["requestBody"] = body
    if parameters:
        op["parameters"] = parameters
    return op


AUDIENCE_ID = [_path_param("audience_id")]
JOB_ID = [_path_param("job_id")]
BATCH_ID = [_path_param("batch_id")]

PATHS = {
    "/audience": {
        "post": _op(
            "audience_create",
            _responses(_obj({"audienceId": STRING}, ("audienceId",)), 400),
            body=_json_body(
                _obj({"name": STRING, "filters": {"type": "array"}, "graduationRule": GRADUATION_RULE}, ("name",))
            ),
        )
    },
    "/audiences": {
        "get": _op(
            "audience_find",
            _responses(
                _obj(
                    {"total": INT, "page": INT, "pageSize": INT, "items": {"type": "array", "items": AUDIENCE}},
                    ("total", "page", "pageSize", "items"),
                ),
                400,
            ),
            parameters=[
                _query("page", INT),
                _query("page_size", INT),
                _query("sort", STRING),
                _query("name[contains]", STRING),
            ],
        )
    },
    "/audience/{audience_id}": {"get": _op("audience_get", _responses(AUDIENCE, 404), parameters=AUDIENCE_ID)},
    "/audience/{audience_id}/user-metrics": {
        "get": _op(
            "audience_user_metrics",
            _responses(
                _obj(
                    {
                        "usersPerState": {"type": "object", "additionalProperties": INT},
                        "capacity": {"type": ["string", "null"]},
                    },
                    ("usersPerState", "capacity"),
                ),
                404,
            ),
            parameters=AUDIENCE_ID,
        )
    },
    "/audience/{audience_id}/recruit": {"post": _op("audience_recruit", _responses(None, 404), parameters=AUDIENCE_ID)},
    "/audience/{audience_id}/example": {
        "post": _op(
            "audience_example_add",
            _responses(_obj({"exampleId": STRING}, ("exampleId",)), 400, 404),
            parameters=AUDIENCE_ID,
            body=_json_body(
                _obj(
                    {
                        "asset": ASSET_INPUT,
                        "payload": {
                            "oneOf": [
                                _discriminated("LineExamplePayload", {"target": STRING}, ("target",)),
                                _discriminated("CompareExamplePayload", {"criteria": STRING}, ("criteria",)),
                            ]
                        },
                        "truth": {
                            "oneOf": [
                                _discriminated(
                                    "LineExampleTruth",
                                    {
                                        "boundingBoxes": {
                                            "type": "array",
                                            "items": _obj(
                                                {"xMin": NUMBER, "yMin": NUMBER, "xMax": NUMBER, "yMax": NUMBER},
                                                ("xMin", "yMin", "xMax", "yMax"),
                                            ),
                                        },
                                        "requiredPrecision": {"type": ["number", "null"]},
                                        "requiredCompleteness": {"type": ["number", "null"]},
                                    },
                                    ("boundingBoxes",),
                                ),
                                _discriminated("CompareExampleTruth", {"winnerId": STRING}, ("winnerId",)),
                            ]
                        },
                        "randomCorrectProbability": NUMBER,
                        "context": NULLABLE_STRING,
                        "explanation": NULLABLE_STRING,
                    },
                    ("asset", "payload", "truth"),
                )
            ),
        )
    },
    "/asset/file": {
        "post": _op(
            "asset_file",
            _responses(
                _obj(
                    {"fileName": STRING, "warnings": {"type": "array"}, "wasCompressed": BOOL},
                    ("fileName", "warnings", "wasCompressed"),
                ),
                400,
                413,
            ),
            body={
                "required": True,
                "content": {
                    "multipart/form-data": {"schema": _obj({"file": {"type": "string", "format": "binary"}}, ("file",))}
                },
            },
        )
    },
    "/asset/url": {
        "post": _op(
            "asset_url",
            {
                **_responses(
                    _obj(
                        {"fileName": STRING, "warnings": {"type": "array"}, "wasCompressed": BOOL},
                        ("fileName", "warnings", "wasCompressed"),
                    ),
                    400,
                ),
                "429": {"description": "still fetching: ask again"},
            },
            parameters=[_query("url", STRING, required=True)],
        )
    },
    "/asset/batch-upload": {
        "post": _op(
            "batch_upload_create",
            _responses(_obj({"batchUploadId": STRING}, ("batchUploadId",)), 400),
            body=_json_body(_obj({"urls": {"type": "array", "items": STRING}, "correlationId": STRING}, ("urls",))),
        )
    },
    "/asset/batch-upload/status": {
        "get": _op(
            "batch_upload_status",
            _responses(
                _obj(
                    {
                        "status": STRING,
                        "totalCount": INT,
                        "completedCount": INT,
                        "failedCount": INT,
                        "completedBatches": {"type": "array", "items": STRING},
                    },
                    ("status", "totalCount", "completedBatches"),
                ),
                400,
            ),
            parameters=[_query("correlationId", STRING, True)],
        )
    },
    "/asset/batch-upload/{batch_id}": {"get": _op("batch_upload_get", _responses(BATCH, 404), parameters=BATCH_ID)},
    "/asset/batch-upload/{batch_id}/abort": {
        "post": _op("batch_upload_abort", _responses(None, 404), parameters=BATCH_ID)
    },
    "/dataset": {
        "post": _op(
            "dataset_create",
            _responses(_obj({"datasetId": STRING}, ("datasetId",)), 400),
            body=_json_body(_obj({"name": STRING, "schema": {}}, ("name",))),
        )
    },
    "/dataset/{dataset_id}/datapoint": {
        "post": _op(
            "dataset_datapoint_add",
            _responses(_obj({"datapointId": STRING}, ("datapointId",)), 400, 404),
            parameters=[_path_param("dataset_id")],
            body=_json_body(
                _obj(
                    {
                        "segments": {
                            "type": "array",
                            "items": _obj(
                                {
                                    "key": STRING,
                                    "kind": {"type": "string", "enum": ["Asset", "Text"]},
                                    "asset": ASSET_INPUT,
                                    "text": STRING,
                                },
                                ("kind",),
                            ),
                        },
                        "sortIndex": INT,
                    },
                    ("segments",),
                )
            ),
        )
    },
    "/job/definition": {
        "post": _op(
            "job_definition_create",
            _responses(_obj({"definitionId": STRING, "pipelineId": STRING}, ("definitionId", "pipelineId")), 400),
            body=_json_body(
                _obj(
                    {
                        "definitionName": STRING,
                        "workflow": _discriminated(
                            "SimpleWorkflow",
                            {
                                "rapid": {
                                    "oneOf": [
                                        _discriminated(
                                            "Line", {"target": _obj({"literal": STRING}, ("literal",))}, ("target",)
                                        ),
                                        _discriminated(
                                            "Compare",
                                            {"criteria": _obj({"literal": STRING}, ("literal",))},
                                            ("criteria",),
                                        ),
                                    ]
                                }
                            },
                            ("rapid",),
                        ),
                        "referee": _discriminated("NaiveReferee", {"totalVotes": INT}, ("totalVotes",)),
                        "datasetId": STRING,
                    },
                    ("definitionName", "workflow", "datasetId"),
                )
            ),
        )
    },
    "/job": {
        "post": _op(
            "job_create",
            _responses(_obj({"jobId": STRING, "recruitingStarted": BOOL}, ("jobId", "recruitingStarted")), 400),
            body=_json_body(
                _obj(
                    {"jobDefinitionId": STRING, "audienceId": STRING, "revisionNumber": INT},
                    ("jobDefinitionId", "audienceId"),
                )
            ),
        )
    },
    "/job/{job_id}": {"get": _op("job_get", _responses(JOB, 404), parameters=JOB_ID)},
    "/job/{job_id}/progress": {"get": _op("job_progress", _responses(PROGRESS, 404), parameters=JOB_ID)},
    "/job/{job_id}/download-results": {
        "get": _op(
            "job_download_results",
            {
                "200": {
                    "description": "the results document (JSON bytes)",
                    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
                },
                **{k: v for k, v in _responses({}, 404).items() if k != "200"},
            },
            parameters=JOB_ID,
        )
    },
    "/job/{job_id}/retry": {"post": _op("job_retry", _responses(None, 404), parameters=JOB_ID)},
}

DOCUMENT = {
    "openapi": "3.1.0",
    "info": {
        "title": "CrowdCanvas: the hosted service's client API",
        "version": "1.0.0",
        "description": "Served at the root of api.<SERVICE_DOMAIN>; see docs/hosted-client.md.",
    },
    "paths": PATHS,
    "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
}


def openapi(request):
    return JsonResponse(DOCUMENT)
