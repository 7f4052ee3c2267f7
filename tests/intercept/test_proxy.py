"""The proxy beside the simulator, as another process uses it: real sockets, real TLS, the CA trusted
through environment variables only; and everything it must refuse, refused without a traceback."""

from __future__ import annotations

import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.intercept.conftest import Proxy
from tests.intercept.programs import PROGRAMS, TWILIO_SID

TWILIO_PATH = f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"


# Importing an SDK is most of what such a process does (CPU: Infobip's ~2.5 s, ClickSend's ~1.5 s,
# Sinch's ~1 s, Twilio's ~0.1 s): two processes of about equal cost, side by side, pay each once.
PROCESSES = [["infobip"], ["clicksend", "sinch", "twilio"]]


def test_the_four_sdks_send_from_a_process_that_only_has_the_environment(proxy: Proxy) -> None:
    assert sorted(name for names in PROCESSES for name in names) == sorted(PROGRAMS)
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.intercept.programs", *names],
            env=proxy.env(),
            cwd="/",
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for names in PROCESSES
    ]
    ids: dict[str, str] = {}
    for names, run in zip(PROCESSES, runs, strict=True):
        out, err = run.communicate(timeout=120)
        assert run.returncode == 0, f"{names}: {err}"
        for line in out.splitlines():
            name, message_id = line.split()
            ids[name] = message_id
    found = {m["provider"]: (m["id"], m["batch_id"]) for m in proxy.messages()}
    assert sorted(found) == sorted(ids) == sorted(PROGRAMS)
    assert all(ids[name] in found[name] for name in PROGRAMS)


def curl(proxy: Proxy, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["curl", "-sS", "--max-time", "20", "--proxy", proxy.url, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_curl_sends_through_the_proxy_trusting_the_ca(proxy: Proxy) -> None:
    form = ["-d", "To=%2B12025550143", "-d", "From=%2B12025550100", "-d", "Body=Hello from curl"]
    done = curl(
        proxy, "--cacert", str(proxy.ca), "-u", f"{TWILIO_SID}:token", f"https://api.twilio.com{TWILIO_PATH}", *form
    )
    assert done.returncode == 0, done.stderr
    assert '"status":"queued"' in done.stdout.replace(" ", ""), done.stdout
    plain = curl(proxy, "-u", f"{TWILIO_SID}:token", f"http://api.twilio.com{TWILIO_PATH}", *form)
    assert plain.returncode == 0 and "queued" in plain.stdout, plain.stderr
    assert [m["body"] for m in proxy.messages()] == ["Hello from curl", "Hello from curl"]


def test_certificate_validation_is_really_on(proxy: Proxy) -> None:
    untrusting = curl(proxy, f"https://api.twilio.com{TWILIO_PATH}")
    assert untrusting.returncode == 60, untrusting  # curl: peer certificate cannot be authenticated
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"https://api.twilio.com{TWILIO_PATH}", proxy=proxy.url, verify=ssl.create_default_context())
    trusting = httpx.get(
        f"https://api.twilio.com{TWILIO_PATH}", proxy=proxy.url, verify=ssl.create_default_context(cafile=proxy.ca)
    )
    assert trusting.status_code == 401  # through TLS to the simulator's Twilio, which wants credentials
    assert httpx.get(f"{proxy.url}/_sim/health").status_code == 502  # and the proxy kept serving


def test_a_foreign_host_is_refused_with_502_never_forwarded(proxy: Proxy) -> None:
    tunnel = proxy.raw(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
    assert tunnel.startswith(b"HTTP/1.1 502 ") and b"example.com is not a provider host" in tunnel
    plain = httpx.get("http://example.com/", proxy=proxy.url)
    assert plain.status_code == 502 and "example.com is not a provider host" in plain.text
    through_curl = curl(proxy, "--cacert", str(proxy.ca), "https://example.com/")
    assert through_curl.returncode == 56 and "502" in through_curl.stderr


@pytest.mark.parametrize(
    ("data", "status", "words"),
    [
        (b"CONNECT api.twilio.com HTTP/1.1\r\n\r\n", b"400", b"malformed CONNECT line"),
        (b"CONNECT api.twilio.com:99999 HTTP/1.1\r\n\r\n", b"400", b"malformed CONNECT line"),
        (b"CONNECT\r\n\r\n", b"400", b"malformed CONNECT line"),
        (
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,
            b"400",
            b"TLS spoken to the proxy's plain port",
        ),
        (b"GET / HTTP/1.1\r\nX: " + b"a" * 20000, b"431", b"request head over"),
    ],
    ids=["no-port", "bad-port", "no-target", "tls-on-plain-port", "huge-head"],
)
def test_bad_input_is_refused_in_words_and_the_proxy_keeps_serving(
    proxy: Proxy, data: bytes, status: bytes, words: bytes
) -> None:
    answer = proxy.raw(data)
    assert answer.startswith(b"HTTP/1.1 " + status) and words in answer, answer
    assert b"Traceback" not in answer
    assert httpx.get(f"{proxy.url}/_sim/ca.pem").content == proxy.ca.read_bytes()


def test_a_python_tls_client_to_the_plain_port_gets_a_clear_error(proxy: Proxy) -> None:
    with pytest.raises(httpx.ConnectError, match=r"WRONG_VERSION_NUMBER|wrong version number"):
        httpx.get(f"https://127.0.0.1:{proxy.port}/", verify=False)
    assert httpx.get(f"{proxy.url}/_sim/ca.pem").status_code == 200


def test_the_ca_is_made_once_and_constrained_to_the_providers(tmp_path: Path) -> None:
    # Imported here, as in tests/intercept/conftest.py: the CA brings in cryptography.
    from cryptography import x509

    from lynsms.simulator.proxy.ca import load_or_create

    first, again = load_or_create(tmp_path), load_or_create(tmp_path)
    assert first.cert_pem == again.cert_pem
    assert (tmp_path / "ca" / "ca-key.pem").stat().st_mode & 0o077 == 0
    constraints = first.certificate.extensions.get_extension_for_class(x509.NameConstraints).value
    assert {name.value for name in constraints.permitted_subtrees or []} == {
        "twilio.com",
        "sinch.com",
        "infobip.com",
        "clicksend.com",
    }
    leaf = x509.load_pem_x509_certificate(first.issue("us.sms.api.sinch.com")[0])
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["us.sms.api.sinch.com"]
