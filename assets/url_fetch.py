"""Fetching an image from a URL on the server, guarded.

A URL given by a requester is fetched only when every address its host
resolves to is a public one: loopback, private, link-local (cloud metadata
at 169.254.169.254 included), shared, reserved and multicast addresses are
refused, and the connection goes to the address that was checked (no second
lookup an attacker's DNS could answer differently). Each redirect is checked
the same way, at most ``ASSET_FETCH_MAX_REDIRECTS`` of them; the body is read
up to ``ASSET_MAX_BYTES`` within ``ASSET_FETCH_TIMEOUT`` seconds in all, then
checked with Pillow (``jobs.assets.check_image``: format, pixel cap, full
decode) before it is stored once under its hash.

Operators (and tests) may route a host elsewhere with
``ASSET_FETCH_CONNECT_TO``, in curl's ``--connect-to`` syntax
(``HOST:PORT:ADDR:PORT[,...]``): a mapping the operator sets is trusted for
that host and port, so its address is not checked. ``ASSET_FETCH_CA_BUNDLE``
names the CA bundle TLS is verified against (default: certifi's).
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError

from . import uploads as asset_files

MAX_URL_LENGTH = 2048
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
USER_AGENT = "CrowdCanvas-asset-fetch/1"


class FetchError(Exception):
    """A URL that could not be fetched as an image: ``message`` says why,
    ``upstream_status`` is the remote HTTP status when there was one, and
    ``stage`` where it failed (resolve, connect, download, check)."""

    def __init__(self, message: str, *, stage: str, upstream_status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.stage = stage
        self.upstream_status = upstream_status


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    address: str
    trusted: bool


def parse_connect_to(value: str) -> dict[tuple[str, int], tuple[str, int]]:
    """``HOST:PORT:ADDR:PORT[,...]`` as a mapping ``(host, port) -> (addr, port)``
    (hosts lower-cased; an IPv6 address in brackets)."""
    mapping: dict[tuple[str, int], tuple[str, int]] = {}
    for entry in filter(None, (part.strip() for part in (value or "").split(","))):
        host, _, rest = entry.partition(":")
        port, _, rest = rest.partition(":")
        if rest.startswith("["):
            address, _, tail = rest[1:].partition("]")
            to_port = tail.lstrip(":")
        else:
            address, _, to_port = rest.rpartition(":")
        try:
            mapping[(host.lower(), int(port))] = (address, int(to_port))
        except ValueError:
            raise ImproperlyConfigured(f"ASSET_FETCH_CONNECT_TO entry {entry!r} is not HOST:PORT:ADDR:PORT") from None
        if not host or not address:
            raise ImproperlyConfigured(f"ASSET_FETCH_CONNECT_TO entry {entry!r} is not HOST:PORT:ADDR:PORT")
    return mapping


def address_is_public(address: str) -> bool:
    """Whether ``address`` is a globally routable unicast address (an IPv4
    address mapped into IPv6 is judged as the IPv4 address it carries)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_url(url: str) -> tuple[str, str, int]:
    """The scheme, host and port of an http(s) URL, or ``FetchError``."""
    if len(url) > MAX_URL_LENGTH:
        raise FetchError(f"the URL is longer than {MAX_URL_LENGTH} characters.", stage="url")
    if any(ord(ch) < 0x21 or ch == "\x7f" for ch in url):
        raise FetchError("the URL has spaces or control characters.", stage="url")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise FetchError(f"only http and https URLs can be fetched, not {parts.scheme or 'none'!r}.", stage="url")
    if not parts.hostname:
        raise FetchError("the URL has no host.", stage="url")
    if parts.username or parts.password:
        raise FetchError("URLs with credentials are not fetched.", stage="url")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise FetchError("the URL's port is not a number from 1 to 65535.", stage="url") from None
    return parts.scheme, parts.hostname.lower(), port


def resolve(host: str, port: int) -> Target:
    """Where to connect for ``host:port``: the operator's mapping, or the
    first address the host resolves to once every one of them is public."""
    mapped = parse_connect_to(settings.ASSET_FETCH_CONNECT_TO).get((host, port))
    if mapped is not None:
        return Target(host=host, port=mapped[1], address=mapped[0], trusted=True)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(f"the host {host!r} could not be resolved ({exc}).", stage="resolve") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise FetchError(f"the host {host!r} has no address.", stage="resolve")
    for address in addresses:
        if not address_is_public(address):
            raise FetchError(
                f"the host {host!r} resolves to {address}, which is not a public address; it is not fetched.",
                stage="resolve",
            )
    return Target(host=host, port=port, address=addresses[0], trusted=False)


def _address_url(scheme: str, target: Target, url: str) -> str:
    parts = urlsplit(url)
    address = f"[{target.address}]" if ":" in target.address else target.address
    path = parts.path or "/"
    return f"{scheme}://{address}:{target.port}{path}" + (f"?{parts.query}" if parts.query else "")


def _host_header(host: str, port: int, scheme: str) -> str:
    default = 443 if scheme == "https" else 80
    return host if port == default else f"{host}:{port}"


def fetch_bytes(url: str) -> bytes:
    """The body of ``url`` after at most ``ASSET_FETCH_MAX_REDIRECTS``
    redirects, every hop resolved and checked; ``FetchError`` otherwise."""
    deadline = time.monotonic() + settings.ASSET_FETCH_TIMEOUT
    max_bytes = settings.ASSET_MAX_BYTES
    verify = settings.ASSET_FETCH_CA_BUNDLE or True
    timeout = httpx.Timeout(settings.ASSET_FETCH_TIMEOUT)
    with httpx.Client(verify=verify, timeout=timeout, follow_redirects=False, trust_env=False) as client:
        for _hop in range(settings.ASSET_FETCH_MAX_REDIRECTS + 1):
            scheme, host, port = check_url(url)
            target = resolve(host, port)
            headers = {"Host": _host_header(host, port, scheme), "User-Agent": USER_AGENT, "Accept": "image/*"}
            extensions = {"sni_hostname": host} if scheme == "https" else {}
            try:
                with client.stream(
                    "GET", _address_url(scheme, target, url), headers=headers, extensions=extensions
                ) as response:
                    if response.status_code in REDIRECT_STATUSES:
                        location = response.headers.get("Location")
                        if not location:
                            raise FetchError(
                                "a redirect without a Location.", stage="download", upstream_status=response.status_code
                            )
                        url = urljoin(url, location)
                        continue
                    if response.status_code != 200:
                        raise FetchError(
                            f"the server answered HTTP {response.status_code}.",
                            stage="download",
                            upstream_status=response.status_code,
                        )
                    declared = response.headers.get("Content-Length", "")
                    if declared.isdigit() and int(declared) > max_bytes:
                        raise FetchError(
                            f"the image is {declared} bytes; the limit is {max_bytes} bytes.",
                            stage="download",
                            upstream_status=200,
                        )
                    chunks, total = [], 0
                    for chunk in response.iter_bytes():
                        total += len(chunk)
                        if total > max_bytes:
                            raise FetchError(
                                f"the image is over the limit of {max_bytes} bytes.",
                                stage="download",
                                upstream_status=200,
                            )
                        if time.monotonic() > deadline:
                            raise FetchError(
                                f"the download took over {settings.ASSET_FETCH_TIMEOUT} seconds.",
                                stage="download",
                                upstream_status=200,
                            )
                        chunks.append(chunk)
                    return b"".join(chunks)
            except httpx.TimeoutException:
                raise FetchError(
                    f"the server did not answer within {settings.ASSET_FETCH_TIMEOUT} seconds.", stage="connect"
                ) from None
            except httpx.HTTPError as exc:
                raise FetchError(
                    f"the image could not be downloaded ({exc.__class__.__name__}: {exc}).", stage="connect"
                ) from None
    raise FetchError(f"more than {settings.ASSET_FETCH_MAX_REDIRECTS} redirects.", stage="download")


def fetch_image(url: str) -> asset_files.CheckedImage:
    """Fetch ``url`` and check it is an image we take (``FetchError`` saying why not)."""
    data = fetch_bytes(url)
    try:
        return asset_files.check_image(data)
    except ValidationError as exc:
        raise FetchError(" ".join(exc.messages), stage="check", upstream_status=200) from None


def asset_create_from_url(*, owner, url: str):
    """Fetch ``url`` and store it as one of ``owner``'s uploaded images,
    named after the URL's last path segment (stored once by content hash:
    the same bytes from two URLs are one asset). ``FetchError`` when it
    cannot be fetched or is not an image we take."""
    from .services import asset_create_image

    checked = fetch_image(url)
    name = urlsplit(url).path.rsplit("/", 1)[-1] or urlsplit(url).hostname or ""
    return asset_create_image(owner=owner, data=checked.data, name=name)
