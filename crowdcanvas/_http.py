"""The HTTP session: token auth, JSON, error mapping, retries of reads
and of idempotent writes, and uploads of local files (each file once per client)."""

from __future__ import annotations

import mimetypes
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import httpx

from . import __version__, _limits, _live
from ._validation import Item
from .exceptions import (
    ApiError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ConnectionFailed,
    NotFoundError,
    ServerError,
)

_RETRY_STATUSES = {502, 503, 504}
_GET_ATTEMPTS = 3
# Between asks while the server is still fetching URLs (it waits up to 30 s per ask itself).
FETCH_POLL_SECONDS = 1.0
# URLs per ask, under the server's limit: without a broker the server fetches
# them within the request, which must end within the client's timeout.
FETCH_URLS_PER_REQUEST = 50
FETCH_WAIT_SECONDS = 20.0


class Answer(NamedTuple):
    status_code: int
    body: Any


def _error_class(status: int) -> type[ApiError]:
    if status == 400:
        return BadRequestError
    if status in (401, 403):
        return AuthenticationError
    if status == 404:
        return NotFoundError
    if status == 409:
        return ConflictError
    if status >= 500:
        return ServerError
    return ApiError


def _attachment_name(disposition: str) -> str:
    """The file name of a ``Content-Disposition: attachment; filename="..."``,
    reduced to a plain name (never a path)."""
    match = re.search(r'filename="([^"]+)"', disposition) or re.search(r"filename=([^;\s]+)", disposition)
    name = Path(match[1]).name if match else ""
    return name if name and name not in (".", "..") else "results"


class Http:
    """Requests to ``<base_url>/api/``. Not part of the public API."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = base_url
        # How long the server may wait for URL fetches before answering: well within our timeout.
        self.fetch_wait = min(FETCH_WAIT_SECONDS, timeout / 2)
        self.sleep = sleep
        self.clock = clock
        user_agent = f"crowdcanvas-python/{__version__}"
        self._client = httpx.Client(
            base_url=base_url + "/api/",
            headers={"Authorization": f"Token {token}", "Accept": "application/json", "User-Agent": user_agent},
            timeout=timeout,
            transport=transport,
        )
        self._uploads: dict[tuple, str] = {}
        self._fetched: dict[str, str] = {}
        # Opens a job's websocket (``_live.Socket``); ``None`` when requests do
        # not go over the network (a custom transport), so progress is polled.
        self.open_live: Callable[[str], _live.Socket] | None = None
        if transport is None:
            self.open_live = lambda job_id: _live.connect(
                base_url, job_id, token=token, user_agent=user_agent, open_timeout=min(timeout, _live.OPEN_TIMEOUT)
            )

    def close(self) -> None:
        self._client.close()

    def _send(self, method: str, path: str, *, idempotent: bool = False, **kwargs) -> httpx.Response:
        """One request; a read, or a write the server makes idempotent
        (``idempotent``), is sent again after a dropped connection or a 502-504."""
        attempts = _GET_ATTEMPTS if method == "GET" or idempotent else 1
        for attempt in range(1, attempts + 1):
            try:
                response = self._client.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                if attempt < attempts:
                    self.sleep(0.5 * attempt)
                    continue
                raise ConnectionFailed(f"cannot reach the CrowdCanvas server at {self.base_url}: {exc}") from exc
            if response.status_code in _RETRY_STATUSES and attempt < attempts:
                self.sleep(0.5 * attempt)
                continue
            return response
        raise AssertionError("unreachable")

    def request_with_status(self, method: str, path: str, *, idempotent: bool = False, **kwargs) -> Answer:
        """A successful response's status and body (errors raised as by ``request``)."""
        response = self._send(method, path, idempotent=idempotent, **kwargs)
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text
        if response.is_error:
            raise _error_class(response.status_code)(
                response.status_code, body, method=method, url=str(response.request.url)
            )
        return Answer(response.status_code, body)

    def request(self, method: str, path: str, *, idempotent: bool = False, **kwargs) -> Any:
        return self.request_with_status(method, path, idempotent=idempotent, **kwargs).body

    def get(self, path: str, params: dict | None = None) -> Any:
        return self.request("GET", path, params=params)

    def download(self, path: str, params: dict | None, target: Path) -> tuple[Path, str | None]:
        """Stream a GET response's body to ``target`` (a file, or a directory
        to put the server's file name in); the file written and its content type."""
        for attempt in range(1, _GET_ATTEMPTS + 1):
            try:
                with self._client.stream("GET", path, params=params, headers={"Accept": "*/*"}) as response:
                    if response.status_code in _RETRY_STATUSES and attempt < _GET_ATTEMPTS:
                        self.sleep(0.5 * attempt)
                        continue
                    if response.is_error:
                        response.read()
                        try:
                            body: Any = response.json()
                        except ValueError:
                            body = response.text
                        raise _error_class(response.status_code)(
                            response.status_code, body, method="GET", url=str(response.request.url)
                        )
                    if target.is_dir():
                        target = target / _attachment_name(response.headers.get("Content-Disposition", ""))
                    partial = target.with_name(target.name + ".part")
                    with partial.open("wb") as handle:
                        for chunk in response.iter_bytes():
                            handle.write(chunk)
                    partial.replace(target)
                    return target, response.headers.get("Content-Type")
            except httpx.TransportError as exc:
                if attempt < _GET_ATTEMPTS:
                    self.sleep(0.5 * attempt)
                    continue
                raise ConnectionFailed(f"cannot reach the CrowdCanvas server at {self.base_url}: {exc}") from exc
        raise AssertionError("unreachable")

    def post(self, path: str, json: Any = None, *, idempotent: bool = False) -> Any:
        """POST ``json``; ``idempotent``: the server takes the same request
        twice as once (a client key, a batch's positions), so it is sent
        again when its reply is lost."""
        return self.request("POST", path, json=json, idempotent=idempotent)

    # --- uploads ---------------------------------------------------------------------------

    def upload(self, path: str) -> str:
        """Upload a local image (once per client and file version); its asset id."""
        file_path = Path(path)
        stat = file_path.stat()
        key = (os.path.realpath(file_path), stat.st_size, stat.st_mtime_ns)
        if key not in self._uploads:
            content_type = mimetypes.guess_type(file_path.name)[0] or "application/octet-stream"
            with file_path.open("rb") as handle:
                asset = self.request("POST", "assets/", files={"file": (file_path.name, handle, content_type)})
            self._uploads[key] = asset["id"]
        return self._uploads[key]

    def fetch_urls(self, urls: list[str]) -> dict[str, str]:
        """Have the server fetch and store each image URL (once per client
        and URL); their asset ids by URL. A URL the server refuses or cannot
        fetch is a ``BadRequestError`` (a ``ValueError``) naming it."""
        wanted = list(dict.fromkeys(url for url in urls if url not in self._fetched))
        per_request = min(FETCH_URLS_PER_REQUEST, _limits.MAX_FETCH_URLS)
        for start in range(0, len(wanted), per_request):
            chunk = wanted[start : start + per_request]
            while True:
                answer = self.request_with_status(
                    "POST", "assets/fetch/", json={"urls": chunk, "wait": self.fetch_wait}
                )
                if answer.status_code != 202:
                    break
                # Still fetching: asking again with the same URLs finds the same fetches.
                self.sleep(FETCH_POLL_SECONDS)
            for fetch in answer.body["fetches"]:
                self._fetched[fetch["url"]] = fetch["asset_id"]
        return {url: self._fetched[url] for url in urls}

    def wire_item(self, item: Item, fetched: dict[str, str] | None = None) -> str | dict:
        """An item as the API takes it, uploading a local file first; a URL
        the server fetched (in ``fetched``) as its asset."""
        if item.kind == "url" and fetched is not None:
            return {"asset_id": fetched[item.value]}
        if item.kind in ("url", "text"):
            return item.value
        if item.kind == "asset":
            return {"asset_id": item.value}
        return {"asset_id": self.upload(item.value)}
