"""What can go wrong with a store, each as a `DlrpolicyError` whose one-line message says what to do."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._errors import DlrpolicyError


class StateError(DlrpolicyError):
    """A store cannot be opened, read or written; ``url`` names it (without a password)."""

    def __init__(self, url: str, problem: str) -> None:
        self.url = url
        self.problem = problem
        super().__init__(f"state {url}: {problem}")


class StoreURLError(StateError, ValueError):
    """The URL names no store dlrpolicy knows."""


class StoreUnavailableError(StateError):
    """The store's server cannot be reached, or went away in the middle of a change (nothing was half-applied)."""


class StoreLockedError(StateError):
    """The SQLite file stayed locked by another writer for longer than the busy timeout."""


class SchemaVersionError(StateError):
    """The store was written by a newer dlrpolicy (its schema version is higher than this one knows)."""


class CorruptStoreError(StateError):
    """The store's file or keys are not what dlrpolicy wrote."""


class LiftRefusedError(DlrpolicyError):
    """A suppression from an opt-out or complaint refuses lifting without ``force``."""

    def __init__(self, entry_id: str, rule: str | None) -> None:
        self.entry_id = entry_id
        self.rule = rule
        super().__init__(
            f"suppression {entry_id} comes from an opt-out or complaint (rule {rule}): lifting it needs "
            "--force (force=True) and a note saying why the recipient may be contacted again"
        )


class NotFoundError(DlrpolicyError, LookupError):
    """No suppression, incident, lease or message with this id is in the store."""

    def __init__(self, what: str, ident: str, fix: str) -> None:
        self.what = what
        self.ident = ident
        super().__init__(f"no {what} {ident!r} in the store: {fix}")


class ImportLineError(DlrpolicyError, ValueError):
    """Lines of a suppression import are not valid entries; nothing of the import was applied.  ``problems``:
    (line number, what is wrong) of every bad line; ``line`` and ``problem``: the first."""

    def __init__(self, problems: Sequence[tuple[int, str]], *, lines: int | None = None) -> None:
        self.problems = list(problems)
        self.line, self.problem = self.problems[0]
        self.lines = lines
        if len(self.problems) == 1:
            text = f"import line {self.line}: {self.problem} (nothing was imported; fix the line and run it again)"
        else:
            text = (f"{len(self.problems)} bad import lines, nothing was imported (fix them and run it again): "
                    + "; ".join(f"line {number}: {problem}" for number, problem in self.problems))
        super().__init__(text)


class Blocked(DlrpolicyError):
    """The suppression list blocks this send (``entry``: the `Suppression`, or the account hold); nothing was
    sent.  Raised by `dlrpolicy.tenacity` loops given a recorder and what to check."""

    def __init__(self, entry: Any) -> None:
        self.entry = entry
        super().__init__(f"send blocked by suppression {entry.id} ({entry.scope} {entry.key}, rule "
                         f"{entry.reason.get('rule')}): do not send; lift it with `dlrpolicy suppressions lift` "
                         "if it is wrong")
