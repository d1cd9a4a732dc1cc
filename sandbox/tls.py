"""The sandbox's own certificate authority, so that every endpoint is real HTTPS.

The Azure SDKs, MSAL, the Kubernetes client and OCI clients all verify TLS; rather
than switching verification off (which would hide bugs the product would hit in
Azure), the sandbox creates a CA and one leaf certificate for ``127.0.0.1`` and
``localhost``. Clients trust the CA through ``SSL_CERT_FILE``/``REQUESTS_CA_BUNDLE``
(the env-file contract) or, for Kubernetes, the kubeconfig's
``certificate-authority-data``. The files are reused across runs of one state
directory while they stay valid, so a saved env file keeps working.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = dt.timedelta(days=30)
_RENEW_BEFORE = dt.timedelta(days=1)


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """Paths of the PEM files one sandbox uses."""

    ca_cert: Path  # what SSL_CERT_FILE / REQUESTS_CA_BUNDLE point to
    cert: Path  # leaf certificate served by every port
    key: Path  # leaf private key

    def ca_pem(self) -> bytes:
        return self.ca_cert.read_bytes()


def ensure_tls_files(state_dir: Path) -> TlsFiles:
    """Create (or reuse, while valid) the CA and the leaf certificate in ``state_dir``."""
    state_dir.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(state_dir / "ca.pem", state_dir / "server.pem", state_dir / "server-key.pem")
    if _still_valid(files):
        return files
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "acr-aks-ops sandbox CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    files.ca_cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.cert.write_bytes(leaf_cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    files.key.chmod(0o600)
    return files


def _still_valid(files: TlsFiles) -> bool:
    if not (files.ca_cert.exists() and files.cert.exists() and files.key.exists()):
        return False
    try:
        cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
        ca = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    except ValueError:
        return False
    horizon = dt.datetime.now(dt.UTC) + _RENEW_BEFORE
    return cert.not_valid_after_utc > horizon and ca.not_valid_after_utc > horizon
