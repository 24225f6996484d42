"""The *Details* reply: everything the main message leaves out — the alert's
labels and annotations, each probe's raw result (JSON, in a code block), the
full explanation — posted in the incident's thread when someone asks."""

from __future__ import annotations

import json

from slack_sdk.models.blocks import ContextBlock, SectionBlock

from bot.models import Incident
from bot.notify.slack.blocks import CONTEXT_TEXT, SECTION_TEXT, Budget, Message, cut, esc, md

RAW_TEXT = SECTION_TEXT - 200  # room for the heading and the code fences


def _code(data: object) -> str:
    text = json.dumps(data, indent=1, default=str, sort_keys=True)
    text, _ = cut(text, RAW_TEXT, "\n… (cut; GET /incidents/ID has all of it)")
    return "```" + text.replace("```", "'''") + "```"


def render_details(incident: Incident) -> Message:
    b = Budget()
    labels = "\n".join(f"{esc(k)}: {esc(v)}" for k, v in sorted(incident.labels.items()))
    text = f"*Alert labels* (`{esc(incident.id)}`)\n```{labels or '(none)'}```"
    b.add(SectionBlock(block_id="honua-d-labels", text=md(b.text(text, SECTION_TEXT))))
    d = incident.diagnosis
    if d is None:
        return Message(f"Details of {incident.id}", b.build(), b.truncated)
    if d.why:
        lines = "\n".join(f"• {esc(c.text())}" for c in d.why)
        b.add(
            SectionBlock(
                block_id="honua-d-why",
                text=md(b.text("*How the scenario was chosen*\n" + lines, SECTION_TEXT)),
            )
        )
    for i, f in enumerate(d.findings.values()):
        state = f"{f.duration_ms:.0f} ms" if f.ok else "failed" if f.configured else "not set up"
        body = _code(f.data) if f.ok else esc(f.error or "failed")
        text = f"*{esc(f.probe)}* · _{esc(f.type)}_ · {state}\n{body}"
        b.add(
            SectionBlock(block_id=f"honua-d-{i}", text=md(b.text(text, SECTION_TEXT))),
            optional=True,
        )
    text = "Machine-readable: `GET /incidents/ID` (bearer token) returns all of this as JSON."
    b.add(ContextBlock(block_id="honua-d-api", elements=[md(cut(text, CONTEXT_TEXT)[0])]))
    return Message(f"Details of {incident.id}: raw probe results", b.build(), b.truncated)
