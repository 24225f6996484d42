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

With a Redis URL the simulator also notices by itself when that Redis stops
answering (writes fail, a PING every half second) and when it is back, as the
framework's connection multiplexer does. A timeout sweep every second counts
each Running process past ``ProcessTimeouts.<type>`` in
``honua_process_timeout_total`` (a stuck process is counted at every sweep until
it is cancelled). With ``kube_url`` the simulator plays the deployment's pods in
the Kubernetes fake and reloads process-config when it rolls (see
``tests/fakes/honua_config.py``); ``llm_quota`` then makes the ``llm-rate-limit``
fault depend on MaxConcurrentProcesses.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from aiohttp import web
from prometheus_client import generate_latest

from tests.fakes.honua_config import watch_deployment
from tests.fakes.honua_model import (
    DEFAULT_MAX_CONCURRENT,
    DEFAULT_TIMEOUTS,
    FAULTS,
    LLM_ERRORS,
    PROCESS_TYPES,
    STEPS,
    Simulator,
)

__all__ = [
    "DEFAULT_MAX_CONCURRENT",
    "DEFAULT_TIMEOUTS",
    "FAULTS",
    "LLM_ERRORS",
    "PROCESS_TYPES",
    "STEPS",
    "Simulator",
    "create_app",
    "main",
]

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
        "redis": "Healthy" if sim.redis_available else "Unhealthy",
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
        for proc in made:
            await sim.persist(proc)
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
        tasks = [asyncio.create_task(sim.run_sweeps())]
        if sim.redis_url:
            import redis.asyncio as aioredis

            sim.loop = asyncio.get_running_loop()
            sim.redis = aioredis.Redis.from_url(
                sim.redis_url, socket_timeout=1, socket_connect_timeout=1
            )
            for proc in sim.processes.values():
                await sim.persist(proc)
            tasks.append(asyncio.create_task(sim.watch_redis()))
        if sim.kube_url:
            tasks.append(asyncio.create_task(watch_deployment(sim, sim.kube_url)))
        if traffic:
            tasks.append(asyncio.create_task(sim.run()))
        yield
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        client, sim.redis = sim.redis, None  # no new writes from here on
        await sim.drain_persists()
        if client is not None:
            await client.aclose()
        sim.loop = None

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
    parser.add_argument(
        "--kube-url", help="play the deployment's pods in this Kubernetes API (process-config)"
    )
    parser.add_argument(
        "--llm-quota",
        type=int,
        help="concurrency the LLM provider accepts: llm-rate-limit 429s only above it",
    )
    parser.add_argument("--seed", type=int)
    args = parser.parse_args()
    sim = Simulator(args.fault, args.rate, args.seed, args.redis_url, args.kube_url, args.llm_quota)
    sim.seed_history(args.history)
    web.run_app(create_app(sim), host=args.host, port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
