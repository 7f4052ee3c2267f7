"""The lynsms command line, run as a user runs it: a real process, real ports, Ctrl-C to stop."""

from __future__ import annotations

import re
import signal
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


@contextmanager
def lynsms(*args: str) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """Start ``lynsms ARGS`` and yield it with the lines it printed up to its blank banner end."""
    process = subprocess.Popen(
        [sys.executable, "-m", "lynsms.simulator.harness.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
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
            process.wait()


def test_simulator_command_serves_on_a_free_port_and_stops_on_ctrl_c() -> None:
    with lynsms("simulator", "--port", "0") as (process, lines):
        url = URL.search(lines[0]).group(0)  # type: ignore[union-attr]
        assert httpx.get(f"{url}/_sim/health").json()["status"] == "ok"
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=15)
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
        process.communicate(timeout=15)


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


def test_up_serves_the_curl_from_its_banner_and_stops_on_ctrl_c() -> None:
    with lynsms("up", "--gateway-port", "0", "--simulator-port", "0") as (process, lines):
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
        out, err = process.communicate(timeout=15)
        assert process.returncode == 0, err
        assert "stopped" in out and "Traceback" not in err


def test_ctrl_c_while_up_is_starting_stops_it_cleanly() -> None:
    # Right after the banner the servers are still starting: the signal must not become a traceback.
    with lynsms("up", "--gateway-port", "0", "--simulator-port", "0") as (process, _):
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=15)
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
    with lynsms("up", "--gateway-port", "0", "--simulator-port", "0", "--scenario", str(scenario)) as (process, lines):
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
        process.communicate(timeout=15)
    config = tmp_path / "gateway.yaml"
    config.write_text("providers:\n  twilio: {}\n")
    assert main(["up", "--scenario", str(scenario), "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "has gateway settings (default_chain=" in err and "--config" in err
