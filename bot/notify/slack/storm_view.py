"""Alert storms (one summary, members listed in its thread) and ``/honua``'s list
of open incidents."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from slack_sdk.models.blocks import ButtonElement, ContextBlock, HeaderBlock, SectionBlock

from bot.models import Incident
from bot.notify.slack.blocks import (
    ACTION_ID,
    HEADER_TEXT,
    MAX_BLOCKS,
    SECTION_TEXT,
    Budget,
    Message,
    esc,
    link,
    md,
    slack_date,
)
from bot.notify.slack.lifecycle import STATE_EMOJI, lifecycle


def level(incident: Incident) -> str:
    """The rule's P-level, else the alert's severity label."""
    d = incident.diagnosis
    return (d.priority if d else "") or incident.severity or "-"


DIGEST_SIZE = 40  # storm members per thread reply (one block each)


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
    b = Budget()
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
            text=md(
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
        b.add(SectionBlock(block_id="honua-storm-counts", text=md(b.text(text, SECTION_TEXT))))
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
    b = Budget()
    first, last = members[0][0], members[-1][0]
    b.add(ContextBlock(block_id="honua-digest", elements=[md(f"Incidents {first} to {last}")]))
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
                text=md(b.text(storm_line(m), SECTION_TEXT)),
                accessory=button,
            )
        )
    return Message(f"Incidents {first} to {last} of the storm", b.build(), b.truncated)


# -- /honua ---------------------------------------------------------------------------
def render_status(incidents: Sequence[Incident], links: Mapping[str, str]) -> Message:
    """``/honua``: the open incidents, newest first, each with a link to its message."""
    b = Budget()
    b.add(HeaderBlock(text=f"Open incidents: {len(incidents)}"))
    if not incidents:
        b.add(SectionBlock(text=md("Nothing open. :sunny:")))
    shown = incidents[: MAX_BLOCKS - 3]
    for incident in shown:
        lc = lifecycle(incident)
        scenario = incident.diagnosis.scenario if incident.diagnosis else "diagnosing"
        where = link(links[incident.id], "message") if incident.id in links else None
        text = (
            f"{STATE_EMOJI[lc.state]} *[{esc(level(incident))}] "
            f"{esc(incident.alertname)}* — {lc.label}\n`{esc(scenario)}` · `{esc(incident.id)}` · "
            f"since {slack_date(incident.starts_at)}" + (f" · {where}" if where else "")
        )
        b.add(SectionBlock(text=md(b.text(text, SECTION_TEXT))))
    if len(incidents) > len(shown):
        b.add(ContextBlock(elements=[md(f"… and {len(incidents) - len(shown)} more")]))
    b.add(ContextBlock(elements=[md("`/honua incident ID` shows one incident in full.")]))
    return Message(f"Open incidents: {len(incidents)}", b.build(), b.truncated)
