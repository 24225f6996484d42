"""Readable incidents in a terminal (rich): one panel per change of state
(diagnosed, acting, verified, resolved…), and one line for everything in
between (a timeline entry, a verification poll). Lines wrap rather than being
cut, so a hint such as the setting to set is always whole."""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import IO, Any

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.text import Text

from bot.models import Incident, IncidentStatus
from bot.notify.base import Event
from bot.notify.summary import fact_lines, problem_lines

UNCLASSIFIED = "unclassified"
KEEP_RESOLVED = 500  # resolved incidents whose printed state is remembered


def _state(incident: Incident, event: Event) -> str:
    if event is Event.RESOLVED or incident.status is IncidentStatus.RESOLVED:
        return "Resolved"
    if event is Event.DIAGNOSING or incident.diagnosis is None:
        return "Diagnosing"
    if incident.runs:
        run = incident.runs[-1]
        return {
            "running": f"Running {run.action}",
            "verifying": f"Verifying {run.action}",
            "verified": f"Verified {run.action}",
            "failed": f"Failed {run.action}",
            "done": f"Done {run.action} (not verified)",
            "unknown": f"Outcome unknown {run.action}",
        }[run.state]
    return "Awaiting decision"


def _wrap(text: str, style: str = "") -> Text:
    return Text(text, style=style, overflow="fold")


def render_incident(incident: Incident, event: Event, compact: bool = False) -> Panel:
    """The whole incident; ``compact``: only its state and last action (the console
    already showed the diagnosis)."""
    d = incident.diagnosis
    state = _state(incident, event)
    level = (d.priority if d else "") or incident.severity or "-"
    scenario = f" · {d.scenario}" if d else ""
    # a short title (rich cuts a long one); the rest wraps in the first line
    # a Text, not a str: a str title is rich markup ("[/]" in an alertname raised)
    title = Text(f"[{level}] {incident.alertname}")
    parts: list[RenderableType] = [_wrap(f"{state}{scenario} · {incident.id}", "bold")]
    if compact:
        pass
    elif d is None:
        summary = incident.annotations.get("summary", "")
        parts.append(_wrap(summary or "no diagnosis yet", "" if summary else "dim"))
    else:
        if d.scenario == UNCLASSIFIED:
            parts.append(_wrap("No scenario of the runbook matched.", "bold yellow"))
        if d.summary:
            parts.append(_wrap(d.summary, "bold"))
        if d.runbook:
            parts.append(_wrap(f"runbook: {d.runbook}", "dim"))
        parts += [_wrap(f"  {line}") for line in fact_lines(d)]
        if (chosen := d.chosen) is not None:
            parts.append(_wrap(f"why: {chosen.text()}", "green"))
        parts += [_wrap(f"  not {c.text()}", "dim") for c in d.why if not c.held]
        parts += [_wrap(f"  {line}", "red") for line in problem_lines(d)]
        if d.scenario == UNCLASSIFIED:
            parts += [_wrap(f"  ☐ {step}") for step in d.checklist]
        parts += [_wrap(f"  {i}. [by hand] {step}") for i, step in enumerate(d.steps, 1)]
        for a in d.actions:
            how = a.mode if a.mode in ("auto", "shadow") else "button"
            extra = f", {a.approvals} approvals" if a.approvals > 1 else ""
            what = a.change or a.description
            parts.append(_wrap(f"  → [{how}{extra}] {a.label or a.name}: {what}"))
        parts += [_wrap(f"  note: {note}", "dim") for note in d.notes]
        if state == "Resolved" and d.prevention:
            parts.append(_wrap("prevention (from the runbook):", "bold"))
            parts += [_wrap(f"  [ ] {item}") for item in d.prevention]
    if incident.runs:
        run = incident.runs[-1]
        detail = f": {run.detail}" if run.detail else ""
        parts.append(_wrap(f"last action: {run.action} by {run.actor} — {run.state}{detail}"))
        parts += [_wrap(f"  {line}") for line in run.progress]
    if incident.generator_url and not compact:
        parts.append(_wrap(f"source: {incident.generator_url}", "dim"))
    style = "green" if state == "Resolved" else "red"
    return Panel(Group(*parts), title=title, border_style=style, expand=True)


@dataclass
class _Seen:
    state: tuple[str, ...] = ()
    activity: int = 0
    progress: list[str] = field(default_factory=list)


# C0 (but newline and tab), DEL and C1: an ESC in a label must not drive the terminal
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def safe(text: str) -> str:
    """``text`` with control characters shown as ``\\xNN`` instead of sent raw."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return safe(value)
    if isinstance(value, dict):
        return {_scrub(k): _scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def scrubbed(incident: Incident) -> Incident:
    """A copy of ``incident`` safe to print: labels, annotations, findings and
    texts come from outside (an alert's labels, a pod's log line)."""
    return Incident.model_validate(_scrub(incident.model_dump()))


class ConsoleNotifier:
    def __init__(self, stream: IO[str] | None = None, width: int | None = None) -> None:
        self.console = Console(file=stream, width=width, soft_wrap=False)
        self._seen: dict[str, _Seen] = {}
        self._resolved: OrderedDict[str, None] = OrderedDict()

    async def notify(self, incident: Incident, event: Event) -> None:
        if event is Event.DIAGNOSING:
            return  # the console is a log: it shows what the diagnosis found
        incident = scrubbed(incident)
        seen = self._seen.setdefault(incident.id, _Seen())
        d = incident.diagnosis
        state = (
            _state(incident, event),
            d.scenario if d else "",
            str(len(incident.runs)),
            incident.acknowledged_by,
        )
        if state != seen.state:
            # the diagnosis once in full; later states of the same diagnosis compactly
            compact = bool(seen.state) and seen.state[1] == state[1] and state[0] != "Resolved"
            self.console.print(render_incident(incident, event, compact))
            seen.state, seen.activity = state, len(incident.activity)
            seen.progress = list(incident.runs[-1].progress) if incident.runs else []
        else:  # same state: only what is new, a line each
            for entry in incident.activity[seen.activity :]:
                offer = (
                    f" [{entry.offer_label}: honua-bot act {incident.id} {entry.offer}]"
                    if entry.offer
                    else ""
                )
                self._line(incident, f"{entry.text}{offer} — {entry.actor or 'honua-bot'}")
            seen.activity = len(incident.activity)
            progress = list(incident.runs[-1].progress) if incident.runs else []
            if progress and progress != seen.progress:
                self._line(incident, "verifying: " + "; ".join(progress))
            seen.progress = progress
        if state[0] == "Resolved":
            # kept a while: a restore offered (or run) later prints as lines, not as
            # the whole incident again; the oldest are forgotten
            self._resolved[incident.id] = None
            self._resolved.move_to_end(incident.id)
            while len(self._resolved) > KEEP_RESOLVED:
                old, _ = self._resolved.popitem(last=False)
                self._seen.pop(old, None)

    def _line(self, incident: Incident, text: str) -> None:
        self.console.print(_wrap(f"{incident.id} · {text}"))
