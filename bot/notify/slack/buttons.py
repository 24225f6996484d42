"""The buttons an incident's message offers, and what each says it will do.

A button carries only an opaque reference (``refs[spec.key]``), created and
resolved by the caller through the store; a button without a reference is left
out. An action's button shows the rule's label (``Halve concurrency``), is red
when destructive, names the approvals it needs, and its confirm dialog says
what will change.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from slack_sdk.models.blocks import ButtonElement, ConfirmObject

from bot.models import Incident, ProposedAction
from bot.notify.slack.blocks import ACTION_ID, BUTTON_TEXT, CONFIRM_TEXT, CONFIRM_TITLE, cut, esc
from bot.notify.slack.blocks import md as _md
from bot.notify.slack.lifecycle import Lifecycle, State


class ButtonKind(StrEnum):
    ACTION = "action"
    SILENCE = "silence"
    ACK = "ack"
    RERUN = "rerun"
    DETAILS = "details"  # a storm member: show its message
    RAW = "raw"  # the raw probe results, as a reply in the incident's thread
    # a mitigation's restore (``undo-NAME``), offered in the thread once the incident
    # resolved: the one button that still works on a resolved incident
    RESTORE = "restore"


SILENCES: tuple[tuple[int, str], ...] = ((3600, "1h"), (4 * 3600, "4h"))


@dataclass(frozen=True)
class ButtonSpec:
    kind: ButtonKind
    action: str = ""  # the rule's action name, for ACTION
    seconds: int = 0  # for SILENCE

    @property
    def key(self) -> str:
        """Stable within an incident: the same button gets the same reference."""
        return f"{self.kind.value}:{self.action or self.seconds or ''}"

    @property
    def action_id(self) -> str:
        """Routing only (``honua:…``); the listener trusts the reference, not this."""
        suffix = self.action or (str(self.seconds) if self.seconds else "")
        return (f"honua:{self.kind.value}:{suffix}" if suffix else f"honua:{self.kind.value}")[
            :ACTION_ID
        ]


def undo_action(incident: Incident) -> ProposedAction | None:
    """The last run's undo, offered as a button (``undo-NAME``) once it finished."""
    run = incident.runs[-1] if incident.runs else None
    if run is None or not run.undo or run.state not in ("verified", "failed", "done"):
        return None
    description = str(run.undo.get("description") or f"undo {run.action}")
    return ProposedAction(
        name=f"undo-{run.action}",
        type=str(run.undo.get("type", "")),
        params=dict(run.undo.get("params") or {}),
        confirm=True,
        destructive=True,
        description=description,
        label=f"Undo {run.action}",
    )


def button_specs(incident: Incident, lc: Lifecycle) -> list[ButtonSpec]:
    """The buttons the message offers in this state (none once resolved)."""
    if lc.state is State.RESOLVED:
        return []
    specs: list[ButtonSpec] = []
    if lc.state is not State.DIAGNOSING and incident.diagnosis is not None:
        specs += [
            ButtonSpec(ButtonKind.ACTION, a.name)
            for a in incident.diagnosis.actions
            if a.mode != "auto"  # a shadow action runs for real only when pressed
        ]
    undo = undo_action(incident)
    if undo is not None and lc.state in (State.VERIFIED, State.DONE, State.FAILED):
        specs.append(ButtonSpec(ButtonKind.ACTION, undo.name))
    specs += [ButtonSpec(ButtonKind.SILENCE, seconds=s) for s, _ in SILENCES]
    if not incident.acknowledged_by:
        specs.append(ButtonSpec(ButtonKind.ACK))
    if lc.state is not State.DIAGNOSING:
        specs.append(ButtonSpec(ButtonKind.RERUN))
    if incident.diagnosis is not None and incident.diagnosis.findings:
        specs.append(ButtonSpec(ButtonKind.RAW))
    return specs


def action_text(action: ProposedAction) -> str:
    """The button's text: its label, and the approvals it needs when more than one."""
    label = action.label or action.name
    if action.approvals > 1:
        label += f" ({action.approvals} approvals)"
    return cut(label, BUTTON_TEXT, "…")[0]


def action_button(spec: ButtonSpec, ref: str, action: ProposedAction) -> ButtonElement:
    confirm = None
    if action.destructive or action.confirm or action.approvals > 1:
        what = action.change or action.description or f"{action.type} {action.params}"
        text = f"*This will:* {esc(what)}"
        if action.approvals > 1:
            text += f"\n*Needs:* {action.approvals} people to approve before it runs."
        title, _ = cut(f"{action.label or action.name}?", CONFIRM_TITLE, "…")
        confirm = ConfirmObject(
            title=title,
            text=_md(cut(text, CONFIRM_TEXT, "…")[0]),
            confirm="Run it" if action.approvals <= 1 else "Approve",
            deny="Cancel",
            style="danger" if action.destructive else "primary",
        )
    return ButtonElement(
        text=action_text(action),
        action_id=spec.action_id,
        value=ref,
        style="danger" if action.destructive else None,
        confirm=confirm,
    )


def restore_button(spec: ButtonSpec, ref: str, label: str, what: str) -> ButtonElement:
    """The restore offer's button: confirmed, as every undo is."""
    title, _ = cut(f"{label}?", CONFIRM_TITLE, "…")
    confirm = ConfirmObject(
        title=title,
        text=_md(cut(f"*This will:* {esc(what)}", CONFIRM_TEXT, "…")[0]),
        confirm="Restore",
        deny="Cancel",
        style="danger",
    )
    text = cut(label or f"Run {spec.action}", BUTTON_TEXT, "…")[0]
    return ButtonElement(
        text=text, action_id=spec.action_id, value=ref, style="danger", confirm=confirm
    )


def control_button(spec: ButtonSpec, ref: str) -> ButtonElement:
    if spec.kind is ButtonKind.SILENCE:
        text = "Silence " + dict(SILENCES).get(spec.seconds, f"{spec.seconds}s")
    elif spec.kind is ButtonKind.ACK:
        text = "Acknowledge"
    elif spec.kind is ButtonKind.RERUN:
        text = "Re-run diagnosis"
    elif spec.kind is ButtonKind.RAW:
        text = "Details (raw results)"
    else:
        text = "Details"
    return ButtonElement(text=text, action_id=spec.action_id, value=ref)
