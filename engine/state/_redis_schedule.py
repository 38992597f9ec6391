"""The Redis store's schedule: claiming due entries with leases (fair across tenants, a few round trips whatever
their number), looking at them without claiming, ack and extend.  Mixed into `RedisStore`."""

from __future__ import annotations

import abc
import json
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from ._keys import tenant_in
from ._records import ScheduleEntry

T = TypeVar("T")


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisSchedule(abc.ABC):
    """Schedule calls; `RedisStore` supplies the client, keys, scripts and error handling."""

    client: Any
    _scripts: dict[str, Any]

    @abc.abstractmethod
    def key(self, tenant: str, name: str) -> str:
        """A tenant's key."""

    @abc.abstractmethod
    def tenants(self) -> list[str]:
        """The tenants in the tenant index."""

    @abc.abstractmethod
    def _do(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a client call, turning client errors into `StateError`."""

    @abc.abstractmethod
    def _scripts_round(self, calls: list[tuple[str, list[str], list[Any]]], register: list[str]) -> list[Any]:
        """Script calls in one round trip."""

    def _schedule_keys(self, tenant: str) -> list[str]:
        return [self.key(tenant, n) for n in ("sched", "due", "tokens", "ltok")]

    def _ready(self, now: float, limit: int) -> list[tuple[float, str, str]]:
        """(ready, tenant, key) of the ``limit`` entries claimable earliest, across tenants: one pipelined round
        of one ZRANGEBYSCORE per tenant (each key stays in its tenant's hash slot)."""
        tenants = self.tenants()
        pipe = self.client.pipeline(transaction=False)
        for tenant in tenants:
            pipe.zrangebyscore(self.key(tenant, "due"), "-inf", now, start=0, num=limit, withscores=True)
        rows = self._do(pipe.execute) if tenants else []
        found = [(float(score), tenant, _s(key)) for tenant, pairs in zip(tenants, rows, strict=True)
                 for key, score in pairs]
        return sorted(found)[:limit]

    def claim(self, *, now: float, limit: int, lease_until: float) -> list[ScheduleEntry]:
        """Fair and cheap: the earliest entries across tenants (as SQLite's ``ORDER BY ready``), read in one
        pipelined round, then claimed with one script per tenant in one more; an entry another worker claimed
        in between is skipped, and the round is tried again for what is missing."""
        found: list[ScheduleEntry] = []
        for _ in range(3):
            chosen = self._ready(now, limit - len(found))
            if not chosen:
                break
            by_tenant: dict[str, list[str]] = {}
            for _, tenant, key in chosen:
                by_tenant.setdefault(tenant, []).extend([key, f"{tenant}.{secrets.token_hex(12)}"])
            calls = [("claim", self._schedule_keys(tenant), [now, lease_until, *pairs])
                     for tenant, pairs in by_tenant.items()]
            for rows in self._scripts_round(calls, []):
                found += [ScheduleEntry.from_stored({**json.loads(raw), "token": _s(token), "lease": lease_until})
                          for token, raw in rows if raw]
            if len(found) >= limit or sum(len(p) // 2 for p in by_tenant.values()) == len(found):
                break
        return sorted(found, key=lambda entry: (entry.due_at, entry.key))

    def peek(self, *, now: float, limit: int) -> list[ScheduleEntry]:
        chosen = self._ready(now, limit)
        pipe = self.client.pipeline(transaction=False)
        for _, tenant, key in chosen:
            pipe.hget(self.key(tenant, "sched"), key)
        raws = self._do(pipe.execute) if chosen else []
        return [ScheduleEntry.from_stored(json.loads(raw)) for raw in raws if raw]

    def ack(self, token: str) -> bool:
        keys = self._schedule_keys(tenant_in(token))
        return bool(int(self._do(lambda: self._scripts["lease"](keys=keys, args=[token, ""]))))

    def extend(self, token: str, lease_until: float) -> bool:
        keys = self._schedule_keys(tenant_in(token))
        return bool(int(self._do(lambda: self._scripts["lease"](keys=keys, args=[token, repr(lease_until)]))))
