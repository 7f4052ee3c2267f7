"""The command line's conventions: --version, help for every option, LYNSMS_<OPTION> for every option."""

from __future__ import annotations

import argparse

import pytest

from lynsms import __version__
from lynsms.simulator.harness.cli import build_parser, main
from lynsms.simulator.harness.environment import apply_environment, parsers, variable


def options() -> list[tuple[str, argparse.Action]]:
    return [
        (each.prog, action)
        for each in parsers(build_parser())
        for action in each._actions
        if action.option_strings and not isinstance(action, argparse._HelpAction | argparse._VersionAction)
    ]


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"lynsms {__version__}"


def test_every_option_has_help_that_names_its_environment_variable() -> None:
    found = options()
    assert len(found) > 20
    for prog, action in found:
        name = variable(action)
        assert name and action.help and f"[env {name}]" in action.help, (prog, action.option_strings)
        assert len(action.help) > len(f"[env {name}]") + 5, f"{prog} {action.option_strings[0]} has no help of its own"


def test_environment_fills_options_and_the_command_line_wins() -> None:
    environ = {"LYNSMS_GATEWAY_PORT": "0", "LYNSMS_ADMIN": "yes", "LYNSMS_LOG_LEVEL": "warning"}
    parser = build_parser()
    apply_environment(parser, environ)
    args = parser.parse_args(["up"])
    assert (args.gateway_port, args.admin, args.log_level) == (0, True, "warning")
    assert parser.parse_args(["up", "--gateway-port", "9123"]).gateway_port == 9123


@pytest.mark.parametrize("command", ["up", "simulator"])
def test_the_proxy_port_reads_its_variable(command: str) -> None:
    parser = build_parser()
    apply_environment(parser, {"LYNSMS_PROXY_PORT": "0"})
    assert parser.parse_args([command]).proxy_port == 0
    assert parser.parse_args([command, "--proxy-port", "8911"]).proxy_port == 8911  # the command line wins
    assert build_parser().parse_args([command]).proxy_port is None  # unset: up picks its default, simulator none


def test_options_added_later_get_their_variable_too() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    sub.choices["simulator"].add_argument("--later-option", type=int, default=1, help="added after the parser")
    apply_environment(parser, {"LYNSMS_LATER_OPTION": "0"})
    assert parser.parse_args(["simulator"]).later_option == 0


@pytest.mark.parametrize(("variable_", "value"), [("LYNSMS_PORT", "http"), ("LYNSMS_ADMIN", "maybe")])
def test_a_bad_environment_value_is_a_usage_error_naming_the_variable(
    variable_: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = build_parser()
    with pytest.raises(SystemExit) as exited:
        apply_environment(parser, {variable_: value})
    assert exited.value.code == 2
    assert f"{variable_}={value!r}" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["up", "simulator", "gateway"])
def test_shutdown_grace_takes_seconds_from_the_line_or_its_variable(command: str) -> None:
    assert build_parser().parse_args([command]).shutdown_grace == 3.0
    assert build_parser().parse_args([command, "--shutdown-grace", "0.25"]).shutdown_grace == 0.25
    parser = build_parser()
    apply_environment(parser, {"LYNSMS_SHUTDOWN_GRACE": "10"})
    assert parser.parse_args([command]).shutdown_grace == 10.0


@pytest.mark.parametrize("value", ["-1", "soon", "inf", "nan"])
def test_a_shutdown_grace_that_is_not_seconds_is_a_usage_error(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["up", "--shutdown-grace", value])
    assert exited.value.code == 2
    assert "--shutdown-grace" in capsys.readouterr().err
