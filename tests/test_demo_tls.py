"""``manage.py demo_tls``: a CA and a certificate the hosted service's
client accepts for the demo's api./auth./app. names, made once, and the
lines to run and export."""

from __future__ import annotations

import io
import ssl

from cryptography import x509
from django.core.management import call_command


def test_demo_tls_makes_a_certificate_for_the_service_names_once(tmp_path):
    out = io.StringIO()
    call_command("demo_tls", "--domain", "labels.test", "--port", "9443", "--dir", str(tmp_path), stdout=out)
    certificate = x509.load_pem_x509_certificate((tmp_path / "labels.test.pem").read_bytes())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(names.get_values_for_type(x509.DNSName)) == {
        "labels.test",
        "api.labels.test",
        "auth.labels.test",
        "app.labels.test",
    }
    # Issued by the CA the client is told to trust, and the key is the certificate's.
    certificate.verify_directly_issued_by(x509.load_pem_x509_certificate((tmp_path / "ca.pem").read_bytes()))
    ssl.create_default_context().load_cert_chain(str(tmp_path / "labels.test.pem"), str(tmp_path / "labels.test.key"))
    printed = out.getvalue()
    for line in (
        "export RAPIDATA_ENVIRONMENT=labels.test:9443",
        f"export SSL_CERT_FILE={tmp_path / 'ca.pem'}",
        f"export REQUESTS_CA_BUNDLE={tmp_path / 'ca.pem'}",
        "export RAPIDATA_DISABLE_OTLP=1",
        "SERVICE_DOMAIN=labels.test:9443",
        "127.0.0.1 labels.test api.labels.test auth.labels.test",
    ):
        assert line in printed, line
    before = (tmp_path / "ca.pem").read_bytes()
    call_command("demo_tls", "--domain", "labels.test", "--dir", str(tmp_path), stdout=io.StringIO())
    assert (tmp_path / "ca.pem").read_bytes() == before  # made once
