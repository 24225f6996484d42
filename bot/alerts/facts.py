"""Findings as people read them: the rule's ``display`` applied to the probe results.

``facts`` renders each ``display.facts`` entry over its probe's result
(``Failure rate`` · ``14.0 %`` · ``alert at 10 %``); probes without a fact, and
raw results, stay in the Details reply and ``GET /incidents/{id}``.
``unchecked`` lists probes whose target is not set up here with the setting that
would enable them; ``button_label`` names an action for its button.
"""

from __future__ import annotations

import re

from bot.models import Fact, Finding
from bot.rules import Rule, templates

BUTTON_LABEL = 40


def facts(rule: Rule, findings: dict[str, Finding]) -> list[Fact]:
    """One line per ``display.facts`` entry whose probe answered; an empty format
    result hides the fact (a format may decide there is nothing worth saying)."""
    out: list[Fact] = []
    for doc in rule.display.facts:
        finding = findings.get(doc.probe)
        if finding is None or not finding.ok:
            continue
        scope = finding.as_cel_value()
        text = " ".join(templates.render(doc.format, scope).split())
        if "(template error" in text:
            text = "could not be shown (see Details)"
        threshold = " ".join(templates.render(doc.threshold, scope).split())
        if text:
            out.append(Fact(probe=doc.probe, label=doc.label, text=text, threshold=threshold))
    return out


def checklist(rule: Rule, scope: dict[str, object]) -> list[str]:
    return [" ".join(templates.render(s, dict(scope)).split()) for s in rule.display.checklist]


def button_label(label: str, description: str, name: str) -> str:
    """The rule's label; else the description's first clause (``Halve
    ProcessFramework.MaxConcurrentProcesses``); else the action's name."""
    if label:
        return label
    text = re.split(r",| \(|;| then ", description, maxsplit=1)[0].strip() if description else ""
    text = text or name.replace("-", " ")
    text = text[0].upper() + text[1:]
    return text if len(text) <= BUTTON_LABEL else text[: BUTTON_LABEL - 1] + "…"
