from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from wirewatch_common.broker import free_port
from wirewatch_common.bus import Admin
from wirewatch_common.settings import Settings
from wirewatch_common.testing import process_alive
from wirewatch_common.topics import load_contract
from wirewatch_stack.supervisor import ServiceSpec, Supervisor

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _settings(tmp_path: Path) -> Settings:
    return Settings(_env_file=None, broker_port=free_port(), data_dir=tmp_path / "data", log_format="text")


def test_supervisor_provisions_restarts_a_crashed_service_and_stops_everything(tmp_path):
    marker = tmp_path / "starts"
    # A service that records each start, and crashes on its first start only.
    script = (
        "import pathlib, sys, time\n"
        f"p = pathlib.Path({str(marker)!r})\n"
        "n = len(p.read_text()) if p.exists() else 0\n"
        "p.write_text('x' * (n + 1))\n"
        "print('service start', n + 1, flush=True)\n"
        "sys.exit(3) if n == 0 else time.sleep(600)\n"
    )
    settings = _settings(tmp_path)
    out = io.StringIO()
    supervisor = Supervisor(
        settings, [ServiceSpec("flaky", [sys.executable, "-c", script])], out=out, backoff=(0.2, 1)
    )
    stop = threading.Event()
    thread = threading.Thread(target=supervisor.run, args=(stop,), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not (marker.exists() and marker.read_text() == "xx"):
            assert time.monotonic() < deadline, out.getvalue()
            time.sleep(0.1)
        broker_pid = supervisor.broker.pid
        child_pid = supervisor.children[0].process.pid
        admin = Admin({"bootstrap_servers": [f"127.0.0.1:{settings.broker_port}"]})
        try:
            have = admin.topic_partitions()
        finally:
            admin.close()
        assert {spec.name for spec in load_contract().topics.values()} <= set(have)
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive()
    assert not process_alive(broker_pid) and not process_alive(child_pid)
    text = out.getvalue()
    assert "flaky     exited with code 3; restarting" in text
    assert "flaky | service start 2" in text
    assert (settings.data_dir / "logs" / "flaky.log").read_text().count("service start") == 2


def test_wirewatch_up_stops_cleanly_on_ctrl_c(tmp_path):
    port = free_port()
    env = dict(os.environ, WIREWATCH_BROKER_PORT=str(port), WIREWATCH_DATA_DIR=str(tmp_path / "data"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "wirewatch_stack.cli", "up"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        for line in proc.stdout:
            lines.append(line)
            if "ready" in line and "Ctrl-C" in line:
                break
            assert time.monotonic() < deadline, "".join(lines)
        broker_line = next(line for line in lines if "tansu on" in line)
        broker_pid = int(broker_line.split("(pid ")[1].split(",")[0])
        assert process_alive(broker_pid)
        os.kill(proc.pid, signal.SIGINT)
        assert proc.wait(30) == 0
        lines.extend(proc.stdout.readlines())
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        proc.stdout.close()
    assert not process_alive(broker_pid), "the broker must not outlive `wirewatch up`"
    assert "wirewatch | stopped" in "".join(lines)


def test_taken_broker_port_is_reported_plainly(tmp_path):
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        env = dict(os.environ, WIREWATCH_BROKER_PORT=str(port), WIREWATCH_DATA_DIR=str(tmp_path / "data"))
        result = subprocess.run(
            [sys.executable, "-m", "wirewatch_stack.cli", "up"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
    assert result.returncode == 2
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
