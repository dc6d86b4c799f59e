"""Job results: a dict, with conversions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

_COMPARE_DETAIL_KEYS = ("labeler", "userScore", "votedFor", "timeSpentMs", "created")
_DRAW_DETAIL_KEYS = ("labeler", "userScore", "lines", "timeSpentMs", "created")


class Results(dict):
    """A job's results, exactly as the server sent them (this *is* a dict)::

        {"info": {"jobId", "definitionId", "name", "type", "instruction",
                  "responsesPerDatapoint", "audienceId", "state", "created",
                  "completed", "aggregatorVersion", "drawAlgorithm" (draw)},
         "results": [...one entry per datapoint, by position...],
         "summary": {...}}

    A compare entry: ``position``, ``items`` (the two items as you gave
    them: URL, text or uploaded file name), ``context``, ``mediaContext``,
    ``responses`` (count), ``stoppedEarly``, ``aggregatedResults`` (votes
    per item), ``aggregatedResultsRatios``, ``summedUserScores``,
    ``summedUserScoresRatios``, ``winner``, ``weightedWinner``,
    ``confidence`` and ``detailedResults``: ``[{"votedFor", "userScore",
    "labeler", "timeSpentMs", "created"}]``. Summary: ``datapoints``,
    ``responses`` and ``ranking`` (Bradley-Terry over every item).

    A draw entry: ``position``, ``item``, ``context``, ``mediaContext``,
    ``imageSize`` (``[width, height]``, ``None`` for URL images),
    ``responses``, ``gridSize`` (``[rows, cols]``), ``consensusMask`` (COCO
    RLE at grid size), ``consensusBoxes`` (image ratios), ``agreement``,
    ``summedUserScores``, ``heatmapUrl`` and ``detailedResults``:
    ``[{"labeler", "userScore", "lines", "timeSpentMs", "created"}]``.
    Summary: ``datapoints``, ``responses``, ``meanAgreement``.

    Aggregates are ``None`` for a datapoint whose result is not in yet.
    ``labeler`` is a stable pseudonym.
    """

    @property
    def info(self) -> dict[str, Any]:
        """What the results are of: job, definition name, type, instruction, dates."""
        return self.get("info", {})

    @property
    def summary(self) -> dict[str, Any]:
        """Job-wide figures (compare: the ranking; draw: the mean agreement)."""
        return self.get("summary", {})

    def _kind(self) -> str:
        kind = self.info.get("type")
        if kind in ("draw", "compare"):
            return kind
        first = (self.get("results") or [{}])[0]
        return "compare" if "items" in first else "draw"

    def to_pandas(self, split_details: bool = False):
        """A ``pandas.DataFrame``: one row per datapoint, or with
        ``split_details=True`` one row per response (datapoints without
        responses keep one row, with empty response columns).

        Compare columns: ``position``, ``context``, ``media_context``,
        ``item_a``, ``item_b``, ``votes_a``, ``votes_b``, ``ratio_a``,
        ``ratio_b``, ``summed_score_a``, ``summed_score_b``, ``winner``,
        ``weightedWinner``, ``confidence``, ``responses``, ``stoppedEarly``;
        per response also ``labeler``, ``userScore``, ``votedFor``,
        ``timeSpentMs``, ``created``.

        Draw columns: ``position``, ``item``, ``context``, ``media_context``,
        ``image_width``, ``image_height``, ``responses``, ``agreement``,
        ``consensus_box_count``, ``consensusBoxes``, ``summedUserScores``,
        ``heatmapUrl``; per response also ``labeler``, ``userScore``,
        ``lines``, ``timeSpentMs``, ``created``.

        Needs pandas (``pip install "crowdcanvas[pandas]"``).
        """
        try:
            import pandas as pd
        except ImportError:  # pragma: no cover - depends on the environment
            raise ImportError('to_pandas() needs pandas: pip install "crowdcanvas[pandas]"') from None
        kind = self._kind()
        row_of = _compare_row if kind == "compare" else _draw_row
        detail_keys = _COMPARE_DETAIL_KEYS if kind == "compare" else _DRAW_DETAIL_KEYS
        rows = []
        for entry in self.get("results", []):
            base = row_of(entry)
            if not split_details:
                rows.append(base)
                continue
            details = entry.get("detailedResults") or []
            if not details:
                rows.append({**base, **dict.fromkeys(detail_keys)})
            for detail in details:
                rows.append({**base, **{key: detail.get(key) for key in detail_keys}})
        columns = list(row_of({}))
        if split_details:
            columns += list(detail_keys)
        return pd.DataFrame(rows, columns=columns)

    def to_json(self, path: str | Path) -> Path:
        """Write the results as JSON (UTF-8, indented) to ``path``; return the path."""
        target = Path(path)
        target.write_text(json.dumps(self, indent=2, ensure_ascii=False), encoding="utf-8")
        return target


def _pair(mapping: dict | None, items: list) -> tuple[Any, Any]:
    if not mapping or len(items) != 2:
        return None, None
    return mapping.get(items[0]), mapping.get(items[1])


def _compare_row(entry: dict) -> dict[str, Any]:
    items = list(entry.get("items") or [None, None])
    votes = _pair(entry.get("aggregatedResults"), items)
    ratios = _pair(entry.get("aggregatedResultsRatios"), items)
    scores = _pair(entry.get("summedUserScores"), items)
    return {
        "position": entry.get("position"),
        "context": entry.get("context"),
        "media_context": entry.get("mediaContext"),
        "item_a": items[0],
        "item_b": items[1] if len(items) > 1 else None,
        "votes_a": votes[0],
        "votes_b": votes[1],
        "ratio_a": ratios[0],
        "ratio_b": ratios[1],
        "summed_score_a": scores[0],
        "summed_score_b": scores[1],
        "winner": entry.get("winner"),
        "weightedWinner": entry.get("weightedWinner"),
        "confidence": entry.get("confidence"),
        "responses": entry.get("responses"),
        "stoppedEarly": entry.get("stoppedEarly"),
    }


def _draw_row(entry: dict) -> dict[str, Any]:
    size = entry.get("imageSize") or [None, None]
    boxes = entry.get("consensusBoxes")
    return {
        "position": entry.get("position"),
        "item": entry.get("item"),
        "context": entry.get("context"),
        "media_context": entry.get("mediaContext"),
        "image_width": size[0],
        "image_height": size[1],
        "responses": entry.get("responses"),
        "agreement": entry.get("agreement"),
        "consensus_box_count": None if boxes is None else len(boxes),
        "consensusBoxes": boxes,
        "summedUserScores": entry.get("summedUserScores"),
        "heatmapUrl": entry.get("heatmapUrl"),
    }
