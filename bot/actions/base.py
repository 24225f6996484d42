"""Remediation actions as rules name them.

Each entry registers the action's params model and a ``describe`` function that
says, in one line, what the action would change. Rules are validated against the
params model when they load; running an action (plan with server-side dry run,
execute, undo, safety gates) is the actions engine's job.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ActionParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
