"""Fetching images from URLs on the server (``assets.url_fetch``): only public
addresses unless the operator routes a host, every redirect checked, size
and content checked, stored once."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ImproperlyConfigured

from assets import url_fetch
from jobs.models import Asset
from tests.conftest import image_bytes


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "::1",
        "fe80::1",
        "fd00::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "224.0.0.1",
    ],
)
def test_private_loopback_link_local_and_metadata_addresses_are_not_public(address):
    assert not url_fetch.address_is_public(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_global_addresses_are_public(address):
    assert url_fetch.address_is_public(address)


def test_connect_to_is_parsed_as_curl_has_it():
    assert url_fetch.parse_connect_to("a.example:443:127.0.0.1:8443, b.example:80:[::1]:81") == {
        ("a.example", 443): ("127.0.0.1", 8443),
        ("b.example", 80): ("::1", 81),
    }
    with pytest.raises(ImproperlyConfigured):
        url_fetch.parse_connect_to("a.example:443:127.0.0.1")


class _Server:
    """Plain HTTP on loopback: /img.png an image, /text a text, /big a large
    image, /redirect-* redirects."""

    def __init__(self):
        self.hits: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                owner.hits.append(self.path)
                if self.path.startswith("/redirect-local"):
                    self.send_response(302)
                    self.send_header("Location", f"http://127.0.0.1:{owner.port}/img.png")
                    self.end_headers()
                    return
                if self.path.startswith("/redirect-loop"):
                    self.send_response(302)
                    self.send_header("Location", "/redirect-loop")
                    self.end_headers()
                    return
                if self.path.startswith("/redirect-ok"):
                    self.send_response(301)
                    self.send_header("Location", "/img.png")
                    self.end_headers()
                    return
                body, kind = {
                    "/img.png": (image_bytes(), "image/png"),
                    "/big.png": (image_bytes(900, 900, "BMP"), "image/png"),
                    "/text": (b"<html>not an image</html>", "text/html"),
                }.get(self.path, (None, None))
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def images(settings):
    server = _Server()
    settings.ASSET_FETCH_CONNECT_TO = f"images.test:80:127.0.0.1:{server.port}"
    settings.ASSET_FETCH_TIMEOUT = 5
    yield server
    server.close()


def test_a_loopback_host_is_refused_before_any_connection(images):
    with pytest.raises(url_fetch.FetchError, match="not a public address") as caught:
        url_fetch.fetch_bytes(f"http://127.0.0.1:{images.port}/img.png")
    assert caught.value.stage == "resolve"
    with pytest.raises(url_fetch.FetchError, match="not a public address"):
        url_fetch.fetch_bytes(f"http://localhost:{images.port}/img.png")
    assert images.hits == []


def test_a_routed_host_is_trusted_and_its_image_stored_once(images, requester):
    first = url_fetch.asset_create_from_url(owner=requester, url="http://images.test/img.png")
    again = url_fetch.asset_create_from_url(owner=requester, url="http://images.test/redirect-ok")
    assert first.pk == again.pk and first.kind == Asset.Kind.IMAGE and first.name == "img.png"
    assert (first.width, first.height) == (64, 48)
    assert images.hits == ["/img.png", "/redirect-ok", "/img.png"]


def test_a_redirect_to_a_loopback_address_is_refused(images):
    with pytest.raises(url_fetch.FetchError, match="not a public address"):
        url_fetch.fetch_bytes("http://images.test/redirect-local")
    assert images.hits == ["/redirect-local"]


def test_redirects_are_capped(images, settings):
    settings.ASSET_FETCH_MAX_REDIRECTS = 2
    with pytest.raises(url_fetch.FetchError, match="more than 2 redirects"):
        url_fetch.fetch_bytes("http://images.test/redirect-loop")
    assert len(images.hits) == 3


def test_what_is_not_an_image_or_too_large_is_refused_and_nothing_stored(images, requester, settings):
    with pytest.raises(url_fetch.FetchError, match="not an image") as caught:
        url_fetch.asset_create_from_url(owner=requester, url="http://images.test/text")
    assert caught.value.stage == "check"
    settings.ASSET_MAX_BYTES = 10_000
    with pytest.raises(url_fetch.FetchError, match="limit is 10000 bytes"):
        url_fetch.asset_create_from_url(owner=requester, url="http://images.test/big.png")
    with pytest.raises(url_fetch.FetchError, match="HTTP 404") as caught:
        url_fetch.asset_create_from_url(owner=requester, url="http://images.test/missing.png")
    assert caught.value.upstream_status == 404
    assert not Asset.objects.filter(owner=requester).exists()


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://images.test/a.png",
        "http://user:pw@images.test/a.png",
        "http:///nohost",
        "http://images.test/a\x00.png",
        "http://images.test/a b.png",
        "http://images.test/" + "a" * 2100,
    ],
)
def test_other_schemes_credentials_and_hostless_urls_are_refused(url):
    with pytest.raises(url_fetch.FetchError):
        url_fetch.check_url(url)
