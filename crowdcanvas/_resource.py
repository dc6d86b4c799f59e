"""What the client's server objects share: identity by public id, reloading."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._validation import path_id

if TYPE_CHECKING:
    from ._http import Http


class Resource:
    """An object of the server, addressed by its public ``id`` under
    ``collection`` (``audiences``, ``job-definitions``, ``jobs``).
    Subclasses read their attributes from the server's JSON in ``_set``."""

    collection = ""
    shown = ("name", "kind")  # attributes in the repr, after the id

    def __init__(self, http: Http, data: dict[str, Any]) -> None:
        self._http = http
        self._set(data)

    def _set(self, data: dict[str, Any]) -> None:
        self._data = data
        self.id: str = data["id"]

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in ("id", *self.shown))
        return f"{type(self).__name__}({fields})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.id == self.id

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.id))

    def refresh(self):
        """Reload the object from the server; returns it."""
        self._set(self._http.get(f"{self.collection}/{path_id(self.id)}/"))
        return self
