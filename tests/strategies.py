"""Hypothesis strategies shared by the test modules (one place, as in attrs/cattrs).

Sections are grouped by the module they serve; add new strategies at the end of the matching section."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Final

import attrs
from hypothesis import strategies as st

from dlrpolicy import Catalog, CodeEntry, CodeRef, History, Outcome, Resend
from dlrpolicy.model._outcome import CHANNEL_SOURCES, EVENTS, RESEND_STATES
from dlrpolicy.model._vocabulary import CHANNELS, DEFAULT_CHANNEL, SLOT_KINDS

# --- time -------------------------------------------------------------------------------------------------------

#: Aware datetimes in UTC within a few years around today.
aware_datetimes = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
)

#: Aware datetimes with arbitrary fixed offsets (-12h .. +14h).
offset_datetimes = st.builds(
    lambda dt, minutes: dt.replace(tzinfo=timezone(timedelta(minutes=minutes))),
    st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31)),
    st.integers(min_value=-12 * 60, max_value=14 * 60),
)

durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30))

# --- catalog ----------------------------------------------------------------------------------------------------

catalog_entries: st.SearchStrategy[CodeEntry] = st.sampled_from(Catalog.load().entries)


def outcome_for(entry: CodeEntry, *, channel: str | None = None, **fields: object) -> Outcome:
    """An outcome that reports ``entry`` (in its status or error slot) on ``channel`` (default: the product's)."""
    status_kind, _ = SLOT_KINDS[entry.provider]
    ref = CodeRef(id=entry.id, group_id=entry.group_id, name=entry.name, permanent=entry.permanent,
                  kind="http" if entry.kind == "http" else None)
    slot = "status" if entry.kind == status_kind else "error"
    return Outcome(
        provider=entry.provider,
        channel=channel or DEFAULT_CHANNEL[entry.product],
        product=entry.product,
        **{slot: ref},
        **fields,  # type: ignore[arg-type]
    )


@st.composite
def catalog_outcomes(draw: st.DrawFn) -> Outcome:
    """Outcomes reporting a random catalog code, with random ids, recipients and senders."""
    entry = draw(catalog_entries)
    return outcome_for(
        entry,
        message_id=draw(st.text(min_size=1, max_size=20)),
        recipient=draw(st.one_of(st.none(), st.from_regex(r"\+[1-9][0-9]{7,12}", fullmatch=True))),
        sender=draw(st.one_of(st.none(), st.just("news@acme.example"), st.just("ACME"))),
        retry_after=draw(st.one_of(st.none(), st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=3)))),
    )


@st.composite
def unknown_outcomes(draw: st.DrawFn) -> Outcome:
    """Outcomes whose code id is not in any table of the catalog."""
    provider = draw(st.sampled_from(sorted(SLOT_KINDS)))
    channel = "kakao" if provider == "nhn_kakao" else draw(st.sampled_from(CHANNELS))
    code = CodeRef(id=draw(st.integers(min_value=900_000, max_value=10**9)),
                   permanent=draw(st.one_of(st.none(), st.booleans())))
    slot = draw(st.sampled_from(["status", "error"]))
    return Outcome(provider=provider, channel=channel, message_id="m", **{slot: code})  # type: ignore[arg-type]


@st.composite
def histories(draw: st.DrawFn, *, before: datetime | None = None) -> History:
    """Histories with 1-12 attempts, the first one up to 10 days before ``before``."""
    first = None
    if before is not None:
        first = before - draw(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=10)))
    return History(attempts=draw(st.integers(min_value=1, max_value=12)), first_attempt_at=first)


@st.composite
def complete_outcomes(draw: st.DrawFn) -> Outcome:
    """Catalog outcomes with every optional field drawn too (both codes, times in any offset, tenant, template),
    for serialisation round trips."""
    outcome = draw(catalog_outcomes())
    other = draw(catalog_entries)
    return attrs.evolve(
        outcome,
        status=outcome.status or CodeRef(id=other.id, group_id=other.group_id, name=other.name,
                                         group_name=draw(st.one_of(st.none(), st.just("DELIVERED")))),
        error=outcome.error or draw(st.one_of(st.none(), st.builds(CodeRef, id=st.integers(-5000, 10**6)))),
        tenant=draw(st.one_of(st.none(), st.from_regex(r"[a-z0-9][a-z0-9_-]{0,10}", fullmatch=True))),
        template=draw(st.one_of(st.none(), st.text(max_size=10))),
        sent_at=draw(st.one_of(st.none(), offset_datetimes)),
        done_at=draw(st.one_of(st.none(), offset_datetimes)),
        retry_after=draw(st.one_of(st.none(), st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=2)))),
        retry_not_before=draw(st.one_of(st.none(), offset_datetimes)),
        channel_source=draw(st.one_of(st.none(), st.sampled_from([s for s in CHANNEL_SOURCES if s != "unrecognised"])))
        if outcome.channel else draw(st.sampled_from([None, "unrecognised"])),
        event=draw(st.one_of(st.none(), st.sampled_from(EVENTS))),
        resend=draw(st.one_of(st.none(), st.builds(
            Resend, state=st.sampled_from(RESEND_STATES), channel=st.sampled_from(CHANNELS),
            result_code=st.one_of(st.none(), st.text(max_size=6)), request_id=st.one_of(st.none(), st.text(max_size=8)),
            reported=st.one_of(st.none(), st.just("RSC04"))))),
        message_type=draw(st.one_of(st.none(), st.sampled_from(["AT", "FRIENDTALK_IMAGE", "BRAND_MESSAGE"]))),
        account=draw(st.one_of(st.none(), st.text(max_size=12))),
    )

# --- tenacity integration ---------------------------------------------------------------------------------------


@st.composite
def tenacity_scripts(draw: st.DrawFn) -> list[tuple[int | None, int | None]]:
    """Scripts of Infobip reports for the send-loop tests, as (error id, status id) pairs: codes the test policy
    in tests/test_tenacity.py retries, suppresses, escalates, waits on or calls done, plus one it does not know."""
    reports = st.sampled_from([
        (27, None), (31, None), (581, None), (1, None), (None, 12), (None, 26), (0, 5), (7017, None), (4242, None),
    ])
    return draw(st.lists(reports, min_size=1, max_size=6))

# --- payloads (dlrpolicy evaluate) ----------------------------------------------------------------------------------

#: Arbitrary JSON values, nested a few levels.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**12), max_value=10**12)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


def _example_payloads() -> list[object]:
    import json
    from pathlib import Path

    folder = Path(__file__).parent.parent / "examples" / "payloads"
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))]


def _mutate(value: object, path: list[int], replacement: object, delete: bool) -> object:
    """``value`` with the node chosen by ``path`` replaced (or, in an object, deleted)."""
    if not path or not isinstance(value, dict | list) or not value:
        return replacement
    keys = list(value) if isinstance(value, dict) else list(range(len(value)))
    key = keys[path[0] % len(keys)]
    if isinstance(value, dict):
        copy = dict(value)
        if delete and len(path) == 1:
            del copy[key]
        else:
            copy[key] = _mutate(value[key], path[1:], replacement, delete)
        return copy
    items = list(value)
    items[key] = _mutate(value[key], path[1:], replacement, delete)
    return items


@st.composite
def mutated_payloads(draw: st.DrawFn) -> object:
    """A real example payload with one node replaced by arbitrary JSON or deleted."""
    payload = draw(st.sampled_from(_example_payloads()))
    path = draw(st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=6))
    return _mutate(payload, path, draw(json_values), draw(st.booleans()))


@st.composite
def decided_outcomes(draw: st.DrawFn) -> tuple[object, Outcome]:
    """(decision, outcome) pairs for the output line serialiser: catalog, unknown and event outcomes with every
    optional field, decided under the default policy at any time, some with their instants moved into other
    offsets and their strings made non-ASCII (the serialiser caches repeating parts, so equal and distinct values
    both occur)."""
    from dlrpolicy import Engine

    outcome = draw(st.one_of(complete_outcomes(), unknown_outcomes()))
    now = draw(aware_datetimes)
    decision = Engine.default().evaluate(outcome, now=now, history=draw(st.one_of(st.none(), histories(before=now))))
    instants = st.one_of(st.none(), offset_datetimes)
    if draw(st.booleans()):
        decision = attrs.evolve(decision, retry_at=draw(instants), give_up_at=draw(instants),
                                check_at=draw(instants), channel=draw(st.one_of(st.none(), st.just("sms"))))
    if draw(st.booleans()):
        texts = st.one_of(st.none(), st.text(max_size=6), st.just("ソウル"), st.just("\ud800"))
        outcome = attrs.evolve(outcome, message_id=draw(texts), recipient=draw(texts), sender=draw(texts))
    return decision, outcome

# --- daylight-saving transitions (policy time zones) --------------------------------------------------------------


def _transitions(zone_name: str, first_year: int = 1970, last_year: int = 2040) -> list[datetime]:
    """The UTC instants (to the minute) at which ``zone_name``'s UTC offset changes between the given years."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(zone_name)
    found: list[datetime] = []
    day = datetime(first_year, 1, 1, 12, tzinfo=UTC)
    previous = day.astimezone(zone).utcoffset()
    while day.year <= last_year:
        following = day + timedelta(days=1)
        offset = following.astimezone(zone).utcoffset()
        if offset != previous:
            low, high = day, following  # the change lies in (low, high]: bisect to the minute
            while high - low > timedelta(minutes=1):
                middle = low + (high - low) / 2
                if middle.astimezone(zone).utcoffset() == previous:
                    low = middle
                else:
                    high = middle
            found.append(high.replace(second=0, microsecond=0))
            previous = offset
        day = following
    return found


def transition_moments(zone_names: list[str]) -> st.SearchStrategy[datetime]:
    """Instants within 36 hours of a UTC-offset change of one of ``zone_names``, as aware datetimes in that zone
    (so ``fold`` is set in repeated hours) or in UTC; zones without changes contribute instants from 2024-2030."""
    from zoneinfo import ZoneInfo

    pairs = [(name, moment) for name in zone_names for moment in _transitions(name)]
    plain = [name for name in zone_names if not any(n == name for n, _ in pairs)]
    near = st.builds(lambda pair, seconds, local: (pair[1] + timedelta(seconds=seconds)).astimezone(
        ZoneInfo(pair[0]) if local else UTC), st.sampled_from(pairs) if pairs else st.nothing(),
        st.integers(min_value=-36 * 3600, max_value=36 * 3600), st.booleans())
    anywhere = st.builds(lambda name, moment: moment.astimezone(ZoneInfo(name)),
                         st.sampled_from(plain), aware_datetimes) if plain else st.nothing()
    return st.one_of(near, anywhere)


#: Daily ranges (start, end) in minutes, clustered around the small hours where daylight-saving changes happen.
day_ranges = st.tuples(
    st.one_of(st.integers(min_value=0, max_value=240), st.integers(min_value=0, max_value=1439)),
    st.one_of(st.integers(min_value=0, max_value=300), st.integers(min_value=1, max_value=1440)),
).filter(lambda r: r[0] != r[1])

# --- hostile records (dlrpolicy evaluate) ---------------------------------------------------------------------------

#: Timestamps at and past the ends of the supported range (1970-01-01 .. 9000-01-01 UTC), and of datetime itself.
edge_timestamps = st.sampled_from([
    "0001-01-01T00:00:00Z", "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59Z", "9999-12-31T23:00:00-14:00",
    "1969-12-31T23:59:59Z", "1970-01-01T00:00:00Z", "8999-12-31T23:59:59Z", "9000-01-01T00:00:00Z",
    "2026-11-24T09:00:00.000+0000",
])
#: Message ids with lone surrogates (from JSON escapes), NULs and the like, next to plain ones.
hostile_ids = st.one_of(
    st.text(alphabet=st.characters(categories=["Cs"]), min_size=1, max_size=3),
    st.text(max_size=12), st.just("\x00"), st.integers(-(2**70), 2**70),
)
#: Text as a caller may hand it over: any characters, lone surrogates included (a byte that is not UTF-8 in a
#: command-line argument, a broken \\u escape), with phone numbers, e-mail addresses and channel names mixed in.
any_texts = st.one_of(
    st.text(max_size=20),
    st.builds("{}{}{}".format, st.text(max_size=6), st.characters(categories=["Cs"]), st.text(max_size=6)),
    st.sampled_from(["+821012345678", "01012345678", "A@B.COM", "a@\u00fc.de", "sms", "kakao", "", " ", "@", "+"]),
)
_codes = st.one_of(st.sampled_from([(1, 7), (3, 5), (5, 6), (2, 9)]),
                   st.tuples(st.integers(-(2**70), 2**70), st.integers(-(2**70), 2**70)))


@st.composite
def hostile_results(draw: st.DrawFn) -> dict[str, object]:
    """One Infobip report whose id, timestamps and codes may be hostile (it is decided or errors on its own)."""
    group, code = draw(_codes)
    result: dict[str, object] = {"messageId": draw(hostile_ids), "status": {"groupId": group, "id": code}}
    if draw(st.booleans()):
        result["error"] = {"groupId": 1, "id": draw(st.sampled_from([27, 581, 2**64, 0]))}
    if draw(st.booleans()):
        result["sentAt"] = draw(edge_timestamps)
    if draw(st.booleans()):
        result["doneAt"] = draw(edge_timestamps)
    return result


@st.composite
def hostile_nhn_rows(draw: st.DrawFn) -> dict[str, object]:
    """One NHN result row with a possibly hostile request date and result code."""
    return {"requestId": "r", "recipientSeq": draw(st.integers(1, 9)),
            "resultCode": draw(st.sampled_from(["1000", "3018", "-1019", 2**70, "x"])),
            "requestDate": draw(st.sampled_from(["0001-01-01 00:00:00", "9999-12-31 23:59:59", "2026-11-24 10:00:00"]))}


_ENVELOPE_VALUES: Final = {
    "provider": ["infobip", "nhn_kakao", "twilio", 5, None], "channel": ["sms", "email", "fax", [], None],
    "tenant": ["acme", "bad tenant!", 7, None], "attempt": [1, 2, 0, 10**6 + 1, "2", 2.0, None],
    "http_status": [200, 429, 99, 600, "429", None], "headers": [{"Retry-After": "30"}, [], "x", None],
    "first_attempt_at": ["2026-11-24T09:55:00Z", "2026-11-24 09:55", "yesterday", 0, None],
    "sender": ["news@shop.example", 3, None], "template": ["T-1", [], None], "key": ["order-1", "", 9, None],
    "attempts": [2],
}


@st.composite
def envelopes(draw: st.DrawFn) -> dict[str, object]:
    """An envelope record around a small Infobip report: each field absent, right or wrong (a misspelt field
    now and then), so that every check of an envelope's fields is reached."""
    fields = draw(st.lists(st.sampled_from(sorted(_ENVELOPE_VALUES)), unique=True, max_size=6))
    record: dict[str, object] = {name: draw(st.sampled_from(_ENVELOPE_VALUES[name])) for name in fields}
    record["report"] = {"results": [{"messageId": "m-1", "status": {"groupId": 3, "id": 5, "name": "DELIVERED"}}]}
    return record


def _line(value: object) -> bytes:
    import json

    return json.dumps(value).encode() + b"\n"


@st.composite
def hostile_lines(draw: st.DrawFn) -> tuple[bytes, int]:
    """One JSON Lines line and the number of output lines it must give: one per outcome for a report (each
    decided or an error of its own), one error for everything that is not a readable record.  Every line is one
    record (complete values, truncated values, non-JSON), whatever its neighbours are."""
    kind = draw(st.sampled_from(["infobip", "nhn", "envelope", "deep", "long", "utf8", "garbage", "truncated",
                                 "scalar", "array"]))
    if kind == "infobip":
        results = draw(st.lists(hostile_results(), min_size=1, max_size=4))
        return _line({"results": results}), len(results)
    if kind == "nhn":
        rows = draw(st.lists(hostile_nhn_rows(), min_size=1, max_size=4))
        return _line({"messages": rows}), len(rows)
    if kind == "envelope":
        results = draw(st.lists(hostile_results(), min_size=1, max_size=3))
        first = draw(edge_timestamps)
        bad_first = not first.startswith(("1970", "8999", "2026"))
        return _line({"report": {"results": results}, "first_attempt_at": first,
                      "attempt": draw(st.integers(1, 10**6))}), 1 if bad_first else len(results)
    if kind == "deep":
        depth = draw(st.integers(65, 3000))
        return b"[" * depth + b"]" * depth + b"\n", 1
    if kind == "long":
        return _line({"results": [{"status": {"id": 5}, "pad": "x" * draw(st.integers(2100, 5000))}]}), 1
    if kind == "utf8":
        return b'{"results": [{"messageId": "\xff\xfe", "status": {"id": 5}}]}\n', 1
    if kind == "garbage":
        return b"#" + draw(st.binary(max_size=40)).replace(b"\n", b" ").replace(b"\r", b" ") + b"\n", 1
    if kind == "truncated":
        text = _line({"results": draw(st.lists(hostile_results(), min_size=1, max_size=2))}).rstrip()
        return text[:draw(st.integers(1, len(text) - 1))] + b"\n", 1
    if kind == "scalar":
        return _line(draw(st.one_of(st.integers(), st.text(max_size=5), st.none(), st.booleans()))), 1
    return _line(draw(st.lists(st.integers(), max_size=3))), 1


def _pretty_payloads() -> list[bytes]:
    """The example payloads and the real samples as their files hold them (multi-line documents)."""
    from pathlib import Path

    root = Path(__file__).parent
    files = sorted((root.parent / "examples" / "payloads").glob("*.json")) + \
        sorted((root / "adapters" / "samples").glob("*.json"))
    return [path.read_bytes().rstrip() + b"\n" for path in files]


@st.composite
def evaluate_inputs(draw: st.DrawFn) -> bytes:
    """A whole input for ``dlrpolicy evaluate``: hostile JSON lines, the example payloads and real samples compact
    and pretty-printed (empty pulls, inbound messages and tracking events among them: skipped parts), documents
    truncated anywhere (in column 0 too, where chunks are cut), blank lines and garbage, in any order."""
    import json

    pretty = _pretty_payloads()
    pieces: list[bytes] = []
    for kind in draw(st.lists(st.sampled_from(["hostile", "compact", "pretty", "truncated", "blank", "column-0"]),
                              min_size=1, max_size=14)):
        if kind == "hostile":
            pieces.append(draw(hostile_lines())[0])
        elif kind == "compact":
            pieces.append(json.dumps(json.loads(draw(st.sampled_from(pretty)))).encode() + b"\n")
        elif kind == "pretty":
            pieces.append(draw(st.sampled_from(pretty)))
        elif kind == "truncated":
            text = draw(st.sampled_from(pretty))
            pieces.append(text[:draw(st.integers(1, len(text) - 1))].rstrip(b"\n") + b"\n")
        elif kind == "blank":
            pieces.append(draw(st.sampled_from([b"\n", b"  \n", b"\r\n"])))
        else:  # a document whose inner lines start in column 0, as a chunk boundary would be tempted to cut
            pieces.append(b'{"results": [\n{"messageId": "c0", "status": {"groupId": 3, "id": 5}},\n'
                          b'{"messageId": "c1", "status": {"groupId": 2, "id": 9}}\n]}\n')
    return b"".join(pieces)
