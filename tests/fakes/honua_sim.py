"""A stand-in for the Honua Process Framework, built from the runbooks seed.

Serves the process API (``/api/processes`` …), ``/metrics`` with the seed's metric
names, and runs a stream of synthetic processes whose outcome depends on the
injected fault. Real Prometheus scrapes it; the bot probes it like production.

    python -m tests.fakes.honua_sim --port 9091 --fault llm-rate-limit --rate 5

Faults: none, llm-rate-limit, redis, config, timeout. Change at run time with
``POST /_sim/fault {"fault": "redis"}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Summary, generate_latest

FAULTS: dict[str, tuple[float, str]] = {
    # fault: (share of processes that fail, their errorMessage)
    "none": (0.02, "Timeout exceeded"),
    "llm-rate-limit": (0.4, "429 Too Many Requests"),
    "redis": (0.6, "Redis connection failed: redis-0.redis:6379"),
    "config": (0.5, "Invalid configuration: ProcessFramework.MaxConcurrentProcesses"),
    "timeout": (0.3, "Timeout exceeded"),
}
PROCESS_TYPES = ("DeploymentProcess", "UpgradeProcess", "MetadataProcess")
_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


class Simulator:
    def __init__(self, fault: str = "none", rate: float = 5.0, seed: int | None = None) -> None:
        self.fault = fault
        self.rate = rate
        self.random = random.Random(seed)
        self.processes: dict[str, dict[str, Any]] = {}
        self.registry = CollectorRegistry()
        r = self.registry
        self.started = Counter(
            "honua_process_started", "Processes started", ["process_type"], registry=r
        )
        self.failures = Counter(
            "honua_process_failures", "Processes failed", ["process_type"], registry=r
        )
        self.llm_errors = Counter(
            "honua_llm_errors", "LLM API errors", ["provider", "error_type"], registry=r
        )
        self.duration = Summary(
            "honua_process_duration_seconds", "Process duration", ["process_type"], registry=r
        )
        self.active = Gauge("honua_active_processes", "Processes running", registry=r)
        for t in PROCESS_TYPES:  # series exist from the first scrape, as in production
            self.started.labels(t)
            self.failures.labels(t)
        for provider in ("openai", "azure"):
            self.llm_errors.labels(provider, "rate_limit")

    # traffic ---------------------------------------------------------------
    def start_process(self, process_type: str | None = None, payload: Any = None) -> dict[str, Any]:
        pid = str(uuid.uuid4())
        ptype = process_type or self.random.choice(PROCESS_TYPES)
        now = _now()
        proc = {
            "processId": pid,
            "processType": ptype,
            "status": "Running",
            "errorMessage": None,
            "createdAt": _iso(now),
            "startedAt": _iso(now),
            "completedAt": None,
            "currentStep": "Initialize",
            "completionPercentage": 0,
            "lastProgressAt": _iso(now),
            "createdResources": [],
            "input": payload or {},
        }
        self.processes[pid] = proc
        self.started.labels(ptype).inc()
        self.active.inc()
        return proc

    def finish_process(self, pid: str) -> None:
        proc = self.processes[pid]
        if proc["status"] != "Running":
            return
        share, message = FAULTS.get(self.fault, FAULTS["none"])
        now = _now()
        failed = self.random.random() < share
        proc.update(
            status="Failed" if failed else "Completed",
            completedAt=_iso(now),
            completionPercentage=100,
        )
        if failed:
            proc["errorMessage"] = message
            self.failures.labels(proc["processType"]).inc()
            if self.fault == "llm-rate-limit":
                self.llm_errors.labels("openai", "rate_limit").inc()
        started = datetime.fromisoformat(proc["startedAt"].replace("Z", "+00:00"))
        self.duration.labels(proc["processType"]).observe((now - started).total_seconds())
        self.active.dec()

    def seed_history(self, count: int) -> None:
        """Processes that already ran, so the API has a history from the start."""
        for _ in range(count):
            self.finish_process(self.start_process()["processId"])

    async def run(self) -> None:
        while True:
            pid = self.start_process()["processId"]
            asyncio.get_running_loop().call_later(
                self.random.uniform(0.2, 1.0), self.finish_process, pid
            )
            await asyncio.sleep(1.0 / self.rate if self.rate > 0 else 1.0)

    # API -------------------------------------------------------------------
    def list(self, status: str | None, since: str | None) -> list[dict[str, Any]]:
        cutoff = None
        if since:
            m = _DURATION.match(since)
            if not m:
                raise web.HTTPBadRequest(text=json.dumps({"error": f"bad since {since!r}"}))
            cutoff = _now() - timedelta(seconds=int(m[1]) * _UNITS[m[2]])
        out = []
        for proc in self.processes.values():
            if status and proc["status"] != status:
                continue
            if cutoff and datetime.fromisoformat(proc["createdAt"].replace("Z", "+00:00")) < cutoff:
                continue
            out.append(proc)
        return out


SIM = web.AppKey("sim", Simulator)


async def list_processes(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    return web.json_response(sim.list(request.query.get("status"), request.query.get("since")))


async def get_process(request: web.Request) -> web.Response:
    proc = request.app[SIM].processes.get(request.match_info["id"])
    if proc is None:
        return web.json_response({"error": "not found"}, status=404)
    return web.json_response(proc)


async def create_process(request: web.Request) -> web.Response:
    body = await request.json()
    proc = request.app[SIM].start_process(body.get("processType"), body.get("input"))
    return web.json_response(proc, status=201)


async def set_fault(request: web.Request) -> web.Response:
    body = await request.json()
    fault = body.get("fault", "none")
    if fault not in FAULTS:
        return web.json_response(
            {"error": f"unknown fault {fault!r}", "known": list(FAULTS)}, status=400
        )
    request.app[SIM].fault = fault
    return web.json_response({"fault": fault})


async def metrics(request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(request.app[SIM].registry), content_type="text/plain")


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "Healthy"})


def create_app(sim: Simulator, traffic: bool = True) -> web.Application:
    app = web.Application()
    app[SIM] = sim
    app.router.add_get("/api/processes", list_processes)
    app.router.add_post("/api/processes", create_process)
    app.router.add_get("/api/processes/{id}", get_process)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/health", health)
    app.router.add_post("/_sim/fault", set_fault)
    if traffic:

        async def _traffic(app: web.Application) -> Any:
            task = asyncio.create_task(sim.run())
            yield
            task.cancel()

        app.cleanup_ctx.append(_traffic)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9091)
    parser.add_argument("--fault", choices=sorted(FAULTS), default="none")
    parser.add_argument("--rate", type=float, default=5.0, help="processes started per second")
    parser.add_argument("--history", type=int, default=50, help="finished processes to start with")
    parser.add_argument("--seed", type=int)
    args = parser.parse_args()
    sim = Simulator(args.fault, args.rate, args.seed)
    sim.seed_history(args.history)
    web.run_app(create_app(sim), host=args.host, port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
