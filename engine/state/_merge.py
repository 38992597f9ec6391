"""Merging a suppression into the entry already stored for the same (tenant, scope, key): the rule the SQLite
store applies in Python and the Redis script applies in Lua (`_lua.SUPPRESS`), tested to agree."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def merge_suppression(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> dict[str, Any]:
    """Re-suppressing refreshes ``until`` (never shortens it; None, until lifted, wins), counts the hit, keeps the
    creation time and origin, and stays unliftable once any of its sources was an opt-out."""
    if old is None:
        return dict(new)
    merged = dict(old)
    if old.get("until") is None or new.get("until") is None:
        merged["until"] = None
    else:
        merged["until"] = max(old["until"], new["until"])
    merged["hits"] = int(old.get("hits", 1)) + int(new.get("hits", 1))
    merged["updated"] = new["updated"]
    merged["reason"] = new["reason"]
    merged["source"] = new.get("source")
    merged["liftable"] = bool(old.get("liftable", True)) and bool(new.get("liftable", True))
    return merged
