"""Result downloads: the JSON document, CSV for compare jobs (formula
injection neutralized), COCO for draw jobs (masks decode back to the
consensus at image size, boxes in pixels), and the formats each kind refuses."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from audiences.selectors import global_audience
from jobs import aggregation, exports
from jobs import services as job_services
from tests import factories
from tests.test_results_api import (  # noqa: F401 - fixtures
    OUTSIDE,
    URL_A,
    URL_B,
    api,
    compare_job,
    draw_job,
    other_api,
    respond,
    results_of,
    trio,
)

pytestmark = pytest.mark.django_db


def download(api, job, fmt: str | None):
    params = {} if fmt is None else {"format": fmt}
    return api.get(f"/api/jobs/{job.public_id}/results/download/", params)


def test_json_download_is_the_results_document(api, compare_job):
    response = download(api, compare_job, None)
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == f'attachment; filename="{compare_job.public_id}-results.json"'
    assert json.loads(response.content) == results_of(api, compare_job)
    assert download(api, compare_job, "json").content == response.content


def parse_csv(response) -> list[dict]:
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8"))))


def test_compare_csv_has_one_row_per_datapoint(api, compare_job):
    response = download(api, compare_job, "csv")
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="{compare_job.public_id}-results.csv"'
    first, second = parse_csv(response)
    assert list(first) == list(exports.CSV_COLUMNS)
    assert first == {
        "position": "0",
        "item_a": URL_A,
        "item_b": URL_B,
        "context": "A duck",
        "votes_a": "1",
        "votes_b": "2",
        "ratio_a": str(1 / 3),
        "ratio_b": str(2 / 3),
        "summed_score_a": "0.75",
        "summed_score_b": "0.5",
        "winner": URL_B,
        "weighted_winner": URL_A,
        "confidence": first["confidence"],
        "responses": "3",
        "stopped_early": "false",
    }
    assert 0.5 < float(first["confidence"]) < 1
    assert (second["item_a"], second["votes_a"], second["votes_b"], second["winner"]) == (
        "left.png",
        "2",
        "1",
        "left.png",
    )


def test_csv_cells_cannot_run_as_formulas(api, requester, make_labeler):
    evil = ['=HYPERLINK("http://evil.example","click")', "+1+2", "-3", "@SUM(A1)", "\tTAB", "plain text"]
    definition = job_services.job_definition_create_compare(
        owner=requester,
        name="Evil",
        instruction="Which?",
        datapoints=[[evil[0], evil[1]], [evil[2], evil[3]], [evil[4], evil[5]]],
        contexts=["=1+1", "@me", "fine, with a comma"],
        responses_per_datapoint=2,
    )
    job = job_services.job_create(owner=requester, definition=definition, audience=global_audience())
    respond(job, 0, make_labeler("e"), {"choice": evil[0]})
    rows = parse_csv(download(api, job, "csv"))
    assert [(r["item_a"], r["item_b"]) for r in rows] == [
        ("'" + evil[0], "'+1+2"),
        ("'-3", "'@SUM(A1)"),
        ("'\tTAB", "plain text"),
    ]
    assert [r["context"] for r in rows] == ["'=1+1", "'@me", "fine, with a comma"]
    assert rows[0]["winner"] == "'" + evil[0] and rows[0]["votes_a"] == "1"
    # Datapoints without a result yet have empty aggregate cells.
    assert (rows[1]["votes_a"], rows[1]["winner"], rows[1]["confidence"], rows[1]["responses"]) == ("", "", "", "0")
    for row in rows:
        for value in row.values():
            assert not value.startswith(exports.FORMULA_PREFIXES), value


def test_coco_export_decodes_to_the_consensus_at_image_size(api, draw_job):
    response = download(api, draw_job, "coco")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == f'attachment; filename="{draw_job.public_id}-coco.json"'
    coco = json.loads(response.content)
    assert coco["images"] == [
        {"id": 1, "file_name": "books.png", "width": 96, "height": 64},
        {"id": 2, "file_name": URL_A, "width": 256, "height": 256},  # URL image: the grid's size
    ]
    assert coco["categories"] == [{"id": 1, "name": "Color in all the blue books", "supercategory": ""}]
    entry = results_of(api, draw_job)["results"][0]
    masks = [a for a in coco["annotations"] if a["iscrowd"] == 1]
    boxes = [a for a in coco["annotations"] if a["iscrowd"] == 0]
    assert [a["id"] for a in coco["annotations"]] == list(range(1, len(coco["annotations"]) + 1))

    (mask_annotation,) = masks  # the datapoint without responses has none
    assert (mask_annotation["image_id"], mask_annotation["category_id"]) == (1, 1)
    mask = aggregation.rle_decode(mask_annotation["segmentation"])
    assert mask.shape == (64, 96)
    expected = aggregation.resize_mask(aggregation.rle_decode(entry["consensusMask"]), 96, 64)
    assert np.array_equal(mask, expected)
    assert mask_annotation["area"] == int(mask.sum()) > 0
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    assert mask_annotation["bbox"] == [cols[0], rows[0], cols[-1] - cols[0] + 1, rows[-1] - rows[0] + 1]

    (box_annotation,) = boxes
    (box,) = entry["consensusBoxes"]
    x, y, w, h = box_annotation["bbox"]
    assert box_annotation["image_id"] == 1 and "segmentation" not in box_annotation
    assert (x, y) == pytest.approx((box["x_min"] * 96, box["y_min"] * 64), abs=1e-3)
    assert (x + w, y + h) == pytest.approx((box["x_max"] * 96, box["y_max"] * 64), abs=1e-3)
    assert box_annotation["area"] == pytest.approx(w * h, abs=1e-2)
    # The mask's pixel box and the consensus box agree to a grid cell.
    assert mask_annotation["bbox"] == pytest.approx(box_annotation["bbox"], abs=1.0)


def test_coco_masks_of_url_images_stay_at_grid_size(api, draw_job, make_labeler):
    respond(draw_job, 1, make_labeler("url"), factories.stroke_inside())
    coco = json.loads(download(api, draw_job, "coco").content)
    (mask_annotation,) = [a for a in coco["annotations"] if a["iscrowd"] == 1 and a["image_id"] == 2]
    entry = results_of(api, draw_job)["results"][1]
    assert mask_annotation["segmentation"] == entry["consensusMask"]


@pytest.mark.parametrize(
    ("which", "fmt", "message"),
    [
        ("draw", "csv", "csv is for compare jobs"),
        ("compare", "coco", "coco is for draw jobs"),
        ("draw", "xlsx", "not a valid choice"),
    ],
)
def test_a_format_that_does_not_fit_is_400(api, draw_job, compare_job, which, fmt, message):
    job = draw_job if which == "draw" else compare_job
    response = download(api, job, fmt)
    assert response.status_code == 400
    assert message in response.json()["format"][0]


def test_downloads_of_another_requesters_job_are_404(other_api, draw_job):
    for fmt in ("json", "coco", "csv"):
        response = download(other_api, draw_job, fmt)
        assert response.status_code == 404 and response.json() == {"detail": "Not found."}
