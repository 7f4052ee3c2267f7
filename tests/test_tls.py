"""The TLS client context every LynSMS client shares: built once, rebuilt when the CA settings change."""

from __future__ import annotations

import certifi
import pytest

from lynsms.tls import client_tls


def test_every_client_gets_the_same_context() -> None:
    assert client_tls() is client_tls()


def test_ssl_cert_file_is_honoured_and_gets_its_own_context(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    default = client_tls()
    monkeypatch.setenv("SSL_CERT_FILE", certifi.where())
    bundle = client_tls()
    assert bundle is not default
    assert bundle.cert_store_stats()["x509_ca"] > 100  # certifi's bundle, read from the file the variable names
