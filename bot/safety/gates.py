"""The gates that need to know the action's target (from its plan): per-target
cooldown, per-action and per-rule hourly caps, and the circuit breaker, which
stops automatic runs (not people) after repeated failures."""

from __future__ import annotations

from bot.actions.base import Plan
from bot.durations import human_seconds
from bot.models import ProposedAction
from bot.rules.schema import ActionOptions, Rule
from bot.safety.state import SafetyState


async def target_gate(
    safety: SafetyState,
    rule: Rule | None,
    action: ProposedAction,
    options: ActionOptions,
    plan: Plan,
    auto: bool,
) -> tuple[str, str]:
    remaining = await safety.cooldown_remaining(action.type, plan.target)
    if remaining > 0:
        return "cooldown", (
            f"{plan.target} was acted on by {action.type} recently; "
            f"cooldown_remaining {human_seconds(remaining, padded=True)}"
        )
    rule_name = rule.name if rule else ""
    if options.max_per_hour is not None:
        runs = await safety.runs_this_hour(rule_name, action.name)
        if runs >= options.max_per_hour:
            return "rate_limit", (
                f"{action.name} already ran {runs} times this hour "
                f"(max_per_hour {options.max_per_hour})"
            )
    gates = safety.config
    runs = await safety.runs_this_hour(rule_name)
    if runs >= gates.rule_runs_per_hour:
        return "rate_limit", (
            f"rule {rule_name} already ran {runs} actions this hour "
            f"(HONUA_BOT_RULE_RUNS_PER_HOUR={gates.rule_runs_per_hour})"
        )
    failures = await safety.breaker_failures(action.type, plan.target)
    if auto and failures >= gates.breaker_failures:
        return "circuit_breaker", (
            f"{action.type} on {plan.target} failed verification {failures} times; "
            "automatic runs stopped, a human must decide"
        )
    return "", ""
