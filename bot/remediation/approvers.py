"""Who may count as an approver, and how each was authenticated.

A Slack click carries the user id from a request Slack signed: that is a person.
The CLI's ``--as NAME`` (or ``$USER``) is whatever the shell says: one shell
could approve twice under two names. So an action that needs more than one
approval takes its approvals from Slack only; the audit records, for every
request, how its actor was authenticated.
"""

from __future__ import annotations

from bot.remediation.requests import Actor

AUTHENTICATED_BY = {
    "slack": "slack-signed-request",  # user id from a request signed with the signing secret
    "cli": "unauthenticated-cli",  # --as NAME or $USER: not proof of a person
    "auto": "bot",
}
APPROVER_SOURCES = frozenset({"slack"})


def authenticated_by(actor: Actor) -> str:
    return AUTHENTICATED_BY.get(actor.source, f"unauthenticated-{actor.source}")


def approval_refusal(actor: Actor, action: str, needed: int) -> str | None:
    """Why ``actor`` cannot give one of ``needed`` approvals, or None."""
    if actor.source in APPROVER_SOURCES:
        return None
    return (
        f"{action} needs {needed} approvals from authenticated people: approve it with its "
        f"Slack button (a {actor.source} name is not proof of who you are, so it cannot "
        "count as one of several approvers)"
    )
