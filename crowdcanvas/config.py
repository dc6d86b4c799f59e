"""Where the client finds its server and token.

Each of ``base_url`` and ``token`` comes from, in order:

1. the argument given to :class:`~crowdcanvas.CrowdCanvasClient`;
2. the environment: ``CROWDCANVAS_URL``, ``CROWDCANVAS_TOKEN``;
3. the credentials file ``~/.config/crowdcanvas/credentials.json``
   (``$XDG_CONFIG_HOME/crowdcanvas/credentials.json`` when that is set):
   ``{"base_url": "https://labels.example.org", "token": "<key>"}``.

A value found nowhere is a ``ValueError`` saying where to put it. A requester's
token comes from ``python manage.py create_requester NAME`` on the server.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

URL_ENV = "CROWDCANVAS_URL"
TOKEN_ENV = "CROWDCANVAS_TOKEN"


@dataclass(frozen=True)
class Config:
    base_url: str
    token: str

    def __repr__(self) -> str:  # never print the token
        return f"Config(base_url={self.base_url!r}, token='***')"


def credentials_path() -> Path:
    """The credentials file the client reads when neither argument nor environment gives a value."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "crowdcanvas" / "credentials.json"


def _read_credentials(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ValueError(f"cannot read the CrowdCanvas credentials file {path}: {exc}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"the CrowdCanvas credentials file {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f'the CrowdCanvas credentials file {path} must hold {{"base_url": ..., "token": ...}}.')
    for key in ("base_url", "token"):
        if key in data and not isinstance(data[key], str):
            raise ValueError(f"{key} in the CrowdCanvas credentials file {path} must be a string.")
    return data


def normalize_base_url(url: str) -> str:
    """``https://host[:port][/prefix]`` without a trailing slash (or ``/api``)."""
    if not isinstance(url, str):
        raise ValueError(f"base_url must be a string, got {type(url).__name__}.")
    url = url.strip().rstrip("/")
    if url.endswith("/api"):
        url = url[: -len("/api")]
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"base_url must be an http(s) URL such as https://labels.example.org, got {url!r}.")
    return url


def resolve_config(base_url: str | None = None, token: str | None = None) -> Config:
    """The server URL and token to use (see the module's docstring for the order)."""
    path = credentials_path()
    file_values: dict | None = None

    def from_file(key: str) -> str | None:
        nonlocal file_values
        if file_values is None:
            file_values = _read_credentials(path)
        return file_values.get(key) or None

    base_url = base_url or os.environ.get(URL_ENV) or from_file("base_url")
    token = token or os.environ.get(TOKEN_ENV) or from_file("token")
    where = f'or write {{"base_url": ..., "token": ...}} to {path}'
    if not base_url:
        raise ValueError(f"No CrowdCanvas server URL: pass base_url=..., set {URL_ENV}, {where}.")
    if not token:
        raise ValueError(
            f"No CrowdCanvas API token: pass token=..., set {TOKEN_ENV}, {where}. "
            "The server's `python manage.py create_requester NAME` prints a token."
        )
    if not isinstance(token, str) or not token.strip() or any(ch.isspace() for ch in token.strip()):
        raise ValueError("token must be the API token string printed by `manage.py create_requester`.")
    return Config(base_url=normalize_base_url(base_url), token=token.strip())
