"""Which catalog entry a reported code is, and which of a report's codes decides.

A reported id is looked up table by table along its product's lookup chain; a table whose entries contradict the
reported group or name is passed over for the next one (a voice report's status 87 in group 4 named
SIGNALS_BLOCKED is the general table's entry, not the voice table's 87).  A report whose channel nobody knows is
looked up across every table of the kind.  An id that stays ambiguous but whose every candidate shares one plan is
decided by that plan.  Of a report's status and error, a delivered or pending status decides (a stray error on it
is noted, not acted on); otherwise a non-OK error decides, and else the status.
"""

from __future__ import annotations

from typing import Final, NamedTuple

from ..model._decision import CodeIdentity
from ..model._outcome import CodeRef, Outcome
from ..model._vocabulary import DEFAULT_CHANNEL, SLOT_KINDS, product_for
from ..policy._compile import ANY_PRODUCT, ROUTES_MAX, Candidate, CompiledPolicy, Tables
from ..policy._plan import Plan


class Resolved(NamedTuple):
    """One reported code, resolved: the table kind and product searched, the candidate (None: unknown or
    ambiguous), how many entries matched, and the plan shared by every candidate of an ambiguous id."""

    kind: str
    product: str
    ref: CodeRef
    candidate: Candidate | None
    matches: int
    shared: Plan | None = None
    #: The candidates that share ``shared`` (an ambiguous id decided anyway).
    sharing: tuple[Candidate, ...] = ()


def _consistent(cand: Candidate, ref: CodeRef) -> bool:
    entry = cand.entry
    return ((ref.group_id is None or entry.group_id is None or entry.group_id == ref.group_id)
            and (ref.name is None or entry.name == ref.name))


def _narrow(cands: tuple[Candidate, ...], ref: CodeRef) -> tuple[Candidate, ...]:
    """The first table's candidates narrowed as far as the report allows (by group, then by name)."""
    narrowed = cands
    if ref.group_id is not None:
        narrowed = tuple(c for c in narrowed if c.entry.group_id == ref.group_id) or narrowed
    if len(narrowed) > 1 and ref.name is not None:
        narrowed = tuple(c for c in narrowed if c.entry.name == ref.name) or narrowed
    return narrowed


def pick(tables: Tables, ref: CodeRef) -> tuple[tuple[Candidate, ...], int]:
    """The candidates a report means (one when resolved), and how many entries the id has in all."""
    total = 0
    for cands in tables:
        total += len(cands)
        if len(cands) == 1:
            if _consistent(cands[0], ref):
                return cands, total
            continue
        consistent = tuple(c for c in cands if _consistent(c, ref))
        if consistent:
            return consistent, total
    # No table agrees with everything the report says (a renamed code, a group the document lacks): fall back to
    # the first table, narrowed as far as the report allows, rather than calling a known id unknown.
    return (_narrow(tables[0], ref) if tables else ()), total


def _product(outcome: Outcome, kind: str) -> str:
    if outcome.product is not None:
        return outcome.product
    key = (outcome.provider, outcome.channel, kind)
    found = _PRODUCTS.get(key)
    if found is None:
        if outcome.channel is None and outcome.provider == "infobip" and kind != "http":
            found = ANY_PRODUCT
        else:
            found = product_for(outcome.provider, outcome.channel or "", kind)
        _PRODUCTS[key] = found  # bounded by the vocabulary: providers x channels x kinds
    return found


_PRODUCTS: dict[tuple[str, str | None, str], str] = {}


def _single(policy: CompiledPolicy, outcome: Outcome, kind: str, ref: CodeRef) -> Candidate | None:
    """The one catalog entry ``ref`` can mean, when its product's table has exactly one entry with its id that
    agrees with what the report says; None otherwise (`resolve` then works it out in full)."""
    key = (outcome.provider, kind, outcome.product or _product(outcome, kind), ref.id)
    cand = policy.singles.get(key, _NOT_SEEN)
    if cand is _NOT_SEEN:
        # A tenant's policy: the base's answer unless the tenant changed this key.
        if key not in policy.own_index:
            cand = policy.base_singles.get(key, _NOT_SEEN)
        if cand is _NOT_SEEN:
            cand = policy.single(key)
    if cand is None:
        return None
    entry = cand.entry
    group, name = ref.group_id, ref.name
    if (group is None or entry.group_id is None or entry.group_id == group) and (name is None or entry.name == name):
        return cand
    return None


#: What `singles` holds for a key not asked about yet (its candidates are worked out by `CompiledPolicy.single`).
_NOT_SEEN: Final[Candidate] = object()  # type: ignore[assignment]


def quick_candidate(policy: CompiledPolicy, outcome: Outcome) -> Candidate | None:
    """The deciding candidate of the common report, in the fewest steps: one code, or a status with an OK error,
    each resolving to a single entry.  None for everything else, which `deciding_code` decides by the full rules
    (it gives the same answer for the reports this one takes)."""
    status, error = outcome.status, outcome.error
    kinds = SLOT_KINDS[outcome.provider]
    if error is not None:
        found = _single(policy, outcome, error.kind or kinds[1], error)
        if found is None or status is None:
            return found
        if not found.entry.success:
            # A failing error decides unless the status says delivered or pending (`deciding_code`'s rules; those
            # reports, and their notes, are left to it).
            reported = _single(policy, outcome, kinds[0], status)
            if reported is None or _final_or_pending(reported) is not None:
                return None
            return found
    if status is None:
        return None
    return _single(policy, outcome, kinds[0], status)


def resolve(policy: CompiledPolicy, outcome: Outcome, kind: str, ref: CodeRef) -> Resolved:
    """One reported code of ``outcome`` resolved in ``kind``'s tables."""
    product = _product(outcome, kind)
    tables = policy.resolve(outcome.provider, kind, product, ref.id)
    if len(tables) == 1 and len(tables[0]) == 1 and _consistent(tables[0][0], ref):  # the common case
        return Resolved(kind, product, ref, tables[0][0], 1)
    cands, total = pick(tables, ref)
    if len(cands) == 1:
        return Resolved(kind, product, ref, cands[0], total)
    shared = None
    if cands:
        channel = outcome.channel or DEFAULT_CHANNEL.get(cands[0].entry.product, "sms")
        first = cands[0].plan_for(channel)
        if all(c.plan_for(channel) is first for c in cands[1:]):
            return Resolved(kind, product, ref, None, total, first, cands)
    return Resolved(kind, product, ref, None, total, shared)


#: Tables whose errors describe how a delivered call went rather than a stray problem with the message.
_CALL_PRODUCTS: Final = frozenset({"voice", "voice_legacy"})

#: Why a status decides although the report also carries a non-OK error.
_STATUS_WINS: Final = {
    "delivered": "The report also carries error {error}; the status says the message was delivered, so the "
                 "error is noted, not acted on (a resend would be paid twice).",
    "pending": "The report also carries error {error}; the status is still pending, so the operator's final "
               "report decides, not this error.",
}


def _final_or_pending(cand: Candidate | None) -> str | None:
    if cand is None:
        return None
    entry = cand.entry
    if entry.success:
        return "delivered"
    if entry.kind == "status" and entry.group_id == 1:  # Infobip status group 1 is PENDING in every table
        return "pending"
    return None


def _label(ref: CodeRef) -> str:
    return f"{ref.id} {ref.name}" if ref.name else str(ref.id)


def deciding_code(policy: CompiledPolicy, outcome: Outcome) -> tuple[Resolved, str]:
    """The code of ``outcome`` that decides, and a note for the reason when a status overruled an error."""
    status_kind, error_kind = SLOT_KINDS[outcome.provider]
    status = None if outcome.status is None else resolve(policy, outcome, status_kind, outcome.status)
    if outcome.error is None:
        assert status is not None  # Outcome guarantees a code unless it is an event, handled by the caller
        return status, ""
    error = resolve(policy, outcome, outcome.error.kind or error_kind, outcome.error)
    if status is None:
        return error, ""
    error_ok = error.candidate.entry.success if error.candidate is not None else outcome.error.id == 0
    if error_ok:
        return status, ""
    state = _final_or_pending(status.candidate)
    if state == "delivered" and error.candidate is not None and error.candidate.entry.product in _CALL_PRODUCTS:
        # A voice report says DELIVERED once the call was placed; its error (5003 no answer, 5002 busy) is how
        # the call went, so it decides.
        return error, ""
    if state is not None:
        return status, " " + _STATUS_WINS[state].format(error=_label(outcome.error))
    return error, ""


def shared_identity(resolved: Resolved, outcome: Outcome) -> CodeIdentity:
    """The identity of an ambiguous id whose candidates share one plan: what they have in common (a field the
    candidates disagree on is null)."""
    entries = [c.entry for c in resolved.sharing]

    def common(values: list[object]) -> object:
        return values[0] if values and all(v == values[0] for v in values) else None

    product = common([e.product for e in entries])
    name = common([e.name for e in entries])
    group = common([e.group_id for e in entries])
    return CodeIdentity(outcome.provider, resolved.kind, product if isinstance(product, str) else None,
                        resolved.ref.id, name if isinstance(name, str) else resolved.ref.name,
                        group if isinstance(group, int) else None)


def unknown_identity(resolved: Resolved, outcome: Outcome) -> CodeIdentity:
    """The identity of a code the catalog does not know (or cannot tell apart), as reported."""
    ref = resolved.ref
    product = None if resolved.product == ANY_PRODUCT else resolved.product
    return CodeIdentity(outcome.provider, resolved.kind, product, ref.id, ref.name, ref.group_id, unknown=True)


def unknown_prefix(resolved: Resolved, outcome: Outcome) -> str:
    """The start of the reason for an unknown or ambiguous code."""
    where = "any table" if resolved.product == ANY_PRODUCT else f"{resolved.product}"
    what = ("is ambiguous (the report lacks the group or name that tells its entries apart)" if resolved.matches
            else "is not in the catalog")
    if resolved.product == ANY_PRODUCT and not resolved.matches:
        what = "is in no table of the catalog (and the report does not say its channel)"
    return f"{outcome.provider} {resolved.kind} {where} code {resolved.ref.id} {what}: "


def channel_for(policy: CompiledPolicy, outcome: Outcome) -> str:
    """The channel ``outcome`` is decided on: its own, else the one its deciding code's table implies (what
    `evaluate` uses for channel-specific rules and recipient-channel keys), else ``sms``."""
    if outcome.channel is not None:
        return outcome.channel
    if outcome.event is not None:
        return "sms"
    # Remembered per policy by the code objects' identity (the adapters share one CodeRef per distinct code), and
    # checked on every part of the key, as `evaluate` remembers routes.
    status, error, provider, product = outcome.status, outcome.error, outcome.provider, outcome.product
    memo = policy.channels
    key = id(status) ^ id(error)
    hit = memo.get(key)
    if hit is not None and hit[0] is status and hit[1] is error and hit[2] == provider and hit[3] == product:
        return hit[4]
    candidate = deciding_code(policy, outcome)[0].candidate
    channel = "sms" if candidate is None else DEFAULT_CHANNEL.get(candidate.entry.product, "sms")
    if len(memo) >= ROUTES_MAX:
        memo.clear()
    memo[key] = (status, error, provider, product, channel)
    return channel
