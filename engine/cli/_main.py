"""The ``dlrpolicy`` command line: the argument parser of every command group, and the entry point."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .._errors import DlrpolicyError
from .._version import __version__
from . import _catalog, _evaluate, _explain, _history, _incidents, _policy, _replay, _report, _schedule, _suppressions
from ._common import UsageError


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser."""
    parser = argparse.ArgumentParser(
        prog="dlrpolicy",
        description="Decide what to do after a messaging provider reports on a message: "
        "retry, suppress, escalate, wait or done.",
    )
    parser.add_argument("--version", action="version", version=f"dlrpolicy {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _catalog.add_parser(sub)
    _explain.add_parser(sub)
    _policy.add_parser(sub)
    _evaluate.add_parser(sub)
    _suppressions.add_parser(sub)
    _history.add_parser(sub)
    _schedule.add_parser(sub)
    _incidents.add_parser(sub)
    _replay.add_parser(sub)
    _report.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dlrpolicy`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except UsageError as exc:
        print(f"dlrpolicy: error: {exc}", file=sys.stderr)
        return 2
    except DlrpolicyError as exc:
        print(f"dlrpolicy: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (e.g. `| head`); that is not an error of ours.
        sys.stderr.close()
        return 0
