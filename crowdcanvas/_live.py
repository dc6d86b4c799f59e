"""Following a job live over its websocket, ``/ws/jobs/<job id>/``.

Optional: it needs the ``websockets`` package (``pip install
"crowdcanvas[live]"``). Whatever goes wrong here (the package is missing,
the server or a proxy refuses the upgrade, the connection drops) is a
:class:`LiveUnavailable`, and the caller polls the API instead.
"""

from __future__ import annotations

import json
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

OPEN_TIMEOUT = 10.0


class LiveUnavailable(Exception):
    """The websocket cannot be opened, or it closed."""


class Socket(Protocol):
    def receive(self, timeout: float) -> dict[str, Any]:
        """The next message; ``TimeoutError`` when none came within ``timeout``
        seconds, ``LiveUnavailable`` when the connection closed."""

    def send(self, message: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


def websocket_url(base_url: str, job_id: str) -> str:
    """``ws(s)://host[:port][/prefix]/ws/jobs/<job id>/`` for an http(s) base URL."""
    scheme = "wss" if base_url.startswith("https:") else "ws"
    return f"{scheme}:{base_url.split(':', 1)[1]}/ws/jobs/{quote(job_id, safe='')}/"


def origin(base_url: str) -> str:
    """The ``Origin`` a browser on the server's pages would send: scheme and host."""
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}"


class _WebsocketsSocket:
    def __init__(self, connection) -> None:
        self._connection = connection

    def receive(self, timeout: float) -> dict[str, Any]:
        from websockets.exceptions import WebSocketException

        try:
            text = self._connection.recv(timeout=timeout)
        except TimeoutError:
            raise
        except (WebSocketException, OSError, RuntimeError) as exc:
            raise LiveUnavailable(f"the websocket closed: {exc}") from exc
        try:
            message = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise LiveUnavailable(f"the websocket sent something that is not JSON: {exc}") from exc
        if not isinstance(message, dict):
            raise LiveUnavailable("the websocket sent something that is not a JSON object")
        return message

    def send(self, message: dict[str, Any]) -> None:
        from websockets.exceptions import WebSocketException

        try:
            self._connection.send(json.dumps(message))
        except (WebSocketException, OSError, RuntimeError) as exc:
            raise LiveUnavailable(f"the websocket closed: {exc}") from exc

    def close(self) -> None:
        try:
            self._connection.close()
        except Exception:  # noqa: BLE001 - closing a broken connection must not mask the caller's outcome
            pass


def connect(base_url: str, job_id: str, *, token: str, user_agent: str, open_timeout: float = OPEN_TIMEOUT) -> Socket:
    """Open the job's websocket, authenticated by the API token; the server
    checks the ``Origin`` against its allowed hosts."""
    try:
        from websockets.exceptions import WebSocketException
        from websockets.sync.client import connect as ws_connect
    except ImportError as exc:
        raise LiveUnavailable('live progress needs websockets: pip install "crowdcanvas[live]"') from exc
    try:
        connection = ws_connect(
            websocket_url(base_url, job_id),
            origin=origin(base_url),
            additional_headers={"Authorization": f"Token {token}"},
            user_agent_header=user_agent,
            open_timeout=open_timeout,
        )
    except (WebSocketException, OSError, TimeoutError) as exc:
        raise LiveUnavailable(f"cannot open the job's websocket: {exc}") from exc
    # Entered as a context manager would be (closed by ``Socket.close``): what
    # websockets >= 17.1 asks of a connection used directly, a no-op before.
    return _WebsocketsSocket(connection.__enter__())
