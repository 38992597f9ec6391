"""Catalog rows as facts: `CodeEntry` (one documented code), its typed `Hints`, and the reader that turns one
catalog table (a TOML file: ``provider``, ``kind``, ``product``, ``source`` and ``[[code]]`` rows) into entries,
validating every field so that a typo in a data file is an error, not a silent no-op."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final
from zoneinfo import ZoneInfo

import attrs

from .._errors import CatalogError
from ..model._duration import parse_duration
from ..model._vocabulary import VOCABULARY

_NAME = re.compile(r"[A-Z][A-Z0-9_]*")
_WINDOW = re.compile(r"([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d")
_RESPONSE_TYPES = ("sync", "callback", "sync_and_callback")


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
    #: Where the facts come from: the provider document (and section) or web page, with the date it was read.
    source: str = attrs.field(default="", eq=False, repr=False)
    #: The catalog file the row was read from (``catalog/infobip/error_general.toml`` or an overlay's path).
    file: str = attrs.field(default="", eq=False, repr=False)

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
            "source": self.source,
        }


_ENTRY_KEYS: Final = frozenset(
    {"id", "name", "group_id", "group_name", "permanent", "success", "summary", "hints", "source"}
)
_TABLE_KEYS: Final = frozenset({"provider", "kind", "product", "source", "code"})


def _source(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def parse_table(file: str, data: Mapping[str, Any]) -> list[CodeEntry]:
    """The entries of one catalog table read from ``file``; raise `CatalogError` naming the file, row and field.

    A table names ``provider``, ``kind`` and ``product``, and the ``source`` its facts come from; a row may carry
    its own ``source`` (a code added after the document, from the provider's web page) instead.
    """
    def fail(entry: str, field: str, problem: str) -> CatalogError:
        return CatalogError(file, entry, field, problem)

    unknown_keys = sorted(str(k) for k in data if k not in _TABLE_KEYS)
    if unknown_keys:
        raise fail("table", unknown_keys[0], f"unknown table key; allowed: {', '.join(sorted(_TABLE_KEYS))}")
    table_source = data.get("source")
    if table_source is not None and _source(table_source) is None:
        raise fail("table", "source", "expected a non-empty string naming the document the facts come from")

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
        row_source = row.get("source", table_source)
        if _source(row_source) is None:
            raise fail(label, "source", "expected a non-empty string naming where the facts come from (the "
                                        "document, or the web page and the date it was read); set it on the "
                                        "table or on the row")
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
                source=str(_source(row_source)),
                file=file,
            )
        )
    return entries


