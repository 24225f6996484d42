"""Who may run an action from the CLI: the *authorize* stage for ``cli:NAME``
actors (:class:`bot.remediation.stages.ActionAuthorizer`).

The CLI does not authenticate its user (``--as`` names anyone), so it cannot
satisfy a policy that names people. An action whose use is restricted — the
rule's ``allowed`` names users, groups, channels or a mapped role, or
HONUA_BOT_SLACK_ACTION_PERMISSIONS has a non-empty entry for it — is refused
from the CLI unless the rule lets the CLI run it (``allowed: {cli: true}``).
An unrestricted action runs from the CLI as before."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from bot.remediation.requests import Actor
from bot.rules.schema import Rule

UNDO = "undo-"


class CliAuthorizer:
    def __init__(
        self,
        restricted_actions: Collection[str] = (),
        role_groups: Mapping[str, str] | None = None,
    ) -> None:
        self.restricted_actions = frozenset(restricted_actions)
        self.role_groups = dict(role_groups or {})

    def restriction(self, rule: Rule | None, action: str) -> str:
        """What restricts ``action`` ("" when nothing does, or the rule allows the CLI)."""
        # an undo is allowed to whoever may run the action it reverses
        name = action.removeprefix(UNDO)
        call = rule.actions.get(name) if rule else None
        allowed = call.options.allowed if call else None
        if allowed is not None and allowed.cli:
            return ""
        if allowed is not None and (
            allowed.users
            or allowed.groups
            or allowed.channels
            or any(role in self.role_groups for role in allowed.roles)
        ):
            return f"rule {rule.name if rule else ''}'s `allowed` for {name}"
        if name in self.restricted_actions:
            return f"HONUA_BOT_SLACK_ACTION_PERMISSIONS for {name}"
        return ""

    async def authorize(self, actor: Actor, rule: Rule | None, action: str) -> str:
        restricted_by = self.restriction(rule, action)
        if not restricted_by:
            return ""
        where = f"rule {rule.name}" if rule else "its rule"
        return (
            f"{action} is restricted to named people ({restricted_by}) and the CLI cannot "
            f"tell who runs it: use its Slack button, or add `cli: true` to the action's "
            f"`allowed` in {where} to let the CLI run it"
        )
