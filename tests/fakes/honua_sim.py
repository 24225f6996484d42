"""A stand-in for the Honua Process Framework, built from the runbooks seed.

It serves the process API (``/api/processes``, ``/{id}``, ``/cancel[?force=true]``,
``/retry``, ``/retry-current-step``, ``/mark-cleaned-up``, ``/health``),
``/metrics`` with the seed's metric names and labels, keeps each process in
Redis under ``honua:process:{id}`` as JSON with a TTL (when given a Redis URL),
and runs a stream of synthetic processes whose outcomes follow the injected
fault. Real Prometheus scrapes it; the bot probes it as it would production.

    python -m tests.fakes.honua_sim --port 9091 --fault llm-rate-limit --rate 5

Knobs (Python API or ``POST /_sim/...``): the fault (failure mix by error
message), each LLM provider's health (ok, rate_limit, down, unauthorized), stuck,
slow and runaway processes, Redis unreachable, cancellation that hangs.
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
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

# fault → {errorMessage: share of processes that fail with it}
FAULTS: dict[str, dict[str, float]] = {
    "none": {"Timeout exceeded": 0.02},
    "llm-rate-limit": {"429 Too Many Requests": 0.4, "Timeout exceeded": 0.02},
    "redis": {"Redis connection failed: redis-0.redis:6379": 0.6},
    "config": {"Invalid configuration: ProcessFramework.MaxConcurrentProcesses": 0.5},
    "timeout": {"Timeout exceeded": 0.3},
    "database": {"Npgsql.NpgsqlException: Failed to connect to postgres:5432": 0.5},
}
LLM_ERRORS = {
    "rate_limit": "429 Too Many Requests",
    "down": "503 Service Unavailable",
    "unauthorized": "401 Unauthorized",
}
PROCESS_TYPES = ("DeploymentProcess", "UpgradeProcess", "MetadataProcess")
STEPS = (
    "Initialize",
    "ValidateInput",
    "GenerateInfrastructure",
    "DeployInfrastructure",
    "Finalize",
)
_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _parse(t: str) -> datetime:
    return datetime.fromisoformat(t.replace("Z", "+00:00"))


class Simulator:
    def __init__(
        self,
        fault: str = "none",
        rate: float = 5.0,
        seed: int | None = None,
        redis_url: str | None = None,
    ) -> None:
        self.fault = fault
        self.rate = rate
        self.random = random.Random(seed)
        self.redis_url = redis_url
        self.redis: Any = None
        self.redis_reachable = True
        self.process_ttl = 86400
        self.providers = {"openai": "ok", "azure": "ok"}
        self.primary_provider = "openai"
        self.cancel_delay = 0.5  # seconds from Cancelling to Cancelled
        self.cancel_hangs = False  # graceful cancel never completes (force needed)
        self.cancel_requests: list[tuple[str, bool]] = []  # (process id, force) as asked
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
        self.duration = Gauge(
            "honua_process_duration_seconds",
            "Average duration of recent processes",
            ["process_type"],
            registry=r,
        )
        self.active = Gauge("honua_active_processes", "Processes running", registry=r)
        self._durations: dict[str, list[float]] = {t: [] for t in PROCESS_TYPES}
        for t in PROCESS_TYPES:  # series exist from the first scrape, as in production
            self.started.labels(t)
            self.failures.labels(t)
        for provider in self.providers:
            for kind in ("rate_limit", "server_error", "authentication"):
                self.llm_errors.labels(provider, kind)

    # state -----------------------------------------------------------------
    async def persist(self, proc: dict[str, Any]) -> None:
        if self.redis is None or not self.redis_reachable:
            return
        await self.redis.set(
            f"honua:process:{proc['processId']}", json.dumps(proc), ex=self.process_ttl
        )

    def _touch(self, proc: dict[str, Any]) -> None:
        if self.redis is not None:
            asyncio.get_running_loop().create_task(self.persist(proc))

    def start_process(
        self, process_type: str | None = None, payload: Any = None, user: str = "alice@example.com"
    ) -> dict[str, Any]:
        pid = str(uuid.uuid4())
        ptype = process_type or self.random.choice(PROCESS_TYPES)
        now = _iso(_now())
        proc = {
            "processId": pid,
            "processType": ptype,
            "status": "Running",
            "errorMessage": None,
            "user": user,
            "startTime": now,
            "completedAt": None,
            "currentStep": STEPS[0],
            "completionPercentage": 0,
            "lastProgressAt": now,
            "createdResources": [],
            "cleanedUp": False,
            "input": payload
            if payload is not None
            else {"target": f"env-{self.random.randint(1, 9)}"},
        }
        self.processes[pid] = proc
        self.started.labels(ptype).inc()
        self.active.set(self._running())
        return proc

    def _running(self) -> int:
        return sum(1 for p in self.processes.values() if p["status"] in ("Running", "Cancelling"))

    def _outcome(self) -> str | None:
        """The error a finishing process fails with, or None for success."""
        provider_state = self.providers.get(self.primary_provider, "ok")
        if provider_state != "ok" and self.random.random() < 0.5:
            kind = {
                "rate_limit": "rate_limit",
                "down": "server_error",
                "unauthorized": "authentication",
            }
            self.llm_errors.labels(self.primary_provider, kind[provider_state]).inc()
            return LLM_ERRORS[provider_state]
        if not self.redis_reachable and self.random.random() < 0.6:
            return "Redis connection failed: redis-0.redis:6379"
        roll = self.random.random()
        for message, share in FAULTS.get(self.fault, FAULTS["none"]).items():
            if roll < share:
                if message.startswith("429"):
                    self.llm_errors.labels(self.primary_provider, "rate_limit").inc()
                return message
            roll -= share
        return None

    def finish_process(self, pid: str) -> None:
        proc = self.processes.get(pid)
        if proc is None or proc["status"] != "Running":
            return
        now = _now()
        error = self._outcome()
        proc.update(
            status="Failed" if error else "Completed",
            errorMessage=error,
            completedAt=_iso(now),
            lastProgressAt=_iso(now),
        )
        if error:
            self.failures.labels(proc["processType"]).inc()
        else:
            proc.update(currentStep=STEPS[-1], completionPercentage=100)
        recent = self._durations[proc["processType"]]
        recent.append((now - _parse(proc["startTime"])).total_seconds())
        del recent[:-50]
        self.duration.labels(proc["processType"]).set(sum(recent) / len(recent))
        self.active.set(self._running())
        self._touch(proc)

    def seed_history(self, count: int) -> None:
        """Processes that already ran, so the API has a history from the start."""
        for _ in range(count):
            self.finish_process(self.start_process()["processId"])

    def add_processes(
        self,
        state: str,
        count: int = 1,
        age_minutes: float = 90,
        process_type: str = "DeploymentProcess",
    ) -> list[dict[str, Any]]:
        """Long-running processes: ``stuck`` (no progress since it started),
        ``slow`` (old but progressing), ``runaway`` (creating resources)."""
        made = []
        for _ in range(count):
            proc = self.start_process(process_type)
            started = _now() - timedelta(minutes=age_minutes)
            proc["startTime"] = _iso(started)
            proc["currentStep"] = "GenerateInfrastructure"
            proc["completionPercentage"] = 45
            proc["lastProgressAt"] = _iso(started if state == "stuck" else _now())
            if state == "runaway":
                proc["currentStep"] = "DeployInfrastructure"
                proc["createdResources"] = [f"vpc-{i:03d}" for i in range(3)] + ["subnet-456"]
            proc["simState"] = state
            made.append(proc)
        return made

    # process API -----------------------------------------------------------
    def list(self, status: str | None, since: str | None) -> list[dict[str, Any]]:
        cutoff = None
        if since:
            m = _DURATION.match(since)
            if not m:
                raise web.HTTPBadRequest(text=json.dumps({"error": f"bad since {since!r}"}))
            cutoff = _now() - timedelta(seconds=int(m[1]) * _UNITS[m[2]])
        out = []
        for proc in self.processes.values():
            self._advance(proc)
            if status and proc["status"] != status:
                continue
            if cutoff and _parse(proc["completedAt"] or proc["startTime"]) < cutoff:
                continue
            out.append(self.public(proc))
        return out

    def _advance(self, proc: dict[str, Any]) -> None:
        """Slow processes progress and runaway ones keep creating, whenever looked at."""
        state = proc.get("simState")
        if proc["status"] != "Running":
            return
        if state == "slow" and proc["completionPercentage"] < 95:
            proc["completionPercentage"] += 1
            proc["lastProgressAt"] = _iso(_now())
        elif state == "runaway":
            proc["createdResources"].append(f"vpc-{len(proc['createdResources']):03d}")

    @staticmethod
    def public(proc: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in proc.items() if k != "simState"}

    def cancel(self, pid: str, force: bool) -> dict[str, Any]:
        proc = self.processes[pid]
        self.cancel_requests.append((pid, force))
        if proc["status"] not in ("Running", "Cancelling", "Pending"):
            raise web.HTTPConflict(text=json.dumps({"error": f"process is {proc['status']}"}))
        if force:
            proc.update(status="Cancelled", completedAt=_iso(_now()))
        else:
            proc["status"] = "Cancelling"
            if not self.cancel_hangs:
                asyncio.get_running_loop().call_later(self.cancel_delay, self._cancelled, pid)
        self.active.set(self._running())
        self._touch(proc)
        return proc

    def _cancelled(self, pid: str) -> None:
        proc = self.processes.get(pid)
        if proc and proc["status"] == "Cancelling":
            proc.update(status="Cancelled", completedAt=_iso(_now()))
            self.active.set(self._running())
            self._touch(proc)

    def retry(self, pid: str, current_step_only: bool) -> dict[str, Any]:
        proc = self.processes[pid]
        if current_step_only:
            if proc["status"] != "Running":
                raise web.HTTPConflict(
                    text=json.dumps({"error": "retry-current-step needs a Running process"})
                )
            proc["lastProgressAt"] = _iso(_now())
            proc["simState"] = "slow"
        else:
            if proc["status"] not in ("Failed", "Cancelled"):
                raise web.HTTPConflict(
                    text=json.dumps({"error": f"cannot retry a {proc['status']} process"})
                )
            proc.update(
                status="Running", errorMessage=None, completedAt=None, lastProgressAt=_iso(_now())
            )
            proc.pop("simState", None)
            asyncio.get_running_loop().call_later(0.5, self.finish_process, pid)
        self._touch(proc)
        return proc

    async def run(self) -> None:
        while True:
            pid = self.start_process()["processId"]
            asyncio.get_running_loop().call_later(
                self.random.uniform(0.2, 1.0), self.finish_process, pid
            )
            await asyncio.sleep(1.0 / self.rate if self.rate > 0 else 1.0)


SIM = web.AppKey("sim", Simulator)


def _proc(request: web.Request) -> dict[str, Any]:
    proc = request.app[SIM].processes.get(request.match_info["id"])
    if proc is None:
        raise web.HTTPNotFound(
            text=json.dumps({"error": "process not found"}), content_type="application/json"
        )
    return proc


async def list_processes(request: web.Request) -> web.Response:
    return web.json_response(
        request.app[SIM].list(request.query.get("status"), request.query.get("since"))
    )


async def get_process(request: web.Request) -> web.Response:
    proc = _proc(request)
    request.app[SIM]._advance(proc)
    return web.json_response(Simulator.public(proc))


async def create_process(request: web.Request) -> web.Response:
    """Runbook 2, Option 1: ``POST /api/processes {processType, input}``."""
    try:
        body = await request.json()
    except ValueError:
        return web.json_response({"error": "body is not JSON"}, status=400)
    if not isinstance(body, dict) or not isinstance(body.get("processType", ""), str):
        return web.json_response({"error": "expected {processType, input}"}, status=400)
    sim = request.app[SIM]
    proc = sim.start_process(body.get("processType"), body.get("input"))
    asyncio.get_running_loop().call_later(0.5, sim.finish_process, proc["processId"])
    await sim.persist(proc)
    return web.json_response(Simulator.public(proc), status=201)


async def cancel(request: web.Request) -> web.Response:
    proc = request.app[SIM].cancel(
        _proc(request)["processId"], request.query.get("force") == "true"
    )
    return web.json_response(Simulator.public(proc))


async def retry(request: web.Request) -> web.Response:
    current = request.path.endswith("retry-current-step")
    return web.json_response(
        Simulator.public(request.app[SIM].retry(_proc(request)["processId"], current))
    )


async def mark_cleaned_up(request: web.Request) -> web.Response:
    proc = _proc(request)
    if proc["status"] not in ("Cancelled", "Failed"):
        return web.json_response({"error": f"process is {proc['status']}"}, status=409)
    proc["cleanedUp"] = True
    request.app[SIM]._touch(proc)
    return web.json_response(Simulator.public(proc))


async def health(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    checks = {
        "redis": "Healthy" if sim.redis_reachable else "Unhealthy",
        "database": "Unhealthy" if sim.fault == "database" else "Healthy",
        "llm": "Healthy" if sim.providers[sim.primary_provider] == "ok" else "Degraded",
    }
    healthy = all(v == "Healthy" for v in checks.values())
    return web.json_response(
        {"status": "Healthy" if healthy else "Unhealthy", "checks": checks},
        status=200 if healthy else 503,
    )


async def metrics(request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(request.app[SIM].registry), content_type="text/plain")


async def sim_admin(request: web.Request) -> web.Response:
    """``POST /_sim/{knob}``: fault, llm, redis, processes, cancel."""
    sim, knob = request.app[SIM], request.match_info["knob"]
    body = await request.json() if request.can_read_body else {}
    if knob == "fault" and body.get("fault") in FAULTS:
        sim.fault = body["fault"]
    elif knob == "llm" and body.get("provider") in sim.providers:
        sim.providers[body["provider"]] = body.get("mode", "ok")
        sim.primary_provider = body.get("primary", sim.primary_provider)
    elif knob == "redis":
        sim.redis_reachable = bool(body.get("reachable", True))
    elif knob == "processes":
        made = sim.add_processes(
            body.get("state", "stuck"),
            int(body.get("count", 1)),
            float(body.get("age_minutes", 90)),
            body.get("processType", "DeploymentProcess"),
        )
        return web.json_response([Simulator.public(p) for p in made])
    elif knob == "cancel":
        sim.cancel_hangs = bool(body.get("hangs", False))
        sim.cancel_delay = float(body.get("delay", sim.cancel_delay))
    else:
        return web.json_response(
            {"error": f"bad knob or value: {knob} {body}", "faults": list(FAULTS)}, status=400
        )
    return web.json_response({"ok": True})


def create_app(sim: Simulator, traffic: bool = True) -> web.Application:
    app = web.Application()
    app[SIM] = sim
    app.router.add_get("/api/processes", list_processes)
    app.router.add_post("/api/processes", create_process)
    app.router.add_get("/api/processes/{id}", get_process)
    app.router.add_post("/api/processes/{id}/cancel", cancel)
    app.router.add_post("/api/processes/{id}/retry", retry)
    app.router.add_post("/api/processes/{id}/retry-current-step", retry)
    app.router.add_post("/api/processes/{id}/mark-cleaned-up", mark_cleaned_up)
    app.router.add_get("/health", health)
    app.router.add_get("/metrics", metrics)
    app.router.add_post("/_sim/{knob}", sim_admin)

    async def _lifecycle(app: web.Application) -> Any:
        if sim.redis_url:
            import redis.asyncio as aioredis

            sim.redis = aioredis.Redis.from_url(sim.redis_url)
            for proc in sim.processes.values():
                await sim.persist(proc)
        task = asyncio.create_task(sim.run()) if traffic else None
        yield
        if task:
            task.cancel()
        if sim.redis is not None:
            await sim.redis.aclose()

    app.cleanup_ctx.append(_lifecycle)
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
    parser.add_argument("--redis-url", help="keep process state in this Redis (honua:process:{id})")
    parser.add_argument("--seed", type=int)
    args = parser.parse_args()
    sim = Simulator(args.fault, args.rate, args.seed, args.redis_url)
    sim.seed_history(args.history)
    web.run_app(create_app(sim), host=args.host, port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
