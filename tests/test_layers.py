"""Tests for scripts/check_layers.py: the engine keeps its layers, and the checker catches each kind of breakage."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def _checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_layers", ROOT / "scripts" / "check_layers.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_layers"] = module
    spec.loader.exec_module(module)
    return module


check_layers = _checker()


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "engine"
    for name, text in {"__init__.py": "", "_errors.py": "", **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_engine_keeps_its_layers(capsys: object) -> None:
    """The real engine/ has no circles, no imports against the direction, nothing hidden, nothing too long."""
    text, bad = check_layers.report(ROOT / "engine")
    assert (False, "") == (bad, "" if not bad else text)
    assert "import circles: none" in text
    assert "imports against the layer direction: none" in text


def test_circle_is_reported(tmp_path: Path) -> None:
    """Two modules importing each other at module level form a reported circle."""
    root = _package(tmp_path, {
        "policy/__init__.py": "",
        "policy/_a.py": "from ._b import B\nA = 1\n",
        "policy/_b.py": "from ._a import A\nB = 2\n",
    })
    text, bad = check_layers.report(root)
    assert bad
    assert "import circles: 1" in text
    assert "dlrpolicy.policy._a <-> dlrpolicy.policy._b" in text


def test_import_against_the_direction_is_reported(tmp_path: Path) -> None:
    """model importing policy runs against the layers; policy importing model does not."""
    root = _package(tmp_path, {
        "model/__init__.py": "",
        "model/_outcome.py": "from ..policy._rules import Rule\n",
        "policy/__init__.py": "",
        "policy/_rules.py": "from ..model._vocabulary import X\n",
        "model/_vocabulary.py": "X = 1\n",
    })
    text, bad = check_layers.report(root)
    assert bad
    assert "imports against the layer direction: 1" in text
    assert "dlrpolicy.model._outcome:1 (model) imports dlrpolicy.policy._rules (policy)" in text


def test_adapters_may_not_import_policy(tmp_path: Path) -> None:
    """adapters sit beside policy, not above it: adapters -> policy is against the direction."""
    root = _package(tmp_path, {
        "adapters/__init__.py": "",
        "adapters/_infobip.py": "from ..policy._catalog import Catalog\n",
        "policy/__init__.py": "",
        "policy/_catalog.py": "Catalog = 1\n",
    })
    text, _ = check_layers.report(root)
    assert "dlrpolicy.adapters._infobip:1 (adapters) imports dlrpolicy.policy._catalog (policy)" in text


def test_hidden_import_is_reported_unless_it_says_why(tmp_path: Path) -> None:
    """An in-function first-party import needs a '# deferred' comment; a commented one passes."""
    root = _package(tmp_path, {
        "cli/__init__.py": "",
        "cli/_main.py": "def f():\n    from . import _other\n\ndef g():\n    # deferred: start-up time\n"
                        "    from . import _other\n",
        "cli/_other.py": "",
    })
    text, bad = check_layers.report(root)
    assert bad
    assert "imports hidden inside functions: 1" in text
    assert "dlrpolicy.cli._main:2 imports dlrpolicy.cli._other" in text


def test_long_module_is_reported(tmp_path: Path) -> None:
    """A module over 400 lines is named with its length."""
    root = _package(tmp_path, {"model/__init__.py": "", "model/_big.py": "x = 1\n" * 401})
    text, bad = check_layers.report(root)
    assert bad
    assert "dlrpolicy.model._big (401 lines)" in text


def test_no_module_may_import_a_face(tmp_path: Path) -> None:
    """The package root only re-exports; a layer importing it is reported."""
    root = _package(tmp_path, {"decide/__init__.py": "", "decide/_engine.py": "import dlrpolicy\n"})
    text, _ = check_layers.report(root)
    assert "dlrpolicy.decide._engine:1 (decide) imports dlrpolicy (face)" in text


def test_main_exit_status(tmp_path: Path, capsys: object) -> None:
    """0 for a clean tree, 1 for a broken one, 2 for a folder that is not a package."""
    assert 0 == check_layers.main([str(ROOT / "engine")])
    broken = _package(tmp_path, {"model/__init__.py": "", "model/_x.py": "from ..cli import y\n",
                                 "cli/__init__.py": ""})
    assert 1 == check_layers.main([str(broken)])
    assert 2 == check_layers.main([str(tmp_path / "nowhere")])
