"""``lynsms scenario run --gateway URL --simulator URL``: each scenario's gateway settings reach a
gateway that serves the admin endpoint; elsewhere they are named as not applied, and what cannot be
checked is reported as skipped, never failed. Files without steps are skipped; shards split a
library deterministically, each scenario in exactly one shard."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from lynsms import simulator
from lynsms.gateway import create_app
from lynsms.gateway.config import load_config
from lynsms.simulator.harness.admin import ADMIN_PATH, AdminGateway
from lynsms.simulator.harness.cli import main
from lynsms.simulator.harness.replay.gateway_settings import gateway_config
from lynsms.simulator.harness.server import ServerThread
from lynsms.tls import client_tls

KEY = "external-key"
# Twilio answers after 150 ms (at the earliest): with the scenario's 50 ms budget the gateway falls back to Sinch;
# with the default budget (10 s) Twilio sends it.
SLOW_TWILIO = """
name: {name}
providers:
  twilio:
    - latency: 150ms
gateway:
  providers: {{twilio: {{timeout: 50ms}}}}
steps:
  - name: first
    send: {{to: "+12025550143", from: LynSMS, body: "Your code is 482194"}}
    expect:
      status: 201
      message: {{provider: sinch, attempts: 2}}
      webhooks: [{{type: message.sent}}]
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.scenario.yaml"
    path.write_text(text, "utf-8")
    return path


@pytest.fixture(scope="module")
def servers(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """A simulator and a gateway someone else started, shared by the module's tests (the runner
    resets the simulator before each scenario); ``admin`` (indirect param) wraps the gateway in the
    admin endpoint as ``lynsms up --admin`` does."""
    admin = getattr(request, "param", False)
    with ServerThread(simulator.create_app()) as sim:
        gateway = ServerThread(None)
        config = load_config(None, sim.url).with_api_key(KEY)
        app: Any = create_app(config, environ={})
        if admin:

            def build(settings: Mapping[str, Any], webhook_url: str | None) -> Any:
                return create_app(gateway_config(settings, sim.url, gateway.url, KEY, webhook_url), environ={})

            app = AdminGateway(app, build)
        gateway.app = gateway.server.config.app = app
        with gateway:
            yield gateway.url, sim.url


def replay(gateway: str, sim: str, *paths: Path | str, junit: Path | None = None) -> int:
    extra = ["--junit-xml", str(junit)] if junit else []
    return main(
        ["scenario", "run", *map(str, paths), "--gateway", gateway, "--simulator", sim, "--api-key", KEY, *extra]
    )


@pytest.mark.parametrize("servers", [True], indirect=True)
def test_a_gateway_with_the_admin_endpoint_runs_each_scenario_with_its_settings(
    servers: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gateway, sim = servers
    path = write(tmp_path, "slow-twilio", SLOW_TWILIO.format(name="slow-twilio"))
    assert replay(gateway, sim, path) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert "1 scenario(s): 1 passed, 0 failed, 0 skipped" in out
    assert "not applied" not in out and "not checked" not in out


@pytest.mark.parametrize("servers", [True], indirect=True)
def test_the_admin_endpoint_wants_the_api_key_and_names_refused_settings(servers: tuple[str, str]) -> None:
    gateway, _ = servers
    url = gateway + ADMIN_PATH
    with httpx.Client(verify=client_tls()) as http:  # one client, not a new one (and TLS context) per call
        assert http.put(url, json={}).json()["error"]["code"] == "unauthorized"
        auth = {"Authorization": f"Bearer {KEY}"}
        refused = http.put(url, json={"gateway": {"default_chain": ["twilo"]}}, headers=auth)
        assert refused.status_code == 422
        assert refused.json()["error"]["problems"][0]["path"] == "default_chain.0"
        assert http.put(url, content=b"[1]", headers=auth).status_code == 400


def test_without_the_admin_endpoint_settings_are_named_and_webhooks_skipped_not_failed(
    servers: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gateway, sim = servers
    webhooks_only = SLOW_TWILIO.replace("status: 201\n      message: {{provider: sinch, attempts: 2}}\n", "")
    path = write(tmp_path, "webhooks-only", webhooks_only.format(name="webhooks-only"))
    report = tmp_path / "report.xml"
    assert replay(gateway, sim, path, junit=report) == 0
    out = capsys.readouterr().out
    assert "gateway settings not applied, the gateway has no admin endpoint" in out
    assert "providers.twilio.timeout=50ms" in out
    assert "not checked: step 1 'first' (send): expect.webhooks" in out
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None and (suite.get("failures"), suite.get("skipped")) == ("0", "1")
    skipped = suite.find("testcase/skipped")
    assert skipped is not None and "expect.webhooks" in skipped.get("message", "")


def test_a_file_without_steps_is_skipped_not_passed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "rules-only", "name: rules-only\nproviders:\n  twilio:\n    - http_error: 503\n")
    report = tmp_path / "report.xml"
    assert main(["scenario", "run", str(path), "--junit-xml", str(report)]) == 0
    out = capsys.readouterr().out
    assert "- rules-only" in out and "skipped: no steps" in out
    assert "1 scenario(s): 0 passed, 0 failed, 1 skipped" in out
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None and suite.get("skipped") == "1"


def test_shards_split_a_folder_the_same_way_every_time_each_scenario_in_exactly_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    names = [f"s{i:02d}" for i in range(11)]
    for name in reversed(names):  # written out of order: the split must not follow the directory's
        write(tmp_path, name, f"name: {name}\n")  # no steps: replaying costs nothing
    shards = []
    for k in range(1, 4):
        assert main(["scenario", "run", str(tmp_path), "--shard", f"{k}/3"]) == 0
        shards.append(re.findall(r"^- (\S+)", capsys.readouterr().out, flags=re.M))
    # A fixed rule of the sorted names, the same on every machine and run: every 3rd from the K-th.
    assert shards == [names[k - 1 :: 3] for k in range(1, 4)]
    together = [name for shard in shards for name in shard]
    assert sorted(together) == names and all(shards)


def test_other_yaml_in_a_folder_is_skipped_with_a_note(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "rules-only", "name: rules-only\n")
    (tmp_path / "docker-compose.yml").write_text("services: {}\n", "utf-8")
    assert main(["scenario", "run", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"note: skipped {tmp_path / 'docker-compose.yml'}: not a scenario file" in out


def test_check_says_what_it_checked_and_reports_schema_and_semantic_problems_in_one_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write(tmp_path, "good", "name: good\nproviders:\n  twilio:\n    - http_error: 503\n")
    assert main(["scenario", "check", str(good)]) == 0
    out = capsys.readouterr().out
    assert f"ok  {good}  (good: 1 rule(s) for twilio; no steps (nothing to replay))" in out
    assert "1 file(s) checked: YAML syntax, the scenario schema" in out
    both = write(
        tmp_path,
        "both",
        "name: both\nproviders:\n  twilio:\n    - fault: {kind: connection_reset, seconds: 3}\n"
        "steps:\n  - sned: {to: '+12025550143', from: LynSMS, body: hi}\n",
    )
    assert main(["scenario", "check", str(both)]) == 1
    out = capsys.readouterr().out
    assert f"{both}:4: providers.twilio[0].fault.seconds: seconds has no meaning for connection_reset" in out
    assert f"{both}:6: steps[0].sned: unknown key 'sned' (did you mean 'send'?)" in out


def test_scripted_waits_fast_forward_unless_real_time(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Five seconds: the gateway's idle outbox wakes each second, and each wake costs a short calm.
    path = write(tmp_path, "waits", "name: waits\nsteps:\n  - sleep: 5s\n")
    assert main(["scenario", "run", str(path)]) == 0
    out = capsys.readouterr().out
    # Five seconds of scenario time, reported as such, with the wall time beside it.
    assert re.search(r"✓ step 1 \(sleep\)  slept 5 s  5\.\d\d s \(wall \d+\.\d\d s\)", out), out
    path.write_text("name: waits\nsteps:\n  - sleep: 0.05s\n", "utf-8")
    assert main(["scenario", "run", str(path), "--real-time"]) == 0
    out = capsys.readouterr().out
    # Real time: the system clock's own duration, and no separate wall time.
    assert re.search(r"slept 0\.05 s  \d+\.\d\d s\n", out) and "(wall" not in out, out
