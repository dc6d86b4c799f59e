"""``manage.py demo_tls [--domain D] [--port P]``: a local CA and a
certificate for ``D``, ``api.D``, ``auth.D`` and ``app.D`` (and 127.0.0.1),
made once under ``var/tls/`` with trustme, and what to run and export to try
the hosted service's client against the demo over HTTPS."""

from __future__ import annotations

import shlex
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Make (once) a local CA and a TLS certificate for the demo's api./auth./app. names under var/tls/, "
        "and print the hosts line, the server command and the environment for the hosted service's client."
    )

    def add_arguments(self, parser):
        parser.add_argument("--domain", default="crowdcanvas.test", help="the demo's domain (default crowdcanvas.test)")
        parser.add_argument("--port", type=int, default=8443, help="HTTPS port (default 8443)")
        parser.add_argument("--dir", default=str(Path(settings.VAR_DIR) / "tls"), help="where the files go")

    def handle(self, *args, domain: str, port: int, dir: str, **options):
        try:
            import trustme
        except ImportError:
            raise CommandError("trustme is not installed: pip install -r requirements.txt") from None
        domain = domain.strip().lower().rstrip(".")
        if not domain or "/" in domain or ":" in domain:
            raise CommandError("--domain must be a bare host name such as crowdcanvas.test.")
        directory = Path(dir)
        directory.mkdir(parents=True, exist_ok=True)
        ca_path, cert_path, key_path = directory / "ca.pem", directory / f"{domain}.pem", directory / f"{domain}.key"
        if not (ca_path.exists() and cert_path.exists() and key_path.exists()):
            ca = trustme.CA(organization_name="CrowdCanvas demo CA")
            cert = ca.issue_cert(domain, *(f"{sub}.{domain}" for sub in ("api", "auth", "app")), "127.0.0.1")
            ca.cert_pem.write_to_path(str(ca_path))
            with open(cert_path, "wb") as handle:
                for pem in cert.cert_chain_pems:
                    handle.write(pem.bytes())
            cert.private_key_pem.write_to_path(str(key_path))
            key_path.chmod(0o600)
        environment = f"{domain}:{port}"
        q = shlex.quote
        self.stdout.write(f"""# 1. Once, as root: the demo's names on this machine
echo '127.0.0.1 {domain} api.{domain} auth.{domain} app.{domain}' >> /etc/hosts

# 2. The demo over HTTPS (beside `make demo`, same database):
DEBUG=1 SERVICE_DOMAIN={environment} .venv/bin/python -m uvicorn config.asgi:application \\
    --host 127.0.0.1 --port {port} --ssl-keyfile {q(str(key_path))} --ssl-certfile {q(str(cert_path))}

# 3. Client credentials for a requester (prints two lines to export):
DEBUG=1 .venv/bin/python manage.py create_requester alice --client-credentials

# 4. In the client's shell:
export RAPIDATA_ENVIRONMENT={environment}
export RAPIDATA_CLIENT_ID=...  RAPIDATA_CLIENT_SECRET=...   # from step 3
export SSL_CERT_FILE={q(str(ca_path))}
export REQUESTS_CA_BUNDLE={q(str(ca_path))}
export RAPIDATA_DISABLE_OTLP=1
""")
