"""Tests for the project's promises: the README's commands, CI, packaging, public API."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import dlrpolicy

ROOT = Path(__file__).resolve().parent.parent


def _readme_commands() -> list[str]:
    """The two commands on the README's first screen."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("```console", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


def test_readme_shows_two_commands() -> None:
    """The first screen has exactly two commands: run the main job, run the tests."""
    first, second = _readme_commands()
    assert "dlrpolicy evaluate examples/payloads/" in first
    assert "pytest" in second


def test_ci_runs_exactly_the_readme_test_command() -> None:
    """.ci/run contains the README's test command verbatim."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert _readme_commands()[1] in ci


def test_init_only_reexports_sorted_all() -> None:
    """engine/__init__.py re-exports a sorted __all__ and defines nothing itself."""
    assert sorted(dlrpolicy.__all__) == dlrpolicy.__all__
    source = (ROOT / "engine" / "__init__.py").read_text(encoding="utf-8")
    assert not re.search(r"^(def|class) ", source, re.MULTILINE)
    assert all(hasattr(dlrpolicy, name) for name in dlrpolicy.__all__)


def test_public_names_have_docstrings() -> None:
    """Every public class and function has a docstring."""
    missing = [name for name in dlrpolicy.__all__ if callable(getattr(dlrpolicy, name))
               and not (getattr(dlrpolicy, name).__doc__ or "").strip()]
    assert [] == missing


def test_version_from_metadata() -> None:
    """__version__ comes from the installed distribution."""
    from importlib.metadata import version

    assert version("dlrpolicy") == dlrpolicy.__version__


def test_py_typed_ships() -> None:
    """The package is marked as typed."""
    assert (Path(dlrpolicy.__file__).parent / "py.typed").exists()


def test_top_level_layout() -> None:
    """The design card's top level is in place."""
    for name in ("pyproject.toml", "engine", "policies", "catalog", "tests", "examples", "benchmarks", "README.md",
                 "CHANGELOG.md", "LICENSE", ".ci/run"):
        assert (ROOT / name).exists(), name


def test_no_test_file_is_too_long() -> None:
    """Test modules stay readable (about 600 lines at most)."""
    long = [str(p.relative_to(ROOT)) for p in (ROOT / "tests").rglob("test_*.py")
            if len(p.read_text(encoding="utf-8").splitlines()) > 620]
    assert [] == long


def test_readme_first_command_output_is_current(capsys: pytest.CaptureFixture[str]) -> None:
    """The README's sample output of the first command is what the command prints today (its summary line, and
    each JSON line it quotes, field for field)."""
    from dlrpolicy.cli._main import main

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    command = _readme_commands()[0].split(".venv/bin/dlrpolicy ", 1)[1].split()
    payloads = sorted(str(p) for p in (ROOT / "examples" / "payloads").glob("*.json"))
    assert 0 == main([command[0], *payloads, *command[2:]])
    out, err = capsys.readouterr()
    summary = err.strip().split(" in ", 1)[0]
    assert summary in text, summary
    block = text.split("```json", 1)[1].split("```", 1)[0]
    quoted = re.findall(r'^\{"verdict".*?(?=^\{"verdict"|\Z)', block, re.MULTILINE | re.DOTALL)
    assert 2 == len(quoted)
    lines = [json.loads(line) for line in out.splitlines()]
    for sample in quoted:
        fields: dict[str, str] = {}
        for key, value in re.findall(r'"(\w+)": ("[^"]*"|\d+|null|true|false)(?=[,}])', sample):
            fields.setdefault(key, value)  # the first is the top-level one (outcome's channel comes later)
        match = [line for line in lines if line["input"] == int(fields["input"])
                 and json.dumps(line["rule"]) == fields["rule"]]
        assert match, sample
        top = {key: value for key, value in fields.items() if key in match[0]}
        assert {key: json.loads(value) for key, value in top.items()} == {key: match[0][key] for key in top}
