"""The lynsms command line, run as a user runs it: a real process, real ports, Ctrl-C to stop.

A process costs ~0.5 s of CPU to start, so tests that only read from a running command share it
(module-scoped), and the test that stops it with Ctrl-C comes last in the file. Usage errors are
the parser's alone: they are checked in-process, through ``main``."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from lynsms.simulator.harness.cli import DEFAULT_PROXY_PORT, build_parser, exposure_warning, main
from lynsms.tls import client_tls

URL = re.compile(r"http://127\.0\.0\.1:\d+")
# How long a stopped process may take to exit: a bound for a loaded machine, not a measurement.
STOP_WITHIN = 60
# The command pip installed from pyproject.toml's [project.scripts], beside this interpreter.
INSTALLED = Path(sysconfig.get_path("scripts")) / "lynsms"
OUTAGE = "name: outage\nproviders:\n  twilio:\n    - http_error: 503\ngateway:\n  default_chain: [twilio, infobip]\n"
STOP = {"provider": "twilio", "from": "+447700900123", "to": "+12025550100", "body": "STOP"}


@dataclass
class Command:
    """A running ``lynsms`` process and the lines it printed so far."""

    process: subprocess.Popen[str]
    lines: list[str]

    def read_until(self, done: re.Pattern[str]) -> str:
        """Read printed lines until one matches ``done``; return it."""
        assert self.process.stdout is not None
        while not done.search(self.lines[-1]):
            line = self.process.stdout.readline()
            assert line, f"the command ended: {self.lines}"
            self.lines.append(line.rstrip("\n"))
        return self.lines[-1]

    def find(self, pattern: str) -> str:
        found = re.search(pattern, "\n".join(self.lines))
        assert found is not None, (pattern, self.lines)
        return found.group(1)

    def stop(self) -> tuple[str, str]:
        """Ctrl-C; the rest of what it printed on stdout and everything on stderr."""
        self.process.send_signal(signal.SIGINT)
        return self.process.communicate(timeout=STOP_WITHIN)


@contextmanager
def lynsms(*args: str, env: dict[str, str] | None = None) -> Iterator[Command]:
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
            yield Command(process, lines)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()


def data_dir(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a command whose proxy CA goes to a fresh folder, not the developer's home."""
    return {**os.environ, "LYNSMS_DATA_DIR": str(tmp_path_factory.mktemp("lynsms-data"))}


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    """One keep-alive client for the module."""
    with httpx.Client(timeout=30, verify=client_tls()) as client:
        yield client


# ---- the parser: usage errors, in-process ---------------------------------------------------------------


@pytest.mark.parametrize("port", ["-1", "65536", "http"])
def test_bad_port_is_rejected_by_the_parser(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["simulator", "--port", port])
    assert exit_info.value.code == 2
    assert "--port" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["up", "gateway"])
@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/hook", "example.com/hook", "http://"])
def test_webhook_url_must_be_http_or_https(command: str, url: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([command, "--webhook-url", url])
    assert exit_info.value.code == 2
    assert "not an http:// or https:// URL" in capsys.readouterr().err


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_loopback_hosts_get_no_warning(host: str) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.bind((host, 0))
        assert exposure_warning(sock) is None


# ---- lynsms simulator --proxy-port 0: one process for the tests that read from it ----------------------


@pytest.fixture(scope="module")
def simulator_command(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Command, Path]]:
    env = data_dir(tmp_path_factory)
    with lynsms("simulator", "--port", "0", "--proxy-port", "0", env=env) as command:
        command.read_until(re.compile(r"export SSL_CERT_FILE="))
        yield command, Path(env["LYNSMS_DATA_DIR"])


def test_taken_port_is_a_clear_error_not_a_traceback(simulator_command: tuple[Command, Path]) -> None:
    # The installed command, as a user types it, against the port the running simulator holds.
    assert INSTALLED.exists(), f"no {INSTALLED}: install the project (pip install -e .)"
    port = URL.search(simulator_command[0].lines[0]).group(0).rsplit(":", 1)[1]  # type: ignore[union-attr]
    second = subprocess.run(
        [str(INSTALLED), "simulator", "--port", port], capture_output=True, text=True, timeout=30, check=False
    )
    assert second.returncode == 2
    assert second.stderr.startswith("lynsms: ") and "Traceback" not in second.stderr
    assert f"the simulator (--port) cannot listen on 127.0.0.1:{port}: already in use" in second.stderr


def test_simulator_proxy_port_zero_is_printed_and_serves_the_ca(
    simulator_command: tuple[Command, Path], http: httpx.Client
) -> None:
    command, data = simulator_command
    lines = command.lines
    simulator, proxy = (URL.search(line).group(0) for line in lines[:2])  # type: ignore[union-attr]
    ca = (data / "ca" / "ca.pem").read_bytes()
    assert f"export HTTPS_PROXY={proxy} " in lines[3]
    assert f"SSL_CERT_FILE={data}/ca/ca.pem" in lines[4] and "NODE_EXTRA_CA_CERTS=" in lines[4]
    assert http.get(f"{simulator}/_sim/ca.pem").content == ca
    refused = httpx.get("http://example.com/", proxy=proxy, verify=client_tls())
    assert refused.status_code == 502 and "example.com" in refused.text


def test_simulator_command_serves_on_a_free_port_and_stops_on_ctrl_c(
    simulator_command: tuple[Command, Path], http: httpx.Client
) -> None:
    command = simulator_command[0]
    url = URL.search(command.lines[0]).group(0)  # type: ignore[union-attr]
    assert http.get(f"{url}/_sim/health").json()["status"] == "ok"
    out, err = command.stop()  # with its proxy
    assert command.process.returncode == 0, err
    assert "stopped" in out
    assert "Traceback" not in err


# ---- lynsms up --scenario ---------------------------------------------------------------------------------


def test_up_with_a_scenario_runs_the_gateway_with_its_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], http: httpx.Client
) -> None:
    scenario = tmp_path / "outage.scenario.yaml"
    scenario.write_text(OUTAGE)
    env = {**os.environ, "LYNSMS_DATA_DIR": str(tmp_path)}
    ports = ("--gateway-port", "0", "--simulator-port", "0", "--proxy-port", "0")
    with lynsms("up", *ports, "--scenario", str(scenario), env=env) as command:
        assert f"gateway settings from {scenario}: default_chain=" in "\n".join(command.lines)
        gateway = command.find(r"gateway\s+(http://\S+)")
        key = command.find(r"API key\s+(\S+)")
        answer = http.post(
            f"{gateway}/v1/messages/send",
            json={"to": "+12025550143", "from": "LynSMS", "body": "hi"},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert answer.json()["data"]["provider"] == "infobip", answer.text  # the scenario's chain, not the default
    config = tmp_path / "gateway.yaml"
    config.write_text("providers:\n  twilio: {}\n")
    assert main(["up", "--scenario", str(scenario), "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "has gateway settings (default_chain=" in err and "--config" in err


# ---- lynsms up --admin: one process (the default proxy port taken) ----------------------------------------


@pytest.fixture(scope="module")
def up_command(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Command]:
    """``up --admin`` with the proxy's default port taken, its banner read to the curl."""
    try:
        taken = socket.create_server(("127.0.0.1", DEFAULT_PROXY_PORT))
    except OSError:
        taken = None  # already taken by something else: the same situation
    ports = ("--gateway-port", "0", "--simulator-port", "0")
    try:
        with lynsms("up", *ports, "--admin", env=data_dir(tmp_path_factory)) as command:
            command.read_until(re.compile(r"^\s*-d "))
            yield command
    finally:
        if taken is not None:
            taken.close()


def test_up_serves_the_curl_from_its_banner(up_command: Command, http: httpx.Client) -> None:
    banner = "\n".join(up_command.lines)
    # up registered the gateway's inbound URLs before the simulator took a request: a handset's
    # STOP pushed as soon as the banner is out reaches the gateway's opt-out list.
    simulator = re.search(r"simulator\s+(http://\S+)", banner).group(1)  # type: ignore[union-attr]
    pushed = http.post(f"{simulator}/_sim/inbound", json=STOP)
    assert pushed.status_code == 202, pushed.text
    # The printed curl, parsed back: URL, headers and JSON body, sent as curl would send them.
    url = re.search(r"curl (\S+)", banner).group(1)  # type: ignore[union-attr]
    headers = dict(h.split(": ", 1) for h in re.findall(r'-H "([^"]+)"', banner))
    body = re.search(r"-d '([^']+)'", banner).group(1)  # type: ignore[union-attr]
    response = http.post(url, headers=headers, content=body.encode())
    assert response.status_code == 201, response.text
    assert response.json()["data"]["status"] == "sent"
    found = pushed_to_the_gateway(http, simulator, pushed.json()["id"])
    assert found["delivery"] == "delivered", found
    listed = http.get(url.replace("/messages/send", "/opt-outs"), headers=headers).json()["data"]["opt_outs"]
    assert [o["number"] for o in listed] == ["+447700900123"]


def pushed_to_the_gateway(http: httpx.Client, simulator: str, inbound_id: str) -> dict[str, object]:
    """The simulator's inbound message once its push to the gateway is done, the gateway having
    acted on it (delivered) or the simulator having given up."""
    deadline = time.monotonic() + 30  # a bound for a loaded machine, not an expected time
    while True:
        found = [m for m in http.get(f"{simulator}/_sim/inbound").json()["inbound"] if m["id"] == inbound_id]
        if (found and found[0]["delivery"] != "queued") or time.monotonic() > deadline:
            assert found, inbound_id
            return found[0]  # type: ignore[no-any-return]
        time.sleep(0.02)


def test_a_gateway_swapped_in_by_the_admin_endpoint_takes_the_replies(up_command: Command, http: httpx.Client) -> None:
    command = up_command
    gateway = command.find(r"gateway\s+(http://\S+)/api")
    simulator = command.find(r"simulator\s+(http://\S+)")
    key = command.find(r"API key\s+(\S+)")
    auth = {"Authorization": f"Bearer {key}"}
    swapped = http.put(f"{gateway}/api/admin/gateway", json={"gateway": {"timeout": "2s"}}, headers=auth)
    assert swapped.status_code == 200, swapped.text
    # The fresh gateway has its own callback token: only a new registration lets a STOP reach it.
    # Another handset than the earlier test's, so the list below can only be the new gateway's.
    stop = {**STOP, "from": "+447700900124"}
    pushed = http.post(f"{simulator}/_sim/inbound", json=stop).json()
    found = pushed_to_the_gateway(http, simulator, pushed["id"])
    assert found["delivery"] == "delivered", found
    listed = http.get(f"{gateway}/api/v1/opt-outs", headers=auth).json()["data"]["opt_outs"]
    assert [o["number"] for o in listed] == ["+447700900124"]


def test_up_leaves_the_proxy_out_with_a_warning_when_its_default_port_is_taken(
    up_command: Command, http: httpx.Client
) -> None:
    command = up_command
    simulator = command.find(r"simulator\s+(http://\S+)")
    assert http.get(f"{simulator}/_sim/health").status_code == 200  # serving: signals handled
    rest, err = command.stop()
    assert command.process.returncode == 0 and "Traceback" not in err
    assert "stopped" in rest  # up stops on Ctrl-C, every server of it
    assert "the proxy is not started" in err and "--proxy-port" in err
    assert "HTTPS_PROXY" not in "\n".join([*command.lines, rest])


# ---- lynsms up on every interface, stopped while it starts ----------------------------------------------


@pytest.fixture(scope="module")
def stopped_while_starting(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, str]:
    """``up --host 0.0.0.0``, Ctrl-C right after its banner: the exit code, stdout and stderr."""
    args = ("up", "--host", "0.0.0.0", "--gateway-port", "0", "--simulator-port", "0", "--proxy-port", "0")
    with lynsms(*args, env=data_dir(tmp_path_factory)) as command:
        # Right after the banner the servers are still starting: the signal must not become a traceback.
        out, err = command.stop()
        return command.process.returncode, "\n".join([*command.lines, out]), err


def test_ctrl_c_while_up_is_starting_stops_it_cleanly(stopped_while_starting: tuple[int, str, str]) -> None:
    code, out, err = stopped_while_starting
    assert code == 0, err
    assert "stopped" in out
    assert "Traceback" not in err and "CancelledError" not in err and "never awaited" not in err


def test_listening_beyond_loopback_warns_that_control_and_reports_have_no_auth(
    stopped_while_starting: tuple[int, str, str],
) -> None:
    err = stopped_while_starting[2]
    assert "listening on 0.0.0.0" in err and "/_sim/*" in err and "no authentication" in err
