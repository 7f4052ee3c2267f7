"""The pytest plugin, exercised the way a user meets it: a fresh pytest session in a temporary
project, with the plugin loaded from its ``pytest11`` entry point.

Sub-sessions run in a subprocess: they start servers on threads, which must not outlive them
inside this process; and ``pytester.runpytest_inprocess`` restores ``sys.modules`` afterwards,
dropping what the sub-session imported first (httpcore, which httpx imports on first use), so
this worker's later tests would import it again and httpx would no longer translate its errors (a
raw ``httpcore.ConnectError`` where tests expect ``httpx.ConnectError``). Each sub-session runs
with a strict config (strict markers, warnings as errors), as a careful project would, so the
plugin is held to it too.

A fresh session costs ~1.3 s of CPU before its first test (an xdist one ~2 s), so the tests below
share three sessions, each run once per module, and each test checks its own files' outcomes and
output in its session's run:

- ``shared``: the plain session (``python -m pytest``, real time), the projects that need no
  settings of their own beyond one ini: fixtures, markers, near misses, scenario items, a host
  project's packages, conftest overrides, async tests, the README's plugin example. Sharing it also
  proves more: state must not leak between the files either.
- ``workers``: ``pytest -n 2 --lynsms-fast-forward`` (xdist's default distribution), each worker
  with its own servers and clock, with the fast-forward tests and the README's ``sms_intercept``
  example beside them.
- ``no_scenarios``: scenario collection switched off, a project with nothing else to collect (no
  test runs, so no server starts: ~0.3 s).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from tests.contract.test_readme_snippets import python_blocks, section

STRICT_INI = """
[pytest]
addopts = --strict-markers -ra -p no:cacheprovider
    -p no:asyncio -p no:hypothesispytest -p no:faker -p no:benchmark -p no:anyio -p no:schemathesis
filterwarnings = error
xfail_strict = true
"""

TWILIO_DOWN = """
name: twilio-down
providers:
  twilio:
    - name: twilio-503
      http_error: 503
"""

# Third-party pytest plugins installed beside the test extras that none of these sessions uses: each
# fresh session would pay ~1.1 s of CPU in all to load them (pyproject.toml turns them off for this run).
UNUSED_PLUGINS = "-p no:hypothesispytest -p no:faker -p no:schemathesis"

# The shared session loads pytest-asyncio (for the async fixture's test), reads YAML below
# ``replays`` as scenarios, and lets the README example's Twilio SDK deprecations pass.
SHARED_INI = (
    STRICT_INI.replace("-p no:asyncio ", "")
    + "    ignore::DeprecationWarning:twilio.*\n"
    + "asyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    + "lynsms_scenarios = replays\n"
)

# The shared project: path -> content. Each test below adds its files right above itself.
SHARED_PROJECT: dict[str, str] = {"pytest.ini": SHARED_INI, "twilio_down.yaml": TWILIO_DOWN}


# How ``pytest -v`` words an outcome, and how ``assert_outcomes`` names it.
OUTCOMES = {"PASSED": "passed", "FAILED": "failed", "ERROR": "errors", "SKIPPED": "skipped"}


class ProjectRun:
    """The outcome of one session of a project (``pytest -v``), read per file."""

    def __init__(self, result: pytest.RunResult) -> None:
        self.result = result
        self.stdout = result.stdout

    def outcomes(self, file: str) -> dict[str, int]:
        """The outcome of each test of ``file``, counted, as ``assert_outcomes`` names them. Reads
        both ``-v`` forms: ``file::test PASSED`` and, under xdist, ``[gw0] [ 50%] PASSED file::test``."""
        word = "|".join(OUTCOMES)
        node = rf"{re.escape(file)}::\S+"
        line = re.compile(rf"^(?:{node} (?P<plain>{word})\b|\[gw\d+\] \[\s*\d+%\] (?P<xdist>{word}) {node})")
        found = Counter(OUTCOMES[m["plain"] or m["xdist"]] for m in map(line.match, self.result.outlines) if m)
        return dict(found)


class ProjectSession:
    """One session of a temporary project, started in a subprocess as ``pytester.runpytest_subprocess``
    would start it: ``python -m pytest -v`` from the project root, the outer pytest options and the
    user's home left out (the unused plugins stay off). Its output goes to files, so sessions started
    side by side never wait on a pipe."""

    def __init__(self, root: Path, files: Mapping[str, str], *args: str, env: Mapping[str, str] | None = None) -> None:
        for name, content in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(content) if name.endswith(".py") else content, "utf-8")
        environ = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "TOX_ENV_DIR")}
        environ.update(HOME=str(root), USERPROFILE=str(root), PY_COLORS="0", PYTHONPATH=str(root))
        environ.update(PYTEST_ADDOPTS=UNUSED_PLUGINS)
        environ.update(env or {})
        self.out, self.err = root / "stdout.txt", root / "stderr.txt"
        self.started = time.monotonic()
        with self.out.open("w") as stdout, self.err.open("w") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "pytest", f"--basetemp={root / 'basetemp'}", "-v", *args],
                cwd=root,
                env=environ,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
            )

    def run(self) -> ProjectRun:
        """Wait for the session to end; its outcome (failing tests are what several files are about)."""
        code = self.process.wait(timeout=300)
        lines = self.out.read_text("utf-8").splitlines(), self.err.read_text("utf-8").splitlines()
        return ProjectRun(pytest.RunResult(code, *lines, time.monotonic() - self.started))

    def stop(self) -> None:
        if self.process.poll() is None:  # a test selection that read only some of the sessions
            self.process.kill()
        self.process.wait()


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory, seen: Path) -> Iterator[dict[str, ProjectSession]]:
    """The three sessions below, started at once when the first test reads one: they run side by side
    on the machine's cores while the tests read them in turn."""
    specs: dict[str, tuple[dict[str, str], list[str], dict[str, str]]] = {
        "shared": (SHARED_PROJECT, [], {}),
        "workers": (WORKERS_PROJECT, ["-n", "2", "--lynsms-fast-forward"], {"SEEN": str(seen)}),
        "no-scenarios": (NO_SCENARIOS_PROJECT, ["-o", "lynsms_collect_scenarios=false"], {}),
    }
    started = {
        name: ProjectSession(tmp_path_factory.mktemp(f"{name}-project"), files, *args, env=env)
        for name, (files, args, env) in specs.items()
    }
    try:
        yield started
    finally:
        for session in started.values():
            session.stop()


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the workers session's tests write down which worker they ran on and which servers they saw."""
    return tmp_path_factory.mktemp("seen")


@pytest.fixture(scope="module")
def shared(sessions: dict[str, ProjectSession]) -> ProjectRun:
    return sessions["shared"].run()


@pytest.fixture(scope="module")
def workers(sessions: dict[str, ProjectSession]) -> ProjectRun:
    return sessions["workers"].run()


@pytest.fixture(scope="module")
def no_scenarios(sessions: dict[str, ProjectSession]) -> ProjectRun:
    return sessions["no-scenarios"].run()


SHARED_PROJECT["test_fixtures.py"] = """
        def test_send(sms_gateway, sms_simulator):
            assert sms_gateway.url.startswith("http://127.0.0.1:")
            assert sms_gateway.client.headers["Authorization"] == f"Bearer {sms_gateway.api_key}"
            answer = sms_gateway.send(to="+447700900123", body="Your code is 1234")
            assert answer.status_code == 201, answer.text
            data = answer.json()["data"]
            assert (data["status"], data["provider"]) == ("sent", "twilio")

            [sent] = sms_simulator.assert_sent(to="+447700900123", provider="twilio", body_contains="code")
            assert sent.id == data["provider_message_id"]
            assert sms_simulator.messages(provider="twilio", to="447700900123") == [sent]
            assert [r["provider"] for r in sms_simulator.requests(provider="twilio")] == ["twilio"]
            sms_simulator.assert_nothing_sent(provider="sinch")

        def test_the_client_is_a_plain_httpx_client(sms_gateway):
            answer = sms_gateway.client.post(
                "/api/v1/messages/send", json={"to": "+12025550143", "from": "Acme", "body": "Hi"}
            )
            assert answer.status_code == 201

        def test_a_handset_reply_reaches_the_gateway(sms_gateway, sms_simulator):
            pushed = sms_simulator.reply("+447700900123", "+12025550100", "STOP", provider="sinch")
            assert pushed["delivery"] == "delivered"
            answer = sms_gateway.send(to="+447700900123", body="Sale")
            assert answer.status_code == 422, answer.text
            assert answer.json()["error"]["code"] == "recipient_opted_out"
            sms_simulator.assert_nothing_sent(to="+447700900123")

        def test_real_time_unless_fast_forward_is_asked_for(sms_clock):
            from lynsms.clock import SystemClock

            assert isinstance(sms_clock, SystemClock)
        """


def test_fixtures_send_through_a_real_gateway_to_a_real_simulator(shared: ProjectRun) -> None:
    assert shared.outcomes("test_fixtures.py") == {"passed": 4}


# Test A leaves a message, an idempotency key and an open Twilio circuit behind; test B sees none.
SHARED_PROJECT["test_state.py"] = """
        def test_a_leaves_state_behind(sms_gateway, sms_simulator):
            assert sms_gateway.send(to="+12025550143", body="first", idempotency_key="k1").status_code == 201
            sms_simulator.load("twilio_down.yaml")
            for _ in range(5):  # five retryable failures open Twilio's circuit for 30 s
                sms_gateway.send(to="+12025550143", body="fallback")
            assert sms_gateway.client.get("/api/health").json()["data"]["providers"]["twilio"]["circuit"] == "open"

        def test_b_starts_clean(sms_gateway, sms_simulator):
            assert sms_simulator.messages() == []
            assert sms_simulator.arrivals() == []  # the journal may hold the new gateway's own setup calls
            assert sms_gateway.client.get("/api/v1/messages").json()["data"]["messages"] == []
            answer = sms_gateway.send(to="+12025550143", body="second", idempotency_key="k1")
            assert answer.status_code == 201 and "Idempotent-Replayed" not in answer.headers
            assert answer.json()["data"]["provider"] == "twilio"  # scenario unloaded, circuit closed
        """


def test_state_does_not_leak_between_tests(shared: ProjectRun) -> None:
    assert shared.outcomes("test_state.py") == {"passed": 2}


SHARED_PROJECT["test_marker.py"] = """
        import pytest

        @pytest.mark.sms_scenario("twilio_down.yaml")
        def test_file_beside_the_test(sms_gateway, sms_simulator):
            assert sms_gateway.send(to="+12025550143", body="hi").json()["data"]["provider"] == "sinch"
            sms_simulator.assert_sent(provider="sinch")

        @pytest.mark.sms_scenario('''
        name: inline
        providers:
          twilio: [{http_error: 503}]
        ''')
        def test_inline_yaml(sms_gateway):
            assert sms_gateway.send(to="+12025550143", body="hi").json()["data"]["provider"] == "sinch"

        TWILIO_503 = {"name": "x", "providers": {"twilio": [{"http_error": 503}]}}

        @pytest.mark.sms_scenario(TWILIO_503, account="AC" + "9" * 32)
        def test_mapping_for_another_account(sms_gateway):
            # The gateway's Twilio account is not the scripted one: Twilio still accepts.
            assert sms_gateway.send(to="+12025550143", body="hi").json()["data"]["provider"] == "twilio"

        @pytest.mark.sms_scenario("twilio_down.yaml")
        def test_marker_alone_resets_and_loads(request):
            # No fixture asked for: the marker still loads the scenario into the session simulator.
            simulator = request.getfixturevalue("lynsms_simulator_session")
            [loaded] = simulator.control.get("/_sim/scenario").json()["scenarios"]
            assert loaded["name"] == "twilio-down"

        def test_unmarked_test_after_them(sms_gateway, sms_simulator):
            assert sms_gateway.send(to="+12025550143", body="hi").json()["data"]["provider"] == "twilio"
            assert sms_simulator.control.get("/_sim/scenario").json()["scenarios"] == []

        @pytest.mark.sms_scenario("no_such_file.yaml")
        def test_missing_file(sms_simulator):
            pass

        @pytest.mark.sms_scenario("name: broken\\nproviders:\\n  twilio:\\n    - tims: 3\\n")
        def test_invalid_scenario(sms_simulator):
            pass
        """


def test_marker_loads_a_scenario_for_one_test_only(shared: ProjectRun) -> None:
    assert shared.outcomes("test_marker.py") == {"passed": 5, "errors": 2}
    shared.stdout.fnmatch_lines(
        [
            "*@pytest.mark.sms_scenario: scenario file 'no_such_file.yaml' not found*",
            "*@pytest.mark.sms_scenario: <inline scenario>:4: providers.twilio*.tims: "
            "unknown key 'tims' (did you mean 'times'?)",
        ]
    )


SHARED_PROJECT["test_near_misses.py"] = """
        import pytest

        @pytest.mark.sms_scenario('''
        name: sinch-rejects-uk
        providers:
          sinch:
            - match: {country: GB}
              reject: invalid_number
        ''')
        def test_wrong_number(sms_gateway, sms_simulator):
            sms_gateway.send(to="+12025550143", body="Your code is 1234")
            sms_gateway.send(to="+447700900123", body="Your code is 5678", provider="sinch")
            sms_gateway.send(to="+447700900999", body="Welcome aboard")
            sms_simulator.assert_sent(to="+447700900123", provider="sinch", body_contains="code")

        def test_sent_twice(sms_gateway, sms_simulator):
            sms_gateway.send(to="+12025550143", body="once")
            sms_gateway.send(to="+12025550143", body="once")
            sms_simulator.assert_sent(to="+12025550143")

        def test_nothing_arrived(sms_simulator):
            sms_simulator.assert_sent(to="+12025550143")

        def test_something_was_sent(sms_gateway, sms_simulator):
            sms_gateway.send(to="+12025550143", body="oops")
            sms_simulator.assert_nothing_sent(provider="twilio")
        """


def test_assert_sent_lists_the_near_misses(shared: ProjectRun) -> None:
    assert shared.outcomes("test_near_misses.py") == {"failed": 4}
    result = shared
    result.stdout.fnmatch_lines(
        [
            "*expected 1 message(s) sent to +447700900123 via sinch with body containing 'code', found 0.",
            "*Near misses (closest first; 3 message(s) reached the simulator in this test):",
            "*sinch*to=+447700900123*body='Your code is 5678'*-> 400 reject invalid_number*differs: not accepted",
            "*twilio*to=+12025550143*body='Your code is 1234'*-> 201 accepted*differs: provider, to",
            "*twilio*to=+447700900999*body='Welcome aboard'*differs: provider, to, body",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*expected 1 message(s) sent to +12025550143, found 2.",
            "*Matching messages:",
            "*SM*twilio*'once'*",
            "*SM*twilio*'once'*",
        ]
    )
    result.stdout.fnmatch_lines(
        ["*Nothing reached the simulator at http://127.0.0.1:* in this test: is the code under test pointed at it?"]
    )
    result.stdout.fnmatch_lines(
        ["*expected nothing sent via twilio, but 1 message(s) were accepted:", "*SM*twilio*to=+12025550143*'oops'*"]
    )


# A conftest in a folder of its own: its overrides apply to that folder only.
SHARED_PROJECT["settings/conftest.py"] = """
        import pytest

        @pytest.fixture
        def lynsms_gateway_config():
            return {"default_chain": ["sinch", "twilio"]}

        @pytest.fixture
        def lynsms_api_key():
            return "lyn_test_mine"
        """
SHARED_PROJECT["settings/test_settings_override.py"] = """
        def test_overrides_apply(sms_gateway, sms_simulator):
            assert sms_gateway.api_key == "lyn_test_mine"
            assert sms_gateway.send(to="+12025550143", body="hi").json()["data"]["provider"] == "sinch"
            sms_simulator.assert_sent(provider="sinch", count=None)
        """


def test_settings_are_fixtures_a_conftest_overrides(shared: ProjectRun) -> None:
    assert shared.outcomes("settings/test_settings_override.py") == {"passed": 1}


AZURE_PIPELINES = "trigger: [main]\npool: {vmImage: ubuntu-latest}\nsteps:\n  - script: python -m pytest\n"
SCENARIO_FILES = [("falls_back", "yaml"), ("expects_twilio", "yaml"), ("broken", "yml")]

PASSING_SCENARIO = """
name: falls-back-to-sinch
providers:
  twilio:
    - http_error: 503
steps:
  - name: send
    send: {to: "+12025550143", from: LynSMS, body: "Hello"}
    expect:
      status: 201
      json: {data: {status: sent, provider: sinch}}
"""

FAILING_SCENARIO = """
name: expects-twilio
providers:
  twilio:
    - http_error: 503
steps:
  - name: send
    send: {to: "+12025550143", from: LynSMS, body: "Hello"}
    expect:
      json: {data: {provider: twilio}}
"""


SHARED_PROJECT.update(
    {
        "falls_back.scenario.yaml": PASSING_SCENARIO,
        "expects_twilio.scenario.yaml": FAILING_SCENARIO,
        "broken.scenario.yml": "name: broken\nsteps:\n  - name: send\n    sned: {}\n",
        # Not named as scenarios: a CI config with a top-level steps key, and a scenario file loaded by a marker.
        "azure-pipelines.yml": AZURE_PIPELINES,
        "marker_only.yaml": PASSING_SCENARIO,
    }
)


def test_files_named_scenario_run_as_test_items_and_other_yaml_is_left_alone(shared: ProjectRun) -> None:
    outcomes = [shared.outcomes(f"{name}.scenario.{ext}") for name, ext in SCENARIO_FILES]
    assert outcomes == [{"passed": 1}, {"failed": 1}, {"failed": 1}]
    result = shared
    result.stdout.fnmatch_lines(["*falls_back.scenario.yaml::falls_back PASSED*"], consecutive=False)
    # The failure is the replay runner's own report, not a Python traceback.
    result.stdout.fnmatch_lines(
        [
            "*_ scenario expects_twilio.scenario.yaml _*",
            "✗ expects-twilio  (expects_twilio.scenario.yaml)  * s (wall * s)",
            "    ✗ step 1 'send' (send)  POST /api/v1/messages/send -> 201 *",
            "  FAILED expects_twilio.scenario.yaml:*: step 1 'send' (send)",
            "    expect.json: (expected, got)",
            '      data.provider: expected "twilio", got "sinch"',
            # The journal's numbering is the simulator's: the gateway's start-up calls (ClickSend's
            # receipt URL) come first, before step 1 and not in its journal.
            "    simulator journal of this step:",
            "      #3 twilio POST /2010-04-01/Accounts/*/Messages.json -> 503  http_error 503*",
            "      #4 sinch POST /xms/v1/*/batches -> 201  accept*",
        ]
    )
    result.stdout.fnmatch_lines(["broken.scenario.yml:4: steps[[]0[]].sned: unknown key 'sned' (did you mean 'send'?)"])
    assert "Traceback" not in result.stdout.str() and "runtest" not in result.stdout.str()
    result.stdout.no_fnmatch_line("*azure-pipelines*")
    result.stdout.no_fnmatch_line("*marker_only*")


# The shared ini names ``replays`` in ``lynsms_scenarios``: YAML there is a scenario whatever its name.
SHARED_PROJECT.update({"replays/falls-back.yaml": PASSING_SCENARIO, "elsewhere.yaml": PASSING_SCENARIO})


def test_yaml_below_the_lynsms_scenarios_paths_runs_whatever_its_name(shared: ProjectRun) -> None:
    assert shared.outcomes("replays/falls-back.yaml") == {"passed": 1}
    shared.stdout.fnmatch_lines(["*replays/falls-back.yaml::falls-back PASSED*"])
    shared.stdout.no_fnmatch_line("*elsewhere*")


# Packages named like LynSMS Local's folders: importing either by its bare name from LynSMS Local's
# code would find these instead (or fail loudly), and the fixtures would break. The CI yaml is
# azure-pipelines.yml above.
SHARED_PROJECT.update(
    {
        "gateway/__init__.py": "create_app = None\n",
        "simulator/__init__.py": "raise ImportError('the host project simulator package was imported')\n",
        "test_host.py": """
        import gateway

        def test_sends_through_both_fixtures(sms_gateway, sms_simulator):
            assert gateway.create_app is None  # the host's own package, untouched
            assert sms_gateway.send(to="+12025550143", body="hi").status_code == 201
            sms_simulator.assert_sent(to="+12025550143", provider="twilio")
        """,
    }
)


def test_a_host_project_with_its_own_gateway_and_simulator_packages_and_a_ci_yaml(shared: ProjectRun) -> None:
    # The shared session is ``python -m pytest`` from the project root: the root comes first on
    # sys.path, where the host's packages live, and the plugin loads from its real entry point.
    assert shared.outcomes("test_host.py") == {"passed": 1}
    result = shared
    result.stdout.fnmatch_lines(["*test_host.py::test_sends_through_both_fixtures PASSED*"])
    result.stdout.no_fnmatch_line("*azure-pipelines*")


SHARED_PROJECT["test_ranking.py"] = '''
import pytest

UK_REJECTED = """
name: sinch-rejects-uk
providers:
  sinch:
    - match: {country: GB}
      reject: invalid_number
"""


@pytest.mark.sms_scenario(UK_REJECTED)
def test_rejected_twin_ranks_first(sms_gateway, sms_simulator):
    sms_gateway.send(to="+447700900123", body="Your code is 5678", provider="sinch")
    sms_gateway.send(to="+12025550143", body="Your code is 5678", provider="sinch")  # newer, accepted
    sms_simulator.assert_sent(to="+447700900123", provider="sinch", body_contains="code")


@pytest.mark.sms_scenario("name: slow-reports\\ndefaults:\\n  deliver: {status: delivered, after: 60s}\\n")
def test_status(sms_gateway, sms_simulator):
    sms_gateway.send(to="+12025550143", body="hello")
    [sent] = sms_simulator.assert_sent(to="+12025550143", status="accepted")
    assert sent.delivery == "accepted"
    with pytest.raises(ValueError, match="expected one of accepted, sent, delivered"):
        sms_simulator.assert_sent(to="+12025550143", status="DELIVRD")
    sms_simulator.assert_sent(to="+12025550143", status="delivered")
'''


def test_near_misses_rank_by_closeness_before_acceptance_and_status_is_normalised(shared: ProjectRun) -> None:
    assert shared.outcomes("test_ranking.py") == {"failed": 2}
    result = shared
    result.stdout.fnmatch_lines(
        [
            "*Near misses (closest first; 2 message(s) reached the simulator in this test):",
            "*sinch*to=+447700900123*-> 400 reject invalid_number*differs: not accepted",
            "*sinch*to=+12025550143*-> 201 accepted*differs: to",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*expected 1 message(s) sent to +12025550143 and status delivered, found 0.",
            "*Matching all but the status:",
            "*twilio*to=+12025550143*status=accepted (twilio: queued)",
        ]
    )


# ---- the workers session: pytest -n 2 ----------------------------------------------------------

WORKERS_INI = STRICT_INI + "    ignore::DeprecationWarning:twilio.*\n"  # the README example's Twilio SDK

# xdist's default distribution hands each worker a chunk of consecutive tests first: this file comes
# right after one.scenario.yaml, so both workers start with some of its tests.
WORKERS_PROJECT: dict[str, str] = {
    "pytest.ini": WORKERS_INI,
    "test_each_worker.py": """
import json
import os
from pathlib import Path

import pytest


@pytest.mark.parametrize("n", range(6))
def test_send(n, sms_gateway, sms_simulator, tmp_path_factory):
    answer = sms_gateway.send(to="+12025550143", body=f"hello {n}")
    assert answer.status_code == 201
    sms_simulator.assert_sent(body_contains=f"hello {n}")  # nothing from another worker's tests
    seen = Path(os.environ["SEEN"]) / f"{n}.json"
    seen.write_text(json.dumps([os.environ.get("PYTEST_XDIST_WORKER"), sms_simulator.url, sms_gateway.url]))
""",
    "one.scenario.yaml": "name: one\nproviders:\n  twilio:\n    - http_error: 503\n"
    "steps:\n  - send: {to: '+12025550143', from: X, body: b}\n"
    "    expect: {status: 201, message: {provider: sinch}}\n",
    "two.scenario.yaml": "name: two\nsteps:\n  - send: {to: '+12025550143', from: X, body: b}\n"
    "    expect: {message: {provider: twilio}}\n",
    # Without lynsms_scenarios, YAML not named as a scenario is left alone.
    "azure-pipelines.yml": AZURE_PIPELINES,
}


def test_under_xdist_each_worker_has_its_own_servers(workers: ProjectRun, seen: Path) -> None:
    outcomes = [workers.outcomes(f) for f in ("test_each_worker.py", "one.scenario.yaml", "two.scenario.yaml")]
    assert outcomes == [{"passed": 6}, {"passed": 1}, {"passed": 1}]
    workers.stdout.no_fnmatch_line("*azure-pipelines*")
    records = [json.loads(p.read_text()) for p in seen.iterdir()]
    assert len(records) == 6
    who = {worker for worker, _, _ in records}
    assert who == {"gw0", "gw1"}
    for worker in who:
        simulators = {sim for w, sim, _ in records if w == worker}
        gateways = {gw for w, _, gw in records if w == worker}
        assert len(simulators) == 1 and len(gateways) == 1  # one simulator and one gateway host per worker
    assert len({sim for _, sim, _ in records}) == 2  # nothing shared between workers


# The README's sms_intercept example (its ``lynsms.intercept()`` section), beside tests that check
# each worker intercepts with its own simulator and every test leaves the client libraries as it
# found them.
INTERCEPT_EXAMPLES = python_blocks(section("In Python tests: `lynsms.intercept()`"))
README_INTERCEPT_FIXTURE = INTERCEPT_EXAMPLES[-1]
INTERCEPT_WORKER_TESTS = """
import httpx, pytest, urllib3.connectionpool

import lynsms

ORIGINAL = urllib3.connectionpool.HTTPConnectionPool.urlopen
SID = "AC" + "5a" * 16


@pytest.fixture(autouse=True)
def restored():
    yield
    assert urllib3.connectionpool.HTTPConnectionPool.urlopen is ORIGINAL


@pytest.mark.parametrize("n", range(2))
def test_sends_through_this_workers_simulator(sms_intercept, n):
    from twilio.rest import Client

    Client(SID, "token").messages.create(to="+12025550143", from_="+12025550100", body=f"WORKER {n}")
    sms_intercept.assert_sent(body_contains=f"WORKER {n}")  # this test's only message: reset per test
    assert httpx.get(f"{sms_intercept.url}/_sim/health").status_code == 200


def test_a_foreign_host_is_refused(sms_intercept):
    with pytest.raises(lynsms.InterceptRefused, match="passthrough="):
        httpx.get("https://example.com/")


def test_without_the_fixture_nothing_is_intercepted():
    assert urllib3.connectionpool.HTTPConnectionPool.urlopen is ORIGINAL
"""
WORKERS_PROJECT.update(
    {
        "with_intercept/test_readme_intercept_example.py": README_INTERCEPT_FIXTURE,
        "with_intercept/test_a.py": INTERCEPT_WORKER_TESTS.replace("WORKER", "a"),
        "with_intercept/test_b.py": INTERCEPT_WORKER_TESTS.replace("WORKER", "b"),
    }
)


def test_the_readme_intercept_fixture_example_passes_under_xdist(workers: ProjectRun) -> None:
    assert "sms_intercept" in README_INTERCEPT_FIXTURE
    files = ("test_readme_intercept_example.py", "test_a.py", "test_b.py")
    outcomes = [workers.outcomes(f"with_intercept/{name}") for name in files]
    assert outcomes == [{"passed": 1}, {"passed": 4}, {"passed": 4}]


# ---- back to the shared session: async tests and the README's plugin example ----------------------

SHARED_PROJECT["test_async.py"] = """
async def test_send_from_an_async_test(sms_gateway_async, sms_simulator):
    answer = await sms_gateway_async.send(to="+12025550143", body="Your code is 1234")
    assert answer.status_code == 201, answer.text
    async with sms_gateway_async.client() as client:
        listed = await client.get("/api/v1/messages")
    assert [m["id"] for m in listed.json()["data"]["messages"]] == [answer.json()["data"]["id"]]
    sms_simulator.assert_sent(to="+12025550143", body_contains="1234")
"""


def test_async_tests_get_an_async_gateway(shared: ProjectRun) -> None:
    assert shared.outcomes("test_async.py") == {"passed": 1}


# The README's "The pytest plugin" section: a conftest and a test file, run as written in a folder
# of their own (the conftest applies to that folder), with a test that checks the conftest applied.
PLUGIN_EXAMPLES = python_blocks(section("The pytest plugin"))
README_CONFTESTS = [code for code in PLUGIN_EXAMPLES if code.startswith("# conftest.py")]
README_TESTS = [code for code in PLUGIN_EXAMPLES if not code.startswith("# conftest.py")]
SHARED_PROJECT.update(
    {
        "readme/conftest.py": "\n".join(README_CONFTESTS),
        "readme/test_readme_example.py": "\n".join(README_TESTS),
        "readme/test_conftest_applies.py": """
        def test_the_readme_conftest_puts_sinch_first(sms_gateway):
            assert sms_gateway.send(to="+12025550143", body="hi").json()["data"]["provider"] == "sinch"
            assert sms_gateway.config.providers["twilio"].settings.timeout == 1
        """,
    }
)


def test_the_readme_plugin_example_passes_in_a_fresh_session(shared: ProjectRun) -> None:
    assert len(README_CONFTESTS) == 1 and len(README_TESTS) == 1
    assert shared.outcomes("readme/test_readme_example.py") == {"passed": 2}
    assert shared.outcomes("readme/test_conftest_applies.py") == {"passed": 1}


# ---- the workers session again: fast-forward, a setting for the whole session --------------------

WORKERS_PROJECT["test_fast_forward.py"] = """
        import time

        import pytest

        from lynsms.clock import FastForwardClock

        LATE_REPORT = "name: late\\nproviders:\\n  twilio:\\n    - deliver: {status: delivered, after: 30s}\\n"

        @pytest.mark.sms_scenario(LATE_REPORT)
        def test_a_report_due_in_30_s_arrives_at_once(sms_gateway, sms_clock):
            assert isinstance(sms_clock, FastForwardClock)
            sent = sms_gateway.send(to="+447700900123", body="Hi").json()["data"]
            wall = time.monotonic()
            status = sent["status"]
            while status != "delivered" and time.monotonic() - wall < 20:
                time.sleep(0.01)
                status = sms_gateway.client.get(f"/api/v1/messages/{sent['id']}").json()["data"]["status"]
            assert status == "delivered"
            assert time.monotonic() - wall < 20  # 30 s of scenario time, skipped

        @pytest.mark.sms_scenario(LATE_REPORT)
        def test_holding_the_clock_keeps_the_state_before_the_report(sms_gateway, sms_clock):
            with sms_clock.hold():
                sent = sms_gateway.send(to="+447700900123", body="Hi").json()["data"]
                time.sleep(0.3)  # many times the calm after which time would skip
                again = sms_gateway.client.get(f"/api/v1/messages/{sent['id']}").json()["data"]
            assert again["status"] == "sent"
        """


def test_fixtures_fast_forward_scripted_waits_when_asked(workers: ProjectRun) -> None:
    assert workers.outcomes("test_fast_forward.py") == {"passed": 2}


# ---- the no-scenarios session -------------------------------------------------------------------

NO_SCENARIOS_PROJECT = {"pytest.ini": STRICT_INI, "falls_back.scenario.yaml": PASSING_SCENARIO}


def test_scenario_collection_can_be_switched_off(no_scenarios: ProjectRun) -> None:
    no_scenarios.result.assert_outcomes()
    assert "no tests ran" in no_scenarios.stdout.str()
