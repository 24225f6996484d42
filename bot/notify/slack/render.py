"""Block Kit for Slack, as pure functions of an incident and its state.

Blocks are built with ``slack_sdk.models.blocks`` so the per-element limits are
checked by ``to_dict()``; every text is cut to its limit here first, with a
visible note, and the message as a whole is kept within 50 blocks — content
that does not fit never becomes an API error.

Buttons carry only an opaque reference (``refs[spec.key]``), created and
resolved by the caller through the store; a button without a reference is left
out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import quote, urlsplit

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.models import Activity, Finding, Incident, IncidentStatus, ProposedAction
from bot.notify.base import Event
from bot.notify.summary import finding_lines

# Slack's limits (https://docs.slack.dev/reference/block-kit/blocks)
MAX_BLOCKS = 50
HEADER_TEXT = 150
SECTION_TEXT = 3000
FIELD_TEXT = 2000
MAX_FIELDS = 10
CONTEXT_ELEMENTS = 10
CONTEXT_TEXT = 2000
BUTTON_TEXT = 75
ACTION_ID = 255
ACTIONS_PER_BLOCK = 25
CONFIRM_TITLE = 100
CONFIRM_TEXT = 300
FALLBACK_TEXT = 3000
DIGEST_SIZE = 40  # storm members per thread reply (one block each)

TRUNCATED = "… (truncated)"


class State(StrEnum):
    DIAGNOSING = "Diagnosing"
    AWAITING = "Awaiting decision"
    RUNNING = "Running"
    VERIFIED = "Verified"
    DONE = "Done, not verified"  # ran; the rule has no validation (or no Prometheus)
    FAILED = "Failed"
    RESOLVED = "Resolved"


_STATE_EMOJI = {
    State.DIAGNOSING: ":mag:",
    State.AWAITING: ":rotating_light:",
    State.RUNNING: ":hourglass_flowing_sand:",
    State.VERIFIED: ":white_check_mark:",
    State.DONE: ":ballot_box_with_check:",
    State.FAILED: ":x:",
    State.RESOLVED: ":large_green_circle:",
}


@dataclass(frozen=True)
class Lifecycle:
    state: State
    action: str = ""  # the running / last action
    actor: str = ""  # who started it

    @property
    def title(self) -> str:
        """Plain text (headers cannot mention people)."""
        if self.state is State.RUNNING:
            return f"Running {self.action}"
        return self.state.value

    @property
    def label(self) -> str:
        """mrkdwn, with the person who started a running action."""
        if self.state is State.RUNNING:
            return f"Running `{esc(self.action)}` (by {mention(self.actor)})"
        return self.state.value


def lifecycle(incident: Incident, event: Event | None = None) -> Lifecycle:
    """Diagnosing → Awaiting decision → Running X (by @user) → Verified / Failed → Resolved."""
    if incident.status is IncidentStatus.RESOLVED or event is Event.RESOLVED:
        return Lifecycle(State.RESOLVED)
    if event is Event.DIAGNOSING or incident.diagnosis is None:
        return Lifecycle(State.DIAGNOSING)
    if incident.runs:
        run = incident.runs[-1]
        state = {
            "running": State.RUNNING,
            "verifying": State.RUNNING,
            "verified": State.VERIFIED,
            "done": State.DONE,
            "failed": State.FAILED,
            "unknown": State.FAILED,
        }
        return Lifecycle(state[run.state], run.action, run.actor)
    return Lifecycle(State.AWAITING)


# -- text helpers ------------------------------------------------------------------
def esc(text: str) -> str:
    """Escape the three characters mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cut(text: str, limit: int, note: str = TRUNCATED) -> tuple[str, bool]:
    """``text`` within ``limit`` characters, ending in ``note`` when it was cut; a
    link or mention (``<…>``) is never cut in half."""
    if len(text) <= limit:
        return text, False
    head = text[: max(limit - len(note), 0)]
    opened, closed = head.rfind("<"), head.rfind(">")
    if opened > closed:
        head = head[:opened]
    return head.rstrip() + note, True


def mention(actor: str) -> str:
    """``slack:U123`` → ``<@U123>``; ``cli:alice`` → ``alice (cli)``; ``auto`` → ``auto mode``."""
    source, _, who = actor.partition(":")
    if source == "slack" and who:
        return f"<@{esc(who)}>"
    if source == "auto" or actor == "auto":
        return "auto mode"
    if who:
        return f"{esc(who)} ({esc(source)})"
    return esc(actor) or "someone"


def link(url: str, text: str) -> str | None:
    """A mrkdwn link, or None when the URL is not plain http(s)."""
    if urlsplit(url).scheme not in ("http", "https"):
        return None
    safe = url.replace("|", "%7C").replace("<", "%3C").replace(">", "%3E").replace(" ", "%20")
    return f"<{safe}|{esc(text)}>"


def alertmanager_url(incident: Incident) -> str:
    if not incident.external_url:
        return ""
    matcher = quote(f'{{alertname="{incident.alertname}"}}', safe="")
    return f"{incident.external_url.rstrip('/')}/#/alerts?filter={matcher}"


def slack_date(moment: datetime) -> str:
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{moment.isoformat()}>"


def _md(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=text)


# -- buttons -------------------------------------------------------------------------
class ButtonKind(StrEnum):
    ACTION = "action"
    SILENCE = "silence"
    ACK = "ack"
    RERUN = "rerun"
    DETAILS = "details"


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
    return ProposedAction(
        name=f"undo-{run.action}",
        type=str(run.undo.get("type", "")),
        params=dict(run.undo.get("params") or {}),
        confirm=True,
        destructive=True,
        description=str(run.undo.get("description") or f"undo {run.action}"),
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
    return specs


def _action_button(spec: ButtonSpec, ref: str, action: ProposedAction) -> ButtonElement:
    confirm = None
    if action.destructive or action.confirm:
        what = action.description or f"{action.type} {action.params}"
        text, _ = cut(f"*This will change:* {esc(what)}", CONFIRM_TEXT, "…")
        title, _ = cut(f"Run {action.name}?", CONFIRM_TITLE, "…")
        confirm = ConfirmObject(
            title=title,
            text=_md(text),
            confirm="Run it",
            deny="Cancel",
            style="danger" if action.destructive else "primary",
        )
    label, _ = cut(action.name, BUTTON_TEXT, "…")
    return ButtonElement(
        text=label,
        action_id=spec.action_id,
        value=ref,
        style="danger" if action.destructive else None,
        confirm=confirm,
    )


def _control_button(spec: ButtonSpec, ref: str) -> ButtonElement:
    if spec.kind is ButtonKind.SILENCE:
        text = "Silence " + dict(SILENCES).get(spec.seconds, f"{spec.seconds}s")
    elif spec.kind is ButtonKind.ACK:
        text = "Acknowledge"
    elif spec.kind is ButtonKind.RERUN:
        text = "Re-run diagnosis"
    else:
        text = "Details"
    return ButtonElement(text=text, action_id=spec.action_id, value=ref)


# -- the incident message ---------------------------------------------------------
@dataclass
class Message:
    text: str  # notification / fallback text
    blocks: list[dict[str, Any]]
    truncated: bool = False


class _Budget:
    """Collects blocks; the optional ones are dropped first when 50 would be exceeded."""

    def __init__(self) -> None:
        self.blocks: list[tuple[Block, bool]] = []  # (block, optional)
        self.truncated = False

    def add(self, block: Block, optional: bool = False) -> None:
        self.blocks.append((block, optional))

    def text(self, text: str, limit: int) -> str:
        out, was_cut = cut(text, limit)
        self.truncated |= was_cut
        return out

    def build(self) -> list[dict[str, Any]]:
        blocks = list(self.blocks)
        room = MAX_BLOCKS - (1 if self.truncated else 0)
        if len(blocks) > room:
            self.truncated = True
            room = MAX_BLOCKS - 1
            drop = len(blocks) - room
            kept: list[tuple[Block, bool]] = []
            for block, optional in reversed(blocks):
                if optional and drop > 0:
                    drop -= 1
                    continue
                kept.append((block, optional))
            blocks = list(reversed(kept))[:room]
        out = [b.to_dict() for b, _ in blocks]
        if self.truncated:
            out.append(
                ContextBlock(
                    block_id="honua-truncated",
                    elements=[
                        _md(
                            ":scissors: Some content was cut to fit Slack's limits; "
                            "`/honua incident ID` or `GET /incidents/ID` has all of it."
                        )
                    ],
                ).to_dict()
            )
        return out


def _finding_field(finding: Finding) -> str:
    lines = [esc(line) for line in finding_lines(finding.data)]
    return f"*{esc(finding.probe)}* · _{esc(finding.type)}_\n" + "\n".join(lines)


def render_incident(
    incident: Incident,
    lc: Lifecycle,
    refs: Mapping[str, str] | None = None,
    *,
    note: str = "",
) -> Message:
    """The living message of one incident in state ``lc``."""
    refs = refs or {}
    b = _Budget()
    d = incident.diagnosis
    severity = incident.severity or "-"
    header = f"{_STATE_EMOJI[lc.state]} [{severity}] {incident.alertname} — {lc.title}"
    b.add(HeaderBlock(block_id="honua-header", text=b.text(header, HEADER_TEXT)))

    fields = [
        f"*Severity*\n{esc(severity)}",
        f"*State*\n{lc.label}",
        f"*Scenario*\n`{esc(d.scenario)}`" if d else "*Scenario*\n_diagnosing…_",
        f"*Rule*\n{esc(incident.rule or (d.rule if d else None) or '(no rule matched)')}",
        f"*Started*\n{slack_date(incident.starts_at)}",
        f"*Incident*\n`{esc(incident.id)}`",
    ]
    if incident.acknowledged_by:
        when = f" {slack_date(incident.acknowledged_at)}" if incident.acknowledged_at else ""
        fields.append(f"*Acknowledged*\n{mention(incident.acknowledged_by)}{when}")
    if incident.ends_at and lc.state is State.RESOLVED:
        fields.append(f"*Resolved*\n{slack_date(incident.ends_at)}")
    b.add(
        SectionBlock(
            block_id="honua-facts",
            fields=[_md(b.text(f, FIELD_TEXT)) for f in fields[:MAX_FIELDS]],
        )
    )

    summary = d.summary if d and d.summary else incident.annotations.get("summary", "")
    if lc.state is State.DIAGNOSING:
        summary = "Running the runbook's probes…" + (
            f"\n_previous diagnosis:_ {summary}" if summary else ""
        )
    if summary:
        b.add(SectionBlock(block_id="honua-summary", text=_md(b.text(esc(summary), SECTION_TEXT))))

    if note:
        b.add(ContextBlock(block_id="honua-note", elements=[_md(b.text(note, CONTEXT_TEXT))]))

    if d is not None:
        ok = [f for f in d.findings.values() if f.ok]
        for i in range(0, len(ok), MAX_FIELDS):
            chunk = ok[i : i + MAX_FIELDS]
            block = SectionBlock(
                block_id=f"honua-findings-{i // MAX_FIELDS}",
                text=_md("*Key findings*") if i == 0 else None,
                fields=[_md(b.text(_finding_field(f), FIELD_TEXT)) for f in chunk],
            )
            b.add(block, optional=i > 0)
        failed = [f for f in d.failed_probes if f.configured]
        absent = [f for f in d.failed_probes if not f.configured]
        if failed:
            lines = [
                f"• `{esc(f.probe)}` ({esc(f.type)}): {esc(f.error or 'failed')}" for f in failed
            ]
            text = ":warning: *Probes that failed*\n" + "\n".join(lines)
            b.add(SectionBlock(block_id="honua-failed", text=_md(b.text(text, SECTION_TEXT))))
        if absent:
            names = ", ".join(f"`{esc(f.probe)}`" for f in absent)
            text = f"Not configured here, so no evidence either way: {names}"
            b.add(
                ContextBlock(
                    block_id="honua-unconfigured", elements=[_md(b.text(text, CONTEXT_TEXT))]
                )
            )
        if d.steps:
            steps = "\n".join(f"{i}. {esc(s)}" for i, s in enumerate(d.steps, 1))
            text = ":clipboard: *Manual steps* (not automated: do these by hand)\n" + steps
            b.add(SectionBlock(block_id="honua-steps", text=_md(b.text(text, SECTION_TEXT))))
        if d.notes:
            notes = [_md(b.text(esc(n), CONTEXT_TEXT)) for n in d.notes[:CONTEXT_ELEMENTS]]
            b.truncated |= len(d.notes) > CONTEXT_ELEMENTS
            b.add(ContextBlock(block_id="honua-notes", elements=notes), optional=True)
        auto = [a.name for a in d.actions if a.mode == "auto"]
        if auto:
            text = "Automatic (through the safety gates): " + ", ".join(f"`{esc(a)}`" for a in auto)
            b.add(ContextBlock(block_id="honua-auto", elements=[_md(b.text(text, CONTEXT_TEXT))]))
        shadow = [a.name for a in d.actions if a.mode == "shadow"]
        if shadow:
            text = "Shadow mode (gates and plan checked, recorded, not run): " + ", ".join(
                f"`{esc(a)}`" for a in shadow
            )
            b.add(ContextBlock(block_id="honua-shadow", elements=[_md(b.text(text, CONTEXT_TEXT))]))

    if incident.runs:
        run = incident.runs[-1]
        text = f"Last action: `{esc(run.action)}` by {mention(run.actor)} — *{run.state}*"
        if run.detail:
            text += f": {esc(run.detail)}"
        b.add(ContextBlock(block_id="honua-run", elements=[_md(b.text(text, CONTEXT_TEXT))]))

    specs = button_specs(incident, lc)
    proposed = {a.name: a for a in (d.actions if d else [])}
    if (undo := undo_action(incident)) is not None:
        proposed[undo.name] = undo
    action_buttons = [
        _action_button(s, refs[s.key], proposed[s.action])
        for s in specs
        if s.kind is ButtonKind.ACTION and s.key in refs and s.action in proposed
    ]
    for i in range(0, len(action_buttons), ACTIONS_PER_BLOCK):
        b.add(
            ActionsBlock(
                block_id=f"honua-actions-{i // ACTIONS_PER_BLOCK}",
                elements=action_buttons[i : i + ACTIONS_PER_BLOCK],
            )
        )
    controls = [
        _control_button(s, refs[s.key])
        for s in specs
        if s.kind is not ButtonKind.ACTION and s.key in refs
    ]
    if controls:
        b.add(ActionsBlock(block_id="honua-controls", elements=controls))

    links = [
        link(incident.generator_url, "Source (Prometheus)") if incident.generator_url else None,
        link(url, "Alertmanager") if (url := alertmanager_url(incident)) else None,
    ]
    present = [x for x in links if x]
    if present:
        b.add(ContextBlock(block_id="honua-links", elements=[_md(" · ".join(present))]))

    scenario = f": {d.scenario}" if d else ""
    fallback, _ = cut(f"[{severity}] {incident.alertname} — {lc.title}{scenario}", FALLBACK_TEXT)
    blocks = b.build()
    return Message(fallback, blocks, b.truncated)


def render_activity(entry: Activity) -> str:
    """A thread reply: what happened and who did it."""
    text, _ = cut(f"{esc(entry.text)} — {mention(entry.actor)}", SECTION_TEXT)
    return text


# -- storms ------------------------------------------------------------------------------
@dataclass
class StormMember:
    """One incident threaded under a storm summary instead of posted on its own."""

    incident: str
    alertname: str
    severity: str
    rule: str
    scenario: str
    resolved: bool = False
    details_ref: str = ""


def render_storm_summary(members: Sequence[StormMember], threshold: int, window: float) -> Message:
    """One message for the whole storm, updated in place: counts by rule and scenario."""
    total = len(members)
    resolved = sum(1 for m in members if m.resolved)
    b = _Budget()
    b.add(
        HeaderBlock(
            block_id="honua-storm-header",
            text=b.text(
                f":thunder_cloud_and_rain: Alert storm — {total} incidents ({resolved} resolved)",
                HEADER_TEXT,
            ),
        )
    )
    minutes = f"{window / 60:g} min"
    b.add(
        SectionBlock(
            block_id="honua-storm-about",
            text=_md(
                f"More than {threshold} incidents opened in this channel within {minutes}: "
                "new ones are listed in this thread instead of one message each. "
                "*Details* on a line shows its findings and buttons; `/honua` lists open incidents."
            ),
        )
    )
    counts: Counter[tuple[str, str]] = Counter()
    closed: Counter[tuple[str, str]] = Counter()
    for m in members:
        counts[(m.rule, m.scenario)] += 1
        if m.resolved:
            closed[(m.rule, m.scenario)] += 1
    lines = [
        f"• `{esc(rule or '(no rule)')}` · {esc(scenario)} — *{n}*"
        + (f" ({closed[(rule, scenario)]} resolved)" if closed[(rule, scenario)] else "")
        for (rule, scenario), n in counts.most_common()
    ]
    if lines:
        text = "*By rule and scenario*\n" + "\n".join(lines)
        b.add(SectionBlock(block_id="honua-storm-counts", text=_md(b.text(text, SECTION_TEXT))))
    fallback = f"Alert storm: {total} incidents ({resolved} resolved)"
    return Message(fallback, b.build(), b.truncated)


def storm_line(m: StormMember) -> str:
    icon = ":large_green_circle:" if m.resolved else ":red_circle:"
    return (
        f"{icon} *[{esc(m.severity or '-')}] {esc(m.alertname)}* · `{esc(m.scenario)}` · "
        f"`{esc(m.incident)}`" + (" — resolved" if m.resolved else "")
    )


def render_storm_digest(members: Sequence[tuple[int, StormMember]]) -> Message:
    """A thread reply listing up to DIGEST_SIZE storm members, each with a Details button."""
    b = _Budget()
    first, last = members[0][0], members[-1][0]
    b.add(ContextBlock(block_id="honua-digest", elements=[_md(f"Incidents {first} to {last}")]))
    for seq, m in members[:DIGEST_SIZE]:
        button = (
            ButtonElement(
                text="Details", action_id=f"honua:details:{seq}"[:ACTION_ID], value=m.details_ref
            )
            if m.details_ref
            else None
        )
        b.add(
            SectionBlock(
                block_id=f"honua-m-{seq}",
                text=_md(b.text(storm_line(m), SECTION_TEXT)),
                accessory=button,
            )
        )
    return Message(f"Incidents {first} to {last} of the storm", b.build(), b.truncated)


# -- /honua ---------------------------------------------------------------------------
def render_status(incidents: Sequence[Incident], links: Mapping[str, str]) -> Message:
    """``/honua``: the open incidents, newest first, each with a link to its message."""
    b = _Budget()
    b.add(HeaderBlock(text=f"Open incidents: {len(incidents)}"))
    if not incidents:
        b.add(SectionBlock(text=_md("Nothing open. :sunny:")))
    shown = incidents[: MAX_BLOCKS - 3]
    for incident in shown:
        lc = lifecycle(incident)
        scenario = incident.diagnosis.scenario if incident.diagnosis else "diagnosing"
        where = link(links[incident.id], "message") if incident.id in links else None
        text = (
            f"{_STATE_EMOJI[lc.state]} *[{esc(incident.severity or '-')}] "
            f"{esc(incident.alertname)}* — {lc.label}\n`{esc(scenario)}` · `{esc(incident.id)}` · "
            f"since {slack_date(incident.starts_at)}" + (f" · {where}" if where else "")
        )
        b.add(SectionBlock(text=_md(b.text(text, SECTION_TEXT))))
    if len(incidents) > len(shown):
        b.add(ContextBlock(elements=[_md(f"… and {len(incidents) - len(shown)} more")]))
    b.add(ContextBlock(elements=[_md("`/honua incident ID` shows one incident in full.")]))
    return Message(f"Open incidents: {len(incidents)}", b.build(), b.truncated)
