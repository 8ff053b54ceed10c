"""The service skeleton: a FastAPI app with /healthz, /readyz and /metrics that runs the service's workers.

Workers are threads started in the app's lifespan and stopped when uvicorn shuts down (it owns
SIGTERM/SIGINT), so one process serves its API and consumes its topics, and stops both together.
Every app answers errors in one JSON shape, sends security headers, and sends CORS headers only
for configured origins; /metrics needs a reader key when keys are configured.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import uvicorn
from fastapi import Depends, FastAPI, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from .access import require
from .bus import Admin
from .errors import brief
from .http_errors import CatchAll, StatusTable, document_errors, install_error_handlers
from .http_headers import SecurityHeaders, install_cors
from .settings import Settings
from .stalls import Stall

log = logging.getLogger(__name__)

Check = Callable[[], bool]
"""A readiness check: returns True when ready; False or an exception means not ready."""


class Worker(Protocol):
    """A long-running loop that stops soon after `stop` is set."""

    name: str

    def run(self, stop: threading.Event) -> None:
        """Work until `stop` is set."""
        ...


@runtime_checkable
class ReportsStalls(Protocol):
    """A worker that can tell where it is stuck."""

    def stalls(self) -> list[Stall]:
        """Positions stuck for longer than the worker's limit."""
        ...


class WorkerThreads:
    """Run workers in daemon threads and remember which ones died, for /healthz."""

    def __init__(self, workers: Sequence[Worker]) -> None:
        self.workers = list(workers)
        self.stop = threading.Event()
        self.failed: dict[str, str] = {}
        self.on_failure: Callable[[], None] | None = None
        self._threads: list[threading.Thread] = []

    def _run(self, worker: Worker) -> None:
        try:
            worker.run(self.stop)
        except Exception as exc:
            self.failed[worker.name] = brief(exc, 500)
            log.exception("worker crashed", extra={"worker": worker.name})
        else:
            if self.stop.is_set():
                return
            self.failed[worker.name] = "returned before being asked to stop"
        if self.on_failure is not None:
            self.on_failure()

    def start(self) -> None:
        """Start every worker."""
        for worker in self.workers:
            thread = threading.Thread(target=self._run, args=(worker,), name=worker.name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stalls(self) -> list[Stall]:
        """Stalled positions reported by workers that track them (the Kafka consumers)."""
        found: list[Stall] = []
        for worker in self.workers:
            if isinstance(worker, ReportsStalls):
                found += worker.stalls()
        return found

    def shutdown(self, timeout: float = 30.0) -> None:
        """Ask every worker to stop and wait for them."""
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout)
            if thread.is_alive():
                log.error("worker did not stop in time", extra={"worker": thread.name})


class BrokerCheck:
    """Readiness check that the Kafka cluster answers metadata requests (admin client opened lazily)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._admin: Admin | None = None
        self._lock = threading.Lock()

    def __call__(self) -> bool:
        """Ping the cluster."""
        with self._lock:
            if self._admin is None:
                self._admin = Admin.from_settings(self._settings, request_timeout_ms=3000)
            return self._admin.ping()

    def close(self) -> None:
        """Close the admin client."""
        with self._lock:
            if self._admin is not None:
                self._admin.close()
                self._admin = None


def _run_check(check: Check) -> str:
    try:
        return "ok" if check() else "not ready"
    except Exception as exc:  # noqa: BLE001 - a failing check is reported, not raised
        return f"error: {brief(exc)}"


def create_app(
    service: str,
    *,
    checks: Mapping[str, Check] | None = None,
    workers: Sequence[Worker] = (),
    on_shutdown: Sequence[Callable[[], Any]] = (),
    registry: CollectorRegistry = REGISTRY,
    settings: Settings | None = None,
    errors: StatusTable | None = None,
    **fastapi_options: Any,
) -> FastAPI:
    """Build a service's app; routers for its own API are added by the caller.

    `settings` supplies the API keys (for /metrics) and the CORS origins; without it both are off.
    `errors` is the service's table of domain errors and their HTTP statuses.
    """
    threads = WorkerThreads(workers)
    all_checks = dict(checks or {})

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        threads.start()
        log.info("service started", extra={"workers": [w.name for w in workers]})
        try:
            yield
        finally:
            threads.shutdown()
            for hook in on_shutdown:
                hook()
            log.info("service stopped")

    app = FastAPI(title=f"wirewatch {service}", lifespan=lifespan, **fastapi_options)
    app.state.workers = threads
    install_error_handlers(app, errors)
    document_errors(app)
    # Last added runs first: headers go on every answer, CORS preflights and 500s included.
    app.add_middleware(CatchAll)
    install_cors(app, settings.cors_origins if settings is not None else ())
    app.add_middleware(SecurityHeaders)
    keys = settings.api_keys if settings is not None else ()

    @app.get(
        "/healthz",
        tags=["operations"],
        responses={
            200: {
                "description": "`ok`, or `degraded` with the stalled positions: the process lives, work is stuck.",
                "content": {"application/json": {}},
            },
            503: {"description": "A worker thread died.", "content": {"application/json": {}}},
        },
    )
    def healthz() -> JSONResponse:
        """Liveness: every worker thread runs; `degraded` names any consumer stuck at one position."""
        if threads.failed:
            return JSONResponse({"status": "failing", "workers": threads.failed}, status_code=503)
        stalls = threads.stalls()
        if stalls:
            # 200, not 503: restarting the process would not move a stuck position, only lose the report.
            body = {"status": "degraded", "service": service, "stalls": [s.to_dict() for s in stalls]}
            return JSONResponse(body)
        return JSONResponse({"status": "ok", "service": service})

    @app.get(
        "/readyz",
        tags=["operations"],
        responses={503: {"description": "A check failed.", "content": {"application/json": {}}}},
    )
    def readyz() -> JSONResponse:
        """Readiness: the broker and this service's backend answer."""
        results = {name: _run_check(check) for name, check in all_checks.items()}
        ready = all(r == "ok" for r in results.values()) and not threads.failed
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": results},
            status_code=200 if ready else 503,
        )

    @app.get(
        "/metrics",
        tags=["operations"],
        dependencies=[Depends(require(keys, "reader"))],
        response_class=PlainTextResponse,
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
    )
    def metrics() -> Response:
        """Prometheus metrics in text format."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app


@dataclass(frozen=True)
class Service:
    """A built service: its app (own routes, health, readiness, metrics), its workers, what it closes.

    Every service's `bootstrap.build(settings)` returns one (a subclass naming its own parts), so
    `__main__` only parses settings, builds and serves, and tests build exactly what runs.
    """

    app: FastAPI
    workers: Sequence[Worker]
    closers: Sequence[Callable[[], Any]]


def log_settings(settings: Settings) -> None:
    """Log once at start-up what differs from the defaults (secrets masked); the rest is in the README."""
    changed = settings.changed()
    log.info(
        "settings",
        extra={"changed": changed, "defaults": len(type(settings).model_fields) - len(changed)},
    )


WORKER_DIED_EXIT = 3
"""Exit status of a service process whose worker thread died: its supervisor or Docker starts it again."""


GRACEFUL_SHUTDOWN_S = 5
"""How long a stopping server waits for open requests (long-lived streams) before closing them."""


def serve(app: FastAPI, host: str, port: int) -> None:
    """Serve the app until SIGTERM/SIGINT; our JSON logging stays in charge (no uvicorn log config).

    A worker thread that dies (an error nothing handled) shuts the server down and exits with
    WORKER_DIED_EXIT: a process that only answers 503 would idle forever under
    `restart: unless-stopped`, which ignores health; a new process starts clean.
    """
    # Open event streams (SSE) never end by themselves: after this long a stop closes them (clients reconnect).
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )
    server = uvicorn.Server(config)
    threads: WorkerThreads = app.state.workers
    threads.on_failure = lambda: setattr(server, "should_exit", True)
    server.run()
    if threads.failed:
        log.error("exiting: a worker died", extra={"workers": threads.failed})
        raise SystemExit(WORKER_DIED_EXIT)
