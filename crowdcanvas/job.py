"""Job definitions (what to ask) and jobs (a definition running on an audience)."""

from __future__ import annotations

import os
import sys
import webbrowser
from typing import TYPE_CHECKING, Any, Callable

from . import _limits
from ._validation import (
    check_contexts,
    check_datapoint_count,
    check_int,
    check_paging,
    check_ratio,
    check_text,
    path_id,
    plan_image,
    plan_pair,
)
from .exceptions import JobFailed, JobStalled, JobTimeout
from .results import Results

if TYPE_CHECKING:
    from ._http import Http

DEFAULT_POLL_INTERVAL = 2.0
DEFAULT_STALL_TIMEOUT = 300.0


def _browser_available() -> bool:
    if sys.platform == "darwin" or os.name == "nt":
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


class JobDefinition:
    """What to ask labelers: kind (``draw`` or ``compare``), instruction,
    datapoints and how many responses per datapoint. Assign it to an
    audience with ``audience.assign_job(definition)`` to run it; the same
    definition can run on several audiences.

    Attributes: ``id``, ``name``, ``kind``, ``instruction``,
    ``responses_per_datapoint``, ``confidence_threshold``,
    ``draw_aggregation``, ``datapoint_count``, ``preview_url``, ``created``.
    """

    def __init__(self, http: Http, data: dict[str, Any]) -> None:
        self._http = http
        self._set(data)

    def _set(self, data: dict[str, Any]) -> None:
        self._data = data
        self.id: str = data["id"]
        self.name: str = data.get("name", "")
        self.kind: str = data.get("kind", "")
        self.instruction: str = data.get("instruction", "")
        self.responses_per_datapoint: int | None = data.get("responses_per_datapoint")
        self.confidence_threshold: float | None = data.get("confidence_threshold")
        self.draw_aggregation: str | None = data.get("draw_aggregation")
        self.datapoint_count: int | None = data.get("datapoint_count")
        self.preview_url: str = data.get("preview_url", "")
        self.created: str | None = data.get("created")

    def __repr__(self) -> str:
        return f"JobDefinition(id={self.id!r}, name={self.name!r}, kind={self.kind!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JobDefinition) and other.id == self.id

    def __hash__(self) -> int:
        return hash(("job_definition", self.id))

    def refresh(self) -> JobDefinition:
        """Reload the definition from the server; returns it."""
        self._set(self._http.get(f"job-definitions/{path_id(self.id)}/"))
        return self

    def preview(self, open_browser: bool | None = None) -> JobDefinition:
        """Print the URL of the preview page (the tasks as labelers will see
        them) and, where a browser is available, open it.

        Args:
            open_browser: ``True``/``False`` to force; by default a browser is
                opened on macOS, Windows, or with a ``DISPLAY``.

        Returns:
            This definition.
        """
        print(f"Preview of {self.name!r}: {self.preview_url}")
        if open_browser is None:
            open_browser = _browser_available()
        if open_browser:
            try:
                webbrowser.open(self.preview_url, new=2)
            except webbrowser.Error:
                pass
        return self


class Job:
    """A job definition running on an audience.

    Attributes: ``id``, ``state`` (``running``, ``paused``, ``completed`` or
    ``failed``, as of the last call), ``definition`` and ``audience``
    (``{"id", "name", "kind"}``), ``responses_needed``, ``created``,
    ``completed``.
    """

    def __init__(self, http: Http, data: dict[str, Any]) -> None:
        self._http = http
        self._set(data)

    def _set(self, data: dict[str, Any]) -> None:
        self._data = data
        self.id: str = data["id"]
        self.state: str = data.get("state", "")
        self.definition: dict[str, Any] = dict(data.get("definition") or {})
        self.audience: dict[str, Any] = dict(data.get("audience") or {})
        self.responses_needed: int | None = data.get("responses_needed")
        self.created: str | None = data.get("created")
        self.completed: str | None = data.get("completed")

    @property
    def name(self) -> str:
        """The name of the job's definition."""
        return self.definition.get("name", "")

    def __repr__(self) -> str:
        return f"Job(id={self.id!r}, name={self.name!r}, state={self.state!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Job) and other.id == self.id

    def __hash__(self) -> int:
        return hash(("job", self.id))

    def refresh(self) -> Job:
        """Reload the job from the server; returns it."""
        self._set(self._http.get(f"jobs/{path_id(self.id)}/"))
        return self

    def get_status(self) -> str:
        """The job's state now: ``running``, ``paused``, ``completed`` or ``failed``."""
        return self.refresh().state

    def get_progress(self) -> dict[str, Any]:
        """How far the job is, as the server reports it::

            {"job_id", "state",
             "datapoints_total", "datapoints_done",
             "responses_collected", "responses_needed",
             "completion_percentage",            # 0..100
             "audience": {"id", "name", "kind", "graduated", "qualifying", "dropped"},
             "last_response_at", "created", "completed"}

        ``responses_needed`` counts what open datapoints still ask for and what
        closed ones got, so it equals ``responses_collected`` when the job is done.
        """
        progress = self._http.get(f"jobs/{path_id(self.id)}/progress/")
        self.state = progress.get("state", self.state)
        return progress

    def _wait(self, *, poll_interval: float, timeout: float | None, stall_timeout: float | None,
              on_progress: Callable[[dict], None] | None = None) -> dict[str, Any]:
        """Poll until the job is completed; the last progress."""
        poll_interval = check_ratio(poll_interval, "poll_interval", low=0.0, high=3600.0, low_open=True)
        if timeout is not None:
            timeout = check_ratio(timeout, "timeout", low=0.0, high=float(10**9))
        if stall_timeout is not None:
            stall_timeout = check_ratio(stall_timeout, "stall_timeout", low=0.0, high=float(10**9))
        clock, sleep = self._http.clock, self._http.sleep
        started = last_change = clock()
        seen = None
        while True:
            progress = self.get_progress()
            if on_progress is not None:
                on_progress(progress)
            state = progress["state"]
            if state == "completed":
                return progress
            if state == "failed":
                raise JobFailed(f"job {self.id} failed; it will produce no results.", progress)
            now = clock()
            marker = (progress["responses_collected"], progress["datapoints_done"], state)
            if marker != seen:
                seen, last_change = marker, now
            members = progress.get("audience") or {}
            nobody = not members.get("graduated") and not members.get("qualifying")
            if stall_timeout is not None and now - last_change >= stall_timeout and (nobody or state == "paused"):
                reason = ("the job is paused" if state == "paused" else
                          f"its audience {members.get('name', '')!r} ({members.get('id')}) has no graduated "
                          "and no qualifying labelers")
                raise JobStalled(
                    f"job {self.id} cannot complete: {reason}, and nothing progressed for {now - last_change:.0f}s "
                    f"({progress['responses_collected']}/{progress['responses_needed']} responses).", progress)
            if timeout is not None and now - started >= timeout:
                raise JobTimeout(
                    f"job {self.id} did not complete within {timeout:g}s "
                    f"({progress['responses_collected']}/{progress['responses_needed']} responses).", progress)
            wait = poll_interval
            if timeout is not None:
                wait = min(wait, max(0.0, started + timeout - now))
            sleep(wait)

    def display_progress_bar(self, poll_interval: float = DEFAULT_POLL_INTERVAL, timeout: float | None = None,
                             stall_timeout: float | None = DEFAULT_STALL_TIMEOUT) -> dict[str, Any]:
        """Show a progress bar of responses collected out of needed, polling
        the server until the job is completed.

        Args:
            poll_interval: seconds between polls.
            timeout: give up after this many seconds (``JobTimeout``); ``None`` waits.
            stall_timeout: raise ``JobStalled`` when nothing progressed for this
                many seconds and nobody can work on the job (see ``get_results``);
                ``None`` never does.

        Returns:
            The final progress (see ``get_progress``).
        """
        from tqdm.auto import tqdm

        with tqdm(total=self.responses_needed or 0, desc=self.name or self.id, unit="response",
                  dynamic_ncols=True) as bar:
            def update(progress: dict) -> None:
                bar.total = progress["responses_needed"]
                bar.n = min(progress["responses_collected"], progress["responses_needed"])
                bar.set_postfix(state=progress["state"],
                                datapoints=f"{progress['datapoints_done']}/{progress['datapoints_total']}",
                                refresh=False)
                bar.refresh()

            return self._wait(poll_interval=poll_interval, timeout=timeout, stall_timeout=stall_timeout,
                              on_progress=update)

    def get_results(self, timeout: float | None = None, stall_timeout: float | None = DEFAULT_STALL_TIMEOUT,
                    poll_interval: float = DEFAULT_POLL_INTERVAL) -> Results:
        """Wait until the job is completed, then return its results.

        It does not wait forever for a job that cannot complete: when nothing
        progressed for ``stall_timeout`` seconds and the audience has no
        graduated and no qualifying labelers (or the job is paused), it raises
        :class:`~crowdcanvas.JobStalled`.

        Args:
            timeout: give up after this many seconds (:class:`~crowdcanvas.JobTimeout`);
                ``None`` waits as long as the job can progress.
            stall_timeout: seconds without progress before a job nobody can
                work on counts as stalled; ``None`` disables the check.
            poll_interval: seconds between polls.

        Returns:
            :class:`~crowdcanvas.Results`, a dict with ``info`` and ``results``
            (one entry per datapoint with its responses), plus ``to_pandas()``
            and ``to_json(path)``.

        Raises:
            JobStalled, JobTimeout: see above (both are ``TimeoutError``s).
            JobFailed: the job failed.
        """
        self._wait(poll_interval=poll_interval, timeout=timeout, stall_timeout=stall_timeout)
        return Results(self._http.get(f"jobs/{path_id(self.id)}/results/"))


class JobManager:
    """``client.job``: create job definitions; find definitions and jobs."""

    def __init__(self, http: Http) -> None:
        self._http = http

    def _common(self, name: Any, instruction: Any, datapoints: Any, responses_per_datapoint: Any,
                contexts: Any) -> dict[str, Any]:
        values = check_datapoint_count(datapoints)
        return {
            "name": check_text(name, "name", max_length=_limits.MAX_NAME_LENGTH, required=True),
            "instruction": check_text(instruction, "instruction", max_length=_limits.MAX_INSTRUCTION_LENGTH,
                                      required=True),
            "responses_per_datapoint": check_int(responses_per_datapoint, "responses_per_datapoint", low=1,
                                                 high=_limits.MAX_RESPONSES_PER_DATAPOINT),
            "contexts": check_contexts(contexts, len(values)),
            "datapoints": values,
        }

    def _create(self, body: dict[str, Any]) -> JobDefinition:
        return JobDefinition(self._http, self._http.post("job-definitions/", json=body))

    def create_draw_job_definition(self, name: str, instruction: str, datapoints: list,
                                   responses_per_datapoint: int = 10, contexts: list | None = None) -> JobDefinition:
        """Create a draw job definition: labelers paint over the regions of
        each image that match the instruction.

        Args:
            name: a name to find it by.
            instruction: what to color in, e.g. "Color in all the blue books".
            datapoints: the images: URLs or local file paths (uploaded first).
            responses_per_datapoint: responses to collect per image (1..1000).
            contexts: optional text per image, shown with it (same length as datapoints).

        Returns:
            The new :class:`JobDefinition`; ``preview()`` it, then
            ``audience.assign_job(definition)``.

        Raises:
            ValueError: bad input (checked before any request), or the server's 400.
        """
        body = self._common(name, instruction, datapoints, responses_per_datapoint, contexts)
        items = [plan_image(value, f"datapoints[{index}]") for index, value in enumerate(body["datapoints"])]
        body["datapoints"] = [self._http.wire_item(item) for item in items]
        return self._create({"kind": "draw", **body})

    def create_compare_job_definition(self, name: str, instruction: str, datapoints: list,
                                      responses_per_datapoint: int = 10, contexts: list | None = None,
                                      confidence_threshold: float | None = None) -> JobDefinition:
        """Create a compare job definition: labelers pick the better of two
        items for the instruction.

        Args:
            name: a name to find it by.
            instruction: the question, e.g. "Which image follows the prompt more accurately?".
            datapoints: pairs of items, each a URL, a local file path (uploaded
                first) or a text string.
            responses_per_datapoint: votes to collect per pair (1..1000).
            contexts: optional text per pair, shown with it (e.g. the prompt).
            confidence_threshold: optionally stop collecting votes on a pair once
                its leader is this certain, in (0, 1).

        Returns:
            The new :class:`JobDefinition`.

        Raises:
            ValueError: bad input (checked before any request), or the server's 400.
        """
        body = self._common(name, instruction, datapoints, responses_per_datapoint, contexts)
        if confidence_threshold is not None:
            body["confidence_threshold"] = check_ratio(confidence_threshold, "confidence_threshold",
                                                       low_open=True, high_open=True)
        pairs = [plan_pair(value, f"datapoints[{index}]") for index, value in enumerate(body["datapoints"])]
        body["datapoints"] = [[self._http.wire_item(first), self._http.wire_item(second)] for first, second in pairs]
        return self._create({"kind": "compare", **body})

    def get_job_definition_by_id(self, job_definition_id: str) -> JobDefinition:
        """Your job definition with this id (``NotFoundError`` otherwise)."""
        return JobDefinition(self._http, self._http.get(f"job-definitions/{path_id(job_definition_id)}/"))

    def find_job_definitions(self, name: str = "", amount: int = 10, page: int = 1) -> list[JobDefinition]:
        """Your job definitions whose name contains ``name`` (case-insensitive), newest first.

        Args:
            name: part of the name; empty finds all.
            amount: definitions per page (1..100).
            page: which page, from 1; past the end gives ``[]``.
        """
        name = check_text(name, "name", max_length=_limits.MAX_NAME_LENGTH, required=False)
        amount, page = check_paging(amount, page)
        data = self._http.get("job-definitions/", params={"name": name, "page": page, "page_size": amount})
        return [JobDefinition(self._http, item) for item in data["results"]]

    def get_job_by_id(self, job_id: str) -> Job:
        """Your job with this id (``NotFoundError`` otherwise)."""
        return Job(self._http, self._http.get(f"jobs/{path_id(job_id)}/"))

    def find_jobs(self, name: str = "", amount: int = 10, page: int = 1, state: str | None = None) -> list[Job]:
        """Your jobs whose definition's name contains ``name``, newest first.

        Args:
            name: part of the definition's name; empty finds all.
            amount: jobs per page (1..100).
            page: which page, from 1; past the end gives ``[]``.
            state: only jobs in this state (``running``, ``paused``, ``completed``, ``failed``).
        """
        name = check_text(name, "name", max_length=_limits.MAX_NAME_LENGTH, required=False)
        amount, page = check_paging(amount, page)
        params: dict[str, Any] = {"name": name, "page": page, "page_size": amount}
        if state is not None:
            if state not in ("running", "paused", "completed", "failed"):
                raise ValueError("state must be one of running, paused, completed, failed.")
            params["state"] = state
        data = self._http.get("jobs/", params=params)
        return [Job(self._http, item) for item in data["results"]]
