"""``dlrpolicy catalog list | show | search``."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable

from ..model._vocabulary import VOCABULARY
from ..policy._catalog import Catalog
from ..policy._entries import CodeEntry


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``catalog`` and its subcommands."""
    catalog = sub.add_parser("catalog", help="query the code catalog",
                             description="Query the catalog of every documented provider code.")
    inner = catalog.add_subparsers(dest="catalog_command", metavar="SUBCOMMAND", required=True)
    products = sorted({p for kinds in VOCABULARY.values() for ps in kinds.values() for p in ps})
    kinds = sorted({k for kinds in VOCABULARY.values() for k in kinds})

    p = inner.add_parser("list", help="list codes", description="List catalog entries, optionally filtered.")
    p.add_argument("--provider", choices=sorted(VOCABULARY))
    p.add_argument("--kind", choices=kinds)
    p.add_argument("--product", choices=products)
    p.add_argument("--format", choices=("table", "jsonl"), default="table")
    _overlay_argument(p)
    p.set_defaults(run=_run_list)

    p = inner.add_parser("show", help="show one code", description="Show one catalog entry in full.")
    p.add_argument("provider", choices=sorted(VOCABULARY))
    p.add_argument("kind", choices=kinds)
    p.add_argument("product", choices=products)
    p.add_argument("id", type=int)
    p.add_argument("--group", type=int, help="group id, for ids that appear in several groups")
    p.add_argument("--name", help="symbolic name, for ids that repeat within a group")
    p.add_argument("--format", choices=("text", "json"), default="text")
    _overlay_argument(p)
    p.set_defaults(run=_run_show)

    p = inner.add_parser("search", help="search names and summaries",
                         description="Find entries whose name, group, id or summary contains TEXT.")
    p.add_argument("text")
    p.add_argument("--format", choices=("table", "jsonl"), default="table")
    _overlay_argument(p)
    p.set_defaults(run=_run_search)


def _overlay_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--catalog", action="append", metavar="FILE", default=[],
                        help="catalog overlay file to add to the shipped catalog (repeatable)")


def _print_entries(entries: Iterable[CodeEntry], fmt: str) -> None:
    if fmt == "jsonl":
        for e in entries:
            print(json.dumps(e.to_json(), ensure_ascii=False))
        return
    print(f"{'provider':<10} {'kind':<8} {'product':<16} {'group':<18} {'id':>6}  {'perm':<5} name")
    for e in entries:
        group_id = "-" if e.group_id is None else str(e.group_id)
        group = "" if e.group_id is None and e.group_name is None else f"{group_id} {e.group_name or ''}"
        perm = "-" if e.permanent is None else ("yes" if e.permanent else "no")
        print(f"{e.provider:<10} {e.kind:<8} {e.product:<16} {group[:18]:<18} {e.id:>6}  {perm:<5} {e.name}")


def _run_list(args: argparse.Namespace) -> int:
    catalog = Catalog.load(args.catalog)
    _print_entries(catalog.filter(provider=args.provider, kind=args.kind, product=args.product), args.format)
    return 0


def _run_show(args: argparse.Namespace) -> int:
    entry = Catalog.load(args.catalog).lookup(args.provider, args.kind, args.product, args.id, args.group, args.name)
    if args.format == "json":
        print(json.dumps(entry.to_json(), ensure_ascii=False, indent=2))
        return 0
    data = entry.to_json()
    hints = data.pop("hints")
    data.pop("source")
    for key, value in data.items():
        print(f"{key:<11} {'-' if value is None else value}")
    print(f"{'hints':<11} {json.dumps(hints) if hints else '-'}")
    print(f"{'source':<11} {entry.source}")
    print(f"{'file':<11} {entry.file}")
    return 0


def _run_search(args: argparse.Namespace) -> int:
    found = Catalog.load(args.catalog).search(args.text)
    _print_entries(found, args.format)
    return 0 if found else 1
