"""Job definitions (what to ask) and jobs (a definition running on an audience)."""

from __future__ import annotations

import logging
import os
import sys
import uuid
import webbrowser
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import _limits, _live
from ._resource import Resource
from ._validation import (
    check_contexts,
    check_datapoint_count,
    check_int,
    check_paging,
    check_ratio,
    check_text,
    check_url_assets,
    fetch_url_items,
    path_id,
    plan_image,
    plan_pair,
)
from .exceptions import JobFailed, JobStalled, JobTimeout
from .results import Results

if TYPE_CHECKING:
    from ._http import Http

logger = logging.getLogger("crowdcanvas")

DEFAULT_POLL_INTERVAL = 2.0
DEFAULT_STALL_TIMEOUT = 300.0
# Datapoints per request when creating a definition: a few hundred kilobytes
# of URLs, well under the server's request size limit.
BATCH_SIZE = 5000


def _browser_available() -> bool:
    if sys.platform == "darwin" or os.name == "nt":
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


class JobDefinition(Resource):
    """What to ask labelers: kind (``draw`` or ``compare``), instruction,
    datapoints and how many responses per datapoint. Assign it to an
    audience with ``audience.assign_job(definition)`` to run it; the same
    definition can run on several audiences.

    Attributes: ``id``, ``name``, ``kind``, ``instruction``,
    ``responses_per_datapoint``, ``confidence_threshold``,
    ``draw_aggregation``, ``datapoint_count``, ``preview_url``, ``created``.
    """

    collection = "job-definitions"

    def _set(self, data: dict[str, Any]) -> None:
        super()._set(data)
        self.name: str = data.get("name", "")
        self.kind: str = data.get("kind", "")
        self.instruction: str = data.get("instruction", "")
        self.responses_per_datapoint: int | None = data.get("responses_per_datapoint")
        self.confidence_threshold: float | None = data.get("confidence_threshold")
        self.draw_aggregation: str | None = data.get("draw_aggregation")
        self.datapoint_count: int | None = data.get("datapoint_count")
        self.preview_url: str = data.get("preview_url", "")
        self.created: str | None = data.get("created")

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


class Job(Resource):
    """A job definition running on an audience.

    Attributes: ``id``, ``state`` (``running``, ``paused``, ``completed`` or
    ``failed``, as of the last call), ``definition`` and ``audience``
    (``{"id", "name", "kind"}``), ``responses_needed``, ``created``,
    ``completed``.
    """

    collection = "jobs"
    shown = ("name", "state")

    def _set(self, data: dict[str, Any]) -> None:
        super()._set(data)
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

    def get_status(self) -> str:
        """The job's state now: ``running``, ``paused``, ``completed`` or ``failed``."""
        return self.refresh().state

    def pause(self) -> Job:
        """Pause the job: labelers get no new tasks from it (answers to tasks
        they already hold are still taken). Returns the job."""
        self._set(self._http.post(f"jobs/{path_id(self.id)}/pause/"))
        return self

    def resume(self) -> Job:
        """Resume a paused job. Returns the job."""
        self._set(self._http.post(f"jobs/{path_id(self.id)}/resume/"))
        return self

    def get_progress(self) -> dict[str, Any]:
        """How far the job is, as the server reports it::

            {"job_id", "state",
             "datapoints_total", "datapoints_done",
             "responses_collected", "responses_needed",
             "completion_percentage",            # 0..100
             "responses_per_minute",             # the recent pace
             "eta_seconds",                      # time left at that pace, or None
             "audience": {"id", "name", "kind", "graduated", "qualifying", "dropped"},
             "last_response_at", "created", "completed"}

        ``responses_needed`` counts what open datapoints still ask for and what
        closed ones got, so it equals ``responses_collected`` when the job is done.
        """
        progress = self._http.get(f"jobs/{path_id(self.id)}/progress/")
        self.state = progress.get("state", self.state)
        return progress

    def _wait(
        self,
        *,
        poll_interval: float,
        timeout: float | None,
        stall_timeout: float | None,
        on_progress: Callable[[dict], None] | None = None,
        live: bool = False,
    ) -> dict[str, Any]:
        """Follow the job until it is completed; the last progress. With
        ``live``, over the job's websocket while it can, then by polling."""
        poll_interval = check_ratio(poll_interval, "poll_interval", low=0.0, high=3600.0, low_open=True)
        if timeout is not None:
            timeout = check_ratio(timeout, "timeout", low=0.0, high=float(10**9))
        if stall_timeout is not None:
            stall_timeout = check_ratio(stall_timeout, "stall_timeout", low=0.0, high=float(10**9))
        watch = _Watch(self, clock=self._http.clock, timeout=timeout, stall_timeout=stall_timeout)

        def seen(progress: dict[str, Any]) -> bool:
            self.state = progress.get("state", self.state)
            if on_progress is not None:
                on_progress(progress)
            return watch.done(progress)

        if live and self._http.open_live is not None:
            final = self._follow_live(watch, seen, poll_interval)
            if final is not None:
                return final
        while True:
            progress = self.get_progress()
            if seen(progress):
                return progress
            self._http.sleep(watch.wait(poll_interval))

    def _follow_live(self, watch: _Watch, seen: Callable[[dict], bool], poll_interval: float) -> dict[str, Any] | None:
        """Follow the job's websocket: the final progress, or ``None`` when the
        websocket cannot be opened, drops or goes quiet (the caller polls then).

        The server sends a progress snapshot on connect and whenever the job
        changes; when nothing came for ``poll_interval`` seconds this asks for
        one (``{"type": "refresh"}``), so stalls and time-outs are checked
        against fresh figures, and a socket that stays silent counts as gone.
        """
        try:
            socket = self._http.open_live(self.id)
        except _live.LiveUnavailable as exc:
            logger.info("following job %s by polling: %s", self.id, exc)
            return None
        clock = self._http.clock
        last_message = clock()
        quiet_limit = max(3 * poll_interval, LIVE_QUIET_LIMIT)
        try:
            while True:
                try:
                    message = socket.receive(timeout=watch.wait(poll_interval))
                except TimeoutError:
                    if clock() - last_message > quiet_limit:
                        logger.info("job %s: the websocket went quiet; polling instead", self.id)
                        return None
                    watch.check_timeout()
                    socket.send({"type": "refresh"})
                    continue
                last_message = clock()
                if message.get("type") == "progress" and "responses_collected" in message:
                    progress = {key: value for key, value in message.items() if key != "type"}
                    if seen(progress):
                        return progress
        except _live.LiveUnavailable as exc:
            logger.info("job %s: %s; polling instead", self.id, exc)
            return None
        finally:
            socket.close()

    def display_progress_bar(
        self,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float | None = None,
        stall_timeout: float | None = DEFAULT_STALL_TIMEOUT,
        live: bool = True,
    ) -> dict[str, Any]:
        """Show a progress bar of responses collected out of needed until the
        job is completed, with the pace (responses per second) and the time
        left as the server estimates them.

        It follows the job's websocket when it can (needs the ``websockets``
        package: ``pip install "crowdcanvas[live]"``), so the bar moves as
        responses arrive; without it, or when the websocket is refused or
        drops, it polls the server every ``poll_interval`` seconds.

        Args:
            poll_interval: seconds between polls (and, live, the longest
                silence before asking the server for fresh figures).
            timeout: give up after this many seconds (``JobTimeout``); ``None`` waits.
            stall_timeout: raise ``JobStalled`` when nothing progressed for this
                many seconds and nobody can work on the job (see ``get_results``);
                ``None`` never does.
            live: ``False`` to poll only.

        Returns:
            The final progress (see ``get_progress``).
        """
        from tqdm.auto import tqdm

        with tqdm(
            total=self.responses_needed or 0, desc=self.name or self.id, unit="response", dynamic_ncols=True
        ) as bar:

            def update(progress: dict) -> None:
                bar.total = progress["responses_needed"]
                bar.n = min(progress["responses_collected"], progress["responses_needed"])
                bar.set_postfix(_postfix(progress), refresh=False)
                bar.refresh()

            return self._wait(
                poll_interval=poll_interval, timeout=timeout, stall_timeout=stall_timeout, on_progress=update, live=live
            )

    def get_results(
        self,
        timeout: float | None = None,
        stall_timeout: float | None = DEFAULT_STALL_TIMEOUT,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
    ) -> Results:
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
            :class:`~crowdcanvas.Results`: a dict with ``info``, ``results``
            (one entry per datapoint: its aggregates and, in
            ``detailedResults``, every response) and ``summary``, plus
            ``to_pandas()`` and ``to_json(path)``.

        Raises:
            JobStalled, JobTimeout: see above (both are ``TimeoutError``s).
            JobFailed: the job failed.
        """
        self._wait(poll_interval=poll_interval, timeout=timeout, stall_timeout=stall_timeout)
        return self.get_results_now()

    def get_results_now(self) -> Results:
        """The job's results as they are now, without waiting (aggregates of
        datapoints still collecting may be ``None``)."""
        return Results(self._http.get(f"jobs/{path_id(self.id)}/results/"))

    def download_results(self, path: str | os.PathLike = ".", format: str = "json") -> Path:
        """Download the job's results as a file, as they are now.

        Args:
            path: the file to write, or a directory (an existing one, or a
                path ending in ``/``) to write the server's file name into
                (``<job id>-results.json``, ``-results.csv``, ``-coco.json``).
            format: ``"json"`` (the results document), ``"csv"`` (compare
                jobs: one row per datapoint) or ``"coco"`` (draw jobs: a COCO
                dataset of the consensus masks and boxes).

        Returns:
            The path written.

        Raises:
            ValueError: an unknown format, or one that does not fit the job's
                kind (the server's 400).
        """
        if format not in EXPORT_FORMATS:
            raise ValueError(f"format must be one of {', '.join(EXPORT_FORMATS)}, got {format!r}.")
        target = Path(path)
        if str(path).endswith(("/", os.sep)):  # meant as a directory: make it
            target.mkdir(parents=True, exist_ok=True)
        target, _ = self._http.download(f"jobs/{path_id(self.id)}/results/download/", {"format": format}, target)
        return target


EXPORT_FORMATS = ("json", "csv", "coco")
LIVE_QUIET_LIMIT = 30.0


def _postfix(progress: dict[str, Any]) -> dict[str, str]:
    """The bar's postfix: state, datapoints done, the pace and the time left."""
    from tqdm import tqdm

    postfix = {
        "state": progress["state"],
        "datapoints": f"{progress['datapoints_done']}/{progress['datapoints_total']}",
    }
    per_minute = progress.get("responses_per_minute")
    if per_minute is not None:
        postfix["rate"] = f"{per_minute / 60:.2f} responses/s"
    eta = progress.get("eta_seconds")
    if eta is not None:
        postfix["left"] = tqdm.format_interval(eta)
    return postfix


class _Watch:
    """Decides, from successive progress snapshots, when waiting ends: the
    job completed (done), failed, stalled or ran out of time (raised)."""

    def __init__(
        self, job: Job, *, clock: Callable[[], float], timeout: float | None, stall_timeout: float | None
    ) -> None:
        self.job = job
        self.clock = clock
        self.timeout = timeout
        self.stall_timeout = stall_timeout
        self.started = self.last_change = clock()
        self.marker: tuple | None = None
        self.last: dict[str, Any] | None = None

    def done(self, progress: dict[str, Any]) -> bool:
        """``True`` once completed; raises ``JobFailed``, ``JobStalled``, ``JobTimeout``."""
        self.last = progress
        state = progress["state"]
        if state == "completed":
            return True
        if state == "failed":
            raise JobFailed(f"job {self.job.id} failed; it will produce no results.", progress)
        now = self.clock()
        marker = (progress["responses_collected"], progress["datapoints_done"], state)
        if marker != self.marker:
            self.marker, self.last_change = marker, now
        members = progress.get("audience") or {}
        nobody = not members.get("graduated") and not members.get("qualifying")
        if (
            self.stall_timeout is not None
            and now - self.last_change >= self.stall_timeout
            and (nobody or state == "paused")
        ):
            reason = (
                "the job is paused"
                if state == "paused"
                else f"its audience {members.get('name', '')!r} ({members.get('id')}) has no graduated "
                "and no qualifying labelers"
            )
            raise JobStalled(
                f"job {self.job.id} cannot complete: {reason}, and nothing progressed for "
                f"{now - self.last_change:.0f}s ({progress['responses_collected']}/{progress['responses_needed']} "
                "responses).",
                progress,
            )
        self.check_timeout()
        return False

    def check_timeout(self) -> None:
        if self.timeout is not None and self.clock() - self.started >= self.timeout:
            progress = self.last or {}
            raise JobTimeout(
                f"job {self.job.id} did not complete within {self.timeout:g}s "
                f"({progress.get('responses_collected', '?')}/{progress.get('responses_needed', '?')} responses).",
                progress,
            )

    def wait(self, poll_interval: float) -> float:
        """How long to wait for the next snapshot: ``poll_interval``, or less
        when the time-out comes sooner."""
        if self.timeout is None:
            return poll_interval
        return min(poll_interval, max(0.0, self.started + self.timeout - self.clock()))


class JobManager:
    """``client.job``: create job definitions; find definitions and jobs."""

    def __init__(self, http: Http) -> None:
        self._http = http

    def _common(
        self, name: Any, instruction: Any, datapoints: Any, responses_per_datapoint: Any, contexts: Any
    ) -> dict[str, Any]:
        values = check_datapoint_count(datapoints)
        return {
            "name": check_text(name, "name", max_length=_limits.MAX_NAME_LENGTH, required=True),
            "instruction": check_text(
                instruction, "instruction", max_length=_limits.MAX_INSTRUCTION_LENGTH, required=True
            ),
            "responses_per_datapoint": check_int(
                responses_per_datapoint, "responses_per_datapoint", low=1, high=_limits.MAX_RESPONSES_PER_DATAPOINT
            ),
            "contexts": check_contexts(contexts, len(values)),
            "datapoints": values,
        }

    def _create(self, body: dict[str, Any], *, batch_size: int, progress: bool) -> JobDefinition:
        """Create the definition: its first ``batch_size`` datapoints with it,
        the rest in batches after it, each request sent again if its reply is
        lost (the definition by a client key, each batch by its positions:
        the server stores neither twice). A progress bar when there is more
        than one batch and ``progress``."""
        batch_size = check_int(batch_size, "batch_size", low=1, high=_limits.MAX_DATAPOINTS)
        datapoints, contexts = body["datapoints"], body.get("contexts")
        first = {**body, "datapoints": datapoints[:batch_size], "client_key": uuid.uuid4().hex}
        if contexts is not None:
            first["contexts"] = contexts[:batch_size]
        batched = len(datapoints) > batch_size
        from tqdm.auto import tqdm

        with tqdm(
            total=len(datapoints), desc=body["name"][:40], unit="datapoint", disable=not (progress and batched)
        ) as bar:
            data = self._http.post("job-definitions/", json=first, idempotent=True)
            bar.update(min(batch_size, len(datapoints)))
            for start in range(batch_size, len(datapoints), batch_size):
                batch: dict[str, Any] = {"start": start, "datapoints": datapoints[start : start + batch_size]}
                if contexts is not None:
                    batch["contexts"] = contexts[start : start + batch_size]
                self._http.post(f"job-definitions/{path_id(data['id'])}/datapoints/", json=batch, idempotent=True)
                bar.update(len(batch["datapoints"]))
        if batched:
            data = self._http.get(f"job-definitions/{path_id(data['id'])}/")
        return JobDefinition(self._http, data)

    def create_draw_job_definition(
        self,
        name: str,
        instruction: str,
        datapoints: list,
        responses_per_datapoint: int = 10,
        contexts: list | None = None,
        draw_aggregation: str | None = None,
        url_assets: str = "fetch",
        batch_size: int = BATCH_SIZE,
        progress: bool = True,
    ) -> JobDefinition:
        """Create a draw job definition: labelers paint over the regions of
        each image that match the instruction.

        Args:
            name: a name to find it by.
            instruction: what to color in, e.g. "Color in all the blue books".
            datapoints: the images: URLs or local file paths (uploaded first).
            responses_per_datapoint: responses to collect per image (1..1000).
            contexts: optional text per image, shown with it (same length as datapoints).
            draw_aggregation: ``"majority"`` (default: cells inked by at least half
                of the responses' weight) or ``"em"`` (expectation-maximization
                over the responses' masks).
            url_assets: ``"fetch"`` (default): the server fetches each URL
                and stores the image, so labelers see it even if the URL
                changes or goes; a URL it refuses or cannot fetch (a private
                address, not an image, too big) is a ``ValueError`` naming
                it, and nothing is created. ``"link"``: URLs are kept as
                links that labelers' browsers load.
            batch_size: datapoints sent per request; more are sent in batches,
                each sent again if its reply is lost (never stored twice).
            progress: show a progress bar while batches are sent.

        Returns:
            The new :class:`JobDefinition`; ``preview()`` it, then
            ``audience.assign_job(definition)``.

        Raises:
            ValueError: bad input (checked before any request), or the server's 400.
        """
        if draw_aggregation not in (None, "majority", "em"):
            raise ValueError(f"draw_aggregation must be 'majority' or 'em', got {draw_aggregation!r}")
        url_assets = check_url_assets(url_assets)
        body = self._common(name, instruction, datapoints, responses_per_datapoint, contexts)
        items = [plan_image(value, f"datapoints[{index}]") for index, value in enumerate(body["datapoints"])]
        fetched = fetch_url_items(self._http, items, url_assets)
        body["datapoints"] = [self._http.wire_item(item, fetched) for item in items]
        if draw_aggregation is not None:
            body["draw_aggregation"] = draw_aggregation
        return self._create({"kind": "draw", **body}, batch_size=batch_size, progress=progress)

    def create_compare_job_definition(
        self,
        name: str,
        instruction: str,
        datapoints: list,
        responses_per_datapoint: int = 10,
        contexts: list | None = None,
        confidence_threshold: float | None = None,
        url_assets: str = "fetch",
        batch_size: int = BATCH_SIZE,
        progress: bool = True,
    ) -> JobDefinition:
        """Create a compare job definition: labelers pick the better of two
        items for the instruction.

        Args:
            name: a name to find it by.
            instruction: the question, e.g. "Which image follows the prompt more accurately?".
            datapoints: pairs of items, each a URL (``http(s)://``), a local
                image as a ``pathlib.Path`` or ``crowdcanvas.File`` (uploaded
                first), or text (a plain string, or ``crowdcanvas.Text``). A
                plain string is never taken for a file; one that looks like
                an image path (``"cat.png"``) is a ``ValueError``: say
                ``File(...)`` or ``Text(...)``.
            responses_per_datapoint: votes to collect per pair (1..1000).
            contexts: optional text per pair, shown with it (e.g. the prompt).
            confidence_threshold: optionally stop collecting votes on a pair once
                its leader is this certain, in (0, 1). Only votes of labelers
                with graded answers (custom and curated audiences) count toward
                it; in the global audience every pair takes all its votes.
            url_assets: ``"fetch"`` (default): the server fetches each URL
                and stores the image, so labelers see it even if the URL
                changes or goes; a URL it refuses or cannot fetch (a private
                address, not an image, too big) is a ``ValueError`` naming
                it, and nothing is created. ``"link"``: URLs are kept as
                links that labelers' browsers load.
            batch_size: pairs sent per request; more are sent in batches,
                each sent again if its reply is lost (never stored twice).
            progress: show a progress bar while batches are sent.

        Returns:
            The new :class:`JobDefinition`.

        Raises:
            ValueError: bad input (checked before any request), or the server's 400.
        """
        url_assets = check_url_assets(url_assets)
        body = self._common(name, instruction, datapoints, responses_per_datapoint, contexts)
        if confidence_threshold is not None:
            body["confidence_threshold"] = check_ratio(
                confidence_threshold, "confidence_threshold", low_open=True, high_open=True
            )
        pairs = [plan_pair(value, f"datapoints[{index}]") for index, value in enumerate(body["datapoints"])]
        fetched = fetch_url_items(self._http, [item for pair in pairs for item in pair], url_assets)
        body["datapoints"] = [
            [self._http.wire_item(first, fetched), self._http.wire_item(second, fetched)] for first, second in pairs
        ]
        return self._create({"kind": "compare", **body}, batch_size=batch_size, progress=progress)

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
