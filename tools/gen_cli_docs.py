"""Regenerate docs/cli.md from the parser's own --help texts: ``python tools/gen_cli_docs.py``."""

from __future__ import annotations

import argparse
import io
from contextlib import redirect_stdout
from pathlib import Path

from modelps.cli import build_parser

HEADER = """# Command-line reference

`modelps` is one entry point with a sub-command per task. Every command has `--help`; commands that
report accept `--json` for machine-readable output. A failure prints **one line** to stderr and exits
non-zero: `1` for a problem with the input (a bad model, a refused edit, a conflict), `2` for wrong
usage, `3` for an unexpected internal error (rerun with `-v` for details). `modelps compare` exits `4`
when the models' outputs are not within tolerance.

This page is generated from the parser (`python tools/gen_cli_docs.py`).
"""


def _help(parser: argparse.ArgumentParser) -> str:
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        parser.print_help()
    return buffer.getvalue().rstrip()


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def main() -> None:
    """Write docs/cli.md."""
    parser = build_parser()
    parts = [HEADER]
    for name, sub in _subparsers(parser).items():
        parts.append(f"## `modelps {name}`\n\n```text\n{_help(sub)}\n```\n")
        for child, subsub in _subparsers(sub).items():
            parts.append(f"### `modelps {name} {child}`\n\n```text\n{_help(subsub)}\n```\n")
    out = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
    out.write_text("\n".join(parts))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
