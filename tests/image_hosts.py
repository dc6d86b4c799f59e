"""The image hosts the tests' and seed workflows' URLs name
(``https://assets.rapidata.ai/...``, ``https://assets.example.org/...``),
served on loopback: one HTTPS server answers a generated image for any
image path (``tests.hosted_client.ImageServer``), and the server under test
reaches it through ``ASSET_FETCH_CONNECT_TO``, trusting its throwaway CA
through ``ASSET_FETCH_CA_BUNDLE``, as an operator would route a host.

``with LocalImageHosts(directory) as hosts:`` then ``hosts.env`` for a
server process's environment, or ``hosts.configure(settings)`` in process.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hosted_client import ImageServer, Tls

IMAGE_HOSTS = ("assets.rapidata.ai", "assets.example.org", "img.example.com")


class LocalImageHosts:
    def __init__(self, directory: Path, hosts: tuple[str, ...] = IMAGE_HOSTS) -> None:
        self.hosts = hosts
        self.tls = Tls(directory, image_hosts=hosts)
        self.server = ImageServer(self.tls)
        self.serving = False

    @property
    def requests(self) -> dict[str, int]:
        """Requests served, per path."""
        return self.server.requests

    @property
    def env(self) -> dict[str, str]:
        return {
            "ASSET_FETCH_CONNECT_TO": ",".join(f"{host}:443:127.0.0.1:{self.server.port}" for host in self.hosts),
            "ASSET_FETCH_CA_BUNDLE": str(self.tls.ca_path),
        }

    def configure(self, settings) -> None:
        """Route the hosts in this process (pytest-django's ``settings``)."""
        for name, value in self.env.items():
            setattr(settings, name, value)

    def __enter__(self) -> LocalImageHosts:
        if not self.serving:
            self.server.__enter__()
            self.serving = True
        return self

    def __exit__(self, *exc_info) -> None:
        if self.serving:
            self.server.__exit__(*exc_info)
            self.serving = False


@pytest.fixture
def image_hosts(tmp_path_factory) -> LocalImageHosts:
    with LocalImageHosts(tmp_path_factory.mktemp("image-hosts")) as hosts:
        yield hosts
