from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from wirewatch_common.broker import free_port
from wirewatch_common.bus import Admin
from wirewatch_common.settings import Settings
from wirewatch_common.topics import load_contract
from wirewatch_stack.supervisor import ServiceSpec, Supervisor, read_pid_file
from wirewatch_testkit.processes import process_alive

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SAMPLES = Path(__file__).resolve().parents[3] / "samples"


def _read_until(proc: subprocess.Popen[str], marker: str, lines: list[str], timeout: float = 120.0) -> None:
    """Collect `wirewatch up`'s output into `lines` until a line holds `marker`."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    for line in proc.stdout:
        lines.append(line)
        if marker in line:
            return
        assert time.monotonic() < deadline, "".join(lines)
    raise AssertionError("".join(lines))


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
        run_dir = settings.data_dir / "run"
        assert read_pid_file(run_dir, "flaky") == child_pid, "the restarted child's pid is on file"
        assert read_pid_file(run_dir, "broker") == broker_pid
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
    assert read_pid_file(run_dir, "flaky") is None and read_pid_file(run_dir, "broker") is None
    text = out.getvalue()
    assert "flaky     exited with code 3; restarting" in text
    assert f"flaky     restarted (pid {child_pid}, restart 1)" in text
    assert "flaky | service start 2" in text
    assert (settings.data_dir / "logs" / "flaky.log").read_text().count("service start") == 2


def test_a_killed_broker_is_restarted_empty_with_its_topics_and_every_service(tmp_path):
    settings = _settings(tmp_path)
    out = io.StringIO()
    supervisor = Supervisor(
        settings, [ServiceSpec("sleeper", [sys.executable, "-c", "import time; time.sleep(600)"])], out=out
    )
    stop = threading.Event()
    readies: list[str] = []
    thread = threading.Thread(
        target=supervisor.run, args=(stop, lambda: readies.append(out.getvalue())), daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not supervisor.children or supervisor.children[0].process is None:
            assert time.monotonic() < deadline, out.getvalue()
            time.sleep(0.1)
        old_broker, old_child = supervisor.broker.pid, supervisor.children[0].process.pid
        os.kill(old_broker, signal.SIGKILL)
        while (
            "broker    exited with code" not in out.getvalue()
            or "ready" not in out.getvalue().split("broker    exited")[-1]
        ):
            assert time.monotonic() < deadline, out.getvalue()
            time.sleep(0.1)
        new_broker, new_child = supervisor.broker.pid, supervisor.children[0].process.pid
        assert new_broker != old_broker and new_child != old_child
        assert not process_alive(old_child), "the service was restarted too: its clients knew the old broker"
        assert read_pid_file(settings.data_dir / "run", "broker") == new_broker
        admin = Admin({"bootstrap_servers": [f"127.0.0.1:{settings.broker_port}"]})
        try:
            have = admin.topic_partitions()
        finally:
            admin.close()
        expected = {spec.name: spec.partitions for spec in load_contract().topics.values()}
        assert {name: have.get(name) for name in expected} == expected, (
            "provisioned again, before any service"
        )
        assert len(readies) == 1 and "wirewatch | ready" in readies[0], (
            "when_ready runs once, after the first start: `wirewatch up --load` never loads twice"
        )
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive()
    assert not process_alive(new_broker) and not process_alive(new_child)


def test_a_failure_once_ready_still_stops_everything_and_is_raised(tmp_path):
    settings = _settings(tmp_path)
    out = io.StringIO()
    supervisor = Supervisor(
        settings, [ServiceSpec("sleeper", [sys.executable, "-c", "import time; time.sleep(600)"])], out=out
    )
    started: dict[str, int] = {}

    def when_ready() -> None:
        started.update(broker=supervisor.broker.pid, sleeper=supervisor.children[0].process.pid)
        raise RuntimeError("the samples could not be read")

    with pytest.raises(RuntimeError, match="the samples could not be read"):
        supervisor.run(threading.Event(), when_ready)
    assert set(started) == {"broker", "sleeper"}
    assert not any(process_alive(pid) for pid in started.values()), out.getvalue()
    run_dir = settings.data_dir / "run"
    assert read_pid_file(run_dir, "sleeper") is None and read_pid_file(run_dir, "broker") is None
    assert out.getvalue().endswith("wirewatch | stopped\n")


def test_wirewatch_up_loads_samples_serves_search_and_stops_cleanly_on_ctrl_c(tmp_path):
    ports = {name: free_port() for name in ("BROKER", "INGEST", "TRANSLATE", "INDEX", "ALERTS")}
    env = dict(os.environ, WIREWATCH_DATA_DIR=str(tmp_path / "data"), WIREWATCH_LOG_FORMAT="text")
    env.update({f"WIREWATCH_{name}_PORT": str(port) for name, port in ports.items()})
    proc = subprocess.Popen(
        [sys.executable, "-m", "wirewatch_stack.cli", "up", "--load", str(SAMPLES)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 120  # shared with the search wait below
        _read_until(proc, "wirewatch | loaded", lines)
        text = "".join(lines)
        assert "(0 failed)" in text, text
        # No packages in the models dir: said once, with both ways to get some.
        assert text.count("no translation packages in") == 1, text
        assert "models install ar tr" in text and "models install --from-path" in text
        assert f"desk      http://127.0.0.1:{ports['INDEX']}/" in text
        pids = [int(line.split("(pid ")[1].split(",")[0].rstrip(")\n")) for line in lines if "(pid " in line]
        assert len(pids) == 5, text  # the broker and the four services
        assert f"alerts    http://127.0.0.1:{ports['ALERTS']}" in text
        assert all(process_alive(pid) for pid in pids)
        search = f"http://127.0.0.1:{ports['INDEX']}/v1/search?q=deprem"
        while True:
            with urllib.request.urlopen(search, timeout=5) as response:
                hits = json.load(response)["hits"]
            if hits:
                break
            assert time.monotonic() < deadline, "the Turkish sample never became searchable"
            time.sleep(0.5)
        assert hits[0]["language"] == "tr"
        cli = subprocess.run(
            [sys.executable, "-m", "wirewatch_stack.cli", "search", "deprem", "--lang", "tr"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert cli.returncode == 0, cli.stderr
        assert "1 stories" in cli.stdout
        assert "deprem" in cli.stdout
        status = subprocess.run(
            [sys.executable, "-m", "wirewatch_stack.cli", "status", "--json"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert status.returncode == 0, status.stdout + status.stderr
        report = json.loads(status.stdout)
        assert report["ok"] and report["broker"]["error"] is None
        assert [s["name"] for s in report["services"]] == ["ingest", "translate", "index", "alerts"]
        alerts = next(s for s in report["services"] if s["name"] == "alerts")
        assert alerts["url"] == f"http://127.0.0.1:{ports['ALERTS']}"
        assert alerts["checks"] == {"store": "ok", "alerts": "ok", "broker": "ok"}
        assert all(s["checks"].get("broker") == "ok" for s in report["services"])
        assert report["alerts"] == {"watchlists": [], "lanes": []}
        assert report["stories"]["accepted"] == 9
        assert report["models"]["packages"] == []
        assert {row["group"] for row in report["lag"]} == {
            "wirewatch-translate",
            "wirewatch-index",
            "wirewatch-alerts",
            "wirewatch-ingest-receipts",
        }
        os.kill(proc.pid, signal.SIGINT)
        assert proc.wait(60) == 0
        lines.extend(proc.stdout.readlines())
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        proc.stdout.close()
    for pid in pids:
        assert not process_alive(pid), "nothing may outlive `wirewatch up`"
    assert "wirewatch | stopped" in "".join(lines)
    down = subprocess.run(
        [sys.executable, "-m", "wirewatch_stack.cli", "status"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert down.returncode == 2
    assert "NOT RUNNING: broker, ingest, translate, index, alerts did not answer" in down.stdout


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


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_killing_the_supervisor_takes_the_broker_and_every_service_with_it(tmp_path):
    ports = {name: free_port() for name in ("BROKER", "INGEST", "TRANSLATE", "INDEX", "ALERTS")}
    env = dict(os.environ, WIREWATCH_DATA_DIR=str(tmp_path / "data"), WIREWATCH_LOG_FORMAT="text")
    env.update({f"WIREWATCH_{name}_PORT": str(port) for name, port in ports.items()})
    proc = subprocess.Popen(
        [sys.executable, "-m", "wirewatch_stack.cli", "up"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
        start_new_session=True,
    )
    run_dir = tmp_path / "data" / "run"
    names = ("broker", "ingest", "translate", "index", "alerts")
    pids: dict[str, int | None] = {}
    lines: list[str] = []
    try:
        _read_until(proc, "wirewatch | ready", lines)
        pids = {name: read_pid_file(run_dir, name) for name in names}
        assert all(pid is not None and process_alive(pid) for pid in pids.values()), (pids, "".join(lines))
        assert not any(_port_free(port) for port in ports.values()), "every port is held while it runs"

        os.kill(proc.pid, signal.SIGKILL)  # no shutdown code of the supervisor runs
        proc.wait(10)
        deadline = time.monotonic() + 15
        while alive := [name for name, pid in pids.items() if pid is not None and process_alive(pid)]:
            assert time.monotonic() < deadline, f"still running 15 s after the supervisor was killed: {alive}"
            time.sleep(0.1)
        busy = [name for name, port in ports.items() if not _port_free(port)]
        assert not busy, f"ports still held: {busy}"
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
        for pid in pids.values():
            if pid is not None and process_alive(pid):
                os.killpg(pid, signal.SIGKILL)  # each child leads its own process group
        proc.stdout.close()


def test_a_child_outlives_the_thread_that_started_it_but_not_its_process(tmp_path):
    # The parent-death signal follows the thread that forked; children are forked by a thread
    # that lives as long as the process, so a short-lived caller's thread takes nothing with it.
    script = (
        "import threading, time\n"
        "from wirewatch_common.processes import start_child\n"
        "box = []\n"
        "t = threading.Thread(target=lambda: box.append(start_child(['sleep', '600'])))\n"
        "t.start(); t.join(); time.sleep(1)\n"
        "print(box[0].pid, box[0].poll(), flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    child: int | None = None
    try:
        assert parent.stdout is not None
        pid, code = parent.stdout.readline().split()
        child = int(pid)
        assert code == "None" and process_alive(child), "alive after its starting thread ended"
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 10
        while process_alive(child):
            assert time.monotonic() < deadline, "the child outlived its killed parent"
            time.sleep(0.05)
    finally:
        if parent.poll() is None:
            os.kill(parent.pid, signal.SIGKILL)
            parent.wait(10)
        if child is not None and process_alive(child):
            os.kill(child, signal.SIGKILL)
        parent.stdout.close()


def test_a_child_whose_parent_died_before_the_signal_was_armed_does_not_start(tmp_path):
    from wirewatch_common.processes import parent_death_argv

    marker = tmp_path / "started"
    argv = parent_death_argv(["touch", str(marker)])
    if argv[0] == "touch":
        pytest.skip("no parent-death signal on this platform")
    assert subprocess.run(argv, timeout=30).returncode == 0
    assert marker.exists(), "with its parent alive the program runs"
    marker.unlink()
    stub = argv.index(str(os.getpid()))
    argv[stub] = "1"  # as if the parent had died and the stub been re-parented before prctl
    assert subprocess.run(argv, timeout=30).returncode == 0
    assert not marker.exists(), "an orphan must not start a service nobody supervises"
