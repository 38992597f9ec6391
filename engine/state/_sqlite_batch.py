"""What a SQLite batch transaction holds back until it commits: the writes, each table with one statement."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class Batch:
    """Writes of a batch held until its end: each message's newest state, each key's schedule entry, the links
    and the suppressions (merged in the order the reports asked for them), each table with one statement."""

    def __init__(self) -> None:
        self.messages: dict[tuple[str, str], tuple[int, str]] = {}
        self.schedule: dict[tuple[str, str], dict[str, Any] | None] = {}
        self.links: dict[tuple[str, str], str] = {}
        self.suppressions: list[Mapping[str, Any]] = []
