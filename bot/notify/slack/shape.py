"""Is a signed Slack request something Bolt can route? Checked before Bolt sees it.

Bolt assumes Slack's shapes (``actions[0]["action_id"]``, ``view["type"]``, a
dict body) and answers 500 when they are not there. A signed request is still
input: anything this module refuses gets a 400 naming the field instead.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

# the interaction types whose fields Bolt indexes without checking
_NEEDS_ACTIONS = ("block_actions", "interactive_message")
_NEEDS_VIEW = ("view_submission", "view_closed")


class BadShape(ValueError):
    pass


def parse(text: str, content_type: str) -> dict[str, Any]:
    """The request body as Bolt will see it, or :class:`BadShape`."""
    if content_type.startswith("application/json") or text.lstrip().startswith("{"):
        try:
            body = json.loads(text)
        except ValueError as exc:
            raise BadShape(f"body is not JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise BadShape(f"body must be a JSON object, not {type(body).__name__}")
        return body
    fields = parse_qs(text, keep_blank_values=True)
    if "payload" not in fields:
        return {k: v[0] for k, v in fields.items()}
    if len(fields["payload"]) != 1:
        raise BadShape("payload must be sent once")
    try:
        payload = json.loads(fields["payload"][0])
    except ValueError as exc:
        raise BadShape(f"payload is not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise BadShape(f"payload must be a JSON object, not {type(payload).__name__}")
    return payload


def _object(body: dict[str, Any], key: str) -> None:
    if key in body and body[key] is not None and not isinstance(body[key], dict):
        raise BadShape(f"{key} must be an object")


def check(body: dict[str, Any]) -> None:
    """:class:`BadShape` naming the first field Bolt would trip on."""
    for key in ("user", "team", "channel", "enterprise", "container", "message"):
        _object(body, key)
    kind = body.get("type")
    if kind in _NEEDS_ACTIONS:
        actions = body.get("actions")
        if not isinstance(actions, list) or not actions:
            raise BadShape("actions must be a non-empty list")
        for i, action in enumerate(actions):
            if not isinstance(action, dict):
                raise BadShape(f"actions[{i}] must be an object")
            if not isinstance(action.get("action_id", action.get("name")), str):
                raise BadShape(f"actions[{i}].action_id must be a string")
    if kind in _NEEDS_VIEW:
        view = body.get("view")
        if not isinstance(view, dict) or not isinstance(view.get("type"), str):
            raise BadShape("view.type must be a string")
        if not isinstance(view.get("callback_id", ""), str):
            raise BadShape("view.callback_id must be a string")
    if "command" in body:
        if not isinstance(body["command"], str):
            raise BadShape("command must be a string")
        if not str(body.get("response_url") or "").startswith(("https://", "http://")):
            raise BadShape("response_url is missing: there is nowhere to answer")
    for key in ("type", "callback_id", "response_url", "trigger_id"):
        if key in body and body[key] is not None and not isinstance(body[key], str):
            raise BadShape(f"{key} must be a string")
