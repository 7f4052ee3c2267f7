"""``LYNSMS_<OPTION>``: every command-line option also read from the environment.

Applied to a finished parser, so an option added anywhere (any subcommand, any time) gets its
variable without registering it: ``--gateway-port`` reads ``LYNSMS_GATEWAY_PORT``, ``--admin``
reads ``LYNSMS_ADMIN`` (``1``/``true``/``yes``/``on``, or ``0``/``false``/``no``/``off``). A value
on the command line wins over the environment, which wins over the built-in default. Each
option's ``--help`` names its variable.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Mapping

PREFIX = "LYNSMS_"
TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off", ""})


def variable(action: argparse.Action) -> str | None:
    """``--gateway-port`` -> ``LYNSMS_GATEWAY_PORT``; None for positionals, --help and --version."""
    longs = [o for o in action.option_strings if o.startswith("--")]
    if not longs or isinstance(action, argparse._HelpAction | argparse._VersionAction):
        return None
    return PREFIX + longs[0][2:].upper().replace("-", "_")


def parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                yield from parsers(child)


def apply_environment(parser: argparse.ArgumentParser, environ: Mapping[str, str]) -> None:
    """Defaults from ``environ`` for every option of ``parser`` and its subcommands; ``--help`` says so."""
    for each in parsers(parser):
        for action in each._actions:
            name = variable(action)
            if name is None:
                continue
            if f"[env {name}]" not in (action.help or ""):
                action.help = f"{action.help or ''} [env {name}]".lstrip()
            if name not in environ:
                continue
            raw = environ[name]
            if isinstance(action, argparse._StoreTrueAction):
                if raw.strip().lower() not in TRUE | FALSE:
                    each.error(f"{name}={raw!r}: expected one of 1, true, yes, on, 0, false, no, off")
                action.default = raw.strip().lower() in TRUE
                continue
            try:
                action.default = action.type(raw) if callable(action.type) else raw
            except (argparse.ArgumentTypeError, TypeError, ValueError) as exc:
                each.error(f"{name}={raw!r}: {exc or 'invalid value'}")
            action.required = False
