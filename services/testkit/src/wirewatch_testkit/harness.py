"""`wirewatch up` as a child process on free ports with its own data and models dirs.

For end-to-end tests and bench/e2e.py: it builds the tiny offline test translation packages,
installs them through the same offline path an operator uses (`wirewatch models install
--from-path`), starts the stack, follows its output, and stops every process it started by pid.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from wirewatch_common.broker import free_port
from wirewatch_common.processes import stop_process_group
from wirewatch_stack.supervisor import read_pid_file

SERVICES = ("broker", "ingest", "translate", "index", "alerts")


class StackFailed(RuntimeError):
    """The stack did not start, or a wait ran out; the message ends with its recent output."""


class RunningStack:
    """One embedded stack under `root`; use as a context manager so it is always stopped."""

    def __init__(
        self, root: Path, env: dict[str, str] | None = None, *, inherit_settings: bool = True
    ) -> None:
        """Set up the stack's dirs, free ports and environment; start nothing yet.

        `env` is added to this process's environment; with `inherit_settings=False` none of this
        process's WIREWATCH_ variables reach the stack, only the harness's own and those in `env`.
        """
        self.root = root
        self.data_dir = root / "data"
        self.model_dir = root / "models"
        self.ports = {name: free_port() for name in SERVICES}
        inherited = {
            k: v for k, v in os.environ.items() if inherit_settings or not k.startswith("WIREWATCH_")
        }
        self.env = inherited | {
            "WIREWATCH_DATA_DIR": str(self.data_dir),
            "WIREWATCH_MODEL_DIR": str(self.model_dir),
            "WIREWATCH_LOG_FORMAT": "text",
            "WIREWATCH_CLI_API_KEY": "",
        }
        self.env.pop("WIREWATCH_KAFKA_BOOTSTRAP_SERVERS", None)
        self.env |= {f"WIREWATCH_{name.upper()}_PORT": str(port) for name, port in self.ports.items()}
        self.env |= env or {}
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None

    def url(self, service: str) -> str:
        """Base URL of a service's API."""
        return f"http://127.0.0.1:{self.ports[service]}"

    @property
    def bootstrap_servers(self) -> str:
        """Address of the stack's broker."""
        return f"127.0.0.1:{self.ports['broker']}"

    def command(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        """Run `wirewatch ARGS...` against this stack and return what it printed."""
        return subprocess.run(
            [sys.executable, "-m", "wirewatch_stack.cli", *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
            check=False,
        )

    def install_test_packages(self) -> str:
        """Build the offline test packages and install them into this stack's models dir."""
        packages = self.root / "test-packages"
        subprocess.run(
            [sys.executable, "-m", "wirewatch_translate.testpackages", str(packages)],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=300,
            check=True,
        )
        installed = self.command("models", "install", "--from-path", str(packages), timeout=300)
        if installed.returncode != 0:
            msg = f"installing the test packages failed: {installed.stdout}{installed.stderr}"
            raise StackFailed(msg)
        return installed.stdout

    def start(self, *args: str, timeout: float = 120.0) -> Self:
        """Start `wirewatch up ARGS...` and return once it says it is ready."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._process = subprocess.Popen(
            [sys.executable, "-m", "wirewatch_stack.cli", "up", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=self.env,
            text=True,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.wait_for_line(lambda line: line.startswith("wirewatch | ready"), timeout)
        return self

    def _read(self) -> None:
        process = self._process
        assert process is not None and process.stdout is not None
        for line in process.stdout:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def output(self, last: int = 60) -> str:
        """The stack's recent output, for failure messages."""
        with self._changed:
            return "".join(self.lines[-last:])

    def wait_for_line(self, match: Callable[[str], bool], timeout: float, start: int = 0) -> str:
        """Wait until a line from index `start` on matches; raise StackFailed on timeout or exit."""
        deadline = time.monotonic() + timeout
        seen = start
        with self._changed:
            while True:
                for line in self.lines[seen:]:
                    if match(line):
                        return line
                seen = len(self.lines)
                exited = self._process is None or self._process.poll() is not None
                if exited or time.monotonic() > deadline:
                    why = "exited" if exited else f"no matching line within {timeout:.0f}s"
                    msg = f"wirewatch up {why}:\n" + "".join(self.lines[-80:])
                    raise StackFailed(msg)
                self._changed.wait(min(0.5, max(0.01, deadline - time.monotonic())))

    def pid(self, service: str) -> int | None:
        """The pid `wirewatch up` recorded for a service now (DATA_DIR/run/<name>.pid)."""
        return read_pid_file(self.data_dir / "run", service)

    def stop(self, timeout: float = 60.0) -> int | None:
        """Stop the stack and return `wirewatch up`'s exit code (None if it was never started).

        `wirewatch up` gets SIGTERM, which it handles as Ctrl-C (every service stopped, its pid file
        removed), and SIGKILL after `timeout` (`processes.stop_process_group`, as the supervisor
        stops its own children). A service it could not stop is then killed by its recorded pid.
        """
        process, self._process = self._process, None
        code = None
        if process is not None:
            stop_process_group(process, timeout)
            code = process.returncode
        if self._reader is not None:
            self._reader.join(10)
        if process is not None and process.stdout is not None:
            process.stdout.close()
        # A clean stop removes every pid file; one left behind names a child `wirewatch up` could not
        # stop. It is not our child (no Popen to reap, so not `kill_process_group`): each leads its
        # own process group, which is killed by the recorded pid.
        for name in SERVICES:
            pid = read_pid_file(self.data_dir / "run", name)
            if pid is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
        return code

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def read_topic(bootstrap: str, topic: str, partitions: int, timeout: float = 60.0) -> list[Any]:
    """Every message of a topic, start to end, read with an independent client (confluent-kafka).

    Partitions are assigned (no group join) and read until librdkafka reports the end of each;
    raises TimeoutError naming the partitions not read to the end. Not the bus's own client, so a
    bug shared by our producer and consumer cannot hide a lost message.
    """
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{uuid.uuid4().hex[:8]}",
            "enable.partition.eof": True,
            "enable.auto.commit": False,
        }
    )
    messages: list[Any] = []
    ended: set[int] = set()
    try:
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
        deadline = time.monotonic() + timeout
        while len(ended) < partitions:
            if time.monotonic() > deadline:
                msg = f"{topic}: only partitions {sorted(ended)} of {partitions} read to the end in {timeout:.0f} s"
                raise TimeoutError(msg)
            message = consumer.poll(1.0)
            if message is None:
                continue
            error = message.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    raise RuntimeError(str(error))
                ended.add(message.partition() or 0)
                continue
            messages.append(message)
    finally:
        consumer.close()
    return messages
