"""Result exports built from the results document (``selectors.job_results``):
CSV for compare jobs, a COCO dataset for draw jobs. Pure functions of the
document, so every export says what the results API says."""

from __future__ import annotations

import csv
import io
from typing import Any

import numpy as np

from . import aggregation

CSV_COLUMNS = (
    "position",
    "item_a",
    "item_b",
    "context",
    "votes_a",
    "votes_b",
    "ratio_a",
    "ratio_b",
    "summed_score_a",
    "summed_score_b",
    "winner",
    "weighted_winner",
    "confidence",
    "responses",
    "stopped_early",
)
# A spreadsheet evaluates a cell starting with one of these as a formula
# (OWASP "CSV injection"); such cells get a leading apostrophe.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
COCO_CATEGORY_ID = 1


def csv_safe(value: Any) -> Any:
    """A text cell a spreadsheet shows as text, never runs as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _per_item(mapping: dict | None, item: str) -> Any:
    return "" if mapping is None else mapping.get(item, "")


def compare_csv(document: dict) -> str:
    """One row per datapoint (``CSV_COLUMNS``); aggregates a datapoint does not
    have yet are empty cells."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for entry in document["results"]:
        item_a, item_b = entry["items"]
        row = (
            entry["position"],
            item_a,
            item_b,
            entry["context"],
            _per_item(entry["aggregatedResults"], item_a),
            _per_item(entry["aggregatedResults"], item_b),
            _per_item(entry["aggregatedResultsRatios"], item_a),
            _per_item(entry["aggregatedResultsRatios"], item_b),
            _per_item(entry["summedUserScores"], item_a),
            _per_item(entry["summedUserScores"], item_b),
            entry["winner"] or "",
            entry["weightedWinner"] or "",
            "" if entry["confidence"] is None else entry["confidence"],
            entry["responses"],
            "true" if entry["stoppedEarly"] else "false",
        )
        writer.writerow([csv_safe(value) for value in row])
    return buffer.getvalue()


def _mask_bbox(mask: np.ndarray) -> list[int]:
    """``[x, y, width, height]`` in pixels of the mask's set cells."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return [int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)]


def draw_coco(document: dict) -> dict:
    """A COCO dataset of the draw job's consensus.

    One image per datapoint (``id`` = position + 1, ``file_name`` = the item
    as the requester named it, the pixel size when known, else the grid
    size); one category, the instruction. Per datapoint with a result: its
    consensus mask resized to the image as an uncompressed RLE annotation
    (``iscrowd`` 1) with its pixel ``bbox`` and ``area``, and each consensus
    box as a bbox-only annotation (``iscrowd`` 0).
    """
    info = document["info"]
    images, annotations = [], []
    for entry in document["results"]:
        image_id = entry["position"] + 1
        rows, cols = entry["gridSize"]
        width, height = entry["imageSize"] or (cols, rows)
        images.append({"id": image_id, "file_name": entry["item"], "width": width, "height": height})
        if entry["consensusMask"] is not None:
            mask = aggregation.rle_decode(entry["consensusMask"])
            if mask.shape != (height, width):
                mask = aggregation.resize_mask(mask, width, height)
            if mask.any():
                annotations.append(
                    {
                        "id": len(annotations) + 1,
                        "image_id": image_id,
                        "category_id": COCO_CATEGORY_ID,
                        "segmentation": aggregation.rle_encode(mask),
                        "area": int(mask.sum()),
                        "bbox": _mask_bbox(mask),
                        "iscrowd": 1,
                    }
                )
        for box in entry["consensusBoxes"] or []:
            x, y = box["x_min"] * width, box["y_min"] * height
            w, h = (box["x_max"] - box["x_min"]) * width, (box["y_max"] - box["y_min"]) * height
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": COCO_CATEGORY_ID,
                    "bbox": [round(x, 3), round(y, 3), round(w, 3), round(h, 3)],
                    "area": round(w * h, 3),
                    "iscrowd": 0,
                }
            )
    return {
        "info": {
            "description": f"{info['name']}: consensus of CrowdCanvas job {info['jobId']}",
            "version": info["aggregatorVersion"],
            "date_created": info["completed"] or info["created"],
        },
        "licenses": [],
        "images": images,
        "categories": [{"id": COCO_CATEGORY_ID, "name": info["instruction"], "supercategory": ""}],
        "annotations": annotations,
    }
