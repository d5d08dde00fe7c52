"""The ``modelps`` command line.

Each package adds its own commands: a module listed in ``COMMAND_MODULES`` defines
``register(subparsers)``, which adds sub-commands whose ``func(args) -> int`` does the work.
Every failure prints one line to stderr and exits non-zero: 1 for a user error (any
:class:`~modelps.errors.ModelPSError`), 2 for bad usage, 3 for an unexpected internal error.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from typing import NoReturn

from modelps.errors import ModelPSError

__all__ = ["COMMAND_MODULES", "build_parser", "main"]

COMMAND_MODULES = (
    "modelps.cli.core",
    "zoo.cli",
    "genie.cli",
    "serving.cli",
    "modelps.sessions.cli",
    "editor_ui.cli",
)


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The full parser with every available package's commands."""
    from modelps import __version__

    parser = Parser(prog="modelps", description="Open, edit, compress and serve ONNX models.")
    parser.add_argument("--version", action="version", version=f"modelps {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress and details to stderr")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    commands.required = True
    missing: list[str] = []
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is None or name.startswith(exc.name):
                continue  # that package is not installed
            missing.append(f"{name.rsplit('.cli', 1)[0]} (needs {exc.name}: pip install 'modelps[{_extra(name)}]')")
            continue  # an optional dependency is missing: the other commands still work
        module.register(commands)
    if missing:
        parser.epilog = "Commands not available here: " + "; ".join(missing)
    return parser


def _extra(module: str) -> str:
    """The pip extra that brings a command module's dependencies."""
    extras = {"serving.cli": "serve", "modelps.sessions.cli": "sessions", "editor_ui.cli": "ui", "zoo.cli": "zoo"}
    return extras.get(module, "all")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        return int(args.func(args) or 0)
    except ModelPSError as exc:
        print(f"modelps: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("modelps: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except Exception as exc:  # the last line of defence: never a traceback
        logging.getLogger(__name__).debug("internal error", exc_info=True)
        print(
            f"modelps: internal error: {type(exc).__name__}: {_one_line(exc)} (rerun with -v for details)",
            file=sys.stderr,
        )
        if args.verbose:
            raise
        return 3


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
