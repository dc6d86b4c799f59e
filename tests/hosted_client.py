"""Running the hosted service's own Python client (``rapidata==3.27.1``)
against CrowdCanvas, on loopback only.

- The client lives in a virtualenv of its own (``var/hosted-client-venv``,
  made once by ``make hosted-client`` or ``ensure_venv()``): its pins
  (pandas < 3) conflict with ours.
- TLS: a throwaway CA (trustme) signs one certificate for the test domain's
  ``api.``, ``auth.`` and ``app.`` names, for ``assets.rapidata.ai`` (the
  seed scripts' image host) and for 127.0.0.1.
- Names: the client's process gets a ``sitecustomize`` that resolves
  ``*.<domain>`` to 127.0.0.1 and refuses every other name that is not
  loopback (the client's version check and telemetry never leave the
  machine).
- Images: ``ImageServer`` serves a generated image for any path over HTTPS;
  the server under test reaches it through ``ASSET_FETCH_CONNECT_TO``.

``python -m tests.hosted_client`` builds the virtualenv.
"""

from __future__ import annotations

import hashlib
import io
import os
import ssl
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.stack import PYTHON, ROOT, ManagedProcess, free_port, wait_for_port

VENV = ROOT / "var" / "hosted-client-venv"
VENV_PYTHON = VENV / "bin" / "python"
REQUIREMENTS = ROOT / "requirements-hosted-client.txt"
SEED_SCRIPTS = ROOT / "tests" / "seed_scripts"
DOMAIN = "crowdcanvas.test"
IMAGE_HOST = "assets.rapidata.ai"

_SITECUSTOMIZE = '''
"""Test-only name resolution: *.{domain} is 127.0.0.1; no other name resolves."""
import socket

_real = socket.getaddrinfo


def getaddrinfo(host, *args, **kwargs):
    name = host.decode() if isinstance(host, bytes) else (host or "")
    if name == "{domain}" or name.endswith(".{domain}"):
        return _real("127.0.0.1", *args, **kwargs)
    if name in ("localhost", "127.0.0.1", "::1"):
        return _real(host, *args, **kwargs)
    raise socket.gaierror(socket.EAI_NONAME, f"{{name}} does not resolve in the test (loopback only)")


socket.getaddrinfo = getaddrinfo
'''


def loopback_only_site(directory: Path, domain: str = DOMAIN) -> Path:
    """A directory for ``PYTHONPATH`` whose ``sitecustomize`` lets a Python
    process resolve loopback and ``*.<domain>`` names only."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sitecustomize.py").write_text(_SITECUSTOMIZE.format(domain=domain))
    return directory


def ensure_venv() -> Path:
    """The client's virtualenv, made once (its marker names the pins it holds)."""
    marker = VENV / ".installed"
    wanted = REQUIREMENTS.read_text()
    if marker.exists() and marker.read_text() == wanted:
        return VENV_PYTHON
    if not VENV_PYTHON.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(VENV_PYTHON), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)], check=True)
    marker.write_text(wanted)
    return VENV_PYTHON


class Tls:
    """A CA and one server certificate for every name the test serves."""

    def __init__(self, directory: Path, domain: str = DOMAIN, image_hosts: tuple[str, ...] = (IMAGE_HOST,)) -> None:
        import trustme

        directory.mkdir(parents=True, exist_ok=True)
        self.ca = trustme.CA()
        cert = self.ca.issue_cert(domain, f"api.{domain}", f"auth.{domain}", f"app.{domain}", *image_hosts, "127.0.0.1")
        self.ca_path = directory / "ca.pem"
        self.cert_path = directory / "server.pem"
        self.key_path = directory / "server.key"
        self.ca.cert_pem.write_to_path(str(self.ca_path))
        cert.cert_chain_pems[0].write_to_path(str(self.cert_path))
        for extra in cert.cert_chain_pems[1:]:
            with open(self.cert_path, "ab") as handle:
                handle.write(extra.bytes())
        cert.private_key_pem.write_to_path(str(self.key_path))
        self.server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(self.server_context)


def generated_image(path: str) -> tuple[bytes, str]:
    """A small image, distinct per path, in the format its extension names."""
    from PIL import Image, ImageDraw

    digest = hashlib.sha256(path.encode()).digest()
    image = Image.new("RGB", (96, 72), tuple(digest[:3]))
    draw = ImageDraw.Draw(image)
    draw.rectangle([digest[3] % 40, digest[4] % 30, 50 + digest[5] % 40, 40 + digest[6] % 30], fill=tuple(digest[7:10]))
    extension = path.rsplit(".", 1)[-1].lower()
    fmt, content_type = {"png": ("PNG", "image/png"), "webp": ("WEBP", "image/webp")}.get(
        extension, ("JPEG", "image/jpeg")
    )
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue(), content_type


class ImageServer:
    """HTTPS on loopback: any path ending in .jpg, .png or .webp is a
    generated image; anything else a 404. Counts the requests per path."""

    def __init__(self, tls: Tls) -> None:
        self.requests: dict[str, int] = {}
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                owner.requests[self.path] = owner.requests.get(self.path, 0) + 1
                if not self.path.lower().endswith((".jpg", ".jpeg", ".png", ".webp")):
                    self.send_error(404)
                    return
                body, content_type = generated_image(self.path)
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = tls.server_context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> ImageServer:
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.server.shutdown()
        self.server.server_close()


class TlsAsgiServer(ManagedProcess):
    """The ASGI app under uvicorn over TLS, with its access log."""

    def __init__(self, env: dict[str, str], log_path: Path, tls: Tls, port: int | None = None) -> None:
        self.port = port or free_port()
        super().__init__(
            [
                PYTHON,
                "-m",
                "uvicorn",
                "config.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "info",
                "--ssl-keyfile",
                str(tls.key_path),
                "--ssl-certfile",
                str(tls.cert_path),
            ],
            env,
            log_path,
        )

    def start(self) -> TlsAsgiServer:
        super().start()
        wait_for_port(self.port, timeout=60, process=self.process)
        return self


def client_env(*, workdir: Path, tls: Tls, environment: str, client_id: str, client_secret: str) -> dict[str, str]:
    """The environment a requester exports to point the client at us
    (plus the test's name resolution)."""
    site = loopback_only_site(workdir / "site")
    home = workdir / "home"
    home.mkdir(parents=True, exist_ok=True)
    keep = ("PATH", "LANG", "LC_ALL", "TMPDIR")
    env = {key: os.environ[key] for key in keep if key in os.environ}
    env.update(
        HOME=str(home),
        PYTHONPATH=str(site),
        PYTHONUNBUFFERED="1",
        BROWSER="true",
        RAPIDATA_ENVIRONMENT=environment,
        RAPIDATA_CLIENT_ID=client_id,
        RAPIDATA_CLIENT_SECRET=client_secret,
        RAPIDATA_DISABLE_OTLP="1",
        RAPIDATA_cacheToDisk="0",
        SSL_CERT_FILE=str(tls.ca_path),
        REQUESTS_CA_BUNDLE=str(tls.ca_path),
    )
    return env


# Runs script files one after the other in one namespace, as one session would.
_RUN_IN_ONE_PROCESS = """
import runpy, sys
namespace = {}
for path in sys.argv[1:]:
    namespace = runpy.run_path(path, init_globals=namespace, run_name="__main__")
"""


def run_scripts(*paths: Path, env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """Start the client's interpreter on script files, unchanged: one file
    runs as ``python FILE``; several run in one process, each seeing what
    the ones before left."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    args = [str(paths[0])] if len(paths) == 1 else ["-c", _RUN_IN_ONE_PROCESS, *map(str, paths)]
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            [str(VENV_PYTHON), *args], cwd=log_path.parent, env=env, stdout=log, stderr=subprocess.STDOUT
        )


if __name__ == "__main__":
    print(ensure_venv())
