"""Generate docs/default-policy.md: the shipped default policy's decision for every catalog code.

Usage:
    python scripts/generate_policy_doc.py                 # compute with the Python API, write the file
    python scripts/generate_policy_doc.py --check         # exit 1 when the checked-in file is stale
    dlrpolicy policy coverage --format jsonl | python scripts/generate_policy_doc.py --jsonl -

The input rows are the `dlrpolicy policy coverage --format jsonl` objects (provider, kind, product, id, group_id,
name, rule, verdict, summary, reason); the output has one table per product table, in catalog order.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC_PATH = ROOT / "docs" / "default-policy.md"
REGENERATE = "python scripts/generate_policy_doc.py"

_VERDICT_ORDER = ("done", "wait", "retry", "escalate", "suppress")


def coverage_rows() -> list[dict[str, object]]:
    """The coverage rows of the shipped default policy, computed with the public Python API."""
    from dlrpolicy import Engine
    from dlrpolicy.policy._reports import coverage

    return [row.to_json() for row in coverage(Engine.default().policy)]


def read_jsonl(lines: Iterable[str]) -> list[dict[str, object]]:
    """Parse `policy coverage --format jsonl` output; blank lines are skipped."""
    return [json.loads(line) for line in lines if line.strip()]


def _cell(value: object) -> str:
    # Markdown table cells: no pipes, no line breaks.
    return str(value).replace("|", "\\|").replace("\n", " ").strip()


def _code(row: Mapping[str, object]) -> str:
    group = row.get("group_id")
    return f"{row['id']} (group {group})" if group is not None else str(row["id"])


def render(rows: Sequence[Mapping[str, object]]) -> str:
    """The Markdown document for ``rows`` (deterministic: same rows, same text)."""
    tables: dict[tuple[str, str, str], list[Mapping[str, object]]] = {}
    for row in rows:
        tables.setdefault((str(row["provider"]), str(row["kind"]), str(row["product"])), []).append(row)
    totals = {verdict: sum(1 for r in rows if r["verdict"] == verdict) for verdict in _VERDICT_ORDER}
    out = [
        "# The default policy, code by code",
        "",
        f"Generated from `policies/default.toml` by `{REGENERATE}`; do not edit by hand (a test fails when this",
        "file is stale).  Each row is the decision for a report of that code on the product's default channel;",
        "`timing` is the rule's schedule and effects, `reason` is what the decision says.",
        "",
        f"{len(rows)} codes: " + ", ".join(f"{totals[v]} {v}" for v in _VERDICT_ORDER) + ".",
        "",
        "## Tables",
        "",
    ]
    for provider, kind, product in tables:
        anchor = f"{provider}-{kind}-{product}".replace("_", "-")
        out.append(f"- [{provider} {kind} {product}](#{anchor}) ({len(tables[(provider, kind, product)])} codes)")
    for (provider, kind, product), table in tables.items():
        out += [
            "",
            f"## {provider} {kind} {product}",
            "",
            "| code | name | verdict | timing | rule | reason |",
            "|---|---|---|---|---|---|",
        ]
        for row in table:
            out.append(
                "| " + " | ".join(_cell(v) for v in (
                    _code(row), row["name"], row["verdict"], row["summary"], f"`{row['rule']}`", row.get("reason", ""),
                )) + " |"
            )
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Write (or with ``--check`` verify) docs/default-policy.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jsonl", metavar="FILE", help="read coverage rows from FILE ('-' for stdin)")
    parser.add_argument("--check", action="store_true", help="exit 1 if the checked-in document is stale")
    parser.add_argument("--output", type=Path, default=DOC_PATH,
                        help="the file to write, or a folder to write default-policy.md into "
                        "(default: docs/default-policy.md)")
    args = parser.parse_args(argv)
    if args.output.is_dir():
        args.output = args.output / DOC_PATH.name
    if args.jsonl == "-":
        rows = read_jsonl(sys.stdin)
    elif args.jsonl:
        rows = read_jsonl(Path(args.jsonl).read_text(encoding="utf-8").splitlines())
    else:
        rows = coverage_rows()
    text = render(rows)
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is stale; regenerate it with `{REGENERATE}`", file=sys.stderr)
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output} ({len(rows)} codes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
