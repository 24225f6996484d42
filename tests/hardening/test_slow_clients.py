"""Item 5 (part): a client that never finishes its body does not hold a handler."""

from __future__ import annotations

import asyncio
import time

from tests.helpers import BotHarness


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
