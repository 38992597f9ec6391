"""The limits a policy file is held to, so that a small hostile file cannot cost gigabytes or minutes, and a
number that lints clean cannot overflow at evaluation time.

Two are settable (`PolicyLimits`: file size and rule count); the rest are fixed bounds of the language and are
listed in README's "Limits" section.
"""

from __future__ import annotations

from typing import Final

import attrs

from .._errors import SettingError

#: Nesting of tables, arrays and dotted keys (``a.b.c``) in a policy file.  The policy language nests 4 levels
#: (``[[rule]]`` > ``match`` > ``id`` list); TOML parsers recurse per level, and a 20,000-part dotted key costs the
#: standard library's parser gigabytes.
MAX_NESTING: Final = 16
#: ``backoff.factor``: 1 (a constant delay, spread by jitter) to 10 (each retry waits ten times longer).
FACTOR_RANGE: Final = (1.0, 10.0)
#: ``max_attempts`` and ``attempts_ceiling``: 1 to 1,000.
MAX_ATTEMPTS: Final = 1000

_FILE_BYTES_RANGE: Final = (1024, 64 * 1024 * 1024)
_RULES_RANGE: Final = (1, 100_000)


@attrs.frozen(kw_only=True)
class PolicyLimits:
    """How large a policy may be.

    ``max_file_bytes``: the largest policy file read (default 1 MiB; the shipped default policy is 84 KB).
    ``max_rules``: the most ``[[rule]]`` plus ``[[patch]]`` entries in one file, and the most rules in the merged
    policy (default 1,000; the shipped default has 229).  Compilation time grows with the rule count.

    Pass one to `Engine.default`, `Engine.load` or `PolicyStore`; on the command line ``--max-policy-bytes`` and
    ``--max-rules``.
    """

    max_file_bytes: int = 1024 * 1024
    max_rules: int = 1000

    def __attrs_post_init__(self) -> None:
        for setting, value, (low, high) in (("max_file_bytes", self.max_file_bytes, _FILE_BYTES_RANGE),
                                            ("max_rules", self.max_rules, _RULES_RANGE)):
            if type(value) is not int or not low <= value <= high:
                raise SettingError(f"PolicyLimits.{setting}", value, f"use a whole number from {low} to {high}")


DEFAULT_LIMITS: Final = PolicyLimits()
