"""Who may press which button.

A policy names Slack user ids, user-group handles and channels; empty means "no
restriction on that axis". Policies come from global settings today (a default
one, overridable per action name or per button kind: ``silence``, ``ack``,
``rerun``). :meth:`Authorizer.policy_for` is the one place that chooses the
policy for a click — the hook for per-rule permissions when rules grow them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.logs import get_logger
from bot.notify.slack.render import ButtonKind
from bot.notify.slack.state import ButtonRef
from bot.remediation.mitigations import UNDO
from bot.remediation.requests import Actor
from bot.rules import Rule, RuleSet
from bot.store import Store, keys

log = get_logger("slack")


def _norm_channel(name: str) -> str:
    return name.strip().lstrip("#").lower()


def _norm_group(handle: str) -> str:
    return handle.strip().lstrip("@").lower()


@dataclass(frozen=True)
class ClickPolicy:
    users: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()  # user-group handles, without "@"
    channels: frozenset[str] = frozenset()  # channel ids or names, without "#"

    @classmethod
    def of(
        cls, users: Sequence[str] = (), groups: Sequence[str] = (), channels: Sequence[str] = ()
    ) -> ClickPolicy:
        return cls(
            frozenset(u.strip() for u in users if u.strip()),
            frozenset(_norm_group(g) for g in groups if g.strip()),
            frozenset(_norm_channel(c) for c in channels if c.strip()),
        )

    @property
    def open(self) -> bool:
        return not (self.users or self.groups or self.channels)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str = ""
    groups: tuple[str, ...] = ()  # the allowed groups the clicker is in


class Authorizer:
    def __init__(
        self,
        default: ClickPolicy,
        per_action: Mapping[str, ClickPolicy],
        client: AsyncWebClient,
        store: Store,
        group_cache_seconds: float = 300.0,
        rules: Callable[[], RuleSet] | None = None,
        role_groups: Mapping[str, str] | None = None,
    ) -> None:
        self.role_groups = dict(role_groups or {})
        self.default = default
        self.per_action = dict(per_action)
        self.rules = rules  # the current rules, for their per-action ``allowed``
        self.client = client
        self.store = store
        self.group_cache_seconds = group_cache_seconds

    def policy_for(self, rule: str | None, button: ButtonRef) -> ClickPolicy:
        """The policy for this click: the rule's ``allowed`` for the action, else the
        settings' per action name / button kind, else the default."""
        if button.kind in (ButtonKind.ACTION, ButtonKind.RESTORE):
            return self.policy_for_action(rule, button.action)
        return self.per_action.get(button.kind.value, self.default)

    def policy_for_action(self, rule: str | None, name: str) -> ClickPolicy:
        if rule and self.rules is not None:
            found = self.rules().get(rule)
            # an undo is allowed to whoever may run the action it reverses
            call = found.actions.get(name.removeprefix(UNDO)) if found else None
            allowed = call.options.allowed if call else None
            if allowed is not None:
                roles = [self.role_groups[r] for r in allowed.roles if r in self.role_groups]
                policy = ClickPolicy.of(allowed.users, [*allowed.groups, *roles], allowed.channels)
                if not policy.open:  # only unmapped roles: the settings decide
                    return policy
        return self.per_action.get(name, self.default)

    async def check(
        self, policy: ClickPolicy, user_id: str, channel_id: str, channel_name: str = ""
    ) -> Verdict:
        if policy.channels and not (
            _norm_channel(channel_id) in policy.channels
            or (channel_name and _norm_channel(channel_name) in policy.channels)
        ):
            where = ", ".join(sorted(policy.channels))
            return Verdict(False, f"this button works only in these channels: {where}")
        if not (policy.users or policy.groups):
            return Verdict(True)
        if user_id in policy.users:
            return Verdict(True)
        if policy.groups:
            try:
                members = await self._group_members()
            except SlackApiError as exc:
                log.warning("user groups could not be read; click refused", error=str(exc))
                return Verdict(False, "your user groups could not be checked with Slack; try again")
            mine = tuple(sorted(g for g in policy.groups if user_id in members.get(g, ())))
            if mine:
                return Verdict(True, groups=mine)
        allowed = [f"<@{u}>" for u in sorted(policy.users)] + [
            f"@{g}" for g in sorted(policy.groups)
        ]
        return Verdict(False, "only " + ", ".join(allowed) + " may do this")

    async def _group_members(self) -> dict[str, list[str]]:
        """handle → user ids, from ``usergroups.list`` (cached in the store for a while)."""
        cached = await self.store.get_value(keys.SLACK_GROUPS)
        if cached is not None:
            data: dict[str, list[str]] = json.loads(cached)
            return data
        resp = await self.client.usergroups_list(include_users=True)
        groups = resp.get("usergroups") or []
        members = {
            _norm_group(str(g.get("handle", ""))): [str(u) for u in g.get("users") or []]
            for g in groups
        }
        await self.store.set_value(keys.SLACK_GROUPS, json.dumps(members), self.group_cache_seconds)
        return members


class SlackActionAuthorizer:
    """The remediation path's *authorize* stage for Slack actors
    (:class:`bot.remediation.stages.ActionAuthorizer`): the same policy the click
    handler checks, applied again where every channel's request passes."""

    def __init__(self, authorizer: Authorizer) -> None:
        self.authorizer = authorizer

    async def authorize(self, actor: Actor, rule: Rule | None, action: str) -> str:
        policy = self.authorizer.policy_for_action(rule.name if rule else None, action)
        verdict = await self.authorizer.check(policy, actor.id, actor.channel, actor.channel_name)
        return "" if verdict.allowed else verdict.reason
