"""Item 5: a client dribbling its request headers is closed after the header
timeout (408, one log line), while other connections are served meanwhile."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import httpx

from tests.hardening.test_slow_clients import _serve, _stop

TIMEOUT = 1.0


def test_headers_dribbled_byte_by_byte_are_cut_off_after_the_header_timeout(
    tmp_path: Path,
) -> None:
    proc, port, stderr = _serve(tmp_path, None, HONUA_BOT_HEADER_TIMEOUT_SECONDS=str(TIMEOUT))
    try:
        slow = socket.create_connection(("127.0.0.1", port), timeout=0.1)
        started = time.monotonic()
        head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200
        received = b""
        served_meanwhile = 0
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=2) as http:
            for byte in head:  # one byte per ~0.1 s: never a complete head
                try:
                    slow.sendall(bytes([byte]))
                    chunk = slow.recv(1000)  # waits up to 0.1 s (the socket timeout)
                except TimeoutError:
                    chunk = None
                except OSError:
                    break
                if chunk is not None:
                    received += chunk
                    if not chunk:
                        break  # closed by the server
                if http.get("/healthz").status_code == 200:  # another connection
                    served_meanwhile += 1
                if time.monotonic() - started > TIMEOUT + 5:
                    break
        elapsed = time.monotonic() - started
        slow.close()
    finally:
        _stop(proc)
    assert received.startswith(b"HTTP/1.1 408"), received
    assert elapsed < TIMEOUT + 2, elapsed
    assert served_meanwhile >= 3
    lines = [json.loads(line) for line in stderr.read_text().splitlines() if line.strip()]
    closed = [p for p in lines if "request headers not received" in str(p.get("event"))]
    assert len(closed) == 1, closed


def test_a_keep_alive_connection_is_not_cut_between_prompt_requests(tmp_path: Path) -> None:
    proc, port, _ = _serve(tmp_path, None, HONUA_BOT_HEADER_TIMEOUT_SECONDS=str(TIMEOUT))
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=2) as http:
            started = time.monotonic()
            while time.monotonic() - started < TIMEOUT * 2.5:  # one connection throughout
                assert http.get("/healthz").status_code == 200
    finally:
        _stop(proc)
