"""The living message of one incident: a header with the rule's P-level, the
headline with the numbers, the facts as the rule displays them, why this
scenario (and not an earlier one), labelled buttons, and links; once resolved,
the runbook's Prevention items as a checklist.

Raw probe results never appear here: they are one click away (the *Details*
button posts them in the thread; ``GET /incidents/{id}`` has them all).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from slack_sdk.models.blocks import ActionsBlock, ContextBlock, HeaderBlock, SectionBlock

from bot.models import Diagnosis, Finding, Incident
from bot.notify.slack.blocks import (
    ACTIONS_PER_BLOCK,
    CONTEXT_ELEMENTS,
    CONTEXT_TEXT,
    FALLBACK_TEXT,
    FIELD_TEXT,
    HEADER_TEXT,
    MAX_FIELDS,
    SECTION_TEXT,
    Budget,
    Message,
    alertmanager_url,
    cut,
    esc,
    link,
    md,
    mention,
    slack_date,
)
from bot.notify.slack.buttons import (
    ButtonKind,
    action_button,
    button_specs,
    control_button,
    undo_action,
)
from bot.notify.slack.lifecycle import STATE_EMOJI, Lifecycle, State

UNCLASSIFIED = "unclassified"
_REFUSED = re.compile(r"^connection refused: (?P<where>.+)$")


# a direct check of the target (redis, postgres, the process API) says more than the
# cluster's view of it, which says more than a metric; a refusal more than a denial
_TYPE_RANK = {"kubernetes": 1, "prometheus": 2}


def _error_rank(f: Finding) -> int:
    error = f.error or ""
    if _REFUSED.match(error):
        return 0
    return 2 if error.startswith("forbidden") else 1


def runbook_link(d: Diagnosis, base_url: str = "") -> str:
    """The runbook's title, linked to its section when a URL is known: the rule's
    ``display.runbook_url``, else ``base_url`` + the title's GitHub-style anchor."""
    if not d.runbook:
        return ""
    url = d.runbook_url
    if not url and base_url:
        anchor = re.sub(r"[^a-z0-9 -]", "", d.runbook.lower()).replace(" ", "-")
        url = f"{base_url.rstrip('#')}#{anchor}"
    return (link(url, d.runbook) if url else None) or esc(d.runbook)


def evidence(f: Finding) -> str:
    """A failed probe as a sentence: ``redis (redis.health): redis-0.redis:6379 refuses connections``."""
    error = f.error or "failed"
    m = _REFUSED.match(error)
    said = f"{m['where']} refuses connections" if m else error
    return f"`{esc(f.probe)}` ({esc(f.type)}): {esc(said)}"


def strongest_evidence(d: Diagnosis) -> str:
    """What an unclassified incident leads with: a target that refused or failed
    first (that is most often the cause), else the first fact."""
    failed = [f for f in d.failed_probes if f.configured]
    failed.sort(key=lambda f: (_TYPE_RANK.get(f.type.split(".")[0], 0), _error_rank(f)))
    if failed:
        return evidence(failed[0])
    if d.facts:
        fact = d.facts[0]
        return f"{esc(fact.label)} {esc(fact.text)}" + (
            f" ({esc(fact.threshold)})" if fact.threshold else ""
        )
    return "no probe answered"


def fact_field(label: str, text: str, threshold: str) -> str:
    out = f"*{esc(label)}*\n{esc(text)}"
    return out + (f"  _({esc(threshold)})_" if threshold else "")


def _header(b: Budget, incident: Incident, lc: Lifecycle) -> None:
    d = incident.diagnosis
    level = (d.priority if d else "") or incident.severity or "-"
    scenario = f" · {d.scenario}" if d and lc.state is not State.DIAGNOSING else ""
    header = f"{STATE_EMOJI[lc.state]} {level} {incident.alertname}{scenario} — {lc.title}"
    b.add(HeaderBlock(block_id="honua-header", text=b.text(header, HEADER_TEXT)))


def _about(b: Budget, incident: Incident, lc: Lifecycle, runbook_base: str) -> None:
    """One context line: state, runbook, rule, the alert's own severity, start, id."""
    d = incident.diagnosis
    parts = [lc.label]
    if d and (rb := runbook_link(d, runbook_base)):
        parts.append(f":book: {rb}")
    if rule := incident.rule or (d.rule if d else None):
        parts.append(f"rule `{esc(rule)}`")
    if incident.severity:
        parts.append(f"alert severity `{esc(incident.severity)}`")
    parts.append(f"since {slack_date(incident.starts_at)}")
    parts.append(f"`{esc(incident.id)}`")
    if incident.acknowledged_by:
        when = f" {slack_date(incident.acknowledged_at)}" if incident.acknowledged_at else ""
        parts.append(f"acknowledged by {mention(incident.acknowledged_by)}{when}")
    if incident.ends_at and lc.state is State.RESOLVED:
        parts.append(f"resolved {slack_date(incident.ends_at)}")
    text = " · ".join(parts)
    b.add(ContextBlock(block_id="honua-about", elements=[md(b.text(text, CONTEXT_TEXT))]))


def _headline(b: Budget, incident: Incident, lc: Lifecycle) -> None:
    d = incident.diagnosis
    summary = d.summary if d and d.summary else incident.annotations.get("summary", "")
    if lc.state is State.DIAGNOSING:
        text = "Running the runbook's probes…" + (
            f"\n_previous diagnosis:_ {esc(summary)}" if summary else ""
        )
    elif d is not None and d.scenario == UNCLASSIFIED:
        text = (
            ":grey_question: *No scenario of the runbook matched.* "
            f"Strongest evidence: {strongest_evidence(d)}"
        )
    else:
        text = esc(summary)
    if text:
        b.add(SectionBlock(block_id="honua-summary", text=md(b.text(text, SECTION_TEXT))))


def _facts(b: Budget, d: Diagnosis) -> None:
    fields = [fact_field(f.label, f.text, f.threshold) for f in d.facts]
    for i in range(0, len(fields), MAX_FIELDS):
        b.add(
            SectionBlock(
                block_id=f"honua-facts-{i // MAX_FIELDS}",
                fields=[md(b.text(f, FIELD_TEXT)) for f in fields[i : i + MAX_FIELDS]],
            ),
            optional=i > 0,
        )
    hidden = [f for f in d.findings.values() if f.ok and f.probe not in {x.probe for x in d.facts}]
    if hidden and not d.facts:
        names = ", ".join(f"`{esc(f.probe)}`" for f in hidden)
        text = f"Probes answered: {names} (*Details* shows their results)"
        b.add(ContextBlock(block_id="honua-answered", elements=[md(b.text(text, CONTEXT_TEXT))]))


def _why(b: Budget, d: Diagnosis) -> None:
    chosen = d.chosen
    if chosen is not None:
        text = f":mag_right: *Why* {esc(chosen.text())}"
        b.add(SectionBlock(block_id="honua-why", text=md(b.text(text, SECTION_TEXT))))
    earlier = [c for c in d.why if not c.held]
    if earlier:
        lines = [f"• {esc(c.text())}" for c in earlier]
        text = "*Not earlier scenarios:*\n" + "\n".join(lines)
        b.add(
            ContextBlock(block_id="honua-why-not", elements=[md(b.text(text, CONTEXT_TEXT))]),
            optional=True,
        )


def _problems(b: Budget, d: Diagnosis) -> None:
    failed = [f for f in d.failed_probes if f.configured]
    if failed:
        text = ":warning: *Could not read*\n" + "\n".join(f"• {evidence(f)}" for f in failed)
        b.add(SectionBlock(block_id="honua-failed", text=md(b.text(text, SECTION_TEXT))))
    if d.unchecked:
        lines = [
            f"• `{esc(u.probe)}` ({esc(u.what)}): set `{esc(u.setting)}`"
            if u.setting
            else f"• `{esc(u.probe)}` ({esc(u.what)})"
            for u in d.unchecked
        ]
        text = ":electric_plug: *Not checked* (not set up here, so no evidence either way)\n"
        b.add(
            SectionBlock(
                block_id="honua-unconfigured",
                text=md(b.text(text + "\n".join(lines), SECTION_TEXT)),
            )
        )


def _steps(b: Budget, d: Diagnosis) -> None:
    if d.checklist and d.scenario == UNCLASSIFIED:
        lines = "\n".join(f"☐ {esc(s)}" for s in d.checklist)
        text = ":clipboard: *The runbook's diagnosis steps*\n" + lines
        b.add(SectionBlock(block_id="honua-checklist", text=md(b.text(text, SECTION_TEXT))))
    if d.steps:
        steps = "\n".join(f"{i}. {esc(s)}" for i, s in enumerate(d.steps, 1))
        text = ":clipboard: *Manual steps* (not automated: do these by hand)\n" + steps
        b.add(SectionBlock(block_id="honua-steps", text=md(b.text(text, SECTION_TEXT))))
    if d.notes:
        notes = [md(b.text(esc(n), CONTEXT_TEXT)) for n in d.notes[:CONTEXT_ELEMENTS]]
        b.truncated |= len(d.notes) > CONTEXT_ELEMENTS
        b.add(ContextBlock(block_id="honua-notes", elements=notes), optional=True)
    auto = [a.label or a.name for a in d.actions if a.mode == "auto"]
    if auto:
        text = "Automatic (through the safety gates): " + ", ".join(f"*{esc(a)}*" for a in auto)
        b.add(ContextBlock(block_id="honua-auto", elements=[md(b.text(text, CONTEXT_TEXT))]))
    shadow = [a.label or a.name for a in d.actions if a.mode == "shadow"]
    if shadow:
        text = "Shadow mode (gates and plan checked, recorded, not run): " + ", ".join(
            f"*{esc(a)}*" for a in shadow
        )
        b.add(ContextBlock(block_id="honua-shadow", elements=[md(b.text(text, CONTEXT_TEXT))]))


def _prevention(b: Budget, d: Diagnosis) -> None:
    """Resolved: the runbook's Prevention items, as a checklist to take to the follow-up."""
    if not d.prevention:
        return
    items = "\n".join(f"☐ {esc(p)}" for p in d.prevention)
    text = ":seedling: *Prevention* (the runbook's, so it does not happen again)\n" + items
    b.add(SectionBlock(block_id="honua-prevention", text=md(b.text(text, SECTION_TEXT))))


def _buttons(b: Budget, incident: Incident, lc: Lifecycle, refs: Mapping[str, str]) -> None:
    d = incident.diagnosis
    specs = button_specs(incident, lc)
    proposed = {a.name: a for a in (d.actions if d else [])}
    if (undo := undo_action(incident)) is not None:
        proposed[undo.name] = undo
    shown = [
        (s, proposed[s.action])
        for s in specs
        if s.kind is ButtonKind.ACTION and s.key in refs and s.action in proposed
    ]
    buttons = [action_button(s, refs[s.key], a) for s, a in shown]
    for i in range(0, len(buttons), ACTIONS_PER_BLOCK):
        b.add(
            ActionsBlock(
                block_id=f"honua-actions-{i // ACTIONS_PER_BLOCK}",
                elements=buttons[i : i + ACTIONS_PER_BLOCK],
            )
        )
    if shown:  # what each button does, without opening its dialog
        lines = [
            f"*{esc(a.label or a.name)}*: {esc(a.change or a.description or a.type)}"
            + (" · :warning: destructive" if a.destructive else "")
            + (f" · needs {a.approvals} approvals" if a.approvals > 1 else "")
            for _, a in shown
        ]
        text = "\n".join(lines)
        b.add(ContextBlock(block_id="honua-buttons-say", elements=[md(b.text(text, CONTEXT_TEXT))]))
    controls = [
        control_button(s, refs[s.key])
        for s in specs
        if s.kind is not ButtonKind.ACTION and s.key in refs
    ]
    if controls:
        b.add(ActionsBlock(block_id="honua-controls", elements=controls))


def _run(b: Budget, incident: Incident) -> None:
    if not incident.runs:
        return
    run = incident.runs[-1]
    text = f"Last action: `{esc(run.action)}` by {mention(run.actor)} — *{run.state}*"
    if run.detail:
        text += f": {esc(run.detail)}"
    b.add(ContextBlock(block_id="honua-run", elements=[md(b.text(text, CONTEXT_TEXT))]))


def _links(b: Budget, incident: Incident) -> None:
    found = [
        link(incident.generator_url, "Source (Prometheus)") if incident.generator_url else None,
        link(url, "Alertmanager") if (url := alertmanager_url(incident)) else None,
    ]
    present = [x for x in found if x]
    if present:  # the alert's labels are in the Details reply, with the raw results
        text = " · ".join(present)
        b.add(ContextBlock(block_id="honua-links", elements=[md(b.text(text, CONTEXT_TEXT))]))


def render_incident(
    incident: Incident,
    lc: Lifecycle,
    refs: Mapping[str, str] | None = None,
    *,
    note: str = "",
    runbook_base: str = "",
) -> Message:
    """The living message of one incident in state ``lc``."""
    refs = refs or {}
    b = Budget()
    d = incident.diagnosis
    _header(b, incident, lc)
    _headline(b, incident, lc)
    _about(b, incident, lc, runbook_base)
    if note:
        b.add(ContextBlock(block_id="honua-note", elements=[md(b.text(note, CONTEXT_TEXT))]))
    if d is not None and lc.state is not State.DIAGNOSING:
        _facts(b, d)
        _why(b, d)
        _problems(b, d)
        _steps(b, d)
        if lc.state is State.RESOLVED:
            _prevention(b, d)
    _run(b, incident)
    _buttons(b, incident, lc, refs)
    _links(b, incident)
    level = (d.priority if d else "") or incident.severity or "-"
    scenario = f": {d.scenario}" if d else ""
    headline = f" — {d.summary}" if d and d.summary else ""
    fallback, _ = cut(
        f"[{level}] {incident.alertname} — {lc.title}{scenario}{headline}", FALLBACK_TEXT
    )
    return Message(fallback, b.build(), b.truncated)
