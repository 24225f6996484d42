"""Delete a pod and wait for its replacement to be Ready (Runbook 1 scenario A,
Runbook 3: ``kubectl delete pod redis-0`` then ``kubectl wait --for=condition=ready``)."""

from __future__ import annotations

import time
from typing import Any

from pydantic import Field

from bot.actions import kube_common as kc
from bot.actions.base import Action, ActionContext, ActionParams, Change, Outcome, Plan, Refused
from bot.actions.kubernetes_logic import pod_condition_text, pod_ready, seconds_text
from bot.polling import poll_until
from bot.registry import actions
from bot.rules.durations import Duration


class DeletePodParams(ActionParams):
    name: str = Field(min_length=1, description="the pod's name")
    namespace: str = kc.NAMESPACE
    wait_ready: Duration = Field(
        default=120, gt=0, description="how long to wait for the replacement to be Ready"
    )


def _owner(pod: dict[str, Any]) -> dict[str, Any] | None:
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def _owned_by(pod: dict[str, Any], owner_uid: str) -> bool:
    owner = _owner(pod)
    return owner is not None and owner.get("uid") == owner_uid


@actions.register("kubernetes.delete_pod")
class DeletePod(Action[DeletePodParams]):
    """Delete a pod and wait until its replacement (same owner) is Ready."""

    destructive = True

    def describe(self, params: DeletePodParams) -> str:
        return (
            f"delete pod {params.namespace}/{params.name}, "
            f"wait up to {params.wait_ready:g}s for Ready"
        )

    async def plan(self, params: DeletePodParams, ctx: ActionContext) -> Plan:
        ns, name = params.namespace, params.name
        core = await ctx.adapters.kubernetes.core()
        pod = await kc.call(
            ctx, core.read_namespaced_pod(name, ns, _preload_content=False), f"pod {name}", ns
        )
        owner = _owner(pod)
        if owner is None:
            raise Refused(
                "input",
                f"pod {ns}/{name} has no controller (no ownerReference with controller: true): "
                "nothing would bring it back after a delete",
            )
        await kc.call(
            ctx,
            core.delete_namespaced_pod(name, ns, dry_run="All", _preload_content=False),
            f"pod {name}",
            ns,
            "delete",
        )
        siblings = await self._owned_pods(ctx, ns, pod, str(owner["uid"]))
        by = f"{owner['kind']} {owner['name']}"
        return Plan(
            summary=self.describe(params),
            target=kc.target("pod", ns, name),
            changes=[
                Change(
                    kc.target("pod", ns, name),
                    "pod",
                    f"uid {pod['metadata']['uid']} ({pod_condition_text(pod)})",
                    f"deleted; {by} creates a replacement",
                )
            ],
            dry_run_checked=True,
            state={
                "uid": pod["metadata"]["uid"],
                "owner_kind": owner["kind"],
                "owner_uid": owner["uid"],
                "owner": by,
                "siblings": sorted(p["metadata"]["uid"] for p in siblings),
            },
        )

    async def _owned_pods(
        self, ctx: ActionContext, namespace: str, pod: dict[str, Any], owner_uid: str
    ) -> list[dict[str, Any]]:
        """Pods of the same owner, found by the pod's labels then its ownerReference."""
        labels = (pod.get("metadata") or {}).get("labels") or {}
        selector = ",".join(f"{k}={v}" for k, v in labels.items() if k != "pod-template-hash")
        core = await ctx.adapters.kubernetes.core()
        listed = await kc.call(
            ctx,
            core.list_namespaced_pod(namespace, label_selector=selector, _preload_content=False),
            "pods",
            namespace,
            "list",
        )
        return [p for p in listed.get("items") or [] if _owned_by(p, owner_uid)]

    async def execute(self, params: DeletePodParams, ctx: ActionContext, plan: Plan) -> Outcome:
        if ctx.dry_run:
            return kc.dry_run_outcome(plan)
        ns, name, state = params.namespace, params.name, plan.state
        core = await ctx.adapters.kubernetes.core()
        pod = await kc.call(
            ctx, core.read_namespaced_pod(name, ns, _preload_content=False), f"pod {name}", ns
        )
        if pod["metadata"]["uid"] != state["uid"]:
            raise Refused(
                "conflict", f"pod {ns}/{name} was already replaced since the preview; re-run"
            )
        from kubernetes_asyncio.client import V1DeleteOptions, V1Preconditions

        await kc.call(
            ctx,
            core.delete_namespaced_pod(
                name,
                ns,
                body=V1DeleteOptions(preconditions=V1Preconditions(uid=state["uid"])),
                _preload_content=False,
            ),
            f"pod {name}",
            ns,
            "delete",
            conflict=f"pod {ns}/{name} was replaced since the preview; re-run",
        )
        started = time.monotonic()
        replacement = await self._wait_ready(ctx, ns, name, pod, state, params.wait_ready)
        waited = time.monotonic() - started
        deleted = list(plan.changes)  # the pod went, as previewed, whatever its replacement does
        if replacement is not None and pod_ready(replacement):
            new = replacement["metadata"]["name"]
            return Outcome(
                ok=True,
                message=f"deleted pod {ns}/{name}; replacement {new} is Ready after {waited:.0f}s",
                changes=deleted,
                details={"replacement": new, "waited_seconds": round(waited, 1)},
            )
        if replacement is None:
            why = f"no replacement pod from {state['owner']} appeared"
        else:
            why = (
                f"replacement {replacement['metadata']['name']} is not Ready "
                f"({pod_condition_text(replacement)})"
            )
        return Outcome(
            ok=False,
            message=(
                f"deleted pod {ns}/{name}, but {why} after {seconds_text(params.wait_ready)} "
                f"(wait_ready); check its events and logs"
            ),
            changes=deleted,
            details={
                "replacement": replacement["metadata"]["name"] if replacement else None,
                "waited_seconds": round(waited, 1),
            },
        )

    async def _wait_ready(
        self,
        ctx: ActionContext,
        ns: str,
        name: str,
        pod: dict[str, Any],
        state: dict[str, Any],
        wait: float,
    ) -> dict[str, Any] | None:
        """Poll until a replacement is Ready or ``wait`` runs out; the last replacement seen."""
        seen: dict[str, Any] | None = None
        known = set(state["siblings"]) | {state["uid"]}
        core = await ctx.adapters.kubernetes.core()

        async def ready_replacement() -> dict[str, Any] | None:
            nonlocal seen
            if state["owner_kind"] == "StatefulSet":
                # a StatefulSet recreates the pod under the same name with a new uid
                try:
                    current = await kc.call(
                        ctx,
                        core.read_namespaced_pod(name, ns, _preload_content=False),
                        f"pod {name}",
                        ns,
                    )
                except Refused as exc:
                    if exc.gate != "not_found":
                        raise
                    current = None
                fresh = [current] if current and current["metadata"]["uid"] not in known else []
            else:
                fresh = [
                    p
                    for p in await self._owned_pods(ctx, ns, pod, str(state["owner_uid"]))
                    if p["metadata"]["uid"] not in known
                ]
            if fresh:
                ready = [p for p in fresh if pod_ready(p)]
                seen = ready[0] if ready else fresh[0]
                if ready:
                    return seen
            return None

        return await poll_until(ready_replacement, wait, ctx.poll_interval) or seen
