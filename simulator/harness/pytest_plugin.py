"""The ``lynsms`` pytest plugin (entry point ``pytest11``): a real simulator and gateway as fixtures.

- ``sms_simulator``: one simulator per session on a free port, reset before each test that uses it;
- ``sms_intercept``: ``sms_simulator``, with requests to the providers' real hosts routed to it;
- ``sms_gateway``: the reference gateway wired to it, fresh (store, circuit breaker, config) per test;
- ``sms_clock``: their clock; with ``--lynsms-fast-forward`` (ini ``lynsms_fast_forward``) scripted
  waits are skipped, as in scenario items;
- ``@pytest.mark.sms_scenario(scenario, account=None)``: load a scenario for one test;
- scenario files run as test items: ``*.scenario.yaml`` / ``*.scenario.yml`` anywhere pytest looks,
  and any ``*.yaml`` / ``*.yml`` below the paths of the ``lynsms_scenarios`` ini option; never other YAML.

Settings are fixtures a conftest can override: ``lynsms_seed`` (session), ``lynsms_api_key`` and
``lynsms_gateway_config``, ``lynsms_passthrough``. Nothing starts until a test asks for a fixture, so merely having the
plugin installed costs a session nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from lynsms.clock import Clock

    # The plugin loads in every pytest session of every project that has lynsms installed: the
    # simulator, gateway and httpx are imported by the fixtures, only when a test asks for them.
    from lynsms.simulator.harness.client import ScenarioSource, SmsSimulator
    from lynsms.simulator.harness.gateway_host import AsyncSmsGateway, GatewayConfigSetting, GatewayHost, SmsGateway

MARKER = "sms_scenario"
DEFAULT_API_KEY = "lyn_test_pytest"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "lynsms_scenarios",
        type="paths",
        default=[],
        help="lynsms: folders whose *.yaml/*.yml files are all scenarios to replay as test items "
        "(files named *.scenario.yaml/*.scenario.yml are collected anywhere)",
    )
    parser.addini(
        "lynsms_collect_scenarios",
        type="bool",
        default=True,
        help="lynsms: false collects no scenario file at all (default: true)",
    )
    parser.addoption(
        "--lynsms-real-time",
        action="store_true",
        default=False,
        help="lynsms: scenario items wait out scripted delays in real time instead of fast-forwarding",
    )
    parser.addoption(
        "--lynsms-fast-forward",
        action="store_true",
        default=None,
        help="lynsms: the sms_simulator and sms_gateway fixtures fast-forward scripted delays too "
        "(default: the lynsms_fast_forward ini option, else real time)",
    )
    parser.addini(
        "lynsms_fast_forward",
        type="bool",
        default=False,
        help="lynsms: the sms_simulator and sms_gateway fixtures fast-forward scripted delays (default: false)",
    )


def pytest_configure(config: pytest.Config) -> None:
    # Registered here so --strict-markers accepts it in every project that has the plugin.
    config.addinivalue_line(
        "markers",
        f"{MARKER}(scenario, account=None): load a simulator scenario (file path, inline YAML or mapping) "
        "for this test only; relative paths are looked up beside the test file first",
    )


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix not in (".yaml", ".yml") or not parent.config.getini("lynsms_collect_scenarios"):
        return None
    # Imported only when a YAML file is seen; the item imports the replay runner only when it runs.
    from lynsms.simulator.harness.scenario_items import ScenarioFile, is_collected

    if not is_collected(file_path, parent.config.getini("lynsms_scenarios")):
        return None
    return ScenarioFile.from_parent(parent, path=file_path)


# ---- settings ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def lynsms_seed() -> int | None:
    """Seed of the session's simulator ids; None (the default): unique ids in every test and run.
    Override it session-scoped with an integer for reproducible ids."""
    return None


@pytest.fixture
def lynsms_api_key() -> str:
    """The key ``sms_gateway`` accepts and its ``client`` sends."""
    return DEFAULT_API_KEY


@pytest.fixture
def lynsms_gateway_config() -> GatewayConfigSetting:
    """The gateway's configuration for a test: None (every provider, at the simulator), a mapping in
    the config file format (docs/gateway.md), or a ``gateway.config.GatewayConfig``."""
    return None


@pytest.fixture(scope="session")
def sms_clock(pytestconfig: pytest.Config) -> Iterator[Clock]:
    """The clock of the session's simulator and of every ``sms_gateway``: the system clock, or
    with ``--lynsms-fast-forward`` (ini ``lynsms_fast_forward = true``) a
    ``lynsms.clock.FastForwardClock`` that skips scripted waits (a report "after 2 s", a provider
    timeout, a back-off) whenever the servers are idle. A test that must see a state before a
    scripted wait ends holds time still meanwhile: ``with sms_clock.hold(): ...``."""
    from lynsms.clock import SYSTEM_CLOCK, FastForwardClock

    wanted = pytestconfig.getoption("lynsms_fast_forward")
    if wanted is None:
        wanted = pytestconfig.getini("lynsms_fast_forward")
    if not wanted:
        yield SYSTEM_CLOCK
        return
    clock = FastForwardClock()
    try:
        yield clock
    finally:
        clock.close()


# ---- the simulator -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def lynsms_simulator_session(lynsms_seed: int | None, sms_clock: Clock) -> Iterator[SmsSimulator]:
    """The session's simulator, never reset by the plugin: for session-scoped fixtures of your own."""
    from lynsms.simulator.app import create_app
    from lynsms.simulator.harness.client import SmsSimulator
    from lynsms.simulator.harness.replay.stack import served
    from lynsms.simulator.harness.server import ServerThread

    with ServerThread(served(create_app(seed=lynsms_seed, clock=sms_clock), sms_clock)) as server:
        handle = SmsSimulator(server.url)
        try:
            yield handle
        finally:
            handle.close()


@pytest.fixture
def sms_simulator(request: pytest.FixtureRequest, lynsms_simulator_session: SmsSimulator) -> SmsSimulator:
    """The session's simulator, reset for this test, with this test's ``sms_scenario`` markers loaded."""
    from lynsms.simulator.scenario import ScenarioError

    simulator = lynsms_simulator_session
    simulator.reset()
    # iter_markers yields the closest first; load the farthest first so the closest wins a scope.
    for marker in reversed(list(request.node.iter_markers(MARKER))):
        scenario, account = _marker_arguments(marker)
        problem = None
        try:
            simulator.load(scenario, account, base=request.path.parent)
        except (ScenarioError, FileNotFoundError) as exc:
            problem = str(exc)
        if problem is not None:  # failed outside the except: no "during handling" chain in the report
            pytest.fail(f"@pytest.mark.{MARKER}: {problem}", pytrace=False)
    return simulator


@pytest.fixture(autouse=True)
def _lynsms_scenario_marker(request: pytest.FixtureRequest) -> None:
    # A marked test gets its scenario loaded even if it only talks to the simulator's URL indirectly.
    if request.node.get_closest_marker(MARKER) is not None:
        request.getfixturevalue("sms_simulator")


def _marker_arguments(marker: pytest.Mark) -> tuple[ScenarioSource, str | None]:
    unknown = set(marker.kwargs) - {"scenario", "account"}
    arguments = [*marker.args, *([marker.kwargs["scenario"]] if "scenario" in marker.kwargs else [])]
    if unknown or len(arguments) != 1:
        pytest.fail(
            f"@pytest.mark.{MARKER} takes one scenario (a file path, YAML text or a mapping) and an "
            f"optional account=...; got args={marker.args!r} kwargs={marker.kwargs!r}",
            pytrace=False,
        )
    scenario = arguments[0]
    if not isinstance(scenario, str | Path | Mapping):
        pytest.fail(
            f"@pytest.mark.{MARKER}: the scenario must be a path, YAML text or a mapping, "
            f"not {type(scenario).__name__}",
            pytrace=False,
        )
    account: Any = marker.kwargs.get("account")
    if account is not None and not isinstance(account, str):
        pytest.fail(f"@pytest.mark.{MARKER}: account must be a string", pytrace=False)
    return scenario, account


@pytest.fixture
def lynsms_passthrough() -> list[str]:
    """Hosts besides the providers' and loopback that ``sms_intercept`` lets through. Override it."""
    return []


@pytest.fixture
def sms_intercept(sms_simulator: SmsSimulator, lynsms_passthrough: list[str]) -> Iterator[SmsSimulator]:
    """``sms_simulator``, with this test's requests to the providers' real hosts routed to it
    (``lynsms.intercept()``): the code under test needs no base URL."""
    from lynsms.simulator.harness.intercept import intercept

    with intercept(simulator=sms_simulator, passthrough=lynsms_passthrough):
        yield sms_simulator


# ---- the gateway ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _lynsms_gateway_host() -> Iterator[GatewayHost]:
    from lynsms.simulator.harness.gateway_host import GatewayHost

    with GatewayHost() as host:
        yield host


@pytest.fixture
def sms_gateway(
    sms_simulator: SmsSimulator,
    _lynsms_gateway_host: GatewayHost,
    lynsms_gateway_config: GatewayConfigSetting,
    lynsms_api_key: str,
    sms_clock: Clock,
) -> Iterator[SmsGateway]:
    """A fresh reference gateway for this test (empty store, closed circuits), sending to ``sms_simulator``."""
    import httpx

    from lynsms.gateway import create_app
    from lynsms.simulator.harness.gateway_host import SmsGateway, gateway_config
    from lynsms.simulator.harness.inbound_urls import register_over_http
    from lynsms.simulator.harness.replay.stack import served
    from lynsms.tls import client_tls

    host = _lynsms_gateway_host
    config = gateway_config(lynsms_gateway_config, sms_simulator.url, host.url, lynsms_api_key)
    # environ={}: a LYNSMS_API_KEY in the developer's shell must not change what the tests accept.
    app = create_app(config, environ={}, clock=sms_clock)
    host.mount(served(app, sms_clock))
    host.call(app.state.tracking.registered())  # its start-up calls (ClickSend's receipt URL) come before the test
    register_over_http(sms_simulator.url, app)  # sms_simulator.reply(...) reaches this gateway
    try:
        headers = {"Authorization": f"Bearer {lynsms_api_key}"}
        with httpx.Client(base_url=host.url, headers=headers, timeout=30.0, verify=client_tls()) as client:
            yield SmsGateway(url=host.url, api_key=lynsms_api_key, config=config, client=client)
    finally:
        host.unmount()


@pytest.fixture
def sms_gateway_async(sms_gateway: SmsGateway) -> AsyncSmsGateway:
    """``sms_gateway`` for ``async def`` tests: ``await sms_gateway_async.send(...)``, or
    ``async with sms_gateway_async.client() as client``."""
    from lynsms.simulator.harness.gateway_host import AsyncSmsGateway

    return AsyncSmsGateway(url=sms_gateway.url, api_key=sms_gateway.api_key, config=sms_gateway.config)
