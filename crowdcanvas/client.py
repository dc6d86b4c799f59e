"""The entry point: :class:`CrowdCanvasClient`."""

from __future__ import annotations

import httpx

from ._http import Http
from .audience import AudienceManager
from .config import resolve_config
from .job import JobManager


class CrowdCanvasClient:
    """A connection to a CrowdCanvas server, as one requester.

    >>> from crowdcanvas import CrowdCanvasClient
    >>> client = CrowdCanvasClient()            # CROWDCANVAS_URL / CROWDCANVAS_TOKEN
    >>> audience = client.audience.get_audience_by_id("global")
    >>> definition = client.job.create_draw_job_definition(
    ...     name="Blue Books", instruction="Color in all the blue books", datapoints=["books.png"])
    >>> job = audience.assign_job(definition)
    >>> results = job.get_results()

    Args:
        base_url: the server, e.g. ``"https://labels.example.org"``.
        token: your API token (``python manage.py create_requester NAME``).
            Either, when not given, comes from the environment
            (``CROWDCANVAS_URL``, ``CROWDCANVAS_TOKEN``), then from
            ``~/.config/crowdcanvas/credentials.json``
            (``{"base_url": ..., "token": ...}``); ``ValueError`` if neither has it.
        timeout: seconds to wait for each HTTP request.
        transport: an ``httpx`` transport to send requests through (tests).

    Attributes:
        audience: :class:`~crowdcanvas.audience.AudienceManager`: find, get
            and create audiences.
        job: :class:`~crowdcanvas.job.JobManager`: create job definitions,
            find definitions and jobs.
    """

    def __init__(
        self,
        base_url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        config = resolve_config(base_url, token)
        self.base_url = config.base_url
        self._http = Http(config.base_url, config.token, timeout=timeout, transport=transport)
        self.audience = AudienceManager(self._http)
        self.job = JobManager(self._http)

    def __repr__(self) -> str:
        return f"CrowdCanvasClient(base_url={self.base_url!r})"

    def close(self) -> None:
        """Close the HTTP connections (also done by ``with CrowdCanvasClient() as client:``)."""
        self._http.close()

    def __enter__(self) -> CrowdCanvasClient:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
