"""A lock held for as long as its holder is alive: short lease, renewed while the
work runs. A crashed worker's lock therefore frees itself within one lease, not
after the longest thing the work could ever take."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from bot.store.base import Store, StoreUnavailable


@contextlib.asynccontextmanager
async def leased(store: Store, name: str, owner: str, lease: float = 15.0) -> AsyncIterator[bool]:
    """Yield True while holding ``name`` (renewed every lease/3), False when it is taken."""
    if not await store.acquire(name, owner, lease):
        yield False
        return

    async def renew() -> None:
        while True:
            await asyncio.sleep(lease / 3)
            with contextlib.suppress(StoreUnavailable):
                await store.acquire(name, owner, lease)  # re-entrant: extends the lease

    renewer = asyncio.create_task(renew())
    try:
        yield True
    finally:
        renewer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewer
        await store.release(name, owner)
