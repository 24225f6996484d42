"""The Honua simulator's state and behaviour (processes, faults, metrics, Redis
state, the timeout sweep); ``tests/fakes/honua_sim.py`` serves it over HTTP and
documents the whole simulator."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge
from redis.exceptions import RedisError

from tests.fakes.honua_config import AppSettings

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
# process-config's defaults (tests/fakes/kube_api/seed.py), minutes
DEFAULT_TIMEOUTS = {"DeploymentProcess": 60.0, "UpgradeProcess": 90.0, "MetadataProcess": 15.0}
DEFAULT_MAX_CONCURRENT = 20
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
        kube_url: str | None = None,
        llm_quota: int | None = None,
    ) -> None:
        self.fault = fault
        self.rate = rate
        self.random = random.Random(seed)
        self.redis_url = redis_url
        self.redis: Any = None
        self.redis_reachable = True  # the knob: False makes Redis unreachable on purpose
        self.redis_up = True  # observed: the last write or PING to redis_url worked
        self.kube_url = kube_url
        # concurrent requests the LLM provider accepts before answering 429 (None: the
        # llm-rate-limit fault throttles whatever the concurrency)
        self.llm_quota = llm_quota
        self.max_concurrent = DEFAULT_MAX_CONCURRENT
        self.timeouts = dict(DEFAULT_TIMEOUTS)
        self.config_loads = 0  # how often the pods (re)loaded process-config
        self.process_ttl = 86400
        self.providers = {"openai": "ok", "azure": "ok"}
        self.primary_provider = "openai"
        self.cancel_delay = 0.5  # seconds from Cancelling to Cancelled
        self.cancel_hangs = False  # graceful cancel never completes (force needed)
        self.persisting: set[asyncio.Task[None]] = set()  # on ``loop`` only
        self.loop: asyncio.AbstractEventLoop | None = None  # the one ``redis`` belongs to
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
        self.timed_out = Counter(
            "honua_process_timeout",
            "Running processes found past their ProcessTimeouts, per sweep",
            ["process_type"],
            registry=r,
        )
        self._durations: dict[str, list[float]] = {t: [] for t in PROCESS_TYPES}
        for t in PROCESS_TYPES:  # series exist from the first scrape, as in production
            self.started.labels(t)
            self.failures.labels(t)
            self.timed_out.labels(t)
        for provider in self.providers:
            for kind in ("rate_limit", "server_error", "authentication"):
                self.llm_errors.labels(provider, kind)

    # state -----------------------------------------------------------------
    @property
    def redis_available(self) -> bool:
        return self.redis_reachable and self.redis_up

    async def persist(self, proc: dict[str, Any]) -> None:
        if self.redis is None or not self.redis_reachable:
            return
        try:
            await self.redis.set(
                f"honua:process:{proc['processId']}", json.dumps(proc), ex=self.process_ttl
            )
        except (RedisError, OSError):
            self.redis_up = False  # the next PING tells when it is back

    async def watch_redis(self, interval: float = 0.5) -> None:
        while True:
            try:
                self.redis_up = bool(await self.redis.ping())
            except (RedisError, OSError):
                self.redis_up = False
            await asyncio.sleep(interval)

    def apply_settings(self, settings: AppSettings) -> None:
        """What the pods load from process-config at (re)start."""
        if settings.max_concurrent is not None:
            self.max_concurrent = settings.max_concurrent
        if settings.provider in self.providers:
            self.primary_provider = settings.provider
        self.timeouts.update(settings.timeouts)
        self.config_loads += 1

    def sweep_timeouts(self) -> None:
        """Count every Running process past its type's timeout (once per sweep)."""
        now = _now()
        for proc in list(self.processes.values()):
            limit = self.timeouts.get(proc["processType"])
            if proc["status"] != "Running" or limit is None:
                continue
            if (now - _parse(proc["startTime"])).total_seconds() > limit * 60:
                self.timed_out.labels(proc["processType"]).inc()

    async def run_sweeps(self, interval: float = 1.0) -> None:
        while True:
            self.sweep_timeouts()
            await asyncio.sleep(interval)

    def _touch(self, proc: dict[str, Any]) -> None:
        """Write ``proc`` to Redis soon, on the simulator's own loop (the one its
        Redis client belongs to). Tests change processes from their own loop,
        in another thread: a task made there used the client across loops and,
        left pending when the test's loop closed, its coroutine was never
        awaited (a RuntimeWarning in the degraded-mode and e2e tests)."""
        loop = self.loop
        if self.redis is None or loop is None or loop.is_closed():
            return
        try:
            here = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        if here is loop:
            self._persist_soon(proc)
        else:
            with contextlib.suppress(RuntimeError):  # closed meanwhile: nothing to write
                loop.call_soon_threadsafe(self._persist_soon, proc)

    def _persist_soon(self, proc: dict[str, Any]) -> None:
        if self.redis is None:  # shutting down: the persists were drained already
            return
        # kept, and awaited at shutdown: the coroutine is only made here, on the loop
        task = asyncio.get_running_loop().create_task(self.persist(proc))
        self.persisting.add(task)
        task.add_done_callback(self.persisting.discard)

    async def drain_persists(self) -> None:
        for task in list(self.persisting):
            task.cancel()
        await asyncio.gather(*self.persisting, return_exceptions=True)

    def start_process(
        self, process_type: str | None = None, payload: Any = None, user: str = "alice@example.com"
    ) -> dict[str, Any]:
        pid = str(uuid.uuid4())
        ptype = process_type or self.random.choice(PROCESS_TYPES)
        now = _iso(_now())
        proc: dict[str, Any] = {
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
        if not self.redis_available and self.random.random() < 0.6:
            return "Redis connection failed: redis-0.redis:6379"
        roll = self.random.random()
        for message, share in self._fault_mix().items():
            if roll < share:
                if message.startswith("429"):
                    self.llm_errors.labels(self.primary_provider, "rate_limit").inc()
                return message
            roll -= share
        return None

    def _fault_mix(self) -> dict[str, float]:
        mix = FAULTS.get(self.fault, FAULTS["none"])
        if self.llm_quota is not None and self.max_concurrent <= self.llm_quota:
            # the provider keeps up with this concurrency: no 429s
            mix = {m: share for m, share in mix.items() if not m.startswith("429")}
        return mix

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
            proc = self.start_process()
            self._touch(proc)  # the framework writes a process's state when it starts it
            asyncio.get_running_loop().call_later(
                self.random.uniform(0.2, 1.0), self.finish_process, proc["processId"]
            )
            await asyncio.sleep(1.0 / self.rate if self.rate > 0 else 1.0)
