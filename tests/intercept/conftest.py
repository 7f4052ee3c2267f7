"""A simulator with its proxy beside it, on real ports, with a CA of the test session's own."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from lynsms.simulator import Simulator, create_app
from lynsms.simulator.harness.server import ServerThread

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Proxy:
    url: str
    port: int
    simulator: httpx.Client
    ca: Path

    def env(self, **extra: str) -> dict[str, str]:
        """All a client process gets: the variables ``lynsms up`` prints, and a PATH."""
        ca = str(self.ca)
        return {
            "PATH": os.environ["PATH"],
            "PYTHONPATH": str(ROOT),
            "HTTPS_PROXY": self.url,
            "NO_PROXY": "localhost,127.0.0.1,::1",
            "SSL_CERT_FILE": ca,
            "REQUESTS_CA_BUNDLE": ca,
            "NODE_EXTRA_CA_CERTS": ca,
            **extra,
        }

    def messages(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.simulator.get("/_sim/messages").json()["messages"]
        return found

    def raw(self, data: bytes) -> bytes:
        """Send ``data`` on a fresh connection; everything the proxy answers before it closes."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock:
            sock.sendall(data)
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks)


@pytest.fixture(scope="session")
def _proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    # Imported here: the proxy brings in cryptography for its CA, ~0.05 s of CPU every xdist worker
    # would pay while collecting, for the worker that runs the proxy's tests.
    from lynsms.simulator.proxy.app import create_proxy_app
    from lynsms.simulator.proxy.protocol import ProxyProtocol

    with pytest.MonkeyPatch.context() as patch:
        # A CA of this test module's own, not the developer's installation CA.
        patch.setenv("LYNSMS_DATA_DIR", str(tmp_path_factory.mktemp("lynsms-data")))
        app = create_app(sim=Simulator())
        with (
            ServerThread(app) as simulator,
            ServerThread(create_proxy_app(app), http=ProxyProtocol, lifespan="off") as proxy,
            httpx.Client(base_url=simulator.url) as control,
        ):
            ca = Path(os.environ["LYNSMS_DATA_DIR"], "ca", "ca.pem")
            ca.parent.mkdir(parents=True, exist_ok=True)
            ca.write_bytes(control.get("/_sim/ca.pem").content)  # generated on this first request
            yield Proxy(proxy.url, int(proxy.url.rsplit(":", 1)[1]), control, ca)


@pytest.fixture
def proxy(_proxy: Proxy) -> Proxy:
    _proxy.simulator.post("/_sim/reset").raise_for_status()
    return _proxy
