"""The lynsms command line, run as a user runs it: a real process, real ports, Ctrl-C to stop."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from lynsms.simulator.harness.cli import main

URL = re.compile(r"http://127\.0\.0\.1:\d+")
# How long a stopped process may take to exit: a bound for a loaded machine, not a measurement.
STOP_WITHIN = 60


@contextmanager
def lynsms(*args: str, env: dict[str, str] | None = None) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """Start ``lynsms ARGS`` and yield it with the lines it printed up to its blank banner end."""
    # The with block closes the pipes however the test ends: a pipe left to the garbage collector
    # fails whichever test runs next with a ResourceWarning.
    with subprocess.Popen(
        [sys.executable, "-m", "lynsms.simulator.harness.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as process:
        lines: list[str] = []
        try:
            assert process.stdout is not None
            for line in process.stdout:
                lines.append(line.rstrip("\n"))
                if (URL.search(line) and args[0] == "simulator") or (line.strip() == "" and lines[:-1]):
                    break
            yield process, lines
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()


def test_simulator_command_serves_on_a_free_port_and_stops_on_ctrl_c() -> None:
    with lynsms("simulator", "--port", "0") as (process, lines):
        url = URL.search(lines[0]).group(0)  # type: ignore[union-attr]
        assert httpx.get(f"{url}/_sim/health").json()["status"] == "ok"
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=STOP_WITHIN)
        assert process.returncode == 0, err
        assert "stopped" in out
        assert "Traceback" not in err


def test_taken_port_is_a_clear_error_not_a_traceback() -> None:
    with lynsms("simulator", "--port", "0") as (process, lines):
        port = URL.search(lines[0]).group(0).rsplit(":", 1)[1]  # type: ignore[union-attr]
        second = subprocess.run(
            [sys.executable, "-m", "lynsms.simulator.harness.cli", "simulator", "--port", port],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert second.returncode == 2
        assert second.stderr.startswith("lynsms: ") and "Traceback" not in second.stderr
        assert f"the simulator (--port) cannot listen on 127.0.0.1:{port}: already in use" in second.stderr
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=STOP_WITHIN)


@pytest.mark.parametrize("port", ["-1", "65536", "http"])
def test_bad_port_is_rejected_by_the_parser(port: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "lynsms.simulator.harness.cli", "simulator", "--port", port],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert result.returncode == 2
    assert "--port" in result.stderr and "Traceback" not in result.stderr


def test_up_serves_the_curl_from_its_banner_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    env = {**os.environ, "LYNSMS_DATA_DIR": str(tmp_path)}  # the proxy's CA, not in the developer's home
    with lynsms("up", "--gateway-port", "0", "--simulator-port", "0", "--proxy-port", "0", env=env) as (process, lines):
        assert process.stdout is not None
        while not lines[-1].lstrip().startswith("-d "):  # the helper stops at the banner's first blank line
            lines.append(process.stdout.readline().rstrip("\n"))
        banner = "\n".join(lines)
        # The printed curl, parsed back: URL, headers and JSON body, sent as curl would send them.
        url = re.search(r"curl (\S+)", banner).group(1)  # type: ignore[union-attr]
        headers = dict(h.split(": ", 1) for h in re.findall(r'-H "([^"]+)"', banner))
        body = re.search(r"-d '([^']+)'", banner).group(1)  # type: ignore[union-attr]
        response = httpx.post(url, headers=headers, content=body.encode(), timeout=30)
        assert response.status_code == 201, response.text
        assert response.json()["data"]["status"] == "sent"
        # up registered the gateway's inbound URLs: a handset's STOP reaches the gateway's opt-out list.
        simulator = re.search(r"simulator\s+(http://\S+)", banner).group(1)  # type: ignore[union-attr]
        stop = {"provider": "twilio", "from": "+447700900123", "to": "+12025550100", "body": "STOP"}
        assert httpx.post(f"{simulator}/_sim/inbound", json=stop, timeout=30).status_code == 202
        opt_outs = url.replace("/messages/send", "/opt-outs")
        for _ in range(200):
            listed = httpx.get(opt_outs, headers=headers, timeout=30).json()["data"]["opt_outs"]
            if listed:
                break
            time.sleep(0.02)
        assert [o["number"] for o in listed] == ["+447700900123"]
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=STOP_WITHIN)
        assert process.returncode == 0, err
        assert "stopped" in out and "Traceback" not in err


def test_a_gateway_swapped_in_by_the_admin_endpoint_takes_the_replies(tmp_path: Path) -> None:
    env = {**os.environ, "LYNSMS_DATA_DIR": str(tmp_path)}
    ports = ("--gateway-port", "0", "--simulator-port", "0", "--proxy-port", "0")
    with lynsms("up", *ports, "--admin", env=env) as (process, lines):
        banner = "\n".join(lines)
        gateway = re.search(r"gateway\s+(http://\S+)/api", banner).group(1)  # type: ignore[union-attr]
        simulator = re.search(r"simulator\s+(http://\S+)", banner).group(1)  # type: ignore[union-attr]
        key = re.search(r"API key\s+(\S+)", banner).group(1)  # type: ignore[union-attr]
        auth = {"Authorization": f"Bearer {key}"}
        swapped = httpx.put(
            f"{gateway}/api/admin/gateway", json={"gateway": {"timeout": "2s"}}, headers=auth, timeout=30
        )
        assert swapped.status_code == 200, swapped.text
        # The fresh gateway has its own callback token: only a new registration lets a STOP reach it.
        stop = {"provider": "twilio", "from": "+447700900123", "to": "+12025550100", "body": "STOP"}
        pushed = httpx.post(f"{simulator}/_sim/inbound", json=stop, timeout=30).json()
        for _ in range(200):
            found = [
                m
                for m in httpx.get(f"{simulator}/_sim/inbound", timeout=30).json()["inbound"]
                if m["id"] == pushed["id"]
            ]
            if found and found[0]["delivery"] != "queued":
                break
            time.sleep(0.02)
        assert found[0]["delivery"] == "delivered", found
        listed = httpx.get(f"{gateway}/api/v1/opt-outs", headers=auth, timeout=30).json()["data"]["opt_outs"]
        assert [o["number"] for o in listed] == ["+447700900123"]
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=15)


def test_ctrl_c_while_up_is_starting_stops_it_cleanly(tmp_path: Path) -> None:
    # Right after the banner the servers are still starting: the signal must not become a traceback.
    env = {**os.environ, "LYNSMS_DATA_DIR": str(tmp_path)}
    with lynsms("up", "--gateway-port", "0", "--simulator-port", "0", "--proxy-port", "0", env=env) as (process, _):
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=STOP_WITHIN)
        assert process.returncode == 0, err
        assert "stopped" in out
        assert "Traceback" not in err and "CancelledError" not in err and "never awaited" not in err


def test_up_with_a_scenario_runs_the_gateway_with_its_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "outage.scenario.yaml"
    scenario.write_text(
        "name: outage\nproviders:\n  twilio:\n    - http_error: 503\ngateway:\n  default_chain: [twilio, infobip]\n"
    )
    env = {**os.environ, "LYNSMS_DATA_DIR": str(tmp_path)}
    ports = ("--gateway-port", "0", "--simulator-port", "0", "--proxy-port", "0")
    with lynsms("up", *ports, "--scenario", str(scenario), env=env) as (process, lines):
        banner = "\n".join(lines)
        assert f"gateway settings from {scenario}: default_chain=" in banner
        gateway = re.search(r"gateway\s+(http://\S+)", banner).group(1)  # type: ignore[union-attr]
        key = re.search(r"API key\s+(\S+)", banner).group(1)  # type: ignore[union-attr]
        answer = httpx.post(
            f"{gateway}/v1/messages/send",
            json={"to": "+12025550143", "from": "LynSMS", "body": "hi"},
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        assert answer.json()["data"]["provider"] == "infobip", answer.text  # the scenario's chain, not the default
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=STOP_WITHIN)
    config = tmp_path / "gateway.yaml"
    config.write_text("providers:\n  twilio: {}\n")
    assert main(["up", "--scenario", str(scenario), "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "has gateway settings (default_chain=" in err and "--config" in err


@pytest.mark.parametrize("command", ["up", "gateway"])
@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/hook", "example.com/hook", "http://"])
def test_webhook_url_must_be_http_or_https(command: str, url: str, capsys: pytest.CaptureFixture[str]) -> None:
    from lynsms.simulator.harness.cli import build_parser

    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([command, "--webhook-url", url])
    assert exit_info.value.code == 2
    assert "not an http:// or https:// URL" in capsys.readouterr().err


def test_listening_beyond_loopback_warns_that_control_and_reports_have_no_auth() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "lynsms.simulator.harness.cli", "simulator", "--host", "0.0.0.0", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert "LynSMS simulator" in process.stdout.readline()  # the banner: start-up is done
    finally:
        process.kill()
        _out, err = process.communicate(timeout=STOP_WITHIN)
    assert "listening on 0.0.0.0" in err and "/_sim/*" in err and "no authentication" in err


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_loopback_hosts_get_no_warning(host: str) -> None:

    from lynsms.simulator.harness.cli import exposure_warning

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.bind((host, 0))
        assert exposure_warning(sock) is None


def test_simulator_proxy_port_zero_is_printed_and_serves_the_ca(tmp_path: Path) -> None:
    env = {**os.environ, "LYNSMS_DATA_DIR": str(tmp_path)}
    with lynsms("simulator", "--port", "0", "--proxy-port", "0", env=env) as (process, lines):
        assert process.stdout is not None
        lines += [process.stdout.readline().rstrip("\n") for _ in range(4)]
        simulator, proxy = (URL.search(line).group(0) for line in lines[:2])  # type: ignore[union-attr]
        ca = (tmp_path / "ca" / "ca.pem").read_bytes()
        assert f"export HTTPS_PROXY={proxy} " in lines[3]
        assert f"SSL_CERT_FILE={tmp_path}/ca/ca.pem" in lines[4] and "NODE_EXTRA_CA_CERTS=" in lines[4]
        assert httpx.get(f"{simulator}/_sim/ca.pem").content == ca
        refused = httpx.get("http://example.com/", proxy=proxy)
        assert refused.status_code == 502 and "example.com" in refused.text
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=STOP_WITHIN)
        assert process.returncode == 0 and "Traceback" not in err


def test_up_leaves_the_proxy_out_with_a_warning_when_its_default_port_is_taken(tmp_path: Path) -> None:
    from lynsms.simulator.harness.cli import DEFAULT_PROXY_PORT

    env = {**os.environ, "LYNSMS_DATA_DIR": str(tmp_path)}
    try:
        taken = socket.create_server(("127.0.0.1", DEFAULT_PROXY_PORT))
    except OSError:
        taken = None  # already taken by something else: the same situation
    try:
        with lynsms("up", "--gateway-port", "0", "--simulator-port", "0", env=env) as (process, lines):
            assert "LynSMS Local is up" in lines[0]
            simulator = URL.search(lines[2]).group(0)  # type: ignore[union-attr]
            assert httpx.get(f"{simulator}/_sim/health", timeout=30).status_code == 200  # serving: signals handled
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=STOP_WITHIN)
    finally:
        if taken is not None:
            taken.close()
    assert process.returncode == 0 and "Traceback" not in err
    assert "the proxy is not started" in err and "--proxy-port" in err
    assert "HTTPS_PROXY" not in out
