"""Real ``honua-bot serve`` processes for the HA, shutdown and Sentinel tests:
each on its own port, stdout (the console notifier) and stderr (JSON logs) in
files, rules from a directory the test writes."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import httpx
import pytest

from tests.helpers import free_port, wait_for


def serve_command() -> list[str]:
    return [sys.executable, "-m", "bot.cli", "serve"]


class ServeProcess:
    def __init__(self, workdir: Path, name: str, env: dict[str, str]) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.stdout_path = workdir / f"{name}.stdout"
        self.stderr_path = workdir / f"{name}.stderr"
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("HONUA_BOT_")}
        full_env.update(
            {
                "HONUA_BOT_PORT": str(self.port),
                "PYTHONUNBUFFERED": "1",
                "COLUMNS": "200",
                **env,
            }
        )
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.proc = subprocess.Popen(
                serve_command(), env=full_env, cwd=workdir, stdout=out, stderr=err
            )

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def diagnostics(self) -> str:
        return f"--- stderr of {self.name} ({self.url}) ---\n{self.stderr[-4000:]}"

    async def wait_ready(self, timeout: float = 30) -> None:
        async with httpx.AsyncClient(timeout=2) as http:

            async def ready() -> bool:
                assert self.proc.poll() is None, f"serve exited early\n{self.diagnostics()}"
                try:
                    return (await http.get(f"{self.url}/readyz")).status_code == 200
                except httpx.HTTPError:
                    return False

            await wait_for(ready, timeout=timeout, interval=0.1)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self) -> None:
        """SIGTERM, without waiting: the caller watches the shutdown."""
        self.proc.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode


class StartServe(Protocol):
    def __call__(self, name: str, **env: str) -> ServeProcess: ...


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[StartServe]:
    """``serve(name, **env)`` starts one process; all are stopped at the end."""
    started: list[ServeProcess] = []

    def start(name: str, **env: str) -> ServeProcess:
        proc = ServeProcess(tmp_path, name, env)
        started.append(proc)
        return proc

    try:
        yield start
    finally:
        for proc in started:
            with contextlib.suppress(Exception):
                proc.stop(10)


def write_rules(folder: Path, *rules: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, text in enumerate(rules):
        (folder / f"rule-{i}.yaml").write_text(text, encoding="utf-8")
    return folder
