"""The monitored Redis as pod ``redis-0`` of the Kubernetes fake.

:class:`TargetRedis` is a private redis-server with an append-only file, as the
fake's statefulset runs it (``--appendonly yes``), so a crash and a restart on the
same port keep the data, as a pod restart with its PVC does. :class:`RedisPodBridge`
plays the kubelet for that one pod: when ``redis-0`` is replaced (a new uid: the
pod was deleted and the statefulset made a new one) it restarts the container,
i.e. the redis-server. :func:`crash_redis` is the fault: the process dies and the
pod shows CrashLoopBackOff with the crashed container's log.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
from pathlib import Path

import redis

from tests.fakes.kube_api import FakeKube
from tests.helpers import free_port, wait_for_sync

NAMESPACE = "honua-process-framework"
POD = "redis-0"

# the last lines of a redis-server that could not start on its node: nothing about
# memory (OOM) or the data files (corruption), so Runbook 3's crashloop scenario
CRASH_LOG = [
    "1:C 27 Nov 2026 03:00:00.000 * oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo",
    "1:C 27 Nov 2026 03:00:00.000 * Redis version=7.2.4, bits=64, commit=00000000, modified=0, pid=1, just started",
    "1:M 27 Nov 2026 03:00:00.001 # Warning: Could not create server TCP listening socket *:6379: bind: Address already in use",
    "1:M 27 Nov 2026 03:00:00.001 # Failed listening on port 6379 (tcp), aborting.",
]


class TargetRedis:
    """redis-server on a fixed free port with its AOF in ``data_dir``."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> TargetRedis:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.data_dir),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_timeout=1)
        try:
            wait_for_sync(lambda: _pings(client), timeout=10)
        finally:
            client.close()
        self.starts += 1
        return self

    def crash(self) -> None:
        """SIGKILL: what an OOM kill or a node failure does to the container."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    stop = crash


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def crash_redis(fake: FakeKube, target: TargetRedis) -> None:
    target.crash()
    fake.crashloop(NAMESPACE, POD, last_reason="Error", restarts=4)
    fake.set_logs(NAMESPACE, POD, CRASH_LOG, previous=True)


def pod_uid(fake: FakeKube) -> str | None:
    pods = [p for p in fake.objects("pods", NAMESPACE) if p["metadata"]["name"] == POD]
    return str(pods[0]["metadata"]["uid"]) if pods else None


class RedisPodBridge:
    """Restarts the redis-server whenever pod redis-0 is replaced."""

    def __init__(self, fake: FakeKube, target: TargetRedis, interval: float = 0.1) -> None:
        self.fake = fake
        self.target = target
        self.interval = interval
        self.uid = pod_uid(fake)
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            uid = await asyncio.to_thread(pod_uid, self.fake)
            if uid is not None and uid != self.uid:
                self.uid = uid
                await asyncio.to_thread(self._restart)
            await asyncio.sleep(self.interval)

    def _restart(self) -> None:
        self.target.crash()  # the old container goes with its pod
        self.target.start()

    def start(self) -> RedisPodBridge:
        self._task = asyncio.create_task(self._run())
        return self

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
