"""Merging state: a suppression into the entry already stored for the same (tenant, scope, key) — the rule the
SQLite store applies in Python and the Redis script applies in Lua (`_lua.SUPPRESS`), tested to agree — and one
message's history into another's, when `Recorder.sent` learns that an attempt recorded as a message of its own
belongs to a key (`merge_messages`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ._apply import MAX_REPORTS, MAX_SEEN, report_time

#: Import marks an entry keeps (the lines of the last imports applied to it).
IMPORT_MARKS = 20


def merge_suppression(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> dict[str, Any]:
    """Re-suppressing refreshes ``until`` (never shortens it; None, until lifted, wins), counts the hit, keeps the
    creation time and origin, and stays unliftable once any of its sources was an opt-out.

    An imported entry carries its line's mark (``import``): a line already applied to the entry changes nothing,
    so an import run again — after a failure half-way, on Redis — ends in the state of one run."""
    mark = new.get("import")
    if old is not None and mark is not None and mark in old.get("imports", ()):
        return dict(old)
    merged = _merged(old, new)
    merged.pop("import", None)
    if mark is not None:
        merged["imports"] = [*(old or {}).get("imports", ()), mark][-IMPORT_MARKS:]
    return merged


def _merged(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> dict[str, Any]:
    if old is None:
        return dict(new)
    merged = dict(old)
    if old.get("until") is None or new.get("until") is None:
        merged["until"] = None
    else:
        merged["until"] = max(old["until"], new["until"])
    merged["hits"] = int(old.get("hits", 1)) + int(new.get("hits", 1))
    merged["updated"] = new["updated"]
    # An entry an opt-out made unliftable keeps that reason: a softer rule's would make a refused lift name
    # the wrong rule.
    if bool(old.get("liftable", True)) or not bool(new.get("liftable", True)):
        merged["reason"] = new["reason"]
        merged["source"] = new.get("source")
    merged["liftable"] = bool(old.get("liftable", True)) and bool(new.get("liftable", True))
    return merged


def merge_messages(into: Mapping[str, Any] | None, other: Mapping[str, Any]) -> dict[str, Any]:
    """``into`` (the key's message, None when it has none yet) with ``other``'s attempts, first attempt,
    channels, reports (ordered by when they happened), report identities (so a redelivery stays a duplicate)
    and events.  ``_raw`` lines stay text; the caller settles the schedule and the hold."""
    merged: dict[str, Any] = dict(into or {})
    ids = {pid: dict(entry) for pid, entry in merged.get("ids", {}).items()}
    for pid, entry in other.get("ids", {}).items():
        mine = ids.get(pid)
        if mine is None:
            ids[pid] = dict(entry)
        else:  # the same attempt on both sides: its earliest time, its highest status rank
            mine["at"] = min(mine["at"], entry["at"])
            mine["rank"] = max(mine.get("rank", -1), entry.get("rank", -1))
            mine["channel"] = mine.get("channel") or entry.get("channel")
    merged["ids"] = ids
    firsts = [f for f in (merged.get("first"), other.get("first")) if f is not None]
    merged["first"] = min(firsts) if firsts else None
    channels = list(merged.get("channels", ()))
    merged["channels"] = channels + [c for c in other.get("channels", ()) if c not in channels]
    lines = [*merged.get("_raw", ()), *other.get("_raw", ())]
    # Stable: lines of the same instant keep the key's first.
    lines.sort(key=lambda line: report_time(json.loads(line)))
    merged["_raw"] = lines[-MAX_REPORTS:]
    seen = list(merged.get("seen", ()))
    known = set(seen)
    merged["seen"] = (seen + [i for i in other.get("seen", ()) if i not in known])[-MAX_SEEN:]
    merged["events"] = [*merged.get("events", ()), *other.get("events", ())][-50:]
    merged["held"] = bool(merged.get("held")) or bool(other.get("held"))
    merged.pop("fin", None)  # the newest final report of the two: worked out again from the merged reports
    return merged
