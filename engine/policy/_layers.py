"""Policy layers from where they live: the shipped default (package data), files on disk, and the compile step
that turns a stack of layers into a `CompiledPolicy`.  Shared by `Engine` and the tenant store, so neither has
to import the other."""

from __future__ import annotations

import functools
import hashlib
import json
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
    catalog = catalog or Catalog.load()
    return compile_policy(build_spec(layers), catalog, base=base, version=policy_version(layers, catalog))


def policy_version(layers: Sequence[Layer], catalog: Catalog) -> str:
    """The content hash of a policy: its layers' names and parsed content, in order, and the catalog they are
    compiled over (16 hex digits of SHA-256).  Comments, layout and the files' paths do not count; any change to
    a rule, a default, a window or a catalog fact does."""
    digest = hashlib.sha256(_catalog_digest(catalog))
    for layer in layers:
        digest.update(_layer_digest(layer))
    return digest.hexdigest()[:16]


@functools.lru_cache(maxsize=8)
def _catalog_digest(catalog: Catalog) -> bytes:
    # repr of frozen attrs entries is deterministic (no sets, no addresses); computed once per catalog object.
    return hashlib.sha256(repr(catalog.entries).encode("utf-8")).digest()


_LAYER_DIGESTS: dict[tuple[str, str], bytes] = {}


def _layer_digest(layer: Layer) -> bytes:
    # Tenants are compiled on the default layer again and again: its digest is kept by (name, text).
    key = (layer.name, layer.text)
    found = _LAYER_DIGESTS.get(key) if layer.text else None
    if found is None:
        content = json.dumps(layer.data, sort_keys=True, default=str, ensure_ascii=False, separators=(",", ":"))
        found = hashlib.sha256(f"{layer.name}\0{content}".encode()).digest()
        if layer.text:
            if len(_LAYER_DIGESTS) >= 256:
                _LAYER_DIGESTS.clear()
            _LAYER_DIGESTS[key] = found
    return found


@functools.cache
def default_policy() -> CompiledPolicy:
    """The shipped catalog and default policy, compiled once per process."""
    return compile_layers([default_layer()])
