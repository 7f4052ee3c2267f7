"""The ``lynsms`` command line: run the simulator, the gateway, or both wired together."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import ipaddress
import os
import secrets
import signal
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Final

import uvicorn

from lynsms import __version__
from lynsms.simulator.console.gateway import GatewayLink
from lynsms.simulator.harness.environment import apply_environment
from lynsms.simulator.harness.request_log import LOG_LEVELS, configure_logging, logged
from lynsms.simulator.harness.server import Server, bind, run_loop, tune_gc_for_serving, url_of

DEFAULT_SIMULATOR_PORT = 8900
DEFAULT_GATEWAY_PORT = 8000
DEFAULT_PROXY_PORT = 8901


class _Server(Server):
    """A uvicorn server that leaves signals to us, so one Ctrl-C stops every server of ``up``;
    ``serving`` is set once its app has started and it takes connections."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.serving = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[Any] | None = None) -> None:
        await super().startup(sockets=sockets)
        self.serving.set()


DEFAULT_SHUTDOWN_GRACE = 3.0


def _server(app: Any, grace: float, **options: Any) -> _Server:
    """``grace``: how long a stop waits for responses in flight before cancelling them."""
    config: dict[str, Any] = {"log_level": "warning", "lifespan": "on", "timeout_graceful_shutdown": grace, **options}
    return _Server(uvicorn.Config(app, **config))


def _proxy(args: argparse.Namespace, simulator: Any) -> tuple[list[tuple[_Server, Any]], list[str]]:
    """The proxy's server (none without a proxy port) and the banner lines that tell how to use it.

    ``up`` runs it by default: there, a taken default port or a data folder the CA cannot be written
    to leaves the proxy out with a warning instead of stopping the whole bench; a port asked for
    explicitly fails like any other."""
    if args.proxy_port is None and args.command != "up":
        return [], []
    from lynsms.simulator.proxy.app import create_proxy_app
    from lynsms.simulator.proxy.ca import installation_ca
    from lynsms.simulator.proxy.protocol import ProxyProtocol

    try:
        port = DEFAULT_PROXY_PORT if args.proxy_port is None else args.proxy_port
        sock = bind(args.host, port, what="the proxy (--proxy-port)")
        ca = installation_ca().path  # generated now, on the first run, so the lines below are true
    except OSError as exc:
        if args.proxy_port is not None:
            raise
        print(f"lynsms: the proxy is not started ({exc}); choose another --proxy-port", file=sys.stderr)
        return [], []
    server = _server(create_proxy_app(simulator), args.shutdown_grace, http=ProxyProtocol, lifespan="off")
    lines = [
        f"LynSMS proxy      {url_of(sock)}   (CA {ca})",
        "Any process reaches the simulator at the providers' real hosts with:",
        f"  export HTTPS_PROXY={url_of(sock)} NO_PROXY=localhost,127.0.0.1,::1",
        f"  export SSL_CERT_FILE={ca} REQUESTS_CA_BUNDLE={ca} NODE_EXTRA_CA_CERTS={ca}",
        "",
    ]
    return [(server, sock)], lines


STOP_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)


async def _serve_all(
    servers: Sequence[tuple[_Server, Any]], noted: Sequence[int], first_serving: Callable[[], None] | None
) -> None:
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for server, _ in servers:
            # A second Ctrl-C skips the graceful wait for open connections.
            server.force_exit = server.should_exit
            server.should_exit = True

    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop)
    for _ in noted:  # signals that came while the loop was being set up
        stop()
    (first, first_sock), *rest = servers
    serving = [asyncio.ensure_future(first.serve(sockets=[first_sock]))]
    if first_serving is not None:
        # The others start once the first has started and ``first_serving`` has run: their
        # sockets already listen, so a request sent meanwhile waits instead of finding the first
        # one's part missing (up: a reply pushed before the gateway's inbound URLs are known).
        started = asyncio.ensure_future(first.serving.wait())
        await asyncio.wait([serving[0], started], return_when=asyncio.FIRST_COMPLETED)
        started.cancel()
        if first.serving.is_set():
            first_serving()
    serving += [asyncio.ensure_future(server.serve(sockets=[sock])) for server, sock in rest]
    await asyncio.gather(*serving)


def _run(servers: Sequence[tuple[_Server, Any]], first_serving: Callable[[], None] | None = None) -> int:
    """Serve until a stop signal; ``first_serving`` runs once the first server serves, before the
    others start."""
    # Until _serve_all's handlers are in place, a stop signal is only noted. Left to Python's
    # default it would raise KeyboardInterrupt anywhere in the loop's set-up, or meet
    # asyncio.Runner's own handler, which cancels the main task mid-startup while the apps'
    # lifespans go on: a traceback, or a process that no longer stops.
    noted: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, _frame: noted.append(signum)) for sig in STOP_SIGNALS}
    try:
        tune_gc_for_serving()
        run_loop(lambda: _serve_all(servers, noted, first_serving), servers[0][0].config)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("stopped", flush=True)
    return 0


def _simulator_app(args: argparse.Namespace) -> Any:
    from lynsms.simulator.app import create_app

    options: dict[str, Any] = {"seed": args.seed, "journal_size": args.journal_size, "max_messages": args.max_messages}
    if getattr(args, "scenario", None):
        options["scenario"] = args.scenario
    return create_app(**options)


def _gateway_app(
    args: argparse.Namespace,
    simulator_url: str,
    public_url: str,
    key: str,
    settings: Mapping[str, Any] | None = None,
    started: Callable[[Any], None] | None = None,
) -> Any:
    """The gateway the command serves: from ``--config`` or, for ``up --scenario``, from the
    scenario's ``gateway:`` block; wrapped in the admin endpoint with ``--admin``, which tells
    ``started`` of each gateway it swaps in."""
    from lynsms.gateway import create_app
    from lynsms.gateway.config import load_config
    from lynsms.simulator.harness.replay.gateway_settings import gateway_config

    if settings is not None:
        config = gateway_config(settings, simulator_url, public_url, key).with_api_key(key, name="lynsms-cli")
    else:
        config = load_config(args.config, simulator_url=simulator_url).with_api_key(key, name="lynsms-cli")
    if config.public_url is None:
        # Providers call the gateway back where it actually listens.
        config = dataclasses.replace(config, public_url=public_url)
    if getattr(args, "webhook_url", None):
        config = dataclasses.replace(config, webhooks=dataclasses.replace(config.webhooks, url=args.webhook_url))
    app = create_app(config, db_path=args.db)
    if not getattr(args, "admin", False):
        return app
    from lynsms.simulator.harness.admin import AdminGateway

    def build(block: Mapping[str, Any], webhook_url: str | None) -> Any:
        webhook = webhook_url or getattr(args, "webhook_url", None)
        fresh = gateway_config(block, simulator_url, public_url, key, webhook)
        return create_app(fresh.with_api_key(key, name="lynsms-cli"), db_path=args.db)

    return AdminGateway(app, build, started)


def _scenario_settings(args: argparse.Namespace) -> Mapping[str, Any] | None:
    """``up --scenario FILE``: the file's ``gateway:`` block, which the gateway then runs with."""
    if not getattr(args, "scenario", None):
        return None
    from lynsms.simulator.harness.replay.gateway_settings import CHECKS
    from lynsms.simulator.scenario import load

    scenario = load(args.scenario, checks=CHECKS)
    if not scenario.gateway:
        return None
    from lynsms.simulator.harness.replay.gateway_settings import setting_names

    if getattr(args, "config", None):
        raise ValueError(
            f"{args.scenario} has gateway settings ({', '.join(setting_names(scenario.gateway))}) and --config "
            "names a config file: give one of them (the scenario's settings would be ignored otherwise)"
        )
    return scenario.gateway


def _webhook_lines(app: Any, api_key: str) -> list[str]:
    """Where message events go and the secret that signs them (derived from the key unless configured)."""
    from lynsms.gateway.signing import derive_secret

    webhooks = getattr(app, "startup", app).state.config.webhooks
    if webhooks.url is None:
        return []
    return [f"  webhooks   {webhooks.url}", f"  webhook secret  {webhooks.secret or derive_secret(api_key)}"]


def _api_key() -> str:
    return os.environ.get("LYNSMS_API_KEY") or f"lyn_test_{secrets.token_urlsafe(18)}"


def cmd_simulator(args: argparse.Namespace) -> int:
    sock = _bind(args.host, args.port, what="the simulator (--port)")
    configure_logging(args.log_level)
    app = _simulator_app(args)
    proxy, lines = _proxy(args, app)
    print("\n".join([f"LynSMS simulator  {url_of(sock)}   (control API {url_of(sock)}/_sim/)", *lines]), flush=True)
    settings = _scenario_settings(args)
    if settings is not None:
        from lynsms.simulator.harness.replay.gateway_settings import setting_names

        print(
            f"note: {args.scenario}'s gateway settings are for a gateway, not applied here: "
            f"{', '.join(setting_names(settings))} (lynsms up --scenario applies them)",
            flush=True,
        )
    return _run([(_server(logged(app, "simulator"), args.shutdown_grace), sock), *proxy])


def cmd_gateway(args: argparse.Namespace) -> int:
    sock = _bind(args.host, args.port, what="the gateway (--port)")
    configure_logging(args.log_level)
    url = url_of(sock)
    key = _api_key()
    app = _gateway_app(args, args.simulator_url, url, key)
    admin = [f"admin             {url}/api/admin/gateway"] if args.admin else []
    print(
        "\n".join([f"LynSMS gateway    {url}/api", f"API key           {key}", *admin, *_webhook_lines(app, key)]),
        flush=True,
    )
    return _run([(_server(logged(app, "gateway"), args.shutdown_grace), sock)])


def cmd_up(args: argparse.Namespace) -> int:
    settings = _scenario_settings(args)  # before binding: a refused file leaves no port taken
    sim_sock = _bind(args.host, args.simulator_port, what="the simulator (--simulator-port)")
    # The same host: warned about once, above.
    gw_sock = bind(args.host, args.gateway_port, what="the gateway (--gateway-port)")
    configure_logging(args.log_level)
    sim_url, gw_url = url_of(sim_sock), url_of(gw_sock)
    key = _api_key()
    simulator = _simulator_app(args)
    from lynsms.simulator.harness.inbound_urls import register as register_inbound

    def swapped_in(app: Any) -> None:  # --admin: the new gateway takes the replies
        register_inbound(simulator.state.sim.inbound, app)

    gateway = _gateway_app(args, sim_url, gw_url, key, settings, swapped_in)
    simulator.state.sim.console.gateway = GatewayLink(gw_url, key)  # the console shows the gateway's side

    served = getattr(gateway, "startup", gateway)  # with --admin, the gateway it started with
    lines = _webhook_lines(gateway, key)
    if settings is not None:
        from lynsms.simulator.harness.replay.gateway_settings import setting_names

        lines.append(f"  gateway settings from {args.scenario}: {', '.join(setting_names(settings))}")
    if getattr(args, "admin", False):
        lines.append(f"  admin      {gw_url}/api/admin/gateway (PUT a scenario's gateway settings)")
    proxy, proxy_lines = _proxy(args, simulator)
    print("\n".join([_banner(sim_url, gw_url, key, lines), *proxy_lines]), flush=True)
    grace = args.shutdown_grace
    # The gateway first: once its lifespan has started, its inbound URLs (with their callback
    # token) exist, and the simulator knows them before it takes a request, so a reply typed in the
    # console or sent to /_sim/inbound right after the banner reaches this gateway.
    return _run(
        [
            (_server(logged(gateway, "gateway"), grace), gw_sock),
            (_server(logged(simulator, "simulator"), grace), sim_sock),
            *proxy,
        ],
        first_serving=lambda: register_inbound(simulator.state.sim.inbound, served),
    )


def _banner(sim_url: str, gw_url: str, key: str, webhooks: Sequence[str] = ()) -> str:
    return "\n".join(
        [
            "LynSMS Local is up. Ctrl-C stops every server.",
            f"  gateway    {gw_url}/api",
            f"  simulator  {sim_url}   (QA console {sim_url}/_sim/)",
            f"  API key    {key}",
            *webhooks,
            "",
            "Send a message:",
            f"  curl {gw_url}/api/v1/messages/send \\",
            f'    -H "Authorization: Bearer {key}" -H "Content-Type: application/json" \\',
            """    -d '{"to": "+12025550143", "from": "LynSMS", "body": "Hello from LynSMS Local"}'""",
            "",
        ]
    )


def cmd_scenario_check(args: argparse.Namespace) -> int:
    from lynsms.simulator.harness.replay.gateway_settings import CHECKS
    from lynsms.simulator.scenario import check_paths, load, scenario_files

    problems = check_paths(args.paths, checks=CHECKS)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s)", file=sys.stderr)
        return 1
    files = scenario_files(args.paths)
    for file in files:
        scenario = load(file, checks=CHECKS)
        rules = sum(len(r) for r in scenario.rules.values())
        parts = [f"{rules} rule(s)" + (f" for {', '.join(scenario.rules)}" if rules else "")]
        parts.append(f"{len(scenario.steps)} step(s)" if scenario.steps else "no steps (nothing to replay)")
        if scenario.gateway:
            parts.append(f"gateway settings: {', '.join(scenario.gateway)}")
        print(f"ok  {file}  ({scenario.name}: {'; '.join(parts)})")
    print(
        f"{len(files)} file(s) checked: YAML syntax, the scenario schema, rule and step semantics, "
        "gateway settings against the gateway's config rules; no problems"
    )
    return 0


def cmd_scenario_run(args: argparse.Namespace) -> int:
    from lynsms.simulator.harness.replay import run_command

    return run_command(
        args.paths,
        gateway_url=args.gateway,
        simulator_url=args.simulator,
        api_key=args.api_key,
        junit=args.junit_xml,
        shard=args.shard,
        real_time=args.real_time,
    )


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("a port is 0 to 65535 (0 picks a free one)")
    return value


def _http_url(text: str) -> str:
    from lynsms.gateway.config import is_http_url

    if not is_http_url(text):  # the same rule as the config file's webhook_url
        raise argparse.ArgumentTypeError(f"{text!r} is not an http:// or https:// URL")
    return text


def exposure_warning(sock: Any) -> str | None:
    """A warning when ``sock`` listens beyond this machine: the control and report endpoints
    are meant for a test bench on loopback and check no credentials."""
    host = sock.getsockname()[0]
    if ipaddress.ip_address(host).is_loopback:
        return None
    return (
        f"warning: listening on {host}, reachable from other machines: the simulator's /_sim/* control API and "
        "the gateway's delivery report endpoints (/api/v1/webhooks/*) have no authentication"
    )


def _bind(host: str, port: int, *, what: str) -> Any:
    sock = bind(host, port, what=what)
    warning = exposure_warning(sock)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    return sock


def _shard(text: str) -> tuple[int, int]:
    index, _, count = text.partition("/")
    if not (index.isdecimal() and count.isdecimal() and 1 <= int(index) <= int(count)):
        raise argparse.ArgumentTypeError("a shard is K/N with 1 <= K <= N, e.g. 2/4")
    return int(index), int(count)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _memory_options(parser: argparse.ArgumentParser) -> None:
    from lynsms.simulator.state import DEFAULT_JOURNAL_SIZE, DEFAULT_MAX_MESSAGES

    parser.add_argument(
        "--journal-size",
        type=_positive,
        default=DEFAULT_JOURNAL_SIZE,
        metavar="N",
        help=f"how many of the newest requests the journal keeps (default {DEFAULT_JOURNAL_SIZE:,})",
    )
    parser.add_argument(
        "--max-messages",
        type=_positive,
        default=DEFAULT_MAX_MESSAGES,
        metavar="N",
        help=f"how many accepted messages are kept; the oldest go first (default {DEFAULT_MAX_MESSAGES:,})",
    )


def _host_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1)")


def _seconds(text: str) -> float:
    value = float(text)
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError("a number of seconds, 0 or more")
    return value


def _grace_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--shutdown-grace",
        type=_seconds,
        default=DEFAULT_SHUTDOWN_GRACE,
        metavar="SECONDS",
        help="how long Ctrl-C or SIGTERM waits for requests in flight before cancelling them "
        f"(default {DEFAULT_SHUTDOWN_GRACE:g})",
    )


def _log_option(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default=default,
        help=f"info logs one line per request; warning only trouble (default {default})",
    )


def _admin_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--admin",
        action="store_true",
        help="serve PUT /api/admin/gateway (API key required): take a scenario's gateway settings at run time, "
        "for `lynsms scenario run --gateway URL --simulator URL`",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lynsms",
        description="LynSMS Local: an offline test bench for SMS sending. "
        "Every option can also be set as LYNSMS_<OPTION> in the environment (--gateway-port: LYNSMS_GATEWAY_PORT).",
    )
    parser.add_argument("--version", action="version", version=f"lynsms {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = commands.add_parser("up", help="run the simulator and the reference gateway wired together")
    _host_option(up)
    up.add_argument(
        "--gateway-port", type=_port, default=DEFAULT_GATEWAY_PORT, help="the gateway's port (0: any free port)"
    )
    up.add_argument(
        "--simulator-port", type=_port, default=DEFAULT_SIMULATOR_PORT, help="the simulator's port (0: any free port)"
    )
    up.add_argument(
        "--proxy-port",
        type=_port,
        help=f"the HTTPS proxy to the simulator at the providers' real hosts (default {DEFAULT_PROXY_PORT})",
    )
    up.add_argument(
        "--scenario",
        metavar="FILE",
        help="scenario file the simulator starts with; its gateway: block configures the gateway",
    )
    up.add_argument("--config", metavar="FILE", help="gateway config file (default: all providers on the simulator)")
    up.add_argument("--db", default=":memory:", metavar="PATH", help="gateway SQLite database (default: in memory)")
    up.add_argument(
        "--seed", type=int, help="make simulator ids reproducible from this seed (default: unique ids every run)"
    )
    _memory_options(up)
    up.add_argument(
        "--webhook-url", type=_http_url, metavar="URL", help="where the gateway POSTs signed message events"
    )
    _admin_option(up)
    _grace_option(up)
    _log_option(up, "info")
    up.set_defaults(run=cmd_up)

    sim = commands.add_parser("simulator", help="run the provider simulator alone")
    _host_option(sim)
    sim.add_argument("--port", type=_port, default=DEFAULT_SIMULATOR_PORT, help="the port (0: any free port)")
    sim.add_argument(
        "--proxy-port", type=_port, help="also serve the HTTPS proxy to the simulator at the providers' real hosts"
    )
    sim.add_argument("--scenario", metavar="FILE", help="scenario file the simulator starts with (kept across resets)")
    sim.add_argument(
        "--seed", type=int, help="make simulator ids reproducible from this seed (default: unique ids every run)"
    )
    _memory_options(sim)
    _grace_option(sim)
    _log_option(sim, "warning")
    sim.set_defaults(run=cmd_simulator)

    gw = commands.add_parser("gateway", help="run the reference gateway alone")
    _host_option(gw)
    gw.add_argument("--port", type=_port, default=DEFAULT_GATEWAY_PORT, help="the port (0: any free port)")
    gw.add_argument("--config", metavar="FILE", help="gateway config file (default: all providers on the simulator)")
    gw.add_argument("--db", default=":memory:", metavar="PATH", help="SQLite database (default: in memory)")
    gw.add_argument(
        "--simulator-url",
        default=f"http://127.0.0.1:{DEFAULT_SIMULATOR_PORT}",
        help="where the built-in config finds the simulator (ignored for providers a --config file sets)",
    )
    gw.add_argument(
        "--webhook-url", type=_http_url, metavar="URL", help="where the gateway POSTs signed message events"
    )
    _admin_option(gw)
    _grace_option(gw)
    _log_option(gw, "warning")
    gw.set_defaults(run=cmd_gateway)

    scenario = commands.add_parser("scenario", help="work with scenario files")
    scenario_commands = scenario.add_subparsers(dest="scenario_command", required=True, metavar="ACTION")
    check = scenario_commands.add_parser("check", help="validate scenario files; exit 1 listing file:line: problems")
    check.add_argument("paths", nargs="+", metavar="PATH")
    check.set_defaults(run=cmd_scenario_check)
    run = scenario_commands.add_parser(
        "run", help="replay scenario files against a gateway; exit 0 iff every scenario passes"
    )
    run.add_argument("paths", nargs="+", metavar="PATH", help="scenario files or folders")
    run.add_argument(
        "--gateway", metavar="URL", help="drive this running gateway (with --simulator) instead of starting one"
    )
    run.add_argument("--simulator", metavar="URL", help="the running simulator that gateway sends to")
    run.add_argument("--api-key", metavar="KEY", help="the external gateway's API key (default: $LYNSMS_API_KEY)")
    run.add_argument("--junit-xml", metavar="FILE", help="also write a JUnit XML report for CI")
    run.add_argument(
        "--shard", type=_shard, metavar="K/N", help="replay every N-th scenario file starting at the K-th (CI matrices)"
    )
    run.add_argument(
        "--real-time",
        action="store_true",
        help="wait out scripted delays, timeouts and cool-downs in real time (default: fast-forward them)",
    )
    run.set_defaults(run=cmd_scenario_run)
    apply_environment(parser, os.environ)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except KeyboardInterrupt:
        # Ctrl-C before the servers took the signal over (while starting up): as clean a stop.
        print("stopped", flush=True)
        return 0
    except (OSError, ValueError) as exc:  # a taken port, a bad config or scenario file: say so, no traceback
        print(f"lynsms: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
