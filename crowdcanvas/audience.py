"""Audiences: pools of labelers, and their qualification examples."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import _limits
from ._resource import Resource
from ._validation import (
    check_int,
    check_paging,
    check_ratio,
    check_text,
    check_url_assets,
    fetch_url_items,
    path_id,
    plan_boxes,
    plan_image,
    plan_pair,
)

if TYPE_CHECKING:
    from ._http import Http
    from .job import Job, JobDefinition


def _example_texts(instruction: Any, context: Any, explanation: Any) -> dict[str, Any]:
    """The texts of a qualification example, checked as the server checks them."""
    return {
        "instruction": check_text(instruction, "instruction", max_length=_limits.MAX_INSTRUCTION_LENGTH, required=True),
        "context": check_text(context, "context", max_length=_limits.MAX_CONTEXT_LENGTH, required=False),
        "explanation": check_text(
            explanation, "explanation", max_length=_limits.MAX_EXPLANATION_LENGTH, required=False
        ),
    }


class Audience(Resource):
    """An audience of labelers: ``global`` (every labeler), curated (run by
    the operators, open to every requester) or custom (yours: labelers join
    by answering its qualification examples).

    Attributes: ``id``, ``name``, ``kind``, ``description``, ``owned``,
    ``target_accuracy``, ``min_tasks``, ``max_tasks``, ``gold_rate``,
    ``example_count``, ``members`` (``{"graduated", "qualifying",
    "dropped"}`` counts), ``created``.
    """

    collection = "audiences"

    def _set(self, data: dict[str, Any]) -> None:
        super()._set(data)
        self.id: str = data["id"]
        self.name: str = data.get("name", "")
        self.kind: str = data.get("kind", "")
        self.description: str = data.get("description", "")
        self.owned: bool = bool(data.get("owned"))
        self.target_accuracy: float | None = data.get("target_accuracy")
        self.min_tasks: int | None = data.get("min_tasks")
        self.max_tasks: int | None = data.get("max_tasks")
        self.gold_rate: float | None = data.get("gold_rate")
        self.example_count: int = data.get("example_count", 0)
        self.members: dict[str, int] = dict(data.get("members") or {})
        self.created: str | None = data.get("created")

    def refresh(self) -> Audience:
        """Reload the audience from the server (member and example counts change); returns it."""
        return super().refresh()

    def add_draw_example(
        self,
        instruction: str,
        datapoint: Any,
        truths: list,
        context: str | None = None,
        explanation: str | None = None,
        required_precision: float | None = None,
        required_completeness: float | None = None,
        url_assets: str = "fetch",
    ) -> Audience:
        """Add a draw qualification example: an image and the box(es) a
        correct labeler colors in. Labelers' strokes must lie inside the boxes
        (``required_precision`` of the ink, default 0.8) and touch them
        (``required_completeness`` of the boxes, default 1.0).

        Args:
            instruction: what to color in, e.g. "Color in the visual glitches".
            datapoint: the image: a URL, or a local file path (uploaded first).
            truths: a list of :class:`~crowdcanvas.Box` (or dicts with
                ``x_min, y_min, x_max, y_max``), ratios of the image.
            context: optional text shown with the image.
            explanation: optional text shown to a labeler after a wrong answer.
            required_precision: share of the ink that must lie inside the boxes (0..1).
            required_completeness: share of the boxes the ink must touch (0..1).
            url_assets: ``"fetch"`` (default): the server fetches and stores
                URL images (a URL it refuses or cannot fetch is a
                ``ValueError`` naming it, and no example is added);
                ``"link"``: labelers' browsers load them.

        Returns:
            This audience.

        Raises:
            ValueError: bad input (before any request), or the server's 400.
        """
        url_assets = check_url_assets(url_assets)
        body: dict[str, Any] = {
            **_example_texts(instruction, context, explanation),
            "truths": [box.to_dict() for box in plan_boxes(truths, "truths")],
        }
        if required_precision is not None:
            body["required_precision"] = check_ratio(required_precision, "required_precision")
        if required_completeness is not None:
            body["required_completeness"] = check_ratio(required_completeness, "required_completeness")
        item = plan_image(datapoint, "datapoint")
        body["datapoint"] = self._http.wire_item(item, fetch_url_items(self._http, [item], url_assets))
        self._http.post(f"audiences/{path_id(self.id)}/examples/draw/", json=body)
        self.example_count += 1
        return self

    def add_compare_example(
        self,
        instruction: str,
        datapoint: list,
        truth: Any,
        context: str | None = None,
        explanation: str | None = None,
        url_assets: str = "fetch",
    ) -> Audience:
        """Add a compare qualification example: two items and which is right.

        Args:
            instruction: the question, e.g. "Which image follows the prompt more accurately?".
            datapoint: the two items to compare, each a URL (``http(s)://``),
                a local image as a ``pathlib.Path`` or ``crowdcanvas.File``
                (uploaded first), or text (a plain string, or
                ``crowdcanvas.Text``). A plain string is never taken for a
                file; one that looks like an image path (``"cat.png"``) is a
                ``ValueError``: say ``File(...)`` or ``Text(...)``.
            truth: the right answer; must be equal to one of the two datapoint
                items exactly (as you passed it).
            context: optional text shown with the items (e.g. the prompt).
            explanation: optional text shown to a labeler after a wrong answer.
            url_assets: ``"fetch"`` (default): the server fetches and stores
                URL images (a URL it refuses or cannot fetch is a
                ``ValueError`` naming it, and no example is added);
                ``"link"``: labelers' browsers load them.

        Returns:
            This audience.

        Raises:
            ValueError: bad input (before any request), or the server's 400.
        """
        url_assets = check_url_assets(url_assets)
        body: dict[str, Any] = _example_texts(instruction, context, explanation)
        first, second = plan_pair(datapoint, "datapoint")
        matches = [index for index in (0, 1) if truth is not None and truth == datapoint[index]]
        if not matches:
            raise ValueError(
                "truth must be exactly one of the two datapoint items "
                f"(got {truth!r}, items {datapoint[0]!r} and {datapoint[1]!r})."
            )
        fetched = fetch_url_items(self._http, [first, second], url_assets)
        items = [self._http.wire_item(first, fetched), self._http.wire_item(second, fetched)]
        body["datapoint"] = items
        body["truth"] = items[matches[0]]
        self._http.post(f"audiences/{path_id(self.id)}/examples/compare/", json=body)
        self.example_count += 1
        return self

    def get_examples(self, amount: int = 50, page: int = 1) -> list[dict]:
        """The audience's qualification examples, in the order they were added.

        Each is a dict: ``id``, ``kind``, ``instruction``, ``context``,
        ``items``; ``truth`` (compare), ``truths`` (draw) and ``explanation``
        are ``None`` unless the audience is yours.
        """
        amount, page = check_paging(amount, page)
        data = self._http.get(f"audiences/{path_id(self.id)}/examples/", params={"page": page, "page_size": amount})
        return data["results"]

    def assign_job(self, job_definition: JobDefinition | str) -> Job:
        """Run a job definition on this audience.

        Args:
            job_definition: a :class:`~crowdcanvas.JobDefinition` or its id.

        Returns:
            The new, running :class:`~crowdcanvas.Job`.
        """
        from .job import Job, JobDefinition

        definition_id = job_definition.id if isinstance(job_definition, JobDefinition) else job_definition
        if not isinstance(definition_id, str) or not definition_id:
            raise ValueError("job_definition must be a JobDefinition or its id.")
        data = self._http.post("jobs/", json={"job_definition": definition_id, "audience": self.id})
        return Job(self._http, data)


class AudienceManager:
    """``client.audience``: find, get and create audiences."""

    def __init__(self, http: Http) -> None:
        self._http = http

    def get_audience_by_id(self, audience_id: str) -> Audience:
        """The audience with this id (``"global"`` for the global audience).

        Raises:
            NotFoundError: no such audience among those you can see.
        """
        return Audience(self._http, self._http.get(f"audiences/{path_id(audience_id, 'audience_id')}/"))

    def create_audience(
        self,
        name: str,
        target_accuracy: float | None = None,
        min_tasks: int | None = None,
        max_tasks: int | None = None,
        description: str | None = None,
        gold_rate: float | None = None,
    ) -> Audience:
        """Create a custom audience, empty until labelers qualify through the
        examples you add (``add_draw_example``, ``add_compare_example``).

        Args:
            name: a name to find it by.
            target_accuracy: share of correct answers needed to graduate, in (0, 1] (default 0.75).
            min_tasks: answers before a labeler can graduate (default 5; clamped to the number of examples).
            max_tasks: answers after which a labeler who has not graduated is dropped (default 10).
            description: optional text.
            gold_rate: share of served tasks that are this audience's examples, to keep checking
                graduated labelers (0..0.5, default 0.05).

        Returns:
            The new :class:`Audience`.
        """
        body: dict[str, Any] = {"name": check_text(name, "name", max_length=_limits.MAX_NAME_LENGTH, required=True)}
        if description is not None:
            body["description"] = check_text(
                description, "description", max_length=_limits.MAX_CONTEXT_LENGTH, required=False
            )
        if target_accuracy is not None:
            body["target_accuracy"] = check_ratio(target_accuracy, "target_accuracy", low_open=True)
        if min_tasks is not None:
            body["min_tasks"] = check_int(min_tasks, "min_tasks", low=1, high=_limits.MAX_TASKS_LIMIT)
        if max_tasks is not None:
            body["max_tasks"] = check_int(max_tasks, "max_tasks", low=1, high=_limits.MAX_TASKS_LIMIT)
            if body["max_tasks"] < body.get("min_tasks", 1):
                raise ValueError(
                    f"max_tasks must be at least min_tasks ({body['min_tasks']}), got {body['max_tasks']}."
                )
        if gold_rate is not None:
            body["gold_rate"] = check_ratio(gold_rate, "gold_rate", high=_limits.MAX_GOLD_RATE)
        return Audience(self._http, self._http.post("audiences/", json=body))

    def find_audiences(self, name: str = "", amount: int = 10, page: int = 1) -> list[Audience]:
        """Audiences whose name contains ``name`` (case-insensitive), newest
        first: the global and curated ones and your own.

        Args:
            name: part of the name; empty finds all.
            amount: audiences per page (1..100).
            page: which page, from 1; past the end gives ``[]``.
        """
        name = check_text(name, "name", max_length=_limits.MAX_NAME_LENGTH, required=False)
        amount, page = check_paging(amount, page)
        data = self._http.get("audiences/", params={"name": name, "page": page, "page_size": amount})
        return [Audience(self._http, item) for item in data["results"]]
