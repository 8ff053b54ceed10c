"""Run the embedded stack: the tansu broker, topic provisioning, then each service as a child process.

Children run in their own process groups and are stopped by pid (SIGTERM, then SIGKILL), so
Ctrl-C on `wirewatch up` leaves nothing behind. A child that dies is restarted with backoff.
If the supervisor itself dies without stopping them (SIGKILL, the OOM killer), the kernel sends
each service SIGTERM and kills the in-memory broker (Linux's parent-death signal, see
`wirewatch_common.processes`): an orphaned service would keep its port, so the next `wirewatch up`
could not start, and would go on working against a broker that died with the supervisor.
Children are forked by one thread that lives as long as the supervisor (the signal follows the
forking thread), so restarts from any thread are covered too.
Each running process's pid is kept in DATA_DIR/run/<name>.pid, so operators and fault tests can
signal one service by its pid.
"""

from __future__ import annotations

import importlib
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import IO

from wirewatch_common.broker import EmbeddedBroker
from wirewatch_common.bus import Admin
from wirewatch_common.processes import start_child, stop_process_group
from wirewatch_common.settings import Settings
from wirewatch_common.topics import load_contract

from .client import wait_ready

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "wirewatch.services"
"""Each service package names its runnable module here, e.g. `ingest = "wirewatch_ingest"`."""


@dataclass(frozen=True)
class ServiceSpec:
    """A child process the supervisor keeps running."""

    name: str
    argv: Sequence[str]
    env: dict[str, str] = field(default_factory=dict)
    url: str | None = None


START_ORDER = {"ingest": 0, "translate": 1, "index": 2, "alerts": 3}

OWN_PORTS = {"alerts": ("wirewatch_alerts.settings", "AlertsSettings", "alerts_port")}
"""Services whose port is one of their own settings rather than a shared one: module, class, field."""


def service_port(settings: Settings, name: str) -> int | None:
    """The port a service listens on, as the service itself will read it; None for one without an API.

    Shared ports come from `settings`; a service's own port from its settings class, built from the
    environment exactly as the child process will build it (or from `settings` when it is that class).
    """
    shared = {
        "ingest": settings.ingest_port,
        "translate": settings.translate_port,
        "index": settings.index_port,
    }
    if name in shared:
        return shared[name]
    if name not in OWN_PORTS:
        return None
    module_name, class_name, field_name = OWN_PORTS[name]
    if field_name in type(settings).model_fields:
        return int(getattr(settings, field_name))
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except ModuleNotFoundError:
        return None
    return int(getattr(cls(), field_name))


def installed_services(settings: Settings) -> list[ServiceSpec]:
    """Find the service packages installed in this environment, in start order (ingest, translate, index, alerts)."""
    found = sorted(
        entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: (START_ORDER.get(ep.name, 9), ep.name)
    )
    specs = []
    for ep in found:
        port = service_port(settings, ep.name)
        url = f"http://{settings.host}:{port}" if port is not None else None
        specs.append(ServiceSpec(name=ep.name, argv=[sys.executable, "-m", ep.value], url=url))
    return specs


def write_pid_file(path: Path, pid: int) -> None:
    """Write a pid file atomically, so a reader never sees it half written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".pid.tmp")
    partial.write_text(f"{pid}\n")
    partial.replace(path)


def read_pid_file(run_dir: Path, name: str) -> int | None:
    """Return the pid `wirewatch up` recorded for a service (or `broker`), or None."""
    try:
        return int((run_dir / f"{name}.pid").read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


class Child:
    """One supervised process with its output prefixed on our stdout and copied to a log file."""

    def __init__(
        self, spec: ServiceSpec, env: dict[str, str], log_dir: Path, out: IO[str], run_dir: Path | None = None
    ) -> None:
        self.spec = spec
        self._env = env
        self._log_path = log_dir / f"{spec.name}.log"
        self._pid_path = None if run_dir is None else run_dir / f"{spec.name}.pid"
        self._out = out
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self.next_start = 0.0
        self._pump: threading.Thread | None = None

    def start(self) -> None:
        """Start (or restart) the process in its own process group; it dies with the supervisor."""
        self.process = start_child(
            self.spec.argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=self._env | self.spec.env,
        )
        self._pump = threading.Thread(target=self._copy_output, args=(self.process,), daemon=True)
        self._pump.start()
        if self._pid_path is not None:
            write_pid_file(self._pid_path, self.process.pid)
        log.info("service started", extra={"service": self.spec.name, "pid": self.process.pid})

    def _copy_output(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        with process.stdout, self._log_path.open("ab") as file:
            for line in process.stdout:
                file.write(line)
                file.flush()
                self._out.write(f"{self.spec.name:>9} | {line.decode('utf-8', 'replace')}")
                self._out.flush()

    def running(self) -> bool:
        """Tell whether the process is up."""
        return self.exited() is None

    def exited(self) -> int | None:
        """Return the exit code if the process has ended."""
        return None if self.process is None else self.process.poll()

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM the process group, SIGKILL it if it does not go in time."""
        process = self.process
        if process is None:
            return
        stop_process_group(process, timeout)
        if self._pump is not None:
            self._pump.join(5)
        self.process = None
        if self._pid_path is not None:
            self._pid_path.unlink(missing_ok=True)


class Supervisor:
    """Start the broker and the services in order, keep them running, stop them all on request."""

    def __init__(
        self,
        settings: Settings,
        services: Sequence[ServiceSpec],
        *,
        out: IO[str] = sys.stdout,
        backoff: tuple[float, float] = (1.0, 30.0),
        ready_timeout: float = 60.0,
    ) -> None:
        self.settings = settings
        self.ready_timeout = ready_timeout
        self.services = list(services)
        self.out = out
        self.backoff = backoff
        self.log_dir = settings.data_dir / "logs"
        self.run_dir = settings.data_dir / "run"
        self.broker: EmbeddedBroker | None = None
        self.children: list[Child] = []

    def _child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["WIREWATCH_KAFKA_BOOTSTRAP_SERVERS"] = f"{self.settings.host}:{self.settings.broker_port}"
        env["WIREWATCH_DATA_DIR"] = str(self.settings.data_dir.resolve())
        if any(spec.name == "alerts" for spec in self.services):
            # A version is done when alerts matched it too, so the broker losing everything loses no alert.
            env.setdefault("WIREWATCH_INGEST_CONFIRM_ALERTS", "true")
        return env

    def start(self) -> None:
        """Start the broker, provision topics, then start every service."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.broker = EmbeddedBroker(
            self.settings.broker_port,
            host=self.settings.host,
            binary=self.settings.broker_binary,
            log_file=self.log_dir / "broker.log",
        ).start()
        if self.broker.pid is not None:
            write_pid_file(self.run_dir / "broker.pid", self.broker.pid)
        self.say(f"broker    tansu on {self.broker.bootstrap_servers} (pid {self.broker.pid}, in memory)")
        admin = Admin({"bootstrap_servers": [self.broker.bootstrap_servers]})
        try:
            admin.provision(load_contract(), self.settings.kafka_replication_factor)
        finally:
            admin.close()
        self.say("topics    provisioned from deploy/kafka/topics.yaml")
        env = self._child_env()
        # The services need the broker, not each other: all start at once, then each is awaited
        # (in the listed order) until it answers /readyz, so start-up costs the slowest, not the sum.
        for spec in self.services:
            child = Child(spec, env, self.log_dir, self.out, self.run_dir)
            child.start()
            self.children.append(child)
        for spec, child in zip(self.services, self.children, strict=True):
            pid = child.process.pid if child.process else "?"
            if spec.url and not wait_ready(spec.url, self.ready_timeout, alive=child.running):
                self.say(
                    f"{spec.name:<9} not ready in {self.ready_timeout:.0f}s; see {self.log_dir}/{spec.name}.log"
                )
            self.say(f"{spec.name:<9} {spec.url or ''} (pid {pid})")
        if not self.services:
            self.say("services  none installed yet: running the broker only")
        index = next((spec.url for spec in self.services if spec.name == "index" and spec.url), None)
        if index:
            self.say(f"desk      {index}/ (search in the browser)")
        self.say(f"ready     logs in {self.log_dir}; Ctrl-C stops everything")

    def watch_once(self, now: Callable[[], float] = time.monotonic) -> None:
        """Restart a dead broker with every service; restart any service that exited, with backoff."""
        if self.broker is not None and self.broker.exited() is not None:
            self.restart_after_broker_loss()
            return
        for child in self.children:
            code = child.exited()
            if code is None:
                continue
            if child.next_start == 0.0:
                delay = min(self.backoff[1], self.backoff[0] * 2**child.restarts)
                child.next_start = now() + delay
                self.say(f"{child.spec.name:<9} exited with code {code}; restarting in {delay:.0f}s")
            elif now() >= child.next_start:
                child.restarts += 1
                child.next_start = 0.0
                child.start()
                pid = child.process.pid if child.process else "?"
                self.say(f"{child.spec.name:<9} restarted (pid {pid}, restart {child.restarts})")

    def restart_after_broker_loss(self) -> None:
        """Start an empty broker, provision the topics, then every service again, in start order.

        The services' clients hold producer ids, group memberships and fetch positions the new
        broker never saw, and a reconnecting client would create topics with the broker's default
        partition count before provisioning; new processes start clean. The ingest ledger then
        re-publishes every story that has no receipt.
        """
        assert self.broker is not None
        code = self.broker.exited()
        self.say(f"broker    exited with code {code}; restarting it empty, then every service")
        for child in reversed(self.children):
            child.stop(timeout=2)  # with no broker there is nothing left to flush or commit
        self.children.clear()
        self.broker.stop()
        self.broker = None
        self.start()

    def run(self, stop: threading.Event, when_ready: Callable[[], None] | None = None) -> None:
        """Start everything, run `when_ready` once, supervise until `stop` is set, then stop everything.

        This is `wirewatch up`'s one loop: the command sets `stop` from its signal handlers and uses
        `when_ready` for what it does once the stack is up (the models hint, `--load`). Whatever
        raises, the broker and every service are stopped before the error goes on.
        """
        try:
            self.start()
            if when_ready is not None:
                when_ready()
            while not stop.wait(0.5):
                self.watch_once()
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        """Stop services in reverse order, then the broker."""
        for child in reversed(self.children):
            child.stop()
        self.children.clear()
        if self.broker is not None:
            self.broker.stop()
            self.broker = None
            (self.run_dir / "broker.pid").unlink(missing_ok=True)
        self.say("stopped")

    def say(self, line: str) -> None:
        """Print one line of the supervisor's own, `wirewatch | LINE`, between the services' output."""
        self.out.write(f"wirewatch | {line}\n")
        self.out.flush()
