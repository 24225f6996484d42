"""Webhook intake benchmark: `POST /alerts` of the real bot (Redis store) against a
trivial aiohttp JSON handler, measured in the same run on the same machine.

    python bench/intake.py [--seconds 10] [--connections 32] [--redis-url URL]

Both servers run as their own processes on free loopback ports and are driven in
turn, never at once, with the same ~1.3 KB Alertmanager payload by `wrk` (or, when
wrk is not installed, by an aiohttp client load generator in a separate process).
With --rounds N they alternate N times and medians are reported, which evens out a
noisy neighbour on a shared machine. It prints throughput and latency for both,
the ratio bot/trivial, and PASS/FAIL against the targets of issue 2 item 15: ratio
>= 0.5 and p99 < 25 ms at 32 connections. Every request must succeed: non-2xx
answers and socket errors are counted, printed, and fail the run.

The bot runs as `honua-bot serve` with HONUA_BOT_REDIS_URL on a database of its
own (default redis://127.0.0.1:6379/14), emptied before and after, and one worker
consuming the stream as in production.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
TARGET_RATIO = 0.5
TARGET_P99_MS = 25.0
DEFAULT_REDIS = "redis://127.0.0.1:6379/14"


# --- the payload -------------------------------------------------------------------


def payload() -> bytes:
    """An Alertmanager v4 webhook of about 1.3 KB, as Alertmanager 0.25 sends it."""
    labels = {
        "alertname": "HighProcessFailureRate",
        "namespace": "honua-process-framework",
        "severity": "critical",
        "service": "honua-process-framework",
        "job": "honua-process-framework",
        "instance": "10.42.3.17:8080",
        "pod": "honua-process-framework-7d9f8b6c5d-x2kqp",
    }
    body = {
        "receiver": "honua-bot",
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": labels,
                "annotations": {
                    "summary": "Process failure rate above 10%",
                    "description": "More than 10% of processes failed over the last 5 minutes.",
                    "runbook_url": "https://runbooks.example/honua/high-process-failure-rate",
                },
                "startsAt": "2026-11-27T03:00:00.000Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus-0:9090/graph?g0.expr=rate%28honua_process_failures_total%5B5m%5D%29+%2F+rate%28honua_process_started_total%5B5m%5D%29+%2A+100+%3E+10&g0.tab=1",
                "fingerprint": "4a7c1e0f9b2d3c11",
            }
        ],
        "groupLabels": {"alertname": "HighProcessFailureRate"},
        "commonLabels": labels,
        "commonAnnotations": {"summary": "Process failure rate above 10%"},
        "externalURL": "http://alertmanager-0:9093",
        "version": "4",
        "groupKey": '{}/{namespace="honua-process-framework"}:{alertname="HighProcessFailureRate"}',
        "truncatedAlerts": 0,
    }
    return json.dumps(body, separators=(",", ":")).encode()


# --- servers ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_trivial(port: int) -> None:
    """The baseline: parse the JSON body, answer JSON. No validation, no I/O."""
    from aiohttp import web

    async def handle(request: web.Request) -> web.Response:
        data = await request.json()
        return web.json_response({"status": "ok", "alerts": len(data.get("alerts", ()))})

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_post("/alerts", handle)
    app.router.add_get("/healthz", healthz)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None, backlog=1024)


@dataclass
class Server:
    name: str
    argv: list[str]
    env: dict[str, str]
    port: int
    ready_path: str
    proc: subprocess.Popen[bytes] | None = None
    log: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, logdir: Path) -> None:
        self.log = (logdir / f"{self.name}.log").open("wb")
        self.proc = subprocess.Popen(
            self.argv, env=self.env, cwd=REPO, stdout=self.log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited {self.proc.returncode}: {self.tail()}")
            if http_get(self.url + self.ready_path)[0] == 200:
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready within 30 s: {self.tail()}")

    def tail(self) -> str:
        if self.log is None:
            return ""
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-2000:]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.log is not None:
            self.log.close()


def http_get(url: str, timeout: float = 2.0) -> tuple[int, str]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")
    except OSError:
        return 0, ""


def honua_bot() -> list[str]:
    script = Path(sys.executable).with_name("honua-bot")
    if script.exists():
        return [str(script)]
    found = shutil.which("honua-bot")
    return [found] if found else [sys.executable, "-m", "bot.cli"]


# --- load generators -------------------------------------------------------------------

WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = io.open(os.getenv("BENCH_PAYLOAD"), "rb"):read("*a")

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\nBENCH {"requests":%d,"duration_us":%d,"bytes":%d,"non2xx":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"timeout":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%f}\\n',
    summary.requests, summary.duration, summary.bytes, e.status,
    e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
"""


@dataclass
class Result:
    name: str
    requests: int
    seconds: float
    non2xx: int
    socket_errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    tool: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def run_wrk(
    name: str, url: str, seconds: float, connections: int, threads: int, workdir: Path
) -> Result:
    body = workdir / "payload.json"
    body.write_bytes(payload())
    script = workdir / "post.lua"
    script.write_text(WRK_SCRIPT)
    argv = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "5s",
        "--latency",
        "-s",
        str(script),
        url + "/alerts",
    ]
    out = subprocess.run(
        argv,
        env={**os.environ, "BENCH_PAYLOAD": str(body)},
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=False,
    )
    line = next((x for x in out.stdout.splitlines() if x.startswith("BENCH ")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stdout}\n{out.stderr}")
    data = json.loads(line.removeprefix("BENCH "))
    return Result(
        name=name,
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        non2xx=data["non2xx"],
        socket_errors=data["connect"] + data["read"] + data["write"] + data["timeout"],
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        tool=f"wrk -t{threads} -c{connections}",
        extra={"wrk_output": out.stdout},
    )


def python_loadgen(url: str, seconds: float, connections: int) -> dict[str, Any]:
    """Fallback generator (run in its own process): `connections` keep-alive
    connections, each posting back to back, timing every request."""
    import asyncio

    import aiohttp

    body = payload()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0

    async def one(session: aiohttp.ClientSession, stop_at: float) -> None:
        nonlocal errors
        headers = {"Content-Type": "application/json"}
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            try:
                async with session.post(url + "/alerts", data=body, headers=headers) as resp:
                    await resp.read()
                    statuses[resp.status] = statuses.get(resp.status, 0) + 1
            except (aiohttp.ClientError, TimeoutError):
                errors += 1
                continue
            latencies.append(time.perf_counter() - t0)

    async def main() -> float:
        connector = aiohttp.TCPConnector(limit=connections)
        timeout = aiohttp.ClientTimeout(total=5)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            started = time.perf_counter()
            stop_at = started + seconds
            await asyncio.gather(*(one(session, stop_at) for _ in range(connections)))
            return time.perf_counter() - started

    elapsed = asyncio.run(main())
    latencies.sort()

    def pct(p: float) -> float:
        if not latencies:
            return 0.0
        return latencies[min(len(latencies) - 1, int(len(latencies) * p / 100))] * 1000

    return {
        "requests": sum(statuses.values()),
        "seconds": elapsed,
        "non2xx": sum(n for s, n in statuses.items() if not 200 <= s < 300),
        "errors": errors,
        "p50": pct(50),
        "p90": pct(90),
        "p99": pct(99),
        "max": latencies[-1] * 1000 if latencies else 0.0,
    }


def run_python(name: str, url: str, seconds: float, connections: int) -> Result:
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--loadgen-worker",
            url,
            "--seconds",
            str(seconds),
            "--connections",
            str(connections),
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"load generator failed: {out.stderr}")
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return Result(
        name=name,
        requests=data["requests"],
        seconds=data["seconds"],
        non2xx=data["non2xx"],
        socket_errors=data["errors"],
        p50_ms=data["p50"],
        p90_ms=data["p90"],
        p99_ms=data["p99"],
        max_ms=data["max"],
        tool=f"python aiohttp client -c{connections} (fallback: client-bound, compare with care)",
    )


# --- orchestration -------------------------------------------------------------------


def flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


def bot_metric(url: str, name: str) -> float | None:
    status, text = http_get(url + "/metrics", timeout=5)
    if status != 200:
        return None
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return None


def drop_backlog(url: str) -> None:
    """Empty the bot's stream (key and consumer group stay). Under load intake
    outruns the single worker; left alone, the worker would drain that backlog
    while the *other* server is measured and steal its CPU."""
    import redis

    from bot.store.redis import STREAM

    client = redis.Redis.from_url(url)
    try:
        client.xtrim(STREAM, maxlen=0, approximate=False)
    finally:
        client.close()


def load(server: Server, seconds: float, args: argparse.Namespace, workdir: Path) -> Result:
    try:
        if args.loadgen_tool == "wrk":
            return run_wrk(
                server.name, server.url, seconds, args.connections, args.threads, workdir
            )
        return run_python(server.name, server.url, seconds, args.connections)
    finally:
        if server.name == "bot":
            drop_backlog(args.redis_url)


def median(results: list[Result]) -> Result:
    """Per-metric medians over rounds; counts of failures are summed, never hidden."""

    def mid(values: list[float]) -> float:
        return statistics.median(values)

    first = results[0]
    return Result(
        name=first.name,
        requests=sum(r.requests for r in results),
        seconds=sum(r.seconds for r in results),
        non2xx=sum(r.non2xx for r in results),
        socket_errors=sum(r.socket_errors for r in results),
        p50_ms=mid([r.p50_ms for r in results]),
        p90_ms=mid([r.p90_ms for r in results]),
        p99_ms=mid([r.p99_ms for r in results]),
        max_ms=max(r.max_ms for r in results),
        tool=first.tool,
        extra={"rps_median": mid([r.rps for r in results])},
    )


def measure_all(
    servers: list[Server], args: argparse.Namespace, workdir: Path
) -> list[list[Result]]:
    """Start every server, warm each up, then drive them in turn for each round
    (alternating, so a noisy neighbour on a shared machine hits both alike)."""
    rounds: list[list[Result]] = [[] for _ in servers]
    try:
        for server in servers:
            server.start(workdir)
        for server in servers:
            if args.warmup > 0:
                load(server, args.warmup, args, workdir)
        for n in range(args.rounds):
            for i, server in enumerate(servers):
                result = load(server, args.seconds, args, workdir)
                rounds[i].append(result)
                if args.verbose:
                    print(
                        f"round {n + 1} {server.name:<8} {result.rps:>9,.0f} req/s  "
                        f"p99 {result.p99_ms:.2f} ms"
                    )
                    if "wrk_output" in result.extra:
                        print(result.extra["wrk_output"].split("\nBENCH ")[0].rstrip())
        bot = servers[-1]
        rounds[-1][-1].extra["received"] = bot_metric(
            bot.url, 'honua_bot_notifications_received_total{status="firing"}'
        )
    finally:
        for server in servers:
            server.stop()
    return rounds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured duration per server")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured run first (s)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument(
        "--rounds", type=int, default=1, help="alternate the servers this many times; medians"
    )
    parser.add_argument("--redis-url", default=DEFAULT_REDIS, help="emptied before and after")
    parser.add_argument("--loadgen", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--verbose", "-v", action="store_true", help="print wrk's own report")
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    parser.add_argument("--serve-trivial", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--loadgen-worker", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.serve_trivial:
        serve_trivial(args.serve_trivial)
        return 0
    if args.loadgen_worker:
        print(json.dumps(python_loadgen(args.loadgen_worker, args.seconds, args.connections)))
        return 0

    wrk = shutil.which("wrk")
    use_wrk = args.loadgen == "wrk" or (args.loadgen == "auto" and wrk is not None)
    if use_wrk and wrk is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    args.loadgen_tool = "wrk" if use_wrk else "python"

    body = payload()
    print(
        f"payload {len(body)} bytes, {args.connections} connections, {args.seconds:g} s per "
        f"server x {args.rounds} round(s) (+{args.warmup:g} s warm-up), "
        f"cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.2f}"
    )

    with tempfile.TemporaryDirectory(prefix="honua-bench-") as tmp:
        workdir = Path(tmp)
        trivial_port = free_port()
        trivial = Server(
            "trivial",
            [sys.executable, __file__, "--serve-trivial", str(trivial_port)],
            dict(os.environ),
            trivial_port,
            "/healthz",
        )
        bot_port = free_port()
        bot_env = {
            **os.environ,
            "HONUA_BOT_HOST": "127.0.0.1",
            "HONUA_BOT_PORT": str(bot_port),
            "HONUA_BOT_REDIS_URL": args.redis_url,
            "HONUA_BOT_WORKERS": "1",
            "HONUA_BOT_RULES": str(REPO / "rules"),
            "HONUA_BOT_LOG_LEVEL": "warning",
        }
        bot_env.pop("HONUA_BOT_WEBHOOK_TOKEN", None)
        bot = Server("bot", [*honua_bot(), "serve"], bot_env, bot_port, "/readyz")

        flush_redis(args.redis_url)
        try:
            rounds = measure_all([trivial, bot], args, workdir)
        finally:
            flush_redis(args.redis_url)

    results = [median(r) for r in rounds]
    received = rounds[-1][-1].extra.get("received")
    base, got = results
    ratio = got.extra["rps_median"] / base.extra["rps_median"] if base.requests else 0.0
    print()
    print(
        f"load generator: {base.tool}"
        + (f"; medians of {args.rounds} rounds" if args.rounds > 1 else "")
    )
    header = (
        f"{'server':<9}{'req/s':>10}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}"
        f"{'requests':>11}{'non-2xx':>9}{'sock err':>9}"
    )
    print(header)
    for r in results:
        print(
            f"{r.name:<9}{r.extra['rps_median']:>10,.0f}{r.p50_ms:>9.2f}{r.p90_ms:>9.2f}{r.p99_ms:>9.2f}"
            f"{r.max_ms:>9.2f}{r.requests:>11,}{r.non2xx:>9}{r.socket_errors:>9}"
        )
    if received is not None:
        print(
            f"bot counted {received:,.0f} notifications received (load generator: "
            f"{got.requests:,} completed, plus the warm-up and requests in flight at the end)"
        )

    checks = [
        (f"ratio bot/trivial {ratio:.2f} >= {TARGET_RATIO}", ratio >= TARGET_RATIO),
        (f"bot p99 {got.p99_ms:.2f} ms < {TARGET_P99_MS:g} ms", got.p99_ms < TARGET_P99_MS),
        (
            f"every request succeeded (non-2xx {base.non2xx + got.non2xx}, "
            f"socket errors {base.socket_errors + got.socket_errors})",
            all(r.non2xx == 0 and r.socket_errors == 0 for r in results),
        ),
    ]
    for text, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
    passed = all(ok for _, ok in checks)
    print("PASS" if passed else "FAIL")
    if args.json:
        print(
            json.dumps(
                {
                    "results": [
                        {
                            "server": r.name,
                            "rps": round(r.extra["rps_median"], 1),
                            "p50_ms": r.p50_ms,
                            "p90_ms": r.p90_ms,
                            "p99_ms": r.p99_ms,
                            "max_ms": r.max_ms,
                            "requests": r.requests,
                            "non2xx": r.non2xx,
                            "socket_errors": r.socket_errors,
                        }
                        for r in results
                    ],
                    "ratio": round(ratio, 3),
                    "pass": passed,
                }
            )
        )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
