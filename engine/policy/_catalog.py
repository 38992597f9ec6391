"""The catalog: every documented code as a frozen fact, loaded lazily from the package's TOML data, with overlay
files of the user's own on top; and the lookup chain that says which tables a reported code is searched in."""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from importlib import resources
from os import PathLike
from pathlib import Path
from typing import Any, Final

from .._errors import AmbiguousCodeError, CatalogError, CodeNotFoundError
from ._entries import CodeEntry, parse_table

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
    ("infobip", "http", "api"): ("api",),
}

def lookup_chain(provider: str, kind: str, product: str) -> tuple[str, ...]:
    """The products whose tables are searched, in order, for a code reported under ``product``."""
    chain = _LOOKUP_CHAINS.get((provider, kind, product))
    if chain is not None:
        return chain
    if provider == "infobip" and product != "general":
        return (product, "general")
    return (product,)


class Catalog:
    """All documented codes, indexed by ``(provider, kind, product, id)``.

    Build one with `Catalog.load` (the shipped data, parsed once, optionally with overlay files of your own),
    `Catalog.from_tables` (your own data) or `Catalog.with_overlay`.
    """

    __slots__ = ("_by_id", "entries")

    def __init__(self, entries: Iterable[CodeEntry]) -> None:
        self.entries: tuple[CodeEntry, ...] = tuple(entries)
        by_id: dict[tuple[str, str, str, int], list[CodeEntry]] = {}
        seen: dict[tuple[object, ...], CodeEntry] = {}
        for entry in self.entries:
            key = _identity(entry)
            if key in seen:
                raise CatalogError(entry.file, f"id {entry.id}", "id", f"duplicate entry {entry.label}")
            seen[key] = entry
            by_id.setdefault((entry.provider, entry.kind, entry.product, entry.id), []).append(entry)
        self._by_id = {key: tuple(value) for key, value in by_id.items()}

    @classmethod
    def load(cls, overlays: Sequence[str | PathLike[str]] = ()) -> Catalog:
        """The catalog shipped with the package (parsed and validated on first call, cached afterwards), with
        the rows of each ``overlays`` file added on top (see `with_overlay`)."""
        shipped = _shipped_catalog()
        return shipped.with_overlay(overlays) if overlays else shipped

    @classmethod
    def from_tables(cls, tables: Iterable[tuple[str, Mapping[str, Any]]]) -> Catalog:
        """Build a catalog from ``(file name, parsed TOML table)`` pairs, validating every entry."""
        entries: list[CodeEntry] = []
        for file, data in tables:
            entries.extend(parse_table(file, data))
        return cls(entries)

    def with_overlay(self, files: Sequence[str | PathLike[str]]) -> Catalog:
        """This catalog plus the rows of ``files`` (catalog tables in the shipped format, validated the same way).

        An overlay adds codes a provider documented after this release; a row with the identity of an existing
        row (provider, kind, product, group, id, name) replaces it, so a corrected fact wins.  Rows keep the
        overlay's file name (``CodeEntry.file``) and ``source``.
        """
        added: dict[tuple[object, ...], CodeEntry] = {}
        for file in files:
            for entry in parse_table(str(file), _read_toml(Path(file))):
                key = _identity(entry)
                if key in added:
                    raise CatalogError(str(file), f"id {entry.id}", "id",
                                       f"duplicate entry {entry.label} (already in {added[key].file})")
                added[key] = entry
        kept = [entry for entry in self.entries if _identity(entry) not in added]
        return Catalog([*kept, *added.values()])

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
        """The one entry with this identity in ``product``'s own table; group_id and name select among repeated
        ids, and an entry with another group or name is not this one.

        Raises `CodeNotFoundError` when nothing matches and `AmbiguousCodeError` (listing the candidates) when
        several entries remain.
        """
        found = self.candidates(provider, kind, product, id)
        if group_id is not None:
            found = tuple(e for e in found if e.group_id == group_id)
        if name is not None:
            found = tuple(e for e in found if e.name == name)
        if not found:
            raise CodeNotFoundError(provider, kind, product, id, group_id, name)
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


def _identity(entry: CodeEntry) -> tuple[object, ...]:
    return (entry.provider, entry.kind, entry.product, entry.group_id, entry.id, entry.name)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError(str(path), "file", "-", f"cannot read the catalog file ({exc}): check the path and "
                                                   "that it is UTF-8 TOML") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(str(path), "file", "-", f"not valid TOML: {exc}") from None
    except RecursionError:
        raise CatalogError(str(path), "file", "-", "arrays or tables nested too deeply to read: a catalog table "
                                                   "is flat rows of codes") from None
    except ValueError as exc:  # an integer past Python's 4,300-digit conversion limit
        raise CatalogError(str(path), "file", "-", f"a number is thousands of digits long ({str(exc)[:60]}): "
                                                   "write code ids as the provider documents them") from None


def _read_shipped_tables() -> Iterator[tuple[str, dict[str, Any]]]:
    root = resources.files("dlrpolicy.catalog")
    for provider_dir in sorted(root.iterdir(), key=lambda p: p.name):
        if not provider_dir.is_dir() or provider_dir.name.startswith(("_", ".")):
            continue
        for table in sorted(provider_dir.iterdir(), key=lambda p: p.name):
            if table.name.endswith(".toml"):
                file = f"catalog/{provider_dir.name}/{table.name}"
                try:
                    data = tomllib.loads(table.read_text(encoding="utf-8"))
                except tomllib.TOMLDecodeError as exc:
                    raise CatalogError(file, "file", "-", f"not valid TOML: {exc}") from None
                yield file, data


@functools.cache
def _shipped_catalog() -> Catalog:
    return Catalog.from_tables(_read_shipped_tables())
