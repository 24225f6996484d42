"""What each proposed button would change, computed before anyone presses it:
the action's own ``plan`` in dry-run mode (read-only; Kubernetes' server-side
dry run where it has one), e.g. ``set ProcessFramework.MaxConcurrentProcesses =
10 (was 20) in configmap …, then rollout restart …``. Shown in the button's
confirm dialog and under the buttons; an action that cannot plan now (target
not set up, a timeout) simply shows its description."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import ValidationError

from bot.actions.base import ActionContext, Limits
from bot.adapters import Adapters
from bot.logs import get_logger
from bot.models import Incident, ProposedAction
from bot.registry import Registry
from bot.rules import templates

log = get_logger("preview")


def _scope(incident: Incident) -> dict[str, Any]:
    """What an action's params template over (as bot/remediation/config.action_scope;
    the alert path may not import the remediation path)."""
    scope: dict[str, Any] = {
        "labels": dict(incident.labels),
        "annotations": dict(incident.annotations),
        "incident": {"id": incident.id, "alertname": incident.alertname},
    }
    if incident.diagnosis is not None:
        scope.update({n: f.as_cel_value() for n, f in incident.diagnosis.findings.items()})
    return scope


async def _preview(
    incident: Incident, action: ProposedAction, registry: Registry, adapters: Adapters
) -> None:
    entry = registry.get(action.type)
    impl = entry.impl if entry else None
    if entry is None or impl is None:
        return
    scope, late = _scope(incident), impl.late_templates
    raw = {
        k: v if k in late else templates.render_params(v, scope) for k, v in action.params.items()
    }
    try:
        params = entry.params_model.model_validate(raw)
    except ValidationError:
        return
    # no store: a preview must leave nothing behind
    ctx = ActionContext(adapters, incident.id, incident.shared_labels, "preview", True, Limits())
    try:
        plan = await impl.plan(params, ctx)
    except Exception as exc:  # not plannable now (target not set up, refused…)
        log.debug("no preview", action=action.name, error=str(exc))
        return
    action.change = plan.summary


async def preview_actions(
    incident: Incident, registry: Registry, adapters: Adapters, timeout: float
) -> None:
    """Fill ``change`` of the diagnosis's manual actions, all at once, within ``timeout``."""
    d = incident.diagnosis
    wanted = [a for a in (d.actions if d else []) if a.mode != "auto"]  # the buttons
    if not wanted:
        return
    tasks = [asyncio.ensure_future(_preview(incident, a, registry, adapters)) for a in wanted]
    _, late = await asyncio.wait(tasks, timeout=timeout)
    for task in late:
        task.cancel()
