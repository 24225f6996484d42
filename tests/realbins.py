"""Real Prometheus and Alertmanager (Debian packages `prometheus`,
`prometheus-alertmanager`) run on free loopback ports."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import httpx

from tests.helpers import free_port, wait_for_sync


class _Daemon:
    """A binary serving HTTP on a free loopback port from a temporary directory,
    its output in a log file; ready when ``/-/ready`` answers 200."""

    name = ""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _workdir(self) -> Path:
        self._dir = tempfile.TemporaryDirectory(prefix=f"honua-{self.name}-")
        return Path(self._dir.name)

    def _launch(self, args: list[str], root: Path, timeout: float) -> None:
        self.log = open(root / f"{self.name}.log", "wb")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        wait_for_sync(self._ready, timeout=timeout)

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            log = Path(self.log.name).read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}: {log}")
        try:
            return httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

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


class PrometheusServer(_Daemon):
    """Real Prometheus scraping ``targets`` (job ``honua``) and, optionally, more jobs
    (``jobs``: job name → targets), evaluating ``rule_files`` every
    ``evaluation_interval`` (default: the scrape interval) and sending alerts to
    ``alertmanagers`` (``host:port``). ``backfill`` is OpenMetrics text with
    timestamps, written into the TSDB with ``promtool tsdb create-blocks-from
    openmetrics`` before the start, for rules that look back further than a test runs."""

    name = "prometheus"

    def __init__(
        self,
        targets: list[str],
        scrape_interval: str = "1s",
        *,
        jobs: dict[str, list[str]] | None = None,
        rule_files: list[Path] | None = None,
        alertmanagers: list[str] | None = None,
        evaluation_interval: str | None = None,
        backfill: str | None = None,
    ) -> None:
        self.targets = targets
        self.scrape_interval = scrape_interval
        self.jobs = {"honua": targets, **(jobs or {})}
        self.rule_files = rule_files or []
        self.alertmanagers = alertmanagers or []
        self.evaluation_interval = evaluation_interval or scrape_interval
        self.backfill = backfill
        super().__init__()

    def start(self) -> PrometheusServer:
        binary = shutil.which("prometheus")
        if binary is None:
            raise RuntimeError("prometheus is not installed (apt-get install prometheus)")
        root = self._workdir()
        (root / "prometheus.yml").write_text(self.config())
        if self.backfill is not None:
            self._write_backfill(root)
        args = [
            binary,
            f"--config.file={root / 'prometheus.yml'}",
            f"--storage.tsdb.path={root / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--web.enable-lifecycle",
        ]
        self._launch(args, root, timeout=30)
        return self

    def config(self) -> str:
        """prometheus.yml (JSON is YAML)."""
        body: dict[str, Any] = {
            "global": {
                "scrape_interval": self.scrape_interval,
                "evaluation_interval": self.evaluation_interval,
            },
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": targets}]}
                for job, targets in self.jobs.items()
                if targets
            ],
        }
        if self.rule_files:
            body["rule_files"] = [str(p) for p in self.rule_files]
        if self.alertmanagers:
            body["alerting"] = {
                "alertmanagers": [{"static_configs": [{"targets": self.alertmanagers}]}]
            }
        return json.dumps(body, indent=2)

    def _write_backfill(self, root: Path) -> None:
        promtool = shutil.which("promtool")
        if promtool is None:
            raise RuntimeError("promtool is not installed (apt-get install prometheus)")
        source = root / "backfill.om"
        source.write_text(self.backfill or "")
        done = subprocess.run(
            [
                promtool,
                "tsdb",
                "create-blocks-from",
                "openmetrics",
                str(source),
                str(root / "data"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if done.returncode != 0:
            raise RuntimeError(f"promtool backfill failed: {done.stderr[-2000:]}")

    def query(self, expr: str) -> list[dict[str, object]]:
        body = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=5).json()
        return list(body["data"]["result"])

    def alerts(self) -> list[dict[str, Any]]:
        """Alerts of the loaded rules (pending and firing), as ``/api/v1/alerts`` lists them."""
        body = httpx.get(f"{self.url}/api/v1/alerts", timeout=5).json()
        return list(body["data"]["alerts"])


class AlertmanagerServer(_Daemon):
    """Real Alertmanager (Debian package `prometheus-alertmanager`) on a free loopback
    port, with a temporary storage dir, no gossip and, unless given, a config that
    routes everything to a receiver doing nothing (enough for the silences API)."""

    name = "alertmanager"

    NULL_CONFIG = "route: {receiver: 'null'}\nreceivers: [{name: 'null'}]\n"

    def __init__(self, config: str | None = None) -> None:
        self.config = config or self.NULL_CONFIG
        super().__init__()

    def start(self) -> AlertmanagerServer:
        binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
        if binary is None:
            raise RuntimeError(
                "prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager)"
            )
        root = self._workdir()
        (root / "am.yml").write_text(self.config)
        args = [
            binary,
            f"--config.file={root / 'am.yml'}",
            f"--storage.path={root / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--cluster.listen-address=",  # no gossip: a single, private instance
        ]
        self._launch(args, root, timeout=20)
        return self

    def silences(self) -> list[dict[str, object]]:
        return list(httpx.get(f"{self.url}/api/v2/silences", timeout=5).json())

    def alerts(self) -> list[dict[str, Any]]:
        """The alerts Alertmanager holds (``/api/v2/alerts``), inhibited ones included."""
        return list(httpx.get(f"{self.url}/api/v2/alerts", timeout=5).json())
