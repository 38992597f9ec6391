"""Reading a suppression import: JSON Lines in the export format (`Suppression.to_json`), every line checked before
any is applied, and every bad line reported with its number and what is wrong."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Final

from .._errors import DlrpolicyError
from ..model._vocabulary import SCOPES, validate_tenant
from ._codec import ms, storable, ts
from ._failures import ImportLineError
from ._keys import CHANNEL_SCOPES, NO_TENANT, entry_id, suppression_key

ORIGINS: Final = ("policy", "operator", "import")


class _Bad(Exception):
    """What is wrong with one line."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


def parse_lines(lines: Iterable[str], *, now: datetime, origin: str,
                region_of: Callable[[str | None], str | None]) -> list[dict[str, Any]]:
    """The entries of ``lines`` in the stores' form, or `ImportLineError` naming every bad line (blank lines are
    skipped).  ``region_of(tenant)`` is the tenant's phone region; a tenant it refuses (no policy) is a bad
    line."""
    regions: dict[str | None, str | _Bad | None] = {}

    def region(tenant: str | None) -> str | None:
        if tenant not in regions:  # once per tenant: a large import names few tenants
            try:
                regions[tenant] = region_of(tenant)
            except DlrpolicyError as exc:
                regions[tenant] = _Bad(str(exc))
        found = regions[tenant]
        if isinstance(found, _Bad):
            raise found
        return found

    entries, problems, count = [], [], 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        count += 1
        try:
            entries.append(_parse(line, now=now, origin=origin, region=region))
        except _Bad as exc:
            problems.append((number, exc.problem))
    if problems:
        raise ImportLineError(problems, lines=count)
    return entries


def _parse(line: str, *, now: datetime, origin: str, region: Callable[[str | None], str | None]) -> dict[str, Any]:
    if not storable(line):  # a file read with surrogateescape keeps bytes that are not UTF-8 as lone surrogates
        raise _Bad("the line is not UTF-8 text: save the file as UTF-8")
    try:
        data = json.loads(line)
    except ValueError as exc:
        raise _Bad(f"not JSON ({exc})") from None
    except RecursionError:
        raise _Bad("nested too deeply to read: an export line is one flat object") from None
    if "\\u" in line and not storable(json.dumps(data, ensure_ascii=False)):  # only an escape makes one here
        raise _Bad("a string holds a lone surrogate (a \\u escape of half a pair): the store keeps UTF-8 text; fix "
                   "the escape")
    if not isinstance(data, dict):
        raise _Bad("expected a JSON object like an export line")
    tenant = data.get("tenant")
    try:
        if tenant is not None:
            validate_tenant(tenant)
    except DlrpolicyError as exc:
        raise _Bad(str(exc)) from None
    scope = data.get("scope")
    if scope not in SCOPES:
        raise _Bad(f"scope {scope!r} is not one of {', '.join(SCOPES)}")
    raw = data.get("key")
    if not isinstance(raw, str) or not raw.strip():
        raise _Bad("key must be a non-empty string (the recipient, sender, domain, ...)")
    # Exported keys read "<channel>:<recipient>", "<sender>:<recipient>" or "<channel>:<sender>:<recipient>"
    # (by scope); an import may also name the channel and the sender apart.
    channel = data.get("channel")
    if scope in ("recipient_channel", "recipient_channel_advertising", "recipient_sender_advertising") and \
            ":" in raw and (channel is None or raw.startswith(f"{channel}:")):
        channel, _, raw = raw.partition(":")
    sender = data.get("sender")
    if scope in ("recipient_sender", "recipient_sender_advertising") and sender is None and ":" in raw:
        sender, _, raw = raw.partition(":")
    name = tenant or NO_TENANT
    normal = suppression_key(scope, raw=raw, channel=channel, region=region(tenant),
                             sender=None if sender is None else str(sender))
    if normal is None:
        need = {"recipient_channel": "a channel", "recipient_channel_advertising": "a channel",
                "recipient_sender": "a sender"}.get(scope, "a channel and a sender")
        form = {"a channel": "<channel>:<recipient>", "a sender": "<sender>:<recipient>"}.get(
            need, "<channel>:<sender>:<recipient>")
        raise _Bad(f"{scope} entries need {need} (write the key as '{form}')")
    until = data.get("until")
    until_ts = None if until is None else _instant("until", until)
    reason = data.get("reason") or {}
    if not isinstance(reason, dict):
        reason = {"text": str(reason)}
    # What an export line carries is kept, so export then import gives the same entry; a value of the wrong
    # kind is a bad line (liftable "no" would otherwise read as true and let an opt-out be lifted).
    liftable = data.get("liftable", True)
    if type(liftable) is not bool:
        raise _Bad(f"liftable {liftable!r} is not true or false")
    hits = data.get("hits", 1)
    if type(hits) is not int or hits < 1:
        raise _Bad(f"hits {hits!r} is not a whole number >= 1")
    kept = data.get("origin", origin)
    if kept not in ORIGINS:
        raise _Bad(f"origin {kept!r} is not one of {', '.join(ORIGINS)}")
    for field in ("incident", "source_key"):
        if not isinstance(data.get(field), str | None):
            raise _Bad(f"{field} {data[field]!r} is not a string or null")
    stamp = ms(ts(now))
    created = stamp if data.get("created_at") is None else _instant("created_at", data["created_at"])
    updated = created if data.get("updated_at") is None else _instant("updated_at", data["updated_at"])
    return {"id": entry_id(name, scope, normal), "tenant": name, "scope": scope, "key": normal,
            "channel": channel if scope in CHANNEL_SCOPES else None, "reason": reason, "origin": kept,
            "liftable": liftable, "created": created, "updated": updated, "until": until_ts,
            "source": data.get("source_key"), "hits": hits, "incident": data.get("incident"),
            "import": _mark(data)}


def _mark(data: dict[str, Any]) -> str:
    # The line's content whatever the order of its keys: the same line marks its entry alike in every run.
    return hashlib.blake2b(json.dumps(data, sort_keys=True, separators=(",", ":")).encode(),
                           digest_size=8).hexdigest()


def _instant(name: str, value: object) -> float:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        return ms(ts(moment))
    except (ValueError, TypeError):
        raise _Bad(f"{name} {value!r} is not an ISO 8601 time with an offset") from None
