"""The interface every store implements (`Store`), the unit of recording (`Item`), and `open_store`, which turns
a URL (``sqlite:///path.db``, ``redis://host:6379/0``, ``rediss://...``, ``unix:///run/redis.sock``) or a client
object into a store."""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import attrs

from .._errors import DlrpolicyError
from ..model._outcome import History, Outcome
from ..policy._compile import CompiledPolicy
from ._apply import Change, Op, Snapshot
from ._records import Incident, ScheduleEntry, Suppression


# Not slotted (like Outcome and Decision): a frozen attrs class with a __dict__ builds about twice as fast, and
# one of these is built per recorded report.
@attrs.frozen(kw_only=True, slots=False)
class Report:
    """One outcome to record: its message key (None: the ledger finds it), a history hint, a policy.

    ``replay``: the state layer records a stored report again (an entry claimed past its deadline ends as the
    rule's exhausted decision): it is no new traffic, so it counts in no retry budget or breaker and flood
    control does not shape its decision."""

    outcome: Outcome
    key: str | None = None
    history: History | None = None
    policy: CompiledPolicy | None = None
    replay: bool = False


# Not slotted (like Outcome and Decision): a frozen attrs class with a __dict__ builds about twice as fast, and
# one of these is built per recorded report.
@attrs.frozen(slots=False)
class Item:
    """One report waiting to be recorded: the outcome and everything the store needs to find its message."""

    outcome: Outcome
    tenant: str
    key: str | None
    pid: str | None
    default_key: str
    identity: str
    route: str
    hint: History | None = None
    replay: bool = False


@attrs.frozen
class IncidentHit:
    """An incident a committed report counted towards: its id, the count after it, whether it opened."""

    id: str
    count: int
    opened: bool


# Not slotted (like Outcome and Decision): a frozen attrs class with a __dict__ builds about twice as fast, and
# one of these is built per recorded report.
@attrs.frozen(slots=False)
class Committed:
    """A recorded item: its change (or the error that kept it from being decided) and the incidents it hit."""

    change: Change | DlrpolicyError
    hits: tuple[IncidentHit, ...] = ()


Compute = Callable[[Item, Snapshot], "Change | DlrpolicyError"]


class Store(abc.ABC):
    """A ledger, suppression list, schedule, incident list and flood counters behind one interface.

    `record` commits a batch of reports; every report's history, decision and effects commit together (SQLite:
    one transaction for the batch; Redis: one script per report, checked against the version it was computed
    from, recomputed on a conflict).  The other methods serve `Recorder` and the CLI.
    """

    url: str

    @abc.abstractmethod
    def record(self, items: Sequence[Item], compute: Compute) -> list[Committed]:
        """Read each item's snapshot, ``compute`` its change, commit; results in input order."""

    @abc.abstractmethod
    def read_message(self, tenant: str, key: str) -> tuple[Mapping[str, Any] | None, int]:
        """The message's state and version (None, 0 when never seen; None and its version when it was merged into
        another message)."""

    @abc.abstractmethod
    def resolve_key(self, tenant: str, pid: str) -> str | None:
        """The message key a provider message id is linked to, if any."""

    @abc.abstractmethod
    def commit(self, tenant: str, ops: Sequence[Op]) -> list[IncidentHit] | None:
        """Apply ops atomically; None when the message moved past the ``msg`` op's expected version."""

    @abc.abstractmethod
    def lookup(self, tenant: str, ids: Sequence[str]) -> tuple[list[Suppression], list[Incident]]:
        """The entries among ``ids`` and the tenant's open account-wide incidents (newest first), in one round
        trip."""

    def lookup_candidates(self, tenant: str,
                          candidates: Sequence[tuple[str, str]]) -> tuple[list[Suppression], list[Incident]]:
        """`lookup` of (entry id, scope) pairs: a store that knows which scopes a tenant's entries use may skip
        the other candidates (SQLite does); by default every id is looked up."""
        return self.lookup(tenant, [ident for ident, _ in candidates])

    @abc.abstractmethod
    def holder(self, tenant: str, key: str) -> str | None:
        """The incident holding message ``key``, if any."""

    @abc.abstractmethod
    def suppressions(self, *, tenant: str | None = None) -> Iterator[Suppression]:
        """Every entry (of ``tenant`` when given)."""

    @abc.abstractmethod
    def suppression(self, entry_id: str) -> Suppression | None:
        """One entry by id."""

    @abc.abstractmethod
    def remove_suppression(self, entry: Suppression, audit: Mapping[str, Any]) -> bool:
        """Delete ``entry`` if unchanged since read, recording ``audit``; False when it changed or is gone."""

    @abc.abstractmethod
    def import_suppressions(self, entries: Sequence[Mapping[str, Any]]) -> int:
        """Upsert validated entries (merging like policy suppressions do; a line already applied to its entry
        changes nothing).  SQLite: all or none.  Redis: each tenant's chunk of 1,000 atomically (one script;
        tenants live in different Cluster slots, so no more can be had) — an import cut short is finished by
        running the same import again, which ends in the state of one run."""

    @abc.abstractmethod
    def prune(self, now: float) -> int:
        """Delete entries that expired at or before ``now``; how many."""

    @abc.abstractmethod
    def claim(self, *, now: float, limit: int, lease_until: float) -> list[ScheduleEntry]:
        """Lease up to ``limit`` due entries (expired leases are due again), each to exactly this claimant."""

    @abc.abstractmethod
    def peek(self, *, now: float, limit: int) -> list[ScheduleEntry]:
        """Due entries without claiming them."""

    @abc.abstractmethod
    def ack(self, token: str) -> bool:
        """Complete a claimed entry for good; False when the lease is unknown (expired and re-claimed, or the
        entry was replaced by a newer report)."""

    @abc.abstractmethod
    def extend(self, token: str, lease_until: float) -> bool:
        """Renew a lease; False when it is no longer held."""

    @abc.abstractmethod
    def incidents(self, *, tenant: str | None = None, state: str | None = None) -> list[Incident]:
        """Incidents, newest first."""

    @abc.abstractmethod
    def incident(self, incident_id: str) -> Incident | None:
        """One incident."""

    @abc.abstractmethod
    def held(self, incident_id: str, *, limit: int) -> list[str]:
        """Up to ``limit`` keys of messages held under the incident."""

    @abc.abstractmethod
    def expired_holds(self, tenant: str, before: float, *, limit: int) -> list[tuple[str, str]]:
        """(key, incident) of up to ``limit`` messages of ``tenant`` held since before ``before``."""

    @abc.abstractmethod
    def close_incident(self, incident_id: str, *, now: float, actor: str, note: str) -> Incident:
        """Mark the incident resolved (a new escalation of its group opens a new one); lift its account hold."""

    @abc.abstractmethod
    def tenants(self) -> list[str]:
        """Tenants that may hold messages (at least those that do)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
