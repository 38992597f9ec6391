"""The Redis / Valkey store, for many workers on many machines (Redis >= 6.2, Valkey 7+, redis-py or a valkey
client).  A batch is two pipelined rounds: one read script per report, then one write script per report that
commits the report's history, decision and effects only if the message is still at the version it was read at;
reports that lost a race are read and decided again.  Every script's keys share the tenant's hash tag
(``{t:<tenant>}``), so on Redis Cluster a tenant lives in one slot (the trade-off: one tenant cannot spread over
several shards)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from ._apply import Op, Snapshot
from ._codec import compact, decode_state, dumps, loads
from ._failures import CorruptStoreError, NotFoundError, SchemaVersionError, StateError, StoreUnavailableError
from ._flood import LiveCounters
from ._keys import tenant_in
from ._lua import CHECK, CLAIM, CLOSE, IMPORT, LEASE, LIFT, PRUNE, READ_MANY, TENANT_KEYS, WRITE, WRITE_MANY
from ._records import Incident, Suppression
from ._redis_schedule import RedisSchedule
from ._store import Committed, Compute, IncidentHit, Item, Store

SCHEMA_VERSION = 1
#: Reports per script call: a script blocks the server while it runs, so a batch is cut into short calls.
_CHUNK = 200
MIN_SERVER = (6, 2)
T = TypeVar("T")


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _counters(flat: Sequence[Any]) -> LiveCounters:
    buckets: dict[int, list[int]] = {}
    until = brk = since = 0.0
    gen = 0
    for name, value in zip(flat[::2], flat[1::2], strict=True):
        field, text = _s(name), _s(value)
        if field == "until":
            until = float(text)
        elif field == "brk":
            brk = float(text)
        elif field == "gen":
            gen = int(text)
        elif field == "since":
            since = float(text)
        elif field[:1] in ("r", "x", "f"):
            buckets.setdefault(int(field[1:]), [0, 0, 0])["rxf".index(field[0])] = int(text)
    return LiveCounters({b: (v[0], v[1], v[2]) for b, v in buckets.items()}, until, brk, since, gen)


class RedisStore(RedisSchedule, Store):
    """State in Redis or Valkey; ``client`` is a redis-py or valkey client (``decode_responses`` either way)."""

    def __init__(self, client: Any, *, prefix: str = "dlr", shown: str | None = None, retries: int = 50) -> None:
        self.client = client
        self.prefix = prefix
        self.url = shown or f"redis client {type(client).__module__}.{type(client).__name__}"
        self.retries = retries
        self._known: set[str] = set()
        self._keys: dict[str, list[str]] = {}
        names = {"write": WRITE, "write_many": WRITE_MANY, "read_many": READ_MANY, "claim": CLAIM, "lease": LEASE,
                 "import": IMPORT, "prune": PRUNE, "check": CHECK,
                 "lift": LIFT, "close": CLOSE}
        self._scripts = {name: client.register_script(text) for name, text in names.items()}
        self._check()

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "dlr", shown: str | None = None) -> RedisStore:
        """A store on a new redis-py client for ``url`` (``valkey://`` is read as ``redis://``)."""
        try:
            import redis  # deferred: redis-py is the optional `redis` extra
        except ImportError:
            raise StateError(shown or url, "Redis needs redis-py: pip install 'dlrpolicy[redis]'") from None
        if url.startswith("valkey"):
            url = "redis" + url[len("valkey"):]
        try:
            client = redis.Redis.from_url(url, decode_responses=True, socket_connect_timeout=5, socket_timeout=30,
                                          health_check_interval=30)
        except ValueError as exc:
            raise StateError(shown or url, f"not a usable Redis URL ({exc}): write redis://host:6379/0 or "
                             "unix:///run/redis.sock") from None
        return cls(client, prefix=prefix, shown=shown or url)

    # --- plumbing ----------------------------------------------------------------------------------------------

    def _do(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return call(*args, **kwargs)
        except StateError:
            raise
        except Exception as exc:
            raise self._error(exc) from None

    def _error(self, exc: Exception) -> Exception:
        names = {c.__name__ for c in type(exc).__mro__}
        module = type(exc).__module__
        if not module.startswith(("redis", "valkey")):
            return exc
        if names & {"ConnectionError", "TimeoutError", "BusyLoadingError"}:
            return StoreUnavailableError(self.url, f"the server cannot be reached ({exc}): start it or check the "
                                         "URL; reports not recorded can be recorded again (duplicates are safe)")
        if "WRONGTYPE" in str(exc):
            return CorruptStoreError(self.url, f"a key holds data dlrpolicy did not write ({exc}): use another "
                                     "database or prefix")
        return StateError(self.url, f"the server refused a command: {exc}")

    def _check(self) -> None:
        info = self._do(lambda: self.client.info("server"))
        version = tuple(int(p) for p in str(info.get("redis_version", "0.0")).split(".")[:2])
        if version < MIN_SERVER:
            raise StateError(self.url, f"server version {info.get('redis_version')} is older than 6.2: upgrade "
                             "Redis (or use Valkey 7+)")
        key = f"{self.prefix}:schema"
        self._do(lambda: self.client.set(key, SCHEMA_VERSION, nx=True))
        found = self._do(lambda: self.client.get(key))
        if not _s(found).isdigit():
            raise CorruptStoreError(self.url, f"{key} holds {found!r}, not a schema version: use another database")
        if int(_s(found)) > SCHEMA_VERSION:
            raise SchemaVersionError(self.url, f"schema version {_s(found)} was written by a newer dlrpolicy (this "
                                     f"one reads up to {SCHEMA_VERSION}): upgrade dlrpolicy (pip install -U dlrpolicy)")

    def key(self, tenant: str, name: str) -> str:
        """A tenant's key: ``<prefix>:{t:<tenant>}:<name>`` (the braces are the Cluster hash tag)."""
        return f"{self.prefix}:{{t:{tenant}}}:{name}"

    def _tenant_keys(self, tenant: str) -> list[str]:
        found = self._keys.get(tenant)
        if found is None:
            found = self._keys[tenant] = [self.key(tenant, name) for name in TENANT_KEYS]
        return found

    def _encode(self, ops: Sequence[Op]) -> tuple[str, str, str]:
        """(ops JSON without the message state, the state text, the flood route)."""
        route = "-"
        state = ""
        out = []
        for op in ops:
            if op["op"] == "msg":
                state = op["state"]
                op = {"op": "msg", "key": op["key"], "expect": op["expect"]}
            elif op["op"] == "sched":
                entry = op["entry"]
                op = {"op": "sched", "key": op["key"], "raw": compact(entry), "due": entry["due"]}
            elif op["op"] in ("fc", "brk"):
                route = op["route"]
            out.append(op)
        return compact(out), state, route

    def _unknown(self, tenants: Sequence[str]) -> list[str]:
        """Those of ``tenants`` this store has not added to the tenant index yet.  The caller adds them in the
        round of its write and marks them known only once that round succeeded (a failed first write must not
        hide a tenant from list, export, prune and claim)."""
        return sorted(set(tenants) - self._known)

    # --- recording ---------------------------------------------------------------------------------------------

    def _scripts_round(self, calls: list[tuple[str, list[str], list[Any]]], register: list[str]) -> list[Any]:
        """One round trip: a single script call goes straight out (redis-py reloads it on NOSCRIPT), several
        go in one pipeline; ``register`` adds tenants to the tenant index in the same round."""
        if len(calls) == 1 and not register:
            name, keys, args = calls[0]
            return [self._do(self._scripts[name], keys=keys, args=args)]
        return self._pipelined(calls, register)

    def _pipelined(self, calls: Sequence[tuple[str, list[str], list[Any]]], register: Sequence[str] = ()) -> list[Any]:
        """Script calls as EVALSHA in one pipeline, without the SCRIPT EXISTS round trip redis-py's pipelines
        make first: the calls a server without the script refused (NOSCRIPT: a restart, a failover, SCRIPT
        FLUSH) are sent once more after loading it (they did not run)."""
        replies: list[Any] = [None] * len(calls)
        pending = list(range(len(calls)))
        for attempt in range(2):
            pipe = self.client.pipeline(transaction=False)
            if register and attempt == 0:
                pipe.sadd(f"{self.prefix}:tenants", *register)
            for i in pending:
                name, keys, args = calls[i]
                pipe.evalsha(self._scripts[name].sha, len(keys), *keys, *args)
            out = self._do(pipe.execute, raise_on_error=False)
            if register and attempt == 0:
                out = out[1:]
            missing = []
            for i, reply in zip(pending, out, strict=True):
                if isinstance(reply, Exception):
                    if attempt == 0 and type(reply).__name__ == "NoScriptError":
                        missing.append(i)
                        continue
                    raise self._error(reply)
                replies[i] = reply
            if not missing:
                break
            for name in sorted({calls[i][0] for i in missing}):
                self._do(self.client.script_load, self._scripts[name].script)
            pending = missing
        return replies

    def _groups(self, items: Sequence[Item], pending: list[int]) -> list[tuple[str, list[int]]]:
        """Pending item indexes by tenant (one slot each), in chunks that keep a script call short."""
        by_tenant: dict[str, list[int]] = {}
        for i in pending:
            by_tenant.setdefault(items[i].tenant, []).append(i)
        return [(tenant, indexes[start:start + _CHUNK]) for tenant, indexes in by_tenant.items()
                for start in range(0, len(indexes), _CHUNK)]

    def record(self, items: Sequence[Item], compute: Compute) -> list[Committed]:
        """Two pipelined rounds per batch: one read script per tenant chunk, then one write script per chunk
        applying each report only if its message is still at the version it was read at; reports that lost a
        race are read and decided again."""
        results: list[Committed | None] = [None] * len(items)
        pending = list(range(len(items)))
        for _ in range(self.retries):
            if not pending:
                break
            groups = self._groups(items, pending)
            routes: list[list[str]] = []
            reads = []
            for tenant, indexes in groups:
                names = sorted({items[i].route for i in indexes})
                routes.append(names)
                reads.append(("read_many", [self.key(tenant, "links"), self.key(tenant, "msgs"),
                                            self.key(tenant, "ver"), *(self.key(tenant, f"fc:{r}") for r in names)],
                              [compact([items[i].key or "", items[i].pid or "", items[i].default_key])
                               for i in indexes]))
            replies = self._scripts_round(reads, [])
            writes: list[tuple[str, list[str], list[tuple[int, Any]]]] = []
            # A route's counters as the round's own reports leave them: every read of the round saw the server
            # before any of them was written, so each report must see those decided before it (as on SQLite).
            live: dict[tuple[str, str], LiveCounters] = {}
            for (tenant, indexes), names, (rows, fcs) in zip(groups, routes, replies, strict=True):
                for name, flat in zip(names, fcs, strict=True):
                    live.setdefault((tenant, name), _counters(flat))
                computed = []
                for i, key, raw, version in zip(indexes, rows[::3], rows[1::3], rows[2::3], strict=True):
                    state = decode_state(raw) if raw else None
                    route = (tenant, items[i].route)
                    counters = live[route]
                    change = compute(items[i], Snapshot(_s(key), int(version), state, counters.counters()))
                    if isinstance(change, Exception) or not change.ops:  # an error, or a duplicate: nothing to write
                        results[i] = Committed(change)
                    else:
                        for op in change.ops:
                            counters.apply(op)
                        computed.append((i, change))
                if computed:
                    writes.append((tenant, names, computed))
            pending = []
            if not writes:
                break
            calls = []
            new_tenants = self._unknown([tenant for tenant, _, _ in writes])
            for tenant, names, computed in writes:
                index = {name: n + 1 for n, name in enumerate(names)}
                args = [tenant]
                for i, change in computed:
                    text, state_text, _ = self._encode(change.ops)
                    args += [f'{{"fc":{index[items[i].route]},"ops":{text}}}', state_text]
                calls.append(("write_many", [*self._tenant_keys(tenant),
                                             *(self.key(tenant, f"fc:{r}") for r in names)], args))
            replies = self._scripts_round(calls, new_tenants)
            self._known.update(new_tenants)
            for (_, _, computed), (flags, found) in zip(writes, replies, strict=True):
                hits: dict[int, list[IncidentHit]] = {}
                for n in range(0, len(found), 4):  # (position from 1, incident, count, opened) per hit
                    hits.setdefault(int(found[n]) - 1, []).append(
                        IncidentHit(_s(found[n + 1]), int(found[n + 2]), bool(int(found[n + 3]))))
                for position, ((i, change), flag) in enumerate(zip(computed, _s(flags), strict=True)):
                    if flag == "0":
                        pending.append(i)
                    else:
                        results[i] = Committed(change, tuple(hits.get(position, ())))
        if pending:
            raise StateError(self.url, f"{len(pending)} reports kept losing races for their messages after "
                             f"{self.retries} rounds: record them again")
        return [r for r in results if r is not None]

    def commit(self, tenant: str, ops: Sequence[Op]) -> list[IncidentHit] | None:
        text, state, route = self._encode(ops)
        new = self._unknown([tenant])
        (reply,) = self._scripts_round([("write", [*self._tenant_keys(tenant), self.key(tenant, f"fc:{route}")],
                                         [text, tenant, state])], new)
        self._known.update(new)
        if int(reply[0]) == 0:
            return None
        return [IncidentHit(_s(h[0]), int(h[1]), bool(int(h[2]))) for h in reply[1]]

    def read_message(self, tenant: str, key: str) -> tuple[Mapping[str, Any] | None, int]:
        pipe = self.client.pipeline(transaction=False)
        pipe.hget(self.key(tenant, "msgs"), key)
        pipe.hget(self.key(tenant, "ver"), key)
        raw, version = self._do(pipe.execute)
        # A message merged into another has no state but keeps its version (see the ``drop`` op).
        return (None if raw is None else decode_state(raw)), int(version or 0)

    def resolve_key(self, tenant: str, pid: str) -> str | None:
        found = self._do(lambda: self.client.hget(self.key(tenant, "links"), pid))
        return None if found is None else _s(found)

    # --- suppressions ------------------------------------------------------------------------------------------

    def lookup(self, tenant: str, ids: Sequence[str]) -> tuple[list[Suppression], list[Incident]]:
        raws, holds = self._do(self._scripts["check"], keys=[self.key(tenant, n) for n in ("sup", "holds", "inc")],
                               args=list(ids) or ["-"])
        entries = [Suppression.from_stored(loads(raw)) for raw in raws if raw is not None]
        incidents = [Incident.from_stored(loads(raw)) for raw in holds if raw is not None]
        return entries, sorted(incidents, key=lambda i: (-i.last_seen.timestamp(), i.id))

    def holder(self, tenant: str, key: str) -> str | None:
        found = self._do(lambda: self.client.hget(self.key(tenant, "held"), key))
        return None if found is None else _s(found)

    def tenants(self) -> list[str]:
        return sorted(_s(t) for t in self._do(lambda: self.client.smembers(f"{self.prefix}:tenants")))

    def suppressions(self, *, tenant: str | None = None) -> Iterator[Suppression]:
        for name in [tenant] if tenant is not None else self.tenants():
            rows: list[Any] = self._do(list, self.client.hscan_iter(self.key(name, "sup"), count=1000))
            for _, raw in rows:
                yield Suppression.from_stored(json.loads(raw))

    def suppression(self, entry_id: str) -> Suppression | None:
        raw = self._do(lambda: self.client.hget(self.key(tenant_in(entry_id), "sup"), entry_id))
        return None if raw is None else Suppression.from_stored(json.loads(raw))

    def remove_suppression(self, entry: Suppression, audit: Mapping[str, Any]) -> bool:
        tenant = tenant_in(entry.id)
        raw = self._do(lambda: self.client.hget(self.key(tenant, "sup"), entry.id))
        if raw is None or Suppression.from_stored(json.loads(raw)) != entry:
            return False
        done = self._do(lambda: self._scripts["lift"](keys=[self.key(tenant, "sup"), self.key(tenant, "audit")],
                                                      args=[entry.id, raw, dumps(audit)]))
        return bool(int(done))

    def import_suppressions(self, entries: Sequence[Mapping[str, Any]]) -> int:
        by_tenant: dict[str, list[str]] = {}
        for entry in entries:
            by_tenant.setdefault(entry["tenant"], []).append(dumps(entry))
        new = self._unknown(list(by_tenant))
        self._pipelined([("import", [self.key(tenant, "sup")], lines[start:start + 1000])
                         for tenant, lines in by_tenant.items() for start in range(0, len(lines), 1000)], new)
        self._known.update(new)
        return len(entries)

    def prune(self, now: float) -> int:
        removed = 0
        for tenant in self.tenants():
            key = self.key(tenant, "sup")
            rows: list[Any] = self._do(list, self.client.hscan_iter(key, count=1000))
            ids = [_s(field) for field, _ in rows]
            for start in range(0, len(ids), 1000):
                chunk = ids[start:start + 1000]
                removed += int(self._do(self._scripts["prune"], keys=[key], args=[now, *chunk]))
        return removed

    # --- the schedule ------------------------------------------------------------------------------------------

    # --- incidents ---------------------------------------------------------------------------------------------

    def incidents(self, *, tenant: str | None = None, state: str | None = None) -> list[Incident]:
        found = []
        for name in [tenant] if tenant is not None else self.tenants():
            for raw in self._do(self.client.hvals, self.key(name, "inc")):
                incident = Incident.from_stored(json.loads(raw))
                if state is None or incident.state == state:
                    found.append(incident)
        return sorted(found, key=lambda i: (-i.last_seen.timestamp(), i.id))

    def incident(self, incident_id: str) -> Incident | None:
        raw = self._do(lambda: self.client.hget(self.key(tenant_in(incident_id), "inc"), incident_id))
        return None if raw is None else Incident.from_stored(json.loads(raw))

    def held(self, incident_id: str, *, limit: int) -> list[str]:
        key = self.key(tenant_in(incident_id), "heldz")
        prefix = f"{incident_id}|"
        members = self._do(lambda: self.client.zrange(key, 0, -1))
        return [_s(m)[len(prefix):] for m in members if _s(m).startswith(prefix)][:limit]

    def expired_holds(self, tenant: str, before: float, *, limit: int) -> list[tuple[str, str]]:
        members = self._do(lambda: self.client.zrangebyscore(self.key(tenant, "heldz"), "-inf", f"({before!r}",
                                                             start=0, num=limit))
        pairs = [_s(m).split("|", 1) for m in members]
        return [(key, incident) for incident, key in pairs]

    def close_incident(self, incident_id: str, *, now: float, actor: str, note: str) -> Incident:
        tenant = tenant_in(incident_id)
        audit = dumps({"at": now, "tenant": tenant, "kind": "resolve", "incident": incident_id, "by": actor,
                       "note": note})
        keys = [self.key(tenant, n) for n in ("inc", "incopen", "holds", "audit")]
        raw = self._do(lambda: self._scripts["close"](keys=keys, args=[incident_id, now, actor, note, audit]))
        if not raw:
            raise NotFoundError("incident", incident_id, "list them with `dlrpolicy incidents list`")
        return Incident.from_stored(json.loads(raw))

    def close(self) -> None:
        self._do(self.client.close)
