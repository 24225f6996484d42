"""Shared by the Kubernetes action tests: the seeded API fake served on the test's
loop, the real kubernetes_asyncio client pointed at it, and plan/execute by name."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import bot.actions  # noqa: F401  (registers the actions)
from bot.actions.base import ActionContext, Limits, Outcome, Plan
from bot.adapters import Adapters
from bot.adapters.kubernetes import KubernetesClient
from bot.registry import actions
from bot.store import MemoryStore
from tests.fakes.kube_api import NAMESPACE, FakeKube, seed_honua, serve

NS = NAMESPACE
APP = "honua-process-framework"


@dataclass
class Kube:
    fake: FakeKube
    adapters: Adapters
    store: MemoryStore

    def ctx(self, store: bool = True, **kw: Any) -> ActionContext:
        kw.setdefault("poll_interval", 0.05)
        return ActionContext(self.adapters, store=self.store if store else None, **kw)

    def writes(self) -> int:
        """The fake's global resourceVersion: it moves on every stored write."""
        return self.fake.store.rv

    def get(self, resource: str, name: str) -> dict[str, Any]:
        return self.fake.get(resource, None if resource == "storageclasses" else NS, name)


@asynccontextmanager
async def kube_fake() -> AsyncIterator[Kube]:
    fake = seed_honua(FakeKube())
    async with serve(fake) as url:
        adapters = Adapters(kubernetes_client=KubernetesClient(host=url, timeout=5))
        try:
            yield Kube(fake, adapters, MemoryStore())
        finally:
            await adapters.aclose()


def params_of(type_: str, params: dict[str, Any]) -> Any:
    entry = actions.get(type_)
    assert entry is not None, type_
    return entry.params_model.model_validate(params)


async def plan(type_: str, params: dict[str, Any], ctx: ActionContext) -> Plan:
    entry = actions.get(type_)
    assert entry is not None
    result: Plan = await entry.impl.plan(params_of(type_, params), ctx)
    return result


async def execute(
    type_: str, params: dict[str, Any], ctx: ActionContext, the_plan: Plan
) -> Outcome:
    entry = actions.get(type_)
    assert entry is not None
    result: Outcome = await entry.impl.execute(params_of(type_, params), ctx, the_plan)
    return result


async def plan_then_execute(
    kube: Kube, type_: str, params: dict[str, Any], ctx: ActionContext | None = None
) -> tuple[Plan, Outcome]:
    """Plan (asserting it wrote nothing), then execute that plan."""
    ctx = ctx or kube.ctx()
    before = kube.writes()
    the_plan = await plan(type_, params, ctx)
    assert kube.writes() == before, "planning (the server's dry run) must change nothing"
    json.dumps(the_plan.state)  # the engine may keep a plan between preview and click
    return the_plan, await execute(type_, params, ctx, the_plan)


__all__ = ["APP", "NS", "Kube", "Limits", "execute", "kube_fake", "plan", "plan_then_execute"]
