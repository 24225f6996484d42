"""Real Prometheus and Alertmanager (Debian packages `prometheus`,
`prometheus-alertmanager`) run on free loopback ports."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import httpx

from tests.helpers import free_port, wait_for_sync


class PrometheusServer:
    def __init__(self, targets: list[str], scrape_interval: str = "1s") -> None:
        self.targets = targets
        self.scrape_interval = scrape_interval
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> PrometheusServer:
        binary = shutil.which("prometheus")
        if binary is None:
            raise RuntimeError("prometheus is not installed (apt-get install prometheus)")
        self._dir = tempfile.TemporaryDirectory(prefix="honua-prom-")
        root = Path(self._dir.name)
        targets = ", ".join(f'"{t}"' for t in self.targets)
        (root / "prometheus.yml").write_text(
            f"global: {{scrape_interval: {self.scrape_interval}, evaluation_interval: {self.scrape_interval}}}\n"
            f"scrape_configs:\n  - job_name: honua\n    static_configs:\n      - targets: [{targets}]\n"
        )
        self.log = open(root / "prometheus.log", "wb")
        self.proc = subprocess.Popen(
            [
                binary,
                f"--config.file={root / 'prometheus.yml'}",
                f"--storage.tsdb.path={root / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--web.enable-lifecycle",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_for_sync(self._ready, timeout=30)
        return self

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"prometheus exited with {self.proc.returncode}")
        try:
            return httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def query(self, expr: str) -> list[dict[str, object]]:
        body = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=5).json()
        return list(body["data"]["result"])

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if hasattr(self, "log"):
            self.log.close()
        if self._dir:
            self._dir.cleanup()


class AlertmanagerServer:
    """Real Alertmanager (Debian package `prometheus-alertmanager`) on a free loopback
    port, with a temporary storage dir, no gossip and, unless given, a config that
    routes everything to a receiver doing nothing (enough for the silences API)."""

    NULL_CONFIG = "route: {receiver: 'null'}\nreceivers: [{name: 'null'}]\n"

    def __init__(self, config: str | None = None) -> None:
        self.config = config or self.NULL_CONFIG
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> AlertmanagerServer:
        binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
        if binary is None:
            raise RuntimeError(
                "prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager)"
            )
        self._dir = tempfile.TemporaryDirectory(prefix="honua-am-")
        root = Path(self._dir.name)
        (root / "am.yml").write_text(self.config)
        self.log = open(root / "alertmanager.log", "wb")
        self.proc = subprocess.Popen(
            [
                binary,
                f"--config.file={root / 'am.yml'}",
                f"--storage.path={root / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",  # no gossip: a single, private instance
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_for_sync(self._ready, timeout=20)
        return self

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            log = Path(self.log.name).read_text(errors="replace")[-2000:]
            raise RuntimeError(f"alertmanager exited with {self.proc.returncode}: {log}")
        try:
            return httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def silences(self) -> list[dict[str, object]]:
        return list(httpx.get(f"{self.url}/api/v2/silences", timeout=5).json())

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if hasattr(self, "log"):
            self.log.close()
        if self._dir:
            self._dir.cleanup()
