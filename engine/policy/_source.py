"""A policy file as read (`Layer`): its TOML data, where it came from, and the lines problems are reported at.

Parsing is guarded: a key or table nested deeper than `MAX_NESTING` is refused before the TOML parser sees it
(a 40 KB file of dotted keys costs the standard library's parser 2.3 GB and 16 s), and what the parser raises
besides syntax errors (recursion, over-long integers) becomes a `PolicyError` too.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Mapping
from typing import Any, Final

import attrs

from .._errors import PolicyError, PolicyProblem
from ._limits import MAX_NESTING

_ID_LINE: Final = re.compile(r"""^\s*id\s*=\s*["']([^"']*)["']""")
_KEY: Final = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_-]+)\s*[=.]""")
_HEADER: Final = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.\- \t]+?)\s*\]\]?\s*(?:#.*)?$")
# Strings and comments, so that dots and brackets inside them are not mistaken for keys; a string becomes ""
# (a quoted key part is still a part) and keeps its line breaks, so line numbers stay right.
_STRINGS: Final = re.compile(r'"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\'|#[^\n]*')
_DEEP_KEY: Final = re.compile(r'(?:[A-Za-z0-9_\-]+|"")(?:[ \t]*\.[ \t]*(?:[A-Za-z0-9_\-]+|""))' + f"{{{MAX_NESTING},}}")
_NESTING_FIX: Final = (f"keep tables, arrays and dotted keys within {MAX_NESTING} levels (the policy language "
                       "needs 4)")


def _blank_strings(text: str) -> str:
    def blank(found: re.Match[str]) -> str:
        token = found.group()
        return ("" if token.startswith("#") else '""') + "\n" * token.count("\n")

    return _STRINGS.sub(blank, text)


def _depth_problem(data: Mapping[str, Any]) -> str | None:
    """The path of the first value nested deeper than `MAX_NESTING`, or None (iterative: no recursion)."""
    stack: list[tuple[object, str, int]] = [(data, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_NESTING:
            return path[:80] + ("..." if len(path) > 80 else "")
        if isinstance(value, dict):
            stack.extend((v, f"{path}.{k}" if path else str(k), depth + 1) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value))
    return None


def _problem(source: str, message: str, fix: str, line: int | None = None) -> PolicyError:
    return PolicyError([PolicyProblem(file=source, line=line, message=message, fix=fix)])


@attrs.frozen(slots=False)
class Layer:
    """One policy file as read: its TOML data, where it came from, and what to call it in decisions."""

    name: str
    source: str
    data: Mapping[str, Any]
    text: str = ""

    @classmethod
    def from_text(cls, text: str, *, source: str, name: str) -> Layer:
        """Parse TOML text (a leading UTF-8 byte order mark is ignored); anything wrong becomes a `PolicyError`
        naming the file and line."""
        text = text.removeprefix("\ufeff")
        blanked = _blank_strings(text)
        # A dotted key cannot span lines: only a line with enough dots needs the (slower) key search.
        many_dots = any(line.count(".") >= MAX_NESTING for line in blanked.splitlines())
        deep = _DEEP_KEY.search(blanked) if many_dots else None
        if deep is not None:
            line = text.count("\n", 0, deep.start()) + 1
            raise _problem(source, f"a key of more than {MAX_NESTING} dotted parts", _NESTING_FIX, line)
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            found = re.search(r"line (\d+)", str(exc))
            raise _problem(source, f"not valid TOML: {exc}", "correct the TOML syntax at that line",
                           int(found.group(1)) if found else None) from None
        except RecursionError:
            raise _problem(source, f"arrays or tables nested deeper than {MAX_NESTING} levels", _NESTING_FIX) from None
        except ValueError as exc:  # an integer past Python's 4,300-digit conversion limit
            raise _problem(source, f"not readable TOML: a number is thousands of digits long ({str(exc)[:60]})",
                           "write numbers of at most 18 digits") from None
        path = _depth_problem(data)
        if path is not None:
            raise _problem(source, f"{path} is nested deeper than {MAX_NESTING} levels", _NESTING_FIX)
        return cls(name=name, source=source, data=data, text=text)

    def line_of(self, pattern: str) -> int | None:
        """First line (1-based) whose text matches the regular expression ``pattern`` (remembered per pattern: a
        file with thousands of problems asks for the same line thousands of times)."""
        memo = self._line_memo
        if pattern not in memo:
            regex = re.compile(pattern)
            memo[pattern] = next((number for number, line in enumerate(self._lines, start=1) if regex.search(line)),
                                 None)
        return memo[pattern]

    @functools.cached_property
    def _lines(self) -> list[str]:
        return self.text.splitlines()

    @functools.cached_property
    def _line_memo(self) -> dict[str, int | None]:
        return {}

    @functools.cached_property
    def _table_keys(self) -> dict[str, dict[str, int]]:
        # table -> key -> the first line setting it (``key = ...`` or ``key.x = ...``), all tables in one pass.
        out: dict[str, dict[str, int]] = {}
        lines = self._lines
        for index, (name, start) in enumerate(self._sections):
            end = self._sections[index + 1][1] if index + 1 < len(self._sections) else len(lines) + 1
            if name in out:  # the first table of a name is the one `key_line` reads (as `header_line`)
                continue
            keys = out[name] = {}
            for number in range(start + 1, end):
                found = _KEY.match(lines[number - 1])
                if found:
                    keys.setdefault(found.group(1).strip('"\''), number)
        return out

    def rule_line(self, rule_id: object) -> int | None:
        """The line of ``id = "<rule_id>"`` in this file."""
        if not isinstance(rule_id, str):
            return None
        return self._id_lines.get(rule_id)

    def entry_key_line(self, rule_id: object, key: str) -> int | None:
        """The line that sets ``key`` in the ``[[rule]]`` or ``[[patch]]`` whose ``id`` is ``rule_id`` (between its
        id line and the next table header); else the id line."""
        start = self.rule_line(rule_id)
        if start is None:
            return None
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*[=.]")
        for number, line in enumerate(self.text.splitlines()[start:], start=start + 1):
            if line.lstrip().startswith("["):
                break
            if pattern.match(line):
                return number
        return start

    @functools.cached_property
    def _id_lines(self) -> dict[str, int]:
        # One pass over the text: looking each rule up separately made loading quadratic in the rule count.
        lines: dict[str, int] = {}
        for number, line in enumerate(self.text.splitlines(), start=1):
            found = _ID_LINE.match(line)
            if found:
                lines.setdefault(found.group(1), number)
        return lines

    @functools.cached_property
    def _sections(self) -> list[tuple[str, int]]:
        # (table name with spaces removed, line of its header), in file order.
        out = []
        for number, line in enumerate(self.text.splitlines(), start=1):
            found = _HEADER.match(line)
            if found:
                out.append((re.sub(r"\s+", "", found.group(1)), number))
        return out

    def header_line(self, table: str) -> int | None:
        """The line of the ``[table]`` header, or None when the file has none."""
        return next((number for name, number in self._sections if name == table), None)

    def key_line(self, table: str, key: str) -> int | None:
        """The line that sets ``key`` in ``[table]`` (``key = ...`` or ``key.x = ...``); else the table's header
        line; else a top-level dotted ``table.key = ...``; None when nothing is found."""
        start = self.header_line(table)
        if start is not None:
            return self._table_keys.get(table, {}).get(key, start)
        dotted = ".".join(re.escape(part) for part in table.split("."))
        return self.line_of(rf"^\s*{dotted}\s*\.\s*{re.escape(key)}\s*[=.]")
