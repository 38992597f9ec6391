"""PolicyStore against a hostile file system: every kind of breakage after a good load keeps the last good
policy (and records the error), reloads notice same-size replacements that keep the old mtime, links out of
the directory are refused unless allowed, and `policy lint --all` reports every bad file and goes on."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dlrpolicy import DlrpolicyError, Engine, PolicyError, PolicyStore
from dlrpolicy.cli._main import main
from tests.conftest import small_layer

GOOD = "[defaults]\nmax_attempts = 2\n"


def _store(tmp_path: Path, **kwargs: object) -> PolicyStore:
    """A store over ``tmp_path`` with a good acme.toml, layered on the small test policy, checking every call."""
    (tmp_path / "acme.toml").write_text(GOOD, encoding="utf-8")
    return PolicyStore(tmp_path, base=[small_layer()], check_interval=0, **kwargs)  # type: ignore[arg-type]


def _replace(path: Path, text: str) -> None:
    """Replace ``path`` atomically with ``text``, as the README asks."""
    staged = path.with_suffix(".tmp")
    staged.write_text(text, encoding="utf-8")
    os.replace(staged, path)


def _break(path: Path, kind: str) -> None:
    """Break a good tenant file in one of the ways an operator or an attacker can."""
    outside = path.parent.parent / f"{path.parent.name}-outside.toml"
    if kind == "invalid-toml":
        _replace(path, "[defaults\n")
    elif kind == "invalid-rule":
        _replace(path, '[defaults]\nmax_attempts = "two"\n')
    elif kind == "deep-dotted-key":
        _replace(path, ".".join(["a"] * 20_000) + " = 1\n")
    elif kind == "too-large":
        _replace(path, "# " + "x" * (2 * 1024 * 1024) + "\n")
    elif kind == "huge-number":
        _replace(path, '[[patch]]\nid = "out-of-credit"\nevery = "999999999d"\n')
    elif kind in ("directory", "fifo", "loop", "outside-link", "device", "gone"):
        path.unlink()
        if kind == "directory":
            path.mkdir()
        elif kind == "fifo":
            os.mkfifo(path)
        elif kind == "loop":
            path.symlink_to(path)
        elif kind == "outside-link":
            outside.write_text("[defaults]\nmax_attempts = 9\n", encoding="utf-8")
            path.symlink_to(outside)
        elif kind == "device":
            path.symlink_to("/dev/zero")


BREAKAGES = ["invalid-toml", "invalid-rule", "deep-dotted-key", "too-large", "huge-number", "directory", "fifo",
             "loop", "outside-link", "device", "gone"]


@pytest.mark.parametrize("kind", BREAKAGES)
def test_last_good_policy_for_every_breakage(tmp_path: Path, kind: str) -> None:
    """After a good load, each breakage keeps the good policy in force and records why (never raises)."""
    store = _store(tmp_path, allow_outside_links=kind == "device")  # /dev/zero is outside: let it be read
    good = store.get("acme")
    _break(tmp_path / "acme.toml", kind)
    assert good is store.get("acme")
    assert isinstance(store.errors["acme"], DlrpolicyError)
    assert good is store.get("acme")  # and again, from the cache


@pytest.mark.parametrize("kind", [k for k in BREAKAGES if k != "gone"])
def test_first_load_of_a_broken_file_is_a_policy_error(tmp_path: Path, kind: str) -> None:
    """With no good policy yet, each breakage is a PolicyError naming the file, never an OSError or a hang."""
    store = _store(tmp_path, allow_outside_links=kind == "device")
    _break(tmp_path / "acme.toml", kind)
    with pytest.raises(PolicyError):
        store.get("acme")


def test_fixed_after_breakage_is_reloaded(tmp_path: Path) -> None:
    """A directory that replaced the file, then a good file again: the new good policy is served."""
    store = _store(tmp_path)
    store.get("acme")
    _break(tmp_path / "acme.toml", "directory")
    store.get("acme")
    (tmp_path / "acme.toml").rmdir()
    (tmp_path / "acme.toml").write_text("[defaults]\nmax_attempts = 3\n", encoding="utf-8")
    assert 3 == store.get("acme").spec.defaults.max_attempts
    assert "acme" not in store.errors


def test_same_size_replacement_keeping_the_old_mtime_is_reloaded(tmp_path: Path) -> None:
    """rsync -t / cp -p: a new file of the same size with the old modification time is still a change."""
    store = _store(tmp_path)
    path = tmp_path / "acme.toml"
    os.utime(path, ns=(10**18, 10**18))
    assert 2 == store.get("acme").spec.defaults.max_attempts
    staged = tmp_path / "acme.tmp"
    staged.write_text(GOOD.replace("2", "3"), encoding="utf-8")
    os.utime(staged, ns=(10**18, 10**18))
    os.replace(staged, path)
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (len(GOOD), 10**18)
    assert 3 == store.get("acme").spec.defaults.max_attempts


def test_change_check_includes_inode_and_change_time(tmp_path: Path) -> None:
    """The stamp holds device, inode, size, mtime and ctime (an in-place cp -p changes only the ctime)."""
    store = _store(tmp_path)
    info = (tmp_path / "acme.toml").stat()
    assert (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns) == store._stamp(
        tmp_path / "acme.toml")


def test_link_out_of_the_directory_is_refused_unless_allowed(tmp_path: Path) -> None:
    """A tenant file that is a symlink out of the policy directory is refused; allow_outside_links follows it."""
    folder = tmp_path / "policies"
    folder.mkdir()
    (tmp_path / "elsewhere.toml").write_text("[defaults]\nmax_attempts = 7\n", encoding="utf-8")
    (folder / "acme.toml").symlink_to(tmp_path / "elsewhere.toml")
    (folder / "inside.toml").symlink_to(folder / "acme.toml")
    with pytest.raises(PolicyError, match="outside the policy directory"):
        PolicyStore(folder, base=[small_layer()]).get("acme")
    assert 7 == PolicyStore(folder, base=[small_layer()], allow_outside_links=True).get("acme").spec.defaults \
        .max_attempts
    (folder / "real.toml").write_text("[defaults]\nmax_attempts = 4\n", encoding="utf-8")
    (folder / "alias.toml").symlink_to(folder / "real.toml")
    assert 4 == PolicyStore(folder, base=[small_layer()]).get("alias").spec.defaults.max_attempts


@pytest.mark.parametrize("kind", ["a-file", "too-long", "missing"])
def test_bad_policy_directories_are_errors_of_ours(tmp_path: Path, kind: str) -> None:
    """--policy-dir pointing at a file, a path too long, or nothing: a DlrpolicyError, not a raw OSError."""
    folder = tmp_path / "file"
    if kind == "a-file":
        folder.write_text("x", encoding="utf-8")
    elif kind == "too-long":
        folder = tmp_path / ("x" * 5000)
    else:
        folder = tmp_path / "nowhere"
    engine = Engine.default(policy_dir=folder)
    with pytest.raises(DlrpolicyError):
        engine.for_tenant("acme")
    with pytest.raises(DlrpolicyError):
        PolicyStore(folder).tenants()


def test_lint_all_reports_every_bad_file_and_goes_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """lint --all: each bad file (invalid, deep, a directory, a FIFO, a link loop, a bad name) is reported and
    the good ones are still linted; exit 1."""
    (tmp_path / "good.toml").write_text("[defaults]\nmax_attempts = 3\n", encoding="utf-8")
    (tmp_path / "also-good.toml").write_text("[defaults]\nmax_attempts = 4\n", encoding="utf-8")
    (tmp_path / "syntax.toml").write_text("[defaults\n", encoding="utf-8")
    (tmp_path / "deep.toml").write_text("x = " + "[" * 1000 + "]" * 1000 + "\n", encoding="utf-8")
    (tmp_path / "folder.toml").mkdir()
    os.mkfifo(tmp_path / "pipe.toml")
    (tmp_path / "loop.toml").symlink_to(tmp_path / "loop.toml")
    (tmp_path / "Bad Name.toml").write_text(GOOD, encoding="utf-8")
    status = main(["policy", "lint", "--all", "--policy-dir", str(tmp_path)])
    out, err = capsys.readouterr()
    assert 1 == status
    assert "8 tenant file(s) checked, 6 invalid" in out
    for name in ("syntax", "deep", "folder", "pipe", "loop"):
        assert f"error: tenant {name}:" in err
    assert "Bad Name.toml" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("kind", ["loop", "fifo", "directory"])
def test_lint_of_a_broken_tenant_file_is_one_error(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   kind: str) -> None:
    """policy lint --tenant on a link loop, FIFO or directory: exit 1 with an error, no traceback."""
    (tmp_path / "acme.toml").write_text(GOOD, encoding="utf-8")
    _break(tmp_path / "acme.toml", kind)
    assert 1 == main(["policy", "lint", "--tenant", "acme", "--policy-dir", str(tmp_path)])
    assert "error:" in capsys.readouterr().err


def test_lint_all_on_a_file_instead_of_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """lint --all with --policy-dir naming a file: one error, exit 1 (it used to check 0 files and pass)."""
    (tmp_path / "file").write_text("x", encoding="utf-8")
    assert 1 == main(["policy", "lint", "--all", "--policy-dir", str(tmp_path / "file")])
    assert "cannot list the policy directory" in capsys.readouterr().err


def test_lint_with_a_too_long_policy_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """policy lint --tenant under a --policy-dir longer than the file system allows: one error, exit 1."""
    folder = tmp_path / ("x" * 5000)
    assert 1 == main(["policy", "lint", "--tenant", "acme", "--policy-dir", str(folder)])
    err = capsys.readouterr().err
    assert "error:" in err
    assert "Traceback" not in err


def test_a_dangling_tenant_link_is_named_as_such(tmp_path: Path) -> None:
    """A tenant file that is a symbolic link to nothing is reported as that link, not as a missing file that is
    also listed among the tenants with a file."""
    (tmp_path / "acme.toml").symlink_to(tmp_path / "gone" / "acme.toml")
    store = PolicyStore(tmp_path)
    with pytest.raises(DlrpolicyError) as caught:
        store.get("acme")
    message = str(caught.value)
    assert "tenants with a file" not in message
    assert f"is a symbolic link to {tmp_path / 'gone' / 'acme.toml'}, which does not exist" in message
