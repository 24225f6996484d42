"""Workers: take queue entries, run each alert through the pipeline, ack.

An entry is acked only when every alert in it is done. One that fails stays
pending and comes back (here or on another replica) after ``claim_idle``; one
that keeps failing is moved to the dead-letter stream rather than dropped. One
that finds its incident held by a live worker is retried here shortly, with a
bounded backoff, without counting as a delivery (see ``_retry_busy``).
"""

from __future__ import annotations

import asyncio
import random

from pydantic import ValidationError

from bot.alerts.pipeline import Outcome, Pipeline
from bot.alerts.poison import alert_ref, dead_letter_alert, describe, unprocessable
from bot.logs import get_logger
from bot.metrics import Metrics
from bot.models import Alert, WebhookMessage
from bot.store import QueueEntry, Store, StoreUnavailable, keys

log = get_logger("worker")
BUSY_TTL = 86400.0  # how long an entry's count of lock waits is kept
BUSY_FIRST_WAIT = 0.05  # seconds before a busy entry is tried again, doubled each time
BUSY_MAX_WAIT = 2.0


def _busy_key(entry: QueueEntry) -> str:
    return keys.queue_waits(entry.id)


class Worker:
    def __init__(
        self,
        store: Store,
        pipeline: Pipeline,
        metrics: Metrics,
        consumer: str,
        claim_idle_seconds: float = 60.0,
        max_deliveries: int = 20,
    ) -> None:
        self.store = store
        self.pipeline = pipeline
        self.metrics = metrics
        self.consumer = consumer
        self.claim_idle_ms = int(claim_idle_seconds * 1000)
        self.max_deliveries = max_deliveries
        self.processed = 0
        # in-process retries of busy entries stop well before the entry could be reclaimed
        self.busy_budget = max(claim_idle_seconds / 2, 0.2)
        self._busy: set[asyncio.Task[None]] = set()

    async def process(
        self, entry: QueueEntry, busy_since: float | None = None, busy_attempt: int = 0
    ) -> bool:
        """Run one entry; True when it was acked."""
        try:
            message = WebhookMessage.model_validate_json(entry.payload)
        except ValidationError as exc:  # intake validated it, so this is corruption
            log.error("unreadable queue entry dead-lettered", entry=entry.id, error=str(exc)[:300])
            await self.store.dead_letter(entry, f"unreadable: {exc.errors()[0]['msg']}")
            return True
        last_try = False
        if entry.deliveries > self.max_deliveries:
            # Deliveries that found the incident locked (by a sibling, or by a dead
            # replica until its lease ran out) were waits, not failures.
            waits = int(await self.store.get_value(_busy_key(entry)) or 0)
            failures = entry.deliveries - 1 - waits
            last_try = failures >= self.max_deliveries
        done = True
        failed = False
        poison: list[tuple[Alert, str]] = []
        for alert in message.alerts:
            reason = unprocessable(alert)
            if reason is not None:
                poison.append((alert, reason))
                continue
            try:
                outcome = await self.pipeline.handle(alert, message.external_url)
            except Exception as exc:
                stage = "store" if isinstance(exc, StoreUnavailable) else "pipeline"
                self.metrics.worker_errors.labels(stage).inc()
                if last_try and stage == "pipeline":
                    # it failed on every delivery: isolate it, not its neighbours
                    poison.append((alert, f"failed {self.max_deliveries} times: {describe(exc)}"))
                    log.exception("alert failed on every delivery", **alert_ref(alert))
                    continue
                log.exception(
                    "alert processing failed; entry will be retried",
                    entry=entry.id,
                    **alert_ref(alert),
                )
                done = False
                failed = True
                continue
            if outcome is Outcome.BUSY:
                done = False
        if last_try and not done:
            # the good alerts were processed on earlier deliveries; what is left is
            # a store that stays down or a lock never freed: keep the whole entry
            log.error(
                "queue entry failed too often; dead-lettered",
                entry=entry.id,
                deliveries=entry.deliveries,
            )
            await self.store.dead_letter(entry, f"failed {self.max_deliveries} times")
            self.metrics.dead_letters.inc()
            return True
        if done:
            # dead_letter acks the entry too: only once every other alert is done
            for alert, reason in poison:
                await dead_letter_alert(self.store, entry, message, alert, reason)
                self.metrics.dead_letters.inc()
            await self.store.ack(entry)
            self.processed += 1
        elif not failed:
            loop = asyncio.get_running_loop()
            started = busy_since if busy_since is not None else loop.time()
            if loop.time() - started < self.busy_budget:
                task = asyncio.create_task(self._retry_busy(entry, started, busy_attempt))
                self._busy.add(task)
                task.add_done_callback(self._busy.discard)
            else:  # left pending: reclaimed later, and that delivery was a wait
                await self.store.incr(_busy_key(entry), BUSY_TTL)
        return done

    async def _retry_busy(self, entry: QueueEntry, started: float, attempt: int) -> None:
        """Another worker holds the incident: try again soon (0.05 s, doubling to
        2 s) instead of after the claim timeout. The entry stays pending and ours,
        so a retry is not a delivery; if this process dies it is reclaimed."""
        loop = asyncio.get_running_loop()
        left = self.busy_budget - (loop.time() - started)
        await asyncio.sleep(max(min(BUSY_FIRST_WAIT * 2**attempt, BUSY_MAX_WAIT, left), 0.01))
        try:
            await self.process(entry, busy_since=started, busy_attempt=attempt + 1)
        except asyncio.CancelledError:
            raise
        except Exception:  # left pending: reclaimed after claim_idle
            log.exception("retrying a busy entry failed", entry=entry.id)

    async def aclose(self) -> None:
        for task in list(self._busy):
            task.cancel()
        await asyncio.gather(*self._busy, return_exceptions=True)

    async def _process_guarded(self, entry: QueueEntry) -> None:
        """One entry's failure stays that entry's: the rest of the batch goes on.
        The entry stays pending and comes back after ``claim_idle``."""
        try:
            await self.process(entry)
        except asyncio.CancelledError:
            raise
        except Exception:
            self.metrics.worker_errors.labels("entry").inc()
            log.exception("queue entry failed; it stays pending", entry=entry.id)

    async def run(self, stop: asyncio.Event, reclaim_every: float | None = None) -> None:
        """Consume until ``stop``; with ``reclaim_every`` this worker also takes
        over entries left pending by dead or stuck consumers."""
        loop = asyncio.get_running_loop()
        next_reclaim = loop.time() + random.uniform(0, reclaim_every or 0)
        while not stop.is_set():
            try:
                if reclaim_every is not None and loop.time() >= next_reclaim:
                    next_reclaim = loop.time() + reclaim_every * random.uniform(0.8, 1.2)
                    for entry in await self.store.reclaim(self.consumer, self.claim_idle_ms, 10):
                        log.info(
                            "reclaimed pending entry", entry=entry.id, deliveries=entry.deliveries
                        )
                        await self._process_guarded(entry)
                for entry in await self.store.dequeue(self.consumer, 10, 1000):
                    await self._process_guarded(entry)
            except asyncio.CancelledError:
                raise
            except Exception:
                self.metrics.worker_errors.labels("loop").inc()
                log.exception("worker loop error")
                await asyncio.sleep(0.5)
