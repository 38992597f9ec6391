"""The catalog: every documented code as a frozen fact, loaded lazily from the package's TOML data."""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from importlib import resources
from typing import Any, Final
from zoneinfo import ZoneInfo

import attrs

from .._errors import AmbiguousCodeError, CatalogError, CodeNotFoundError
from ..model._duration import parse_duration
from ..model._vocabulary import VOCABULARY

# Where a code reported for a product is looked up, in order.  Product tables hold only the codes specific to
# that product; the shared ("general") tables hold the rest, so an email report's status 5 is found in the
# general status table while its error 6016 is found in the email error table.
_LOOKUP_CHAINS: Final[Mapping[tuple[str, str, str], tuple[str, ...]]] = {
    ("infobip", "status", "general"): ("general",),
    ("infobip", "error", "general"): ("general", "dlt"),
    ("infobip", "error", "voice"): ("voice", "voice_legacy", "general"),
    ("infobip", "error", "voice_legacy"): ("voice_legacy", "voice", "general"),
    ("infobip", "error", "dlt"): ("dlt", "general"),
    ("infobip", "error", "people"): ("people",),
    ("infobip", "error", "live_chat"): ("live_chat",),
    ("infobip", "error", "mobile_identity"): ("mobile_identity",),
}

_NAME = re.compile(r"[A-Z][A-Z0-9_]*")
_WINDOW = re.compile(r"([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d")
_RESPONSE_TYPES = ("sync", "callback", "sync_and_callback")


def lookup_chain(provider: str, kind: str, product: str) -> tuple[str, ...]:
    """The products whose tables are searched, in order, for a code reported under ``product``."""
    chain = _LOOKUP_CHAINS.get((provider, kind, product))
    if chain is not None:
        return chain
    if provider == "infobip" and product != "general":
        return (product, "general")
    return (product,)


def _duration(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a duration string such as \"24h\"")
    parse_duration(value)
    return value


def _window(value: object) -> str:
    if not isinstance(value, str) or not _WINDOW.fullmatch(value):
        raise TypeError('expected a daily window "HH:MM-HH:MM"')
    return value


def _typed(kind: type) -> Any:
    def check(value: object) -> object:
        if type(value) is not kind:
            raise TypeError(f"expected {kind.__name__}")
        return value

    return check


def _choice(*choices: str) -> Any:
    def check(value: object) -> object:
        if value not in choices:
            raise TypeError(f"expected one of {', '.join(choices)}")
        return value

    return check


def _zone(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("expected an IANA time zone name")
    ZoneInfo(value)
    return value


# Hint key -> validator; the vocabulary is closed so that a typo in a data file is an error, not a silent no-op.
_HINT_CHECKS: Final[Mapping[str, Any]] = {
    "retry_every": _duration,
    "retry_for": _duration,
    "not_before": _choice("next_day"),
    "cooling_off": _duration,
    "cooling_off_scope": _choice("sender", "sender_domain", "recipient", "account"),
    "flood_identical_per_hour": _typed(int),
    "flood_different_per_hour": _typed(int),
    "validity": _duration,
    "send_window": _window,
    "send_window_tz": _zone,
    "idempotency_window": _duration,
    "receivable_within": _duration,
    "success_uncertain": _typed(bool),
    "sms_resend": _typed(bool),
    "provider_retries": _typed(bool),
    "until_opt_in": _typed(bool),
    "never_resend": _typed(bool),
    "daily_limit": _typed(bool),
    "rate_limited": _typed(bool),
    "response_type": _choice(*_RESPONSE_TYPES),
    "http_status": _typed(int),
    "charged": _typed(bool),
}


@attrs.frozen
class Hints:
    """What the provider's documentation states about a code's timing and handling, as typed facts.

    Every field is ``None`` when the documentation says nothing about it.
    """

    retry_every: str | None = None
    retry_for: str | None = None
    not_before: str | None = None
    cooling_off: str | None = None
    cooling_off_scope: str | None = None
    flood_identical_per_hour: int | None = None
    flood_different_per_hour: int | None = None
    validity: str | None = None
    send_window: str | None = None
    send_window_tz: str | None = None
    idempotency_window: str | None = None
    receivable_within: str | None = None
    success_uncertain: bool | None = None
    sms_resend: bool | None = None
    provider_retries: bool | None = None
    until_opt_in: bool | None = None
    never_resend: bool | None = None
    daily_limit: bool | None = None
    rate_limited: bool | None = None
    response_type: str | None = None
    http_status: int | None = None
    charged: bool | None = None

    def to_json(self) -> dict[str, object]:
        """Only the hints that are set, in field order."""
        return {k: v for k, v in attrs.asdict(self).items() if v is not None}


_NO_HINTS: Final = Hints()


@attrs.frozen(cache_hash=True)
class CodeEntry:
    """One row of a provider's code table."""

    provider: str
    kind: str
    product: str
    id: int
    name: str
    group_id: int | None
    group_name: str | None
    permanent: bool | None
    success: bool
    summary: str
    hints: Hints = _NO_HINTS
    source: str = attrs.field(default="", eq=False, repr=False)

    @property
    def label(self) -> str:
        """A short human label: ``infobip error general 581 EC_USER_OUT_OF_CREDIT``."""
        group = f" group {self.group_id}" if self.group_id is not None else ""
        return f"{self.provider} {self.kind} {self.product}{group} {self.id} {self.name}"

    def to_json(self) -> dict[str, object]:
        """The entry as the ``catalog list --format jsonl`` object."""
        return {
            "provider": self.provider,
            "kind": self.kind,
            "product": self.product,
            "id": self.id,
            "name": self.name,
            "group_id": self.group_id,
            "group_name": self.group_name,
            "permanent": self.permanent,
            "success": self.success,
            "summary": self.summary,
            "hints": self.hints.to_json(),
        }


_ENTRY_KEYS: Final = frozenset(
    {"id", "name", "group_id", "group_name", "permanent", "success", "summary", "hints"}
)


def _parse_table(source: str, data: Mapping[str, Any]) -> list[CodeEntry]:
    def fail(entry: str, field: str, problem: str) -> CatalogError:
        return CatalogError(source, entry, field, problem)

    provider, kind, product = data.get("provider"), data.get("kind"), data.get("product")
    if not isinstance(provider, str) or provider not in VOCABULARY:
        raise fail("table", "provider", f"{provider!r} is not one of {', '.join(VOCABULARY)}")
    kinds = VOCABULARY[provider]
    if not isinstance(kind, str) or kind not in kinds:
        raise fail("table", "kind", f"{kind!r} is not one of {', '.join(kinds)} for {provider}")
    if not isinstance(product, str) or product not in kinds[kind]:
        raise fail("table", "product", f"{product!r} is not one of {', '.join(kinds[kind])}")
    rows = data.get("code")
    if not isinstance(rows, list) or not rows:
        raise fail("table", "code", "expected a non-empty array of [[code]] tables")
    entries = []
    for index, row in enumerate(rows):
        label = f"entry #{index + 1}" + (f" (id {row.get('id')!r})" if isinstance(row, dict) else "")
        if not isinstance(row, dict):
            raise fail(label, "code", "expected a table")
        unknown = set(row) - _ENTRY_KEYS
        if unknown:
            raise fail(label, sorted(unknown)[0], f"unknown field; allowed: {', '.join(sorted(_ENTRY_KEYS))}")
        code_id = row.get("id")
        if type(code_id) is not int:
            raise fail(label, "id", f"expected an integer, got {code_id!r}")
        name = row.get("name")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise fail(label, "name", f"expected an ASCII UPPER_SNAKE name, got {name!r}")
        group_id = row.get("group_id")
        if group_id is not None and type(group_id) is not int:
            raise fail(label, "group_id", f"expected an integer, got {group_id!r}")
        group_name = row.get("group_name")
        if group_name is not None and (not isinstance(group_name, str) or not group_name.isascii()):
            raise fail(label, "group_name", f"expected an English (ASCII) string, got {group_name!r}")
        permanent = row.get("permanent")
        if permanent is not None and type(permanent) is not bool:
            raise fail(label, "permanent", f"expected true or false, got {permanent!r}")
        success = row.get("success", False)
        if type(success) is not bool:
            raise fail(label, "success", f"expected true or false, got {success!r}")
        summary = row.get("summary")
        if not isinstance(summary, str) or not summary.strip() or summary.strip() == "TODO":
            raise fail(label, "summary", "expected a non-empty summary in English")
        raw_hints = row.get("hints", {})
        if not isinstance(raw_hints, dict):
            raise fail(label, "hints", "expected a table")
        for key, value in raw_hints.items():
            check = _HINT_CHECKS.get(key)
            if check is None:
                raise fail(label, f"hints.{key}", f"unknown hint; allowed: {', '.join(_HINT_CHECKS)}")
            try:
                check(value)
            except (TypeError, ValueError, LookupError) as exc:
                raise fail(label, f"hints.{key}", f"{exc} (got {value!r})") from None
        entries.append(
            CodeEntry(
                provider=provider,
                kind=kind,
                product=product,
                id=code_id,
                name=name,
                group_id=group_id,
                group_name=group_name,
                permanent=permanent,
                success=success,
                summary=summary.strip(),
                hints=Hints(**raw_hints) if raw_hints else _NO_HINTS,
                source=source,
            )
        )
    return entries


class Catalog:
    """All documented codes, indexed by ``(provider, kind, product, id)``.

    Build one with `Catalog.load` (the shipped data, parsed once) or `Catalog.from_tables` (your own data).
    """

    __slots__ = ("_by_id", "entries")

    def __init__(self, entries: Iterable[CodeEntry]) -> None:
        self.entries: tuple[CodeEntry, ...] = tuple(entries)
        by_id: dict[tuple[str, str, str, int], list[CodeEntry]] = {}
        seen: dict[tuple[object, ...], CodeEntry] = {}
        for entry in self.entries:
            key = (entry.provider, entry.kind, entry.product, entry.group_id, entry.id, entry.name)
            if key in seen:
                raise CatalogError(entry.source, f"id {entry.id}", "id", f"duplicate entry {entry.label}")
            seen[key] = entry
            by_id.setdefault((entry.provider, entry.kind, entry.product, entry.id), []).append(entry)
        self._by_id = {key: tuple(value) for key, value in by_id.items()}

    @classmethod
    def load(cls) -> Catalog:
        """The catalog shipped with the package, parsed and validated on first call and cached afterwards."""
        return _shipped_catalog()

    @classmethod
    def from_tables(cls, tables: Iterable[tuple[str, Mapping[str, Any]]]) -> Catalog:
        """Build a catalog from ``(source name, parsed TOML table)`` pairs, validating every entry."""
        entries: list[CodeEntry] = []
        for source, data in tables:
            entries.extend(_parse_table(source, data))
        return cls(entries)

    def __iter__(self) -> Iterator[CodeEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def candidates(self, provider: str, kind: str, product: str, id: int) -> tuple[CodeEntry, ...]:
        """Every entry with this id in exactly this table (several when the table repeats an id)."""
        return self._by_id.get((provider, kind, product, id), ())

    def lookup(
        self,
        provider: str,
        kind: str,
        product: str,
        id: int,
        group_id: int | None = None,
        name: str | None = None,
    ) -> CodeEntry:
        """The one entry with this identity; group_id and then name disambiguate repeated ids.

        Raises `CodeNotFoundError` when nothing matches and `AmbiguousCodeError` (listing the candidates) when
        several entries remain.
        """
        found = self.candidates(provider, kind, product, id)
        if group_id is not None:
            found = tuple(e for e in found if e.group_id == group_id)
        if name is not None and len(found) > 1:
            found = tuple(e for e in found if e.name == name)
        if not found:
            raise CodeNotFoundError(provider, kind, product, id, group_id)
        if len(found) > 1:
            raise AmbiguousCodeError(provider, kind, product, id, [e.label for e in found])
        return found[0]

    def filter(
        self, *, provider: str | None = None, kind: str | None = None, product: str | None = None
    ) -> list[CodeEntry]:
        """Entries matching every given field, in catalog order."""
        return [
            e
            for e in self.entries
            if (provider is None or e.provider == provider)
            and (kind is None or e.kind == kind)
            and (product is None or e.product == product)
        ]

    def search(self, text: str) -> list[CodeEntry]:
        """Entries whose name, group name, id or summary contains ``text`` (case-insensitive)."""
        needle = text.casefold()
        return [
            e
            for e in self.entries
            if needle in e.name.casefold()
            or needle in (e.group_name or "").casefold()
            or needle in e.summary.casefold()
            or needle == str(e.id)
        ]


def _read_shipped_tables() -> Iterator[tuple[str, dict[str, Any]]]:
    root = resources.files("dlrpolicy.catalog")
    for provider_dir in sorted(root.iterdir(), key=lambda p: p.name):
        if not provider_dir.is_dir() or provider_dir.name.startswith(("_", ".")):
            continue
        for table in sorted(provider_dir.iterdir(), key=lambda p: p.name):
            if table.name.endswith(".toml"):
                source = f"catalog/{provider_dir.name}/{table.name}"
                try:
                    data = tomllib.loads(table.read_text(encoding="utf-8"))
                except tomllib.TOMLDecodeError as exc:
                    raise CatalogError(source, "file", "-", f"not valid TOML: {exc}") from None
                yield source, data


@functools.cache
def _shipped_catalog() -> Catalog:
    return Catalog.from_tables(_read_shipped_tables())
