"""One exception base; every subclass carries structured fields and says how to fix the problem."""

from __future__ import annotations

import reprlib
from collections.abc import Sequence
from typing import Final

import attrs

#: How many problems a `PolicyError` message lists; the rest are counted (``problems`` keeps them all).
MAX_LISTED_PROBLEMS: Final = 50

_QUOTE = reprlib.Repr()
_QUOTE.maxstring = _QUOTE.maxother = 60
_QUOTE.maxlist = _QUOTE.maxtuple = _QUOTE.maxset = _QUOTE.maxfrozenset = _QUOTE.maxdict = 6
_QUOTE.maxlevel = 3


def quote(value: object) -> str:
    """``repr(value)`` cut to about 60 characters and 3 levels, for quoting what a user wrote in a message.

    A hostile value (a 5-million-element array, a 5,000-digit number, a table nested 1,000 deep) must not turn
    into a 15 MB message or a crash while it is being reported.
    """
    try:
        return _QUOTE.repr(value)
    except (ValueError, RecursionError):  # an int past Python's 4,300-digit str() limit, or worse
        return f"<{type(value).__name__} too large to show>"


class DlrpolicyError(Exception):
    """Base of every error dlrpolicy raises on purpose."""


class DurationError(DlrpolicyError, ValueError):
    """A duration string is not of the form ``<number><unit>`` (``"30s"``, ``"15m"``, ``"24h"``, ``"7d"``)."""

    def __init__(self, value: object, problem: str | None = None) -> None:
        self.value = value
        #: What is wrong besides the form (a duration past the 400-day limit), or None for a malformed string.
        self.problem = problem
        super().__init__(
            f"invalid duration {quote(value)}: {problem}" if problem else
            f"invalid duration {quote(value)}: write a whole number followed by s, m, h or d, "
            'such as "30s", "15m", "24h" or "7d" (combinations like "1h30m" work too)'
        )


class NaiveDatetimeError(DlrpolicyError, ValueError):
    """A datetime without a time zone reached a place where only aware datetimes are accepted."""

    def __init__(self, field: str, value: object) -> None:
        self.field = field
        self.value = value
        super().__init__(
            f"{field} is a naive datetime ({quote(value)}): pass a timezone-aware datetime, "
            "e.g. datetime.now(timezone.utc) or one with tzinfo=ZoneInfo('Asia/Seoul')"
        )


class CatalogError(DlrpolicyError):
    """Catalog data is malformed: names the file, the entry and the field."""

    def __init__(self, file: str, entry: str, field: str, problem: str) -> None:
        self.file = file
        self.entry = entry
        self.field = field
        self.problem = problem
        super().__init__(f"{file}: {entry}: field {field!r}: {problem}")


class CodeNotFoundError(DlrpolicyError, LookupError):
    """No catalog entry has this identity."""

    def __init__(self, provider: str, kind: str, product: str, id: int, group_id: int | None = None,
                 name: str | None = None) -> None:
        self.provider = provider
        self.kind = kind
        self.product = product
        self.id = id
        self.group_id = group_id
        self.name = name
        where = (f"{provider} {kind} {product} {id}" + (f" in group {group_id}" if group_id is not None else "")
                 + (f" named {name}" if name is not None else ""))
        super().__init__(
            f"no catalog entry for {where}: check the provider, kind and product "
            "(`dlrpolicy catalog search TEXT` finds codes by name)"
        )


class AmbiguousCodeError(DlrpolicyError, LookupError):
    """An id matches several catalog entries and nothing given tells them apart."""

    def __init__(self, provider: str, kind: str, product: str, id: int, candidates: Sequence[str]) -> None:
        self.provider = provider
        self.kind = kind
        self.product = product
        self.id = id
        self.candidates = tuple(candidates)
        super().__init__(
            f"{provider} {kind} {product} {id} is ambiguous; it matches {', '.join(self.candidates)}: "
            "pass group_id (--group) or name to choose one"
        )


@attrs.frozen
class PolicyProblem:
    """One problem found while loading a policy file."""

    file: str
    message: str
    fix: str
    rule: str | None = None
    field: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line is not None else "")
        parts = [where]
        if self.rule is not None:
            parts.append(f"rule {quote(self.rule)}")
        if self.field is not None:
            parts.append(f"field {quote(self.field)}")
        return f"{': '.join(parts)}: {self.message} (fix: {self.fix})"


class PolicyError(DlrpolicyError):
    """A policy file (or layer stack) is invalid; ``problems`` lists every problem found, not just the first."""

    def __init__(self, problems: Sequence[PolicyProblem]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        lines = "\n".join(f"  - {p}" for p in self.problems[:MAX_LISTED_PROBLEMS])
        if count > MAX_LISTED_PROBLEMS:
            lines += f"\n  ... and {count - MAX_LISTED_PROBLEMS} more (fix the ones above first)"
        super().__init__(f"{count} problem{'s' if count != 1 else ''} in policy:\n{lines}")


class InvalidOutcomeError(DlrpolicyError, ValueError):
    """An outcome or history cannot be evaluated as given."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class TenantError(DlrpolicyError, ValueError):
    """A tenant id is not safe to use as a policy file name, or the tenant has no usable policy."""

    def __init__(self, tenant: object, problem: str | None = None) -> None:
        self.tenant = tenant
        super().__init__(
            f"tenant {quote(tenant)}: {problem}"
            if problem
            else f"invalid tenant id {quote(tenant)}: use 1 to 64 characters of a-z, 0-9, '_' and '-', "
            "starting with a letter or digit (pattern ^[a-z0-9][a-z0-9_-]{0,63}$)"
        )


class PayloadError(DlrpolicyError, ValueError):
    """A provider payload cannot be read; ``path`` points into the record (``$.results[3].status.id``)."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}")


class NaiveTimestampError(PayloadError, NaiveDatetimeError):
    """A payload timestamp has no UTC offset; ``path`` points at it in the record."""

    def __init__(self, path: str, value: object) -> None:
        self.path = path
        self.field = path
        self.value = value
        self.message = (
            f"timestamp {quote(value)} has no UTC offset: provider timestamps must carry one "
            "(2015-02-12T09:58:20.323+0100, +05:30, +0000 or Z); add the sender's offset to the record"
        )
        Exception.__init__(self, f"{path}: {self.message}")


class PolicyTestError(DlrpolicyError):
    """A policy test file (``dlrpolicy policy test``) cannot be run; ``problems`` lists every problem found, each
    with its file, line and fix."""

    def __init__(self, problems: Sequence[PolicyProblem]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} in policy test files:\n{lines}")


class ArgumentError(DlrpolicyError, ValueError):
    """An argument cannot be used as given (text a store cannot keep); names the argument and the fix."""

    def __init__(self, argument: str, value: object, problem: str) -> None:
        self.argument = argument
        self.value = value
        super().__init__(f"{argument} {quote(value)}: {problem}")


class SettingError(DlrpolicyError, ValueError):
    """A setting passed to dlrpolicy (a limit, an interval) is out of its range; names the setting and the range."""

    def __init__(self, setting: str, value: object, allowed: str) -> None:
        self.setting = setting
        self.value = value
        super().__init__(f"{setting} = {quote(value)} is out of range: {allowed}")
