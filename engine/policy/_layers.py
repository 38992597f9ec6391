"""Policy layers from where they live: the shipped default (package data), files on disk, and the compile step
that turns a stack of layers into a `CompiledPolicy`.  Shared by `Engine` and the tenant store, so neither has
to import the other."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from importlib import resources
from os import PathLike
from pathlib import Path

from .._errors import PolicyError, PolicyProblem
from ._catalog import Catalog
from ._compile import CompiledPolicy, compile_policy
from ._merge import build_spec
from ._read import Layer

#: How decisions name the shipped default policy file.
DEFAULT_SOURCE = "policies/default.toml"


def default_layer() -> Layer:
    """The shipped default policy as a layer named ``default``."""
    text = resources.files("dlrpolicy.policies").joinpath("default.toml").read_text(encoding="utf-8")
    return Layer.from_text(text, source=DEFAULT_SOURCE, name="default")


def read_layer(path: str | PathLike[str], *, name: str | None = None) -> Layer:
    """Read a policy file as a layer; an unreadable file becomes a `PolicyError` naming it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError([PolicyProblem(file=str(path), message=f"cannot read the file: {exc}",
                                         fix="check the path and that the file is UTF-8 text")]) from None
    return Layer.from_text(text, source=str(path), name=name or path.stem)


def compile_layers(layers: Sequence[Layer], *, catalog: Catalog | None = None,
                   base: CompiledPolicy | None = None) -> CompiledPolicy:
    """Merge, validate and compile ``layers`` (base first) over ``catalog`` (the shipped one by default)."""
    return compile_policy(build_spec(layers), catalog or Catalog.load(), base=base)


@functools.cache
def default_policy() -> CompiledPolicy:
    """The shipped catalog and default policy, compiled once per process."""
    return compile_layers([default_layer()])
