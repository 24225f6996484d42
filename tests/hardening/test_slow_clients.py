"""Item 5: slow and many clients: body timeout, connection cap, descriptor exhaustion."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.helpers import REPO, BotHarness, free_port, wait_for_sync


async def test_slow_loris_body_is_refused_after_the_body_timeout() -> None:
    async with BotHarness(body_timeout_seconds=1) as bot:
        reader, writer = await asyncio.open_connection("127.0.0.1", bot.port)
        started = time.monotonic()
        writer.write(
            b"POST /alerts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 1000\r\n\r\n{"status":'
        )
        await writer.drain()

        async def dribble() -> None:  # a byte now and then, never the whole body
            for _ in range(40):
                await asyncio.sleep(0.25)
                writer.write(b" ")
                await writer.drain()

        dribbling = asyncio.create_task(dribble())
        try:
            status_line = await asyncio.wait_for(reader.readline(), 8)
        finally:
            dribbling.cancel()
            writer.close()
        assert status_line.startswith(b"HTTP/1.1 408"), status_line
        assert time.monotonic() - started < 5
        # the bot is still fine for everyone else
        assert (await bot.http.get("/healthz")).status_code == 200


def _serve(
    tmp_path: Path, nofile: int | None, **env: str
) -> tuple[subprocess.Popen[bytes], int, Path]:
    port = free_port()
    stderr = tmp_path / f"serve-{port}.stderr"
    full = {k: v for k, v in os.environ.items() if not k.startswith("HONUA_BOT_")}
    full.update({"HONUA_BOT_PORT": str(port), "HONUA_BOT_RULES": str(REPO / "rules"), **env})

    def limit() -> None:
        if nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    with stderr.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve"],
            env=full,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=err,
            preexec_fn=limit,
        )
    wait_for_sync(lambda: _healthy(port), timeout=30, interval=0.1)
    return proc, port, stderr


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def test_connections_beyond_the_cap_get_503(tmp_path: Path) -> None:
    proc, port, _ = _serve(tmp_path, None, HONUA_BOT_MAX_CONNECTIONS="4")
    held = []
    try:
        for _ in range(4):
            held.append(socket.create_connection(("127.0.0.1", port)))
        wait_for_sync(lambda: _refused(port), timeout=10, interval=0.1)
        for s in held:
            s.close()
        wait_for_sync(lambda: _healthy(port), timeout=20, interval=0.2)
    finally:
        for s in held:
            s.close()
        _stop(proc)


def _refused(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        return s.recv(100).startswith(b"HTTP/1.1 503")


def test_descriptor_exhaustion_is_one_json_line_not_a_flood(tmp_path: Path) -> None:
    proc, port, stderr = _serve(tmp_path, 64)
    held: list[socket.socket] = []
    try:
        for _ in range(120):  # past the 64 descriptors the process may open
            try:
                held.append(socket.create_connection(("127.0.0.1", port), timeout=2))
            except OSError:
                break
        started = time.monotonic()
        wait_for_sync(lambda: "out of file descriptors" in stderr.read_text(), timeout=15)
        while time.monotonic() - started < 3:  # asyncio would log again every second
            time.sleep(0.2)
        for s in held:
            s.close()
        held.clear()
        wait_for_sync(lambda: _healthy(port), timeout=30, interval=0.2)
    finally:
        for s in held:
            s.close()
        _stop(proc)
    lines = [line for line in stderr.read_text().splitlines() if line.strip()]
    parsed = [json.loads(line) for line in lines]  # every line JSON
    exhausted = [p for p in parsed if "out of file descriptors" in str(p.get("event"))]
    assert len(exhausted) == 1, exhausted
    assert not any("exception" in p for p in exhausted)
