"""Job results: a dict, with conversions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class Results(dict):
    """A job's results, exactly as the server sent them (this *is* a dict):

    ``{"info": {"job_id", "definition_id", "name", "type", "instruction",
    "responses_per_datapoint", "audience_id", "state", "created", "completed"},
    "results": [{"position", "items", "context", "media_context",
    "responses": [{"payload", "user_score", "labeler", "created"}]}]}``

    ``items`` are named as you gave them (URL, text, or an uploaded file's
    name); a compare response's ``payload`` is ``{"choice": <one of the
    items>}``, a draw response's ``{"lines": [{"size", "points": [{"x",
    "y"}]}]}`` with ratios of the image. ``labeler`` is a stable pseudonym.
    """

    @property
    def info(self) -> dict[str, Any]:
        """What the results are of: job, definition name, type, instruction, dates."""
        return self.get("info", {})

    def to_pandas(self, split_details: bool = False):
        """A ``pandas.DataFrame``: one row per datapoint, or with
        ``split_details=True`` one row per response.

        Datapoint columns: ``position``, ``datapoint`` (draw) or ``item_a`` and
        ``item_b`` (compare), ``context``, ``media_context``, then the
        datapoint's other fields; per datapoint, ``response_count`` and the
        ``responses`` list. Per response: ``labeler``, ``user_score``,
        ``created`` and the payload's fields (``choice``; ``lines``).

        Needs pandas (``pip install "crowdcanvas[pandas]"``).
        """
        try:
            import pandas as pd
        except ImportError:  # pragma: no cover - depends on the environment
            raise ImportError('to_pandas() needs pandas: pip install "crowdcanvas[pandas]"') from None
        rows = []
        for result in self.get("results", []):
            base = {"position": result.get("position")}
            items = result.get("items", [])
            if len(items) == 1:
                base["datapoint"] = items[0]
            elif len(items) == 2:
                base["item_a"], base["item_b"] = items
            else:
                base["items"] = items
            for key, value in result.items():
                if key not in ("position", "items", "responses"):
                    base[key] = value
            responses = result.get("responses", [])
            if not split_details:
                rows.append({**base, "response_count": len(responses), "responses": responses})
                continue
            for response in responses:
                row = dict(base)
                row.update({key: value for key, value in response.items() if key != "payload"})
                payload = response.get("payload")
                if isinstance(payload, dict):
                    row.update(payload)
                else:
                    row["payload"] = payload
                rows.append(row)
        return pd.DataFrame(rows)

    def to_json(self, path: str | Path) -> Path:
        """Write the results as JSON (UTF-8, indented) to ``path``; return the path."""
        target = Path(path)
        target.write_text(json.dumps(self, indent=2, ensure_ascii=False), encoding="utf-8")
        return target
