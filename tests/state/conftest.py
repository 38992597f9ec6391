"""Stores for the contract suite: a fresh SQLite file per test, and a fresh key prefix on one Redis-protocol
server per test session (a private ``valkey-server`` on a unix socket, or the server named by
``$DLRPOLICY_TEST_REDIS_URL``).  When no server can start the Redis tests fail, loudly; they never skip."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from dlrpolicy import Engine
from dlrpolicy.state._open import open_store
from dlrpolicy.state._recorder import Recorder
from dlrpolicy.state._store import Store
from tests.state.servers import ValkeyServer

ENV_REDIS = "DLRPOLICY_TEST_REDIS_URL"
_PREFIXES = itertools.count()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The Redis-protocol server of this test session."""
    external = os.environ.get(ENV_REDIS)
    if external:
        yield external
        return
    try:
        server = ValkeyServer(tmp_path_factory.mktemp("valkey")).start()
    except (OSError, RuntimeError) as exc:
        pytest.fail(f"cannot start valkey-server for the Redis tests ({exc}); set {ENV_REDIS} to use another "
                    "server", pytrace=False)
    yield server.url
    server.stop()


def fresh_prefix() -> str:
    """A key prefix no other test uses (tests share the server, never its keys)."""
    return f"t{os.getpid()}x{next(_PREFIXES)}"


@pytest.fixture(params=["sqlite", "redis"])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL naming an empty store: an SQLite file, or a fresh prefix on the session's Redis server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    url: str = request.getfixturevalue("redis_url")
    return f"{url}{'&' if '?' in url else '?'}prefix={fresh_prefix()}"


@pytest.fixture
def store(state_url: str) -> Iterator[Store]:
    """The store ``state_url`` names."""
    opened = open_store(state_url)
    yield opened
    opened.close()


@pytest.fixture
def recorder(store: Store) -> Recorder:
    """A recorder over the shipped default policy."""
    return Recorder(Engine.default(default_for_unknown=True), store)
