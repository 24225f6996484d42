"""Readable incidents in a terminal (rich)."""

from __future__ import annotations

import re
from typing import IO

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from bot.models import Diagnosis, Incident
from bot.notify.base import Event
from bot.notify.summary import finding_summary

# C0 (but newline and tab), DEL and C1: an ESC in a label must not drive the terminal
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def safe(text: object) -> str:
    """``text`` with control characters shown as ``\\xNN`` instead of sent raw."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


def _text(text: object, style: str = "") -> Text:
    return Text(safe(text), style=style)


def findings_table(diagnosis: Diagnosis) -> Table:
    table = Table(show_header=True, header_style="bold", expand=True)
    table.add_column("probe", no_wrap=True)
    table.add_column("type", no_wrap=True)
    table.add_column("result")
    for finding in diagnosis.findings.values():
        if finding.ok:
            result = _text(finding_summary(finding.data))
        else:
            result = _text(f"FAILED: {finding.error}", style="red")
        table.add_row(_text(finding.probe), _text(finding.type), result)
    return table


def render_incident(incident: Incident, event: Event) -> Panel:
    d = incident.diagnosis
    state = "RESOLVED" if event is Event.RESOLVED else incident.status.value.upper()
    # a Text, not a str: a str title is rich markup, and "[/]" in an alertname raised
    title = _text(f"[{incident.severity or '-'}] {incident.alertname} — {state} — {incident.id}")
    parts: list[RenderableType] = []
    if incident.annotations.get("summary"):
        parts.append(_text(incident.annotations["summary"]))
    if d is None:
        parts.append(Text("no diagnosis (resolved before it was diagnosed)", style="dim"))
    else:
        parts.append(Text.assemble(("rule: ", "bold"), safe(d.rule or "(no rule matched)")))
        parts.append(Text.assemble(("scenario: ", "bold"), (safe(d.scenario), "bold yellow")))
        if d.summary:
            parts.append(_text(d.summary))
        if d.findings:
            parts.append(findings_table(d))
        for i, step in enumerate(d.steps, 1):
            parts.append(_text(f"  {i}. [manual] {step}"))
        for action in d.actions:
            marker = action.mode if action.mode in ("auto", "shadow") else "button"
            parts.append(_text(f"  → [{marker}] {action.name}: {action.description}"))
        for note in d.notes:
            parts.append(_text(f"  note: {note}", style="dim"))
        if event is Event.RESOLVED and d.prevention:
            parts.append(Text("prevention (from the runbook):", style="bold"))
            parts.extend(_text(f"  [ ] {item}") for item in d.prevention)
    if incident.generator_url:
        parts.append(_text(f"source: {incident.generator_url}", style="dim"))
    style = "green" if event is Event.RESOLVED else "red"
    return Panel(Group(*parts), title=title, border_style=style, expand=True)


class ConsoleNotifier:
    def __init__(self, stream: IO[str] | None = None, width: int | None = None) -> None:
        self.console = Console(file=stream, width=width, soft_wrap=False)

    async def notify(self, incident: Incident, event: Event) -> None:
        if event is Event.DIAGNOSING:
            return  # the console is a log: it shows what the diagnosis found
        self.console.print(render_incident(incident, event))
