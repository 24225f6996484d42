"""Verification you can watch: one reply in the incident's thread per run,
posted at the first poll of the validation and edited in place at each later
one (current value against the target, and how long it has held), ending
*Verified* or *Not verified*. The reply's reference is kept in the store, so any
replica edits the same reply."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_sdk.models.blocks import ContextBlock, SectionBlock

from bot.logs import get_logger
from bot.models import ActionRun, Incident
from bot.notify.slack.blocks import CONTEXT_TEXT, SECTION_TEXT, Budget, Message, esc, md
from bot.notify.slack.state import MessageRef
from bot.store import keys

if TYPE_CHECKING:
    from bot.notify.slack.notifier import SlackNotifier

POSTING = "posting"

log = get_logger("slack.verification")

_TITLE = {
    "verifying": ":hourglass_flowing_sand: Verifying",
    "verified": ":white_check_mark: Verified",
    "failed": ":x: Not verified",
    "done": ":ballot_box_with_check: Not followed to the end",
    "unknown": ":grey_question: Outcome unknown",
}


def render_verification(run: ActionRun) -> Message:
    b = Budget()
    title = f"{_TITLE.get(run.state, run.state)} `{esc(run.action)}` with the runbook's validation"
    lines = "\n".join(f"• {esc(line)}" for line in run.progress)
    b.add(
        SectionBlock(block_id="honua-verify", text=md(b.text(f"*{title}*\n{lines}", SECTION_TEXT)))
    )
    if run.state != "verifying" and run.detail:
        b.add(
            ContextBlock(
                block_id="honua-verify-outcome",
                elements=[md(b.text(esc(run.detail), CONTEXT_TEXT))],
            )
        )
    text = f"{_TITLE.get(run.state, run.state)} {run.action}: " + "; ".join(run.progress)
    return Message(text[:3000], b.build(), b.truncated)


async def show_verification(notifier: SlackNotifier, incident: Incident) -> None:
    """Post or edit the reply of the incident's last run, if it is being verified."""
    run = incident.runs[-1] if incident.runs else None
    if run is None or not run.progress or not run.run_id:
        return
    message = render_verification(run)
    store, ttl = notifier.store, notifier.config.ttl
    key = keys.slack_verification(incident.id, run.run_id)
    raw = await store.get_value(key)
    if raw == POSTING:
        return  # another worker is posting it; the next poll edits it
    if raw is not None:
        await notifier.edit_reply(MessageRef.loads(raw), message)
        return
    if not await store.set_value(key, POSTING, ttl, only_if_absent=True):
        return
    try:
        ref = await notifier.reply_in_thread(incident.id, message.text, message.blocks)
    except BaseException:
        await store.delete_value(key)
        raise
    if ref is None:
        await store.delete_value(key)
        return
    await store.set_value(key, ref.dumps(), ttl)
