"""The proxy's certificate authority: generated once per installation, kept in a per-user data folder.

Where: ``$LYNSMS_DATA_DIR`` if set, else ``$XDG_DATA_HOME/lynsms`` (default ``~/.local/share/lynsms``)
on Linux, ``~/Library/Application Support/lynsms`` on macOS, ``%LOCALAPPDATA%\\lynsms`` on Windows;
the files are ``ca/ca.pem`` (the certificate clients trust) and ``ca/ca-key.pem`` (owner-only).

The CA carries a name constraint: it can only vouch for names under twilio.com, sinch.com,
infobip.com and clicksend.com, so trusting it never lets anything impersonate another site, even if
its key leaks. Leaf certificates are issued in memory, one per host, when a client first asks for it.
"""

from __future__ import annotations

import datetime
import functools
import os
import shutil
import ssl
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# The registrable domains of every provider host (see ``lynsms.simulator.hosts``).
PERMITTED_DOMAINS = ("twilio.com", "sinch.com", "infobip.com", "clicksend.com")
CA_NAME = "LynSMS Local proxy CA"
CA_DAYS = 3650
LEAF_DAYS = 397  # within the 398 days clients cap a server certificate at


def data_dir() -> Path:
    """The per-user folder LynSMS Local keeps installation state in (today: the proxy's CA)."""
    explicit = os.environ.get("LYNSMS_DATA_DIR")
    if explicit:
        return Path(explicit)
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "lynsms"


@dataclass
class Authority:
    """The CA: its certificate (``cert_pem``, also at ``path``) and key; issues server contexts per host."""

    path: Path
    cert_pem: bytes
    key: ec.EllipticCurvePrivateKey
    _contexts: dict[str, ssl.SSLContext] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)

    def issue(self, host: str) -> tuple[bytes, bytes]:
        """A leaf certificate for ``host`` (PEM, followed by the CA's) and its private key (PEM)."""
        ca = self.certificate
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=LEAF_DAYS))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(digital_signature=True), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM) + self.cert_pem, _pem(key)

    def server_context(self, host: str) -> ssl.SSLContext:
        """A TLS server context presenting a certificate for ``host``, built once per host."""
        with self._lock:
            context = self._contexts.get(host)
            if context is None:
                context = self._contexts[host] = self._build_context(host)
            return context

    def _build_context(self, host: str) -> ssl.SSLContext:
        chain, key = self.issue(host)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.set_alpn_protocols(["http/1.1"])
        # The ssl module loads certificates only from files: hand it a private temporary one.
        with tempfile.TemporaryDirectory(prefix="lynsms-leaf-") as folder:
            chain_file, key_file = Path(folder, "leaf.pem"), Path(folder, "leaf-key.pem")
            chain_file.write_bytes(chain)
            key_file.write_bytes(key)
            context.load_cert_chain(chain_file, key_file)
        return context


def installation_ca() -> Authority:
    """The CA of ``data_dir()``, loaded (or generated) once per process."""
    return _cached(data_dir())


@functools.cache
def _cached(directory: Path) -> Authority:
    return load_or_create(directory)


def load_or_create(directory: Path | None = None) -> Authority:
    """The installation's CA from ``directory`` (default ``data_dir()``), generated there on first use.

    Two processes starting at once (pytest-xdist workers) both generate; the first to rename its
    folder into place wins and the other reads the winner's, so every process trusts the same CA."""
    folder = (directory or data_dir()) / "ca"
    if not (folder / "ca.pem").exists():
        _create(folder)
    cert_pem = (folder / "ca.pem").read_bytes()
    key = serialization.load_pem_private_key((folder / "ca-key.pem").read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{folder / 'ca-key.pem'} is not the EC key this CA was created with")
    return Authority(path=folder / "ca.pem", cert_pem=cert_pem, key=key)


def _create(folder: Path) -> None:
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".ca-", dir=folder.parent))
    try:
        cert_pem, key_pem = _new_ca()
        key_file = staging / "ca-key.pem"
        key_file.touch(mode=0o600)
        key_file.write_bytes(key_pem)
        (staging / "ca.pem").write_bytes(cert_pem)
        try:
            staging.rename(folder)
        except OSError:  # another process got there first: keep theirs
            if not (folder / "ca.pem").exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _new_ca() -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "LynSMS Local"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{CA_NAME} {os.urandom(4).hex()}"),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    permitted: list[x509.GeneralName] = [x509.DNSName(domain) for domain in PERMITTED_DOMAINS]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.NameConstraints(permitted_subtrees=permitted, excluded_subtrees=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM), _pem(key)


def _key_usage(
    *, digital_signature: bool = False, key_cert_sign: bool = False, crl_sign: bool = False
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
