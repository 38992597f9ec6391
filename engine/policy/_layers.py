"""Policy layers from where they live: the shipped default (package data), files on disk, and the compile step
that turns a stack of layers into a `CompiledPolicy`.  Shared by `Engine` and the tenant store, so neither has
to import the other."""

from __future__ import annotations

import errno
import functools
import hashlib
import json
import os
import stat
from collections.abc import Sequence
from importlib import resources
from os import PathLike
from pathlib import Path

from .._errors import PolicyError, PolicyProblem
from ._catalog import Catalog
from ._compile import CompiledPolicy, compile_policy
from ._limits import DEFAULT_LIMITS, PolicyLimits
from ._merge import build_spec
from ._read import Layer

#: How decisions name the shipped default policy file.
DEFAULT_SOURCE = "policies/default.toml"

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
_OS_FIXES = {
    errno.ENOENT: "check the path",
    errno.ELOOP: "the path is a symbolic link loop: point the link at the real file",
    errno.ENAMETOOLONG: "the path is too long for the file system: use a shorter directory",
    errno.ENOTDIR: "a part of the path is a file, not a directory: check the policy directory",
    errno.EACCES: "make the file readable by this process",
}


def default_layer() -> Layer:
    """The shipped default policy as a layer named ``default``."""
    text = resources.files("dlrpolicy.policies").joinpath("default.toml").read_text(encoding="utf-8")
    return Layer.from_text(text, source=DEFAULT_SOURCE, name="default")


def _unreadable(path: Path, message: str, fix: str) -> PolicyError:
    return PolicyError([PolicyProblem(file=str(path), message=message, fix=fix)])


def read_text(path: Path, limits: PolicyLimits = DEFAULT_LIMITS) -> str:
    """The UTF-8 text of a policy file, refusing anything but a regular file within ``limits.max_file_bytes``.

    Opened without blocking and checked on the open file: a FIFO put in place of a tenant file must not hang a
    reload, and a device (``/dev/zero``) must not be read forever.  Every failure is a `PolicyError` naming the
    file and the fix, never a raw ``OSError``.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise _unreadable(path, f"cannot open the file: {exc.strerror or exc}",
                          _OS_FIXES.get(exc.errno or 0, "check the path and its permissions")) from None
    try:
        info = os.fstat(fd)
        kind = next((name for test, name in _KINDS if test(info.st_mode)), None)
        if kind is not None:
            raise _unreadable(path, f"is {kind}, not a policy file", "put a regular TOML file at this path")
        limit = limits.max_file_bytes
        if info.st_size > limit:
            raise _too_large(path, info.st_size, limit)
        with os.fdopen(os.dup(fd), "rb") as stream:
            data = stream.read(limit + 1)
        if len(data) > limit:  # grew while being read
            raise _too_large(path, len(data), limit)
    except OSError as exc:
        raise _unreadable(path, f"cannot read the file: {exc.strerror or exc}", "check the file and the disk") \
            from None
    finally:
        os.close(fd)
    try:
        return data.decode("utf-8-sig")  # a byte order mark, as some editors write, is not part of the TOML
    except UnicodeDecodeError as exc:
        raise _unreadable(path, f"is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})",
                          "save the file as UTF-8") from None


def _too_large(path: Path, size: int, limit: int) -> PolicyError:
    return _unreadable(path, f"is {size} bytes, over the limit of {limit} bytes",
                       "split it, or raise the limit: PolicyLimits(max_file_bytes=...) in the library, "
                       "--max-policy-bytes on the command line")


def read_layer(path: str | PathLike[str], *, name: str | None = None,
               limits: PolicyLimits = DEFAULT_LIMITS) -> Layer:
    """Read a policy file as a layer; an unreadable, oversized or invalid file becomes a `PolicyError` naming
    it."""
    path = Path(path)
    return Layer.from_text(read_text(path, limits), source=str(path), name=name or path.stem)


def compile_layers(layers: Sequence[Layer], *, catalog: Catalog | None = None, base: CompiledPolicy | None = None,
                   limits: PolicyLimits = DEFAULT_LIMITS) -> CompiledPolicy:
    """Merge, validate and compile ``layers`` (base first) over ``catalog`` (the shipped one by default)."""
    catalog = catalog or Catalog.load()
    return compile_policy(build_spec(layers, limits=limits), catalog, base=base,
                          version=policy_version(layers, catalog))


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
