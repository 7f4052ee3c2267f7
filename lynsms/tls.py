"""One TLS client context per process, shared by the HTTP clients LynSMS Local opens.

Building a default context reads the CA bundle, ~25-40 ms of CPU, and httpx builds one for every new
client, even a client that only ever speaks plain HTTP to 127.0.0.1. Tests and replays open clients
by the hundred, so they share one. A context is only read once configured, which ``ssl`` allows from
any thread.
"""

from __future__ import annotations

import functools
import os
import ssl


def client_tls() -> ssl.SSLContext:
    """The system's default client context; ``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` apply as OpenSSL
    reads them, and a change to either gets a new context."""
    return _context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


@functools.cache
def _context(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    return ssl.create_default_context()
