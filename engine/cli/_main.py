"""The ``dlrpolicy`` command line: the argument parser of every command group, and the entry point."""

from __future__ import annotations

import argparse
import os
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
    if sys.stdout is None:  # started with stdout closed (`>&-`): every command writes there, so say so and stop
        if sys.stderr is not None:
            print("dlrpolicy: error: stdout is closed: give the command somewhere to write (a file, a pipe, "
                  "/dev/null)", file=sys.stderr)
        return 2
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
    except OSError as exc:
        # Everything the commands read is turned into errors of ours; what is left is writing the output (a full
        # device, a closed stdout).  One line, exit 2, and no second failure when Python flushes at exit.
        print(f"dlrpolicy: error: cannot write the output: {exc.strerror or exc}: free space on the device or "
              "write the output somewhere else", file=sys.stderr)
        _discard_stdout()
        return 2


def _discard_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush of what could not be written does not fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no real file behind stdout (e.g. captured by a test)
        pass
